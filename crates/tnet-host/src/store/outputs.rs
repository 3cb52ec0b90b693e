//! A habit's kept outputs (its history for late subscribers): written with
//! each run's end, and trimmed to the habit's [`HistoryLimits`].
//!
//! The trim used to be one statement that ranked every kept output of the
//! habit by a window over its rows (a sort into a table of SQLite's own) at
//! every run: at a hundred habits a second it was a third of the ledger's
//! time. Now the writer knows how many outputs each habit keeps and what
//! they weigh ([`KeptOutputs`]), and deletes only the oldest ones, by the
//! primary key, when the habit is over one of its limits.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{ctx, Result};

/// How much output history a habit keeps.
#[derive(Debug, Clone, Copy)]
pub struct HistoryLimits {
    /// At most this many runs.
    pub runs: usize,
    /// At most this many bytes of output in all.
    pub bytes: u64,
}

/// A habit run's published output, kept for late subscribers.
#[derive(Debug, Clone)]
pub struct HabitOutput {
    /// The habit's safe name.
    pub task: String,
    /// The run's number.
    pub number: u64,
    /// Its `HabitRun` metadata, as JSON.
    pub meta_json: String,
    /// Its stdout (possibly cut at the host's limit).
    pub bytes: Vec<u8>,
}

/// How many outputs a habit keeps and their bytes, as stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Kept {
    runs: u64,
    bytes: u64,
}

/// What each habit's kept outputs add up to, as the store holds them: read
/// from the table the first time a habit keeps one, then counted as outputs
/// come and go. Only the store's connection changes the table, under its
/// mutex, and every change goes through here or forgets the habit
/// ([`KeptOutputs::forget`], when a task is removed); a batch that fails
/// forgets them all ([`KeptOutputs::forget_all`]), so a count never outlives
/// the rows it counted.
#[derive(Debug, Default)]
pub struct KeptOutputs {
    habits: Mutex<HashMap<String, Kept>>,
}

impl KeptOutputs {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Kept>> {
        // Plain inserts and removals: nothing is left half-changed by a panic.
        self.habits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The habit's outputs are gone (its task was removed): counted again
    /// from the table next time.
    pub fn forget(&self, task: &str) {
        self.lock().remove(task);
    }

    /// A transaction that changed outputs did not commit: every count is
    /// read again.
    pub fn forget_all(&self) {
        self.lock().clear();
    }

    /// Keeps `out` and deletes the habit's oldest outputs past `limits`, in
    /// the caller's transaction.
    pub(crate) fn keep(
        &self,
        tx: &Transaction<'_>,
        out: &HabitOutput,
        limits: HistoryLimits,
    ) -> Result<()> {
        let mut habits = self.lock();
        let known = habits.get(&out.task).copied();
        match trim(tx, out, limits, known) {
            Ok(Some(kept)) => match habits.get_mut(&out.task) {
                Some(entry) => *entry = kept,
                None => {
                    habits.insert(out.task.clone(), kept);
                }
            },
            // Fewer rows than counted, or an error midway: counted again
            // from the table next time rather than trusted.
            Ok(None) => {
                habits.remove(&out.task);
            }
            Err(err) => {
                habits.remove(&out.task);
                return Err(err);
            }
        }
        Ok(())
    }
}

/// Inserts `out` and deletes the oldest outputs past `limits`; what the
/// habit keeps then, `None` if the table held fewer than `known` said.
fn trim(
    tx: &Transaction<'_>,
    out: &HabitOutput,
    limits: HistoryLimits,
    known: Option<Kept>,
) -> Result<Option<Kept>> {
    let mut kept = match known {
        Some(kept) => kept,
        None => count(tx, &out.task)?,
    };
    super::cached_execute(
        tx,
        "INSERT OR REPLACE INTO habit_outputs (task, number, meta_json, output) VALUES (?1, ?2, ?3, ?4)",
        params![out.task, out.number, out.meta_json, out.bytes],
    )
    .map_err(ctx("keep a habit's output"))?;
    kept.runs += 1;
    kept.bytes += out.bytes.len() as u64;
    let max_runs = u64::try_from(limits.runs).unwrap_or(u64::MAX);
    // The newest output stays even past the byte limit when it is the only
    // one: the limit trims history, not the run that just ended.
    while kept.runs > 1 && (kept.runs > max_runs || kept.bytes > limits.bytes) {
        let Some(weight) = delete_oldest(tx, &out.task)? else {
            return Ok(None);
        };
        kept.runs -= 1;
        kept.bytes = kept.bytes.saturating_sub(weight);
    }
    Ok(Some(kept))
}

/// What the table holds of `task`'s outputs.
fn count(conn: &Connection, task: &str) -> Result<Kept> {
    super::cached_row(
        conn,
        "SELECT COUNT(*), COALESCE(SUM(length(output)), 0) FROM habit_outputs WHERE task = ?1",
        [task],
        |r| {
            Ok(Kept {
                runs: r.get(0)?,
                bytes: r.get(1)?,
            })
        },
    )
    .map_err(ctx("count a habit's history"))
}

/// Deletes `task`'s oldest kept output; its size, or `None` if it keeps none.
fn delete_oldest(conn: &Connection, task: &str) -> Result<Option<u64>> {
    super::cached_row(
        conn,
        "DELETE FROM habit_outputs WHERE task = ?1 AND number =
             (SELECT MIN(number) FROM habit_outputs WHERE task = ?1)
         RETURNING length(output)",
        [task],
        |r| r.get(0),
    )
    .optional()
    .map_err(ctx("trim a habit's history"))
}

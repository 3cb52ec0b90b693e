//! Bounded run history: each task keeps its newest `keep` run records, and
//! counters that survive the pruning tell the whole story (runs ever
//! recorded, how each ended, the last success and failure).
//!
//! Numbers come from the counters (`run_totals.last_number`), not from the
//! runs left, so they keep growing after pruning. Pruning happens on insert,
//! a few rows at a time inside the insert's own transaction (a steady task
//! deletes one old row per new one), and a backlog (a limit lowered, a store
//! from before retention) is drained by the host's sweep in small
//! transactions ([`Store::prune_backlog`]), so no single write holds the
//! store for long. A run still `running` is never pruned: a restarted host
//! needs its process group. A habit's "slot consumed" mark lives in
//! `habit_schedule`, apart from the runs, so pruning cannot make a slot run twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{ctx, Result, Store, StoredRun};

/// Run records a task keeps when neither `host.toml` nor the task says.
pub const DEFAULT_KEEP_RUNS: u64 = 5_000;

/// Old rows an insert deletes at most: more than one, so a small backlog
/// drains on its own, few enough that an insert stays a few page writes.
const PRUNE_PER_INSERT: i64 = 4;

/// Rows one transaction of the backlog sweep deletes at most.
pub const PRUNE_BATCH: i64 = 2_000;

/// Outcomes counted as failures in `tnet status`.
pub const FAILURE_OUTCOMES: [&str; 2] = ["failed", "timeout"];

/// The tables of the counters (created at open; filled from the runs of a
/// store written before they existed, which had never pruned anything).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS run_totals (
    task                TEXT PRIMARY KEY,
    last_number         INTEGER NOT NULL DEFAULT 0,
    last_success_number INTEGER,
    last_success_at     TEXT,
    last_failure_number INTEGER,
    last_failure_at     TEXT
);
CREATE TABLE IF NOT EXISTS run_outcomes (
    task    TEXT NOT NULL,
    outcome TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (task, outcome)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS runs_running ON runs(task) WHERE outcome = 'running';
";

/// Creates the counter tables and, when they are new, fills them from the
/// runs already stored, in one transaction (a crash redoes it at next open).
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction().map_err(ctx("add run counters"))?;
    let existed: bool = super::cached_row(
        &tx,
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run_totals')",
        [],
        |r| r.get(0),
    )
    .map_err(ctx("add run counters"))?;
    tx.execute_batch(SCHEMA).map_err(ctx("add run counters"))?;
    if !existed {
        tx.execute_batch(
            "INSERT INTO run_totals (task, last_number) SELECT task, MAX(number) FROM runs GROUP BY task;
             INSERT INTO run_outcomes (task, outcome, count)
                 SELECT task, outcome, COUNT(*) FROM runs WHERE outcome != 'running' GROUP BY task, outcome;
             UPDATE run_totals SET
                 last_success_number = (SELECT MAX(number) FROM runs r WHERE r.task = run_totals.task AND r.outcome = 'succeeded'),
                 last_failure_number = (SELECT MAX(number) FROM runs r WHERE r.task = run_totals.task AND r.outcome IN ('failed', 'timeout'));
             UPDATE run_totals SET
                 last_success_at = (SELECT started_at FROM runs r WHERE r.task = run_totals.task AND r.number = run_totals.last_success_number),
                 last_failure_at = (SELECT started_at FROM runs r WHERE r.task = run_totals.task AND r.number = run_totals.last_failure_number);",
        )
        .map_err(ctx("count the runs already stored"))?;
    }
    tx.commit().map_err(ctx("add run counters"))
}

/// How many runs each task keeps: the host's default, and a task's own.
#[derive(Debug)]
pub struct KeepRuns {
    default: AtomicU64,
    tasks: Mutex<HashMap<String, u64>>,
}

impl Default for KeepRuns {
    fn default() -> Self {
        KeepRuns {
            default: AtomicU64::new(DEFAULT_KEEP_RUNS),
            tasks: Mutex::new(HashMap::new()),
        }
    }
}

impl KeepRuns {
    /// The records `task` keeps (at least 1: the newest run is never pruned).
    pub fn of(&self, task: &str) -> u64 {
        let own = self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(task)
            .copied();
        own.unwrap_or_else(|| self.default.load(Ordering::Relaxed))
            .max(1)
    }

    /// Sets the host's default (`[retention] keep_runs`).
    pub fn set_default(&self, keep: u64) {
        self.default.store(keep.max(1), Ordering::Relaxed);
    }

    /// Sets a task's own limit (`[task_details] keep_runs`), or clears it.
    pub fn set_task(&self, task: &str, keep: Option<u64>) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        match keep {
            Some(k) => tasks.insert(task.to_owned(), k.max(1)),
            None => tasks.remove(task),
        };
    }
}

/// The next number of `task`'s runs, taken in the caller's transaction.
///
/// Two statements, not one with `RETURNING`: SQLite gathers a `RETURNING`
/// clause's rows in an ephemeral table, opened and closed at every step,
/// which costs more than a second lookup by the primary key (a habit run
/// takes a number a second; docs/benchmarks.md).
pub(crate) fn next_number(tx: &Transaction<'_>, task: &str) -> Result<u64> {
    super::cached_execute(
        tx,
        "INSERT INTO run_totals (task, last_number) VALUES (?1, 1)
         ON CONFLICT(task) DO UPDATE SET last_number = last_number + 1",
        [task],
    )
    .map_err(ctx("number a run"))?;
    super::cached_row(
        tx,
        "SELECT last_number FROM run_totals WHERE task = ?1",
        [task],
        |r| r.get(0),
    )
    .map_err(ctx("number a run"))
}

/// Counts a run whose outcome became final (an insert of a finished run, or
/// the end of a running one).
pub(crate) fn count_outcome(
    tx: &Transaction<'_>,
    task: &str,
    number: u64,
    outcome: &str,
    started_at: &str,
) -> Result<()> {
    super::cached_execute(
        tx,
        "INSERT INTO run_outcomes (task, outcome, count) VALUES (?1, ?2, 1)
         ON CONFLICT(task, outcome) DO UPDATE SET count = count + 1",
        params![task, outcome],
    )
    .map_err(ctx("count a run"))?;
    let mark = if outcome == "succeeded" {
        "UPDATE run_totals SET last_success_number = ?2, last_success_at = ?3
         WHERE task = ?1 AND COALESCE(last_success_number, 0) < ?2"
    } else if FAILURE_OUTCOMES.contains(&outcome) {
        "UPDATE run_totals SET last_failure_number = ?2, last_failure_at = ?3
         WHERE task = ?1 AND COALESCE(last_failure_number, 0) < ?2"
    } else {
        return Ok(());
    };
    super::cached_execute(tx, mark, params![task, number, started_at])
        .map_err(ctx("count a run"))?;
    Ok(())
}

/// Ends `task`'s run `run`, if it is still running, and counts its outcome;
/// a run already ended (or gone) is left as it is and counted once only.
pub(crate) fn finish(
    tx: &Transaction<'_>,
    task: &str,
    run: &StoredRun,
    duration_ms: u64,
    exit_code: Option<i32>,
    outcome: &str,
) -> Result<()> {
    let ended = super::cached_execute(
        tx,
        "UPDATE runs SET duration_ms = ?2, exit_code = ?3, outcome = ?4
         WHERE id = ?1 AND outcome = 'running'",
        params![run.id, duration_ms, exit_code, outcome],
    )
    .map_err(ctx("finish a run"))?;
    if ended == 1 {
        count_outcome(tx, task, run.number, outcome, &run.started_at)?;
    }
    Ok(())
}

/// Deletes up to `limit` of `task`'s oldest ended runs beyond the newest
/// `keep` (by number, so the index on `(task, number)` finds them); returns
/// how many went.
pub(crate) fn prune(tx: &Connection, task: &str, keep: u64, limit: i64) -> Result<usize> {
    let last: Option<u64> = super::cached_row(
        tx,
        "SELECT last_number FROM run_totals WHERE task = ?1",
        [task],
        |r| r.get(0),
    )
    .optional()
    .map_err(ctx("prune runs"))?;
    match last {
        Some(last) => prune_before(tx, task, last, keep, limit),
        None => Ok(0),
    }
}

/// [`prune`] when the task's last number is known: `last` is the newest
/// run's, `keep` of them up to it stay.
fn prune_before(tx: &Connection, task: &str, last: u64, keep: u64, limit: i64) -> Result<usize> {
    let Some(cutoff) = last.checked_sub(keep).filter(|c| *c > 0) else {
        return Ok(0);
    };
    super::cached_execute(
        tx,
        "DELETE FROM runs WHERE id IN (
             SELECT id FROM runs WHERE task = ?1 AND number <= ?2 AND outcome != 'running'
             ORDER BY number LIMIT ?3)",
        params![task, cutoff, limit],
    )
    .map_err(ctx("prune runs"))
}

/// After the insert of run `number`: the few oldest rows past the task's
/// limit go with it.
pub(crate) fn prune_on_insert(
    tx: &Transaction<'_>,
    task: &str,
    number: u64,
    keep: u64,
) -> Result<()> {
    prune_before(tx, task, number, keep, PRUNE_PER_INSERT).map(drop)
}

/// What `tnet status` tells of a task's whole history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Runs ever recorded (the last run's number).
    pub runs: u64,
    /// Records kept now.
    pub kept: u64,
    /// Each final outcome and how many runs ended so.
    pub outcomes: Vec<(String, u64)>,
    /// The last successful run: number, start.
    pub last_success: Option<(u64, String)>,
    /// The last failed run: number, start.
    pub last_failure: Option<(u64, String)>,
}

impl Store {
    /// How many runs each task keeps.
    pub fn keep_runs(&self) -> &KeepRuns {
        &self.keep
    }

    /// A task's counters. Every read is an index lookup: as quick with a
    /// year of records as with none.
    pub fn totals(&self, task: &str) -> Result<Totals> {
        let conn = self.lock();
        type Row = (
            u64,
            Option<u64>,
            Option<String>,
            Option<u64>,
            Option<String>,
        );
        let row: Option<Row> = conn
            .query_row(
                "SELECT last_number, last_success_number, last_success_at, last_failure_number, last_failure_at
                 FROM run_totals WHERE task = ?1",
                [task],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(ctx("read a task's counters"))?;
        let Some((runs, ok_n, ok_at, bad_n, bad_at)) = row else {
            return Ok(Totals::default());
        };
        // Pruning takes the lowest numbers, so what is kept runs from the
        // oldest number left to the last (a count(*) would read every row).
        let oldest: Option<u64> = conn
            .query_row(
                "SELECT MIN(number) FROM runs WHERE task = ?1",
                [task],
                |r| r.get(0),
            )
            .map_err(ctx("read a task's counters"))?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT outcome, count FROM run_outcomes WHERE task = ?1 ORDER BY outcome",
            )
            .map_err(ctx("read a task's counters"))?;
        let outcomes = stmt
            .query_map([task], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(ctx("read a task's counters"))?
            .collect::<std::result::Result<_, _>>()
            .map_err(ctx("read a task's counters"))?;
        Ok(Totals {
            runs,
            kept: oldest.map_or(0, |o| runs.saturating_sub(o) + 1),
            outcomes,
            last_success: ok_n.zip(ok_at),
            last_failure: bad_n.zip(bad_at),
        })
    }

    /// Deletes at most `PRUNE_BATCH` of `task`'s runs past its limit, in one
    /// short transaction; returns how many went (0: nothing is left to prune).
    /// The sweep calls it again and again, letting other writers in between.
    pub fn prune_backlog(&self, task: &str) -> Result<usize> {
        let keep = self.keep.of(task);
        let conn = self.lock();
        prune(&conn, task, keep, PRUNE_BATCH)
    }

    /// Every task that has counters (tasks with runs).
    pub fn counted_tasks(&self) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT task FROM run_totals")
            .map_err(ctx("list counted tasks"))?;
        let tasks = stmt
            .query_map([], |r| r.get(0))
            .map_err(ctx("list counted tasks"))?
            .collect::<std::result::Result<_, _>>()
            .map_err(ctx("list counted tasks"))?;
        Ok(tasks)
    }

    /// Adds runs that are already over in one transaction, numbered after
    /// the task's others and counted, without pruning (the sweep prunes
    /// them later). For importing history and for the store benchmark
    /// (`examples/store_fill.rs`), which fills a year of runs in a minute.
    pub fn import_runs(
        &self,
        task: &str,
        runs: impl IntoIterator<Item = super::FinishedRun>,
    ) -> Result<u64> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(ctx("import runs"))?;
        let mut added = 0;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO runs (task, number, phase, started_at, duration_ms, exit_code, outcome)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(ctx("import runs"))?;
            let mut counts: HashMap<&'static str, u64> = HashMap::new();
            let mut last = None;
            // Numbered here and counted once at the end: one counter write
            // per batch instead of one per run.
            let mut number: u64 = super::cached_row(
                &tx,
                "SELECT last_number FROM run_totals WHERE task = ?1",
                [task],
                |r| r.get(0),
            )
            .optional()
            .map_err(ctx("import runs"))?
            .unwrap_or(0);
            for run in runs {
                number += 1;
                insert
                    .execute(params![
                        task,
                        number,
                        run.phase,
                        run.started_at,
                        run.duration_ms,
                        run.exit_code,
                        run.outcome
                    ])
                    .map_err(ctx("import runs"))?;
                *counts.entry(run.outcome).or_default() += 1;
                last = Some((number, run));
                added += 1;
            }
            super::cached_execute(
                &tx,
                "INSERT INTO run_totals (task, last_number) VALUES (?1, ?2)
                 ON CONFLICT(task) DO UPDATE SET last_number = excluded.last_number",
                params![task, number],
            )
            .map_err(ctx("import runs"))?;
            for (outcome, n) in counts {
                super::cached_execute(
                    &tx,
                    "INSERT INTO run_outcomes (task, outcome, count) VALUES (?1, ?2, ?3)
                     ON CONFLICT(task, outcome) DO UPDATE SET count = count + excluded.count",
                    params![task, outcome, n],
                )
                .map_err(ctx("import runs"))?;
            }
            if let Some((number, run)) = last {
                // Only the newest matters for the "last success/failure" marks.
                count_mark(&tx, task, number, run.outcome, &run.started_at)?;
            }
        }
        tx.commit().map_err(ctx("import runs"))?;
        Ok(added)
    }
}

/// The "last success/failure" mark alone (the count is done by the caller).
fn count_mark(
    tx: &Transaction<'_>,
    task: &str,
    number: u64,
    outcome: &str,
    started_at: &str,
) -> Result<()> {
    let column = if outcome == "succeeded" {
        "success"
    } else if FAILURE_OUTCOMES.contains(&outcome) {
        "failure"
    } else {
        return Ok(());
    };
    super::cached_execute(
        tx,
        &format!(
            "UPDATE run_totals SET last_{column}_number = ?2, last_{column}_at = ?3 WHERE task = ?1"
        ),
        params![task, number, started_at],
    )
    .map_err(ctx("import runs"))?;
    Ok(())
}

impl Store {
    /// Every blob hash a stored task refers to (its files as last
    /// submitted): the upload cache never drops these. A record that cannot
    /// be read protects nothing of its own, but fails no one else's.
    pub fn referenced_blobs(&self) -> std::collections::HashSet<String> {
        let conn = self.lock();
        let Ok(mut stmt) = conn.prepare_cached("SELECT files_json FROM tasks") else {
            return Default::default();
        };
        let Ok(rows) = stmt.query_map([], |r| r.get::<_, String>(0)) else {
            return Default::default();
        };
        rows.flatten()
            .filter_map(|json| serde_json::from_str::<Vec<tnet_proto::msg::FileEntry>>(&json).ok())
            .flatten()
            .map(|f| f.hash)
            .collect()
    }
}

impl Store {
    /// Deletes inbox entries past `keep` (read ones first, oldest first) and
    /// read ones created before `cutoff` (RFC 3339); at most a batch per
    /// transaction. Returns how many went.
    pub fn prune_inbox(&self, keep: u64, cutoff: &str) -> Result<usize> {
        self.prune_notes(
            "DELETE FROM inbox WHERE id IN (SELECT id FROM inbox
                 WHERE state = 'acked' AND created_at < ?2 ORDER BY id LIMIT ?3)",
            "DELETE FROM inbox WHERE id IN (SELECT id FROM inbox
                 ORDER BY (state = 'acked') DESC, id
                 LIMIT MIN(?3, MAX(0, (SELECT COUNT(*) FROM inbox) - ?1)))",
            keep,
            cutoff,
        )
    }

    /// Deletes finished delivery records past `keep` (oldest first) and
    /// those created before `cutoff`; a delivery still being tried stays.
    pub fn prune_deliveries(&self, keep: u64, cutoff: &str) -> Result<usize> {
        self.prune_notes(
            "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries
                 WHERE state NOT IN ('pending', 'retrying') AND created_at < ?2 ORDER BY id LIMIT ?3)",
            "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries
                 WHERE state NOT IN ('pending', 'retrying') ORDER BY id
                 LIMIT MIN(?3, MAX(0, (SELECT COUNT(*) FROM deliveries) - ?1)))",
            keep,
            cutoff,
        )
    }

    /// Runs the age and count statements batch by batch until neither deletes.
    fn prune_notes(&self, by_age: &str, by_count: &str, keep: u64, cutoff: &str) -> Result<usize> {
        let mut total = 0;
        loop {
            let conn = self.lock();
            let aged = conn
                .execute(by_age, params![keep, cutoff, PRUNE_BATCH])
                .map_err(ctx("prune old notifications"))?;
            let counted = conn
                .execute(by_count, params![keep, cutoff, PRUNE_BATCH])
                .map_err(ctx("prune notifications"))?;
            drop(conn);
            total += aged + counted;
            if aged + counted == 0 {
                return Ok(total);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Desired, FinishedRun, HistoryLimits, RunEnd, StoredTask};
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.sqlite3")).expect("open");
        store
            .insert_task(&StoredTask {
                safe_name: "h".into(),
                name: "h".into(),
                file_name: "t.toml".into(),
                task_toml: String::new(),
                files_json: "[]".into(),
                desired: Desired::Running,
                setup_done: false,
                restarts: 0,
            })
            .expect("insert");
        (dir, store)
    }

    fn call(outcome: &'static str) -> FinishedRun {
        FinishedRun {
            phase: "call",
            started_at: super::super::now_rfc3339(),
            duration_ms: 1,
            exit_code: Some(0),
            outcome,
        }
    }

    #[tokio::test]
    async fn a_task_keeps_its_newest_runs_and_counts_them_all() {
        let (_dir, store) = store();
        store.keep_runs().set_task("h", Some(3));
        let ledger = store.ledger();
        for i in 0..10u32 {
            let slot = format!("2026-01-01T00:00:{i:02}.000Z");
            let run = ledger
                .start_habit_run("h", &slot, &slot, std::time::Instant::now())
                .await
                .expect("start");
            assert_eq!(run.number, u64::from(i) + 1, "numbers keep growing");
            let outcome = if i == 7 { "failed" } else { "succeeded" };
            let end = RunEnd {
                duration_ms: 1,
                exit_code: Some(0),
                outcome,
            };
            ledger
                .finish_habit_run(
                    "h",
                    &run,
                    end,
                    None,
                    HistoryLimits {
                        runs: 10,
                        bytes: 1000,
                    },
                )
                .await
                .expect("finish");
        }
        let kept = store.recent_runs("h", 100).expect("runs");
        let numbers: Vec<u64> = kept.iter().map(|r| r.number).collect();
        assert!(
            numbers.len() <= 4 && numbers.ends_with(&[8, 9, 10]),
            "{numbers:?}"
        );
        // A run still going is never pruned, however old.
        let running = store.start_run("h", "run").expect("start");
        for _ in 0..6 {
            store.record_run("h", &call("timeout")).expect("record");
        }
        let totals = store.totals("h").expect("totals");
        assert_eq!(totals.runs, 17);
        assert_eq!(
            totals.outcomes,
            [
                ("failed".to_owned(), 1),
                ("succeeded".to_owned(), 9),
                ("timeout".to_owned(), 6)
            ]
        );
        assert_eq!(totals.last_success.as_ref().map(|s| s.0), Some(10));
        assert_eq!(totals.last_failure.as_ref().map(|s| s.0), Some(17));
        let numbers: Vec<u64> = store
            .recent_runs("h", 100)
            .expect("runs")
            .iter()
            .map(|r| r.number)
            .collect();
        assert!(numbers.contains(&running.number), "{numbers:?}");
        store
            .finish_run("h", &running, 5, Some(0), "succeeded")
            .expect("finish");
        store
            .finish_run("h", &running, 5, Some(0), "succeeded")
            .expect("twice");
        assert_eq!(
            store.totals("h").expect("totals").outcomes[1].1,
            10,
            "counted once"
        );
        // A backlog (the limit was larger) drains batch by batch.
        store.keep_runs().set_task("h", Some(2));
        while store.prune_backlog("h").expect("prune") > 0 {}
        let totals = store.totals("h").expect("totals");
        assert_eq!((totals.runs, totals.kept), (17, 2));
        assert_eq!(store.recent_runs("h", 100).expect("runs").len(), 2);
        store.remove_task("h").expect("remove");
        assert_eq!(store.totals("h").expect("totals"), Totals::default());
    }

    #[test]
    fn a_store_from_before_counters_is_counted_at_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sqlite3");
        {
            let store = Store::open(&path).expect("open");
            store.record_run("old", &call("succeeded")).expect("record");
            store.record_run("old", &call("failed")).expect("record");
            store.start_run("old", "run").expect("start");
            // As an older build left it: runs, no counters.
            store
                .lock()
                .execute_batch("DROP TABLE run_totals; DROP TABLE run_outcomes;")
                .expect("drop");
        }
        let store = Store::open(&path).expect("reopen");
        assert_eq!(store.recover().expect("recover"), 1);
        let totals = store.totals("old").expect("totals");
        assert_eq!((totals.runs, totals.kept), (3, 3));
        assert_eq!(
            totals.outcomes,
            [
                ("failed".to_owned(), 1),
                ("lost".to_owned(), 1),
                ("succeeded".to_owned(), 1)
            ]
        );
        assert_eq!(totals.last_success.map(|s| s.0), Some(1));
        assert_eq!(
            store.record_run("old", &call("succeeded")).expect("next"),
            4
        );
    }

    #[test]
    fn inbox_and_deliveries_are_pruned_by_count_and_age() {
        let (_dir, store) = store();
        for i in 0..5 {
            let id = store.start_delivery("h", "email", "e").expect("delivery");
            let state = if i == 0 { "retrying" } else { "sent" };
            store.update_delivery(id, state, 1, None).expect("update");
        }
        assert_eq!(
            store
                .prune_deliveries(2, "2000-01-01T00:00:00.000Z")
                .expect("prune"),
            3
        );
        let left = store.recent_deliveries(10).expect("deliveries");
        assert_eq!(left.len(), 2);
        assert_eq!(left[0].state, "retrying", "one still being tried stays");
        assert_eq!(
            store
                .prune_deliveries(100, "2999-01-01T00:00:00.000Z")
                .expect("age"),
            1
        );
    }
}

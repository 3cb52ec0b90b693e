//! Why runs failed, in words (issue 16): a command that could not be
//! started, a container that would not run. An exit code alone (`-1`, `127`)
//! tells a user nothing; the reason is kept beside the run so `tnet status`
//! shows it after the host restarted too.
//!
//! A table of its own, keyed by the run's task and number, holding only runs
//! that have a reason; each task keeps its newest [`KEPT_PER_TASK`], so a
//! daemon that cannot start and is restarted for a year stays bounded.

use std::collections::HashMap;

use rusqlite::params;

use super::{ctx, Result, Store};

/// Reasons kept per task (runs older than these show none).
pub const KEPT_PER_TASK: i64 = 100;

/// Created with the store's schema.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS run_reasons (
    task        TEXT NOT NULL,
    number      INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    PRIMARY KEY (task, number)
);
";

impl Store {
    /// Records why run `number` of `task` failed, and forgets the task's
    /// reasons older than the newest [`KEPT_PER_TASK`].
    pub fn set_run_reason(&self, task: &str, number: u64, reason: &str) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(ctx("record why a run failed"))?;
        tx.execute(
            "INSERT OR REPLACE INTO run_reasons (task, number, reason) VALUES (?1, ?2, ?3)",
            params![task, number, reason],
        )
        .map_err(ctx("record why a run failed"))?;
        tx.execute(
            "DELETE FROM run_reasons WHERE task = ?1 AND number <= ?2 - ?3",
            params![task, number, KEPT_PER_TASK],
        )
        .map_err(ctx("forget old reasons"))?;
        tx.commit().map_err(ctx("record why a run failed"))
    }

    /// The reasons kept for runs `from..` of `task`, by run number.
    pub fn run_reasons(&self, task: &str, from: u64) -> Result<HashMap<u64, String>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT number, reason FROM run_reasons WHERE task = ?1 AND number >= ?2")
            .map_err(ctx("read why runs failed"))?;
        let rows = stmt
            .query_map(params![task, from], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(ctx("read why runs failed"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(ctx("read why a run failed"))
    }

    /// Forgets every reason of a task (it was removed).
    pub(super) fn remove_reasons(tx: &rusqlite::Transaction<'_>, task: &str) -> Result<()> {
        tx.execute("DELETE FROM run_reasons WHERE task = ?1", [task])
            .map_err(ctx("remove why runs failed"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_kept_by_run_bounded_per_task_and_removed_with_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.sqlite3")).expect("open");
        for n in 1..=(KEPT_PER_TASK as u64 + 5) {
            store
                .set_run_reason("a", n, &format!("reason {n}"))
                .expect("record");
        }
        store.set_run_reason("b", 1, "other").expect("record");
        let kept = store.run_reasons("a", 0).expect("read");
        assert_eq!(kept.len(), KEPT_PER_TASK as usize);
        assert_eq!(
            kept.get(&(KEPT_PER_TASK as u64 + 5)).map(String::as_str),
            Some("reason 105")
        );
        assert!(!kept.contains_key(&5));
        assert_eq!(store.run_reasons("a", 104).expect("read").len(), 2);
        store.remove_task("a").expect("remove");
        assert!(store.run_reasons("a", 0).expect("read").is_empty());
        assert_eq!(store.run_reasons("b", 0).expect("read").len(), 1);
    }
}

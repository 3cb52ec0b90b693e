//! The host's SQLite store: its tasks, their run history, and each habit's
//! schedule position and recent outputs.
//!
//! Every change is one transaction in a WAL database with `synchronous=FULL`,
//! so a host killed at any instant finds either the old or the new record,
//! never half of one. The connection sits behind a std mutex: every call is
//! short and none awaits while holding it.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};

pub mod ledger;
pub mod outputs;
pub mod reasons;
pub mod retention;

pub use ledger::{Ledger, RunEnd};
pub use outputs::{HabitOutput, HistoryLimits};
pub use retention::{KeepRuns, Totals, DEFAULT_KEEP_RUNS};

/// Errors of the store, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("task store: {action}: {source}")]
    Sqlite {
        /// What the store was doing.
        action: &'static str,
        /// Why it failed.
        source: rusqlite::Error,
    },
    /// A transaction of the ledger failed; every record in it reports this.
    #[error("task store: {action}: {message}")]
    Batch {
        /// What the ledger was doing.
        action: &'static str,
        /// Why it failed.
        message: String,
    },
    /// The ledger's writer thread is gone (the host is ending).
    #[error("task store: the writer of habit runs has stopped")]
    LedgerClosed,
}

pub(crate) type Result<T> = std::result::Result<T, StoreError>;

pub(crate) fn ctx(action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sqlite { action, source }
}

/// The schema version this build writes; older stores are migrated at open.
const SCHEMA_VERSION: i32 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tasks (
    safe_name   TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    file_name   TEXT NOT NULL,
    task_toml   TEXT NOT NULL,
    files_json  TEXT NOT NULL,
    desired     TEXT NOT NULL,
    setup_done  INTEGER NOT NULL DEFAULT 0,
    restarts    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY,
    task        TEXT NOT NULL,
    number      INTEGER NOT NULL,
    phase       TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    duration_ms INTEGER,
    exit_code   INTEGER,
    outcome     TEXT NOT NULL,
    pgid        INTEGER,
    start_ticks INTEGER
);
CREATE INDEX IF NOT EXISTS runs_by_task ON runs(task, number);
CREATE TABLE IF NOT EXISTS habit_schedule (
    task        TEXT PRIMARY KEY,
    last_slot   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS habit_outputs (
    task        TEXT NOT NULL,
    number      INTEGER NOT NULL,
    meta_json   TEXT NOT NULL,
    output      BLOB NOT NULL,
    PRIMARY KEY (task, number)
);
CREATE TABLE IF NOT EXISTS inbox (
    id          INTEGER PRIMARY KEY,
    channel     TEXT NOT NULL,
    state       TEXT NOT NULL,
    summary     TEXT NOT NULL,
    reason      TEXT,
    attempts    INTEGER NOT NULL,
    event_json  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id          INTEGER PRIMARY KEY,
    task        TEXT NOT NULL,
    channel     TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    event       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
";

/// Whether a task should be running: survives restarts of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Desired {
    /// Start it when the host starts.
    Running,
    /// A user stopped it; leave it stopped.
    Stopped,
}

impl Desired {
    fn as_str(self) -> &'static str {
        match self {
            Desired::Running => "running",
            Desired::Stopped => "stopped",
        }
    }
}

/// A task as stored.
#[derive(Debug, Clone)]
pub struct StoredTask {
    /// Primary key; the workspace folder's name.
    pub safe_name: String,
    /// `task_name` as written.
    pub name: String,
    /// The task file's name on the client.
    pub file_name: String,
    /// The task file's text.
    pub task_toml: String,
    /// The files as submitted (JSON of `Vec<FileEntry>`).
    pub files_json: String,
    /// Whether it should run.
    pub desired: Desired,
    /// Setup commands have completed once.
    pub setup_done: bool,
    /// Restarts so far.
    pub restarts: u32,
}

/// A finished or running execution, as stored.
#[derive(Debug, Clone)]
pub struct StoredRun {
    /// Row id, to finish it.
    pub id: i64,
    /// Counts up per task.
    pub number: u64,
    /// `setup` or `run`.
    pub phase: String,
    /// RFC 3339.
    pub started_at: String,
    /// Length.
    pub duration_ms: Option<u64>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// See `tnet_proto::msg::RunRecord::outcome`.
    pub outcome: String,
}

/// A run recorded once it is over.
#[derive(Debug, Clone)]
pub struct FinishedRun {
    /// `call` for a service call.
    pub phase: &'static str,
    /// RFC 3339.
    pub started_at: String,
    /// Length.
    pub duration_ms: u64,
    /// Exit code, if the command exited.
    pub exit_code: Option<i32>,
    /// See `tnet_proto::msg::RunRecord::outcome`.
    pub outcome: &'static str,
}

/// Adds a finished run as `task`'s next, counts its outcome, and drops the
/// oldest rows past `keep`, in `tx`; its number.
fn insert_finished_run(
    tx: &rusqlite::Transaction<'_>,
    task: &str,
    run: &FinishedRun,
    keep: u64,
) -> Result<u64> {
    let number = retention::next_number(tx, task)?;
    cached_execute(
        tx,
        "INSERT INTO runs (task, number, phase, started_at, duration_ms, exit_code, outcome)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            task,
            number,
            run.phase,
            run.started_at,
            run.duration_ms,
            run.exit_code,
            run.outcome
        ],
    )
    .map_err(ctx("record a run"))?;
    retention::count_outcome(tx, task, number, run.outcome, &run.started_at)?;
    retention::prune_on_insert(tx, task, number, keep)?;
    Ok(number)
}

/// `execute` through the connection's statement cache: the habit ledger
/// runs the same few statements thousands of times a minute, and parsing
/// them each time was a tenth of its work.
pub(crate) fn cached_execute(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// Writes the row of a new task on `conn` (or in its open transaction).
pub(crate) fn insert_task_on(conn: &Connection, t: &StoredTask) -> Result<()> {
    cached_execute(
        conn,
        "INSERT INTO tasks (safe_name, name, file_name, task_toml, files_json, desired, setup_done, restarts, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            t.safe_name,
            t.name,
            t.file_name,
            t.task_toml,
            t.files_json,
            t.desired.as_str(),
            t.setup_done,
            t.restarts,
            now_rfc3339()
        ],
    )
    .map_err(ctx("add a task"))?;
    Ok(())
}

/// `query_row` through the connection's statement cache (see `cached_execute`).
pub(crate) fn cached_row<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

/// The store.
pub struct Store {
    /// Shared with the ledger's writer thread: one connection, so writers
    /// queue on this mutex instead of polling SQLite's busy lock.
    conn: Arc<Mutex<Connection>>,
    ledger: Ledger,
    /// How many runs each task keeps; shared with the ledger, which prunes too.
    keep: Arc<KeepRuns>,
    /// What each habit's kept outputs add up to; shared with the ledger,
    /// which keeps and trims them.
    outputs: Arc<outputs::KeptOutputs>,
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let mut conn = Connection::open(path).map_err(ctx("open the database"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(ctx("enable WAL"))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(ctx("set synchronous"))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(ctx("set busy timeout"))?;
        // Room for every statement the ledger and retention repeat.
        conn.set_prepared_statement_cache_capacity(64);
        conn.execute_batch(SCHEMA)
            .map_err(ctx("create the schema"))?;
        conn.execute_batch(reasons::SCHEMA)
            .map_err(ctx("create the schema"))?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(ctx("set the schema version"))?;
        retention::migrate(&mut conn)?;
        let conn = Arc::new(Mutex::new(conn));
        let keep = Arc::new(KeepRuns::default());
        let outputs = Arc::new(outputs::KeptOutputs::default());
        let trims = ledger::Trims {
            runs: keep.clone(),
            outputs: outputs.clone(),
        };
        Ok(Store {
            ledger: Ledger::start(conn.clone(), trims)?,
            conn,
            keep,
            outputs,
        })
    }

    /// The writer of habit runs, which groups them into few transactions.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (transactions roll back), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The process groups of runs that were going when the host died, to end them.
    pub fn interrupted_groups(&self) -> Result<Vec<crate::runner::Locator>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT pgid, start_ticks FROM runs WHERE outcome = 'running' AND pgid IS NOT NULL",
            )
            .map_err(ctx("find interrupted runs"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(crate::runner::Locator {
                    pgid: r.get(0)?,
                    start_ticks: r.get(1)?,
                })
            })
            .map_err(ctx("find interrupted runs"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(ctx("read an interrupted run"))
    }

    /// Records where a run's process group is, so a restarted host can end it.
    pub fn set_run_locator(&self, id: i64, loc: &crate::runner::Locator) -> Result<()> {
        self.lock()
            .execute(
                "UPDATE runs SET pgid = ?2, start_ticks = ?3 WHERE id = ?1",
                params![id, loc.pgid, loc.start_ticks],
            )
            .map_err(ctx("record a run's process"))?;
        Ok(())
    }

    /// Marks runs that were going when the host died as `lost` (and counts
    /// them so). Called once at start.
    pub fn recover(&self) -> Result<usize> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(ctx("mark interrupted runs"))?;
        tx.execute(
            "INSERT INTO run_outcomes (task, outcome, count)
             SELECT task, 'lost', COUNT(*) FROM runs WHERE outcome = 'running' GROUP BY task
             ON CONFLICT(task, outcome) DO UPDATE SET count = count + excluded.count",
            [],
        )
        .map_err(ctx("count interrupted runs"))?;
        let lost = tx
            .execute(
                "UPDATE runs SET outcome = 'lost' WHERE outcome = 'running'",
                [],
            )
            .map_err(ctx("mark interrupted runs"))?;
        tx.commit().map_err(ctx("mark interrupted runs"))?;
        Ok(lost)
    }

    /// Adds a task, waiting for the store's connection: for tests. The host
    /// adds tasks with [`Ledger::insert_task`], which neither blocks a
    /// runtime thread nor loses the race for the connection to the ledger.
    #[cfg(test)]
    pub(crate) fn insert_task(&self, t: &StoredTask) -> Result<()> {
        insert_task_on(&self.lock(), t)
    }

    /// Every task.
    pub fn tasks(&self) -> Result<Vec<StoredTask>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT safe_name, name, file_name, task_toml, files_json, desired, setup_done, restarts FROM tasks ORDER BY name")
            .map_err(ctx("list tasks"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(StoredTask {
                    safe_name: r.get(0)?,
                    name: r.get(1)?,
                    file_name: r.get(2)?,
                    task_toml: r.get(3)?,
                    files_json: r.get(4)?,
                    desired: if r.get::<_, String>(5)? == "stopped" {
                        Desired::Stopped
                    } else {
                        Desired::Running
                    },
                    setup_done: r.get(6)?,
                    restarts: r.get(7)?,
                })
            })
            .map_err(ctx("list tasks"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(ctx("read a task"))
    }

    /// The task with this safe name.
    pub fn task(&self, safe_name: &str) -> Result<Option<StoredTask>> {
        Ok(self.tasks()?.into_iter().find(|t| t.safe_name == safe_name))
    }

    /// Replaces a task's definition (an edit); `rerun_setup` forgets that setup ran.
    pub fn update_definition(
        &self,
        safe_name: &str,
        file_name: &str,
        task_toml: &str,
        files_json: &str,
        rerun_setup: bool,
    ) -> Result<()> {
        self.lock()
            .execute(
                "UPDATE tasks SET file_name = ?2, task_toml = ?3, files_json = ?4,
                 setup_done = CASE WHEN ?5 THEN 0 ELSE setup_done END WHERE safe_name = ?1",
                params![safe_name, file_name, task_toml, files_json, rerun_setup],
            )
            .map_err(ctx("change a task"))?;
        Ok(())
    }

    /// Records whether a task should run.
    pub fn set_desired(&self, safe_name: &str, desired: Desired) -> Result<()> {
        self.lock()
            .execute(
                "UPDATE tasks SET desired = ?2 WHERE safe_name = ?1",
                params![safe_name, desired.as_str()],
            )
            .map_err(ctx("record whether a task runs"))?;
        Ok(())
    }

    /// Records that setup completed (or must run again).
    pub fn set_setup_done(&self, safe_name: &str, done: bool) -> Result<()> {
        self.lock()
            .execute(
                "UPDATE tasks SET setup_done = ?2 WHERE safe_name = ?1",
                params![safe_name, done],
            )
            .map_err(ctx("record setup"))?;
        Ok(())
    }

    /// Records the restart count.
    pub fn set_restarts(&self, safe_name: &str, restarts: u32) -> Result<()> {
        self.lock()
            .execute(
                "UPDATE tasks SET restarts = ?2 WHERE safe_name = ?1",
                params![safe_name, restarts],
            )
            .map_err(ctx("record restarts"))?;
        Ok(())
    }

    /// Deletes a task and its run history.
    pub fn remove_task(&self, safe_name: &str) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(ctx("remove a task"))?;
        tx.execute("DELETE FROM runs WHERE task = ?1", [safe_name])
            .map_err(ctx("remove runs"))?;
        Store::remove_reasons(&tx, safe_name)?;
        tx.execute("DELETE FROM run_totals WHERE task = ?1", [safe_name])
            .map_err(ctx("remove a task's counters"))?;
        tx.execute("DELETE FROM run_outcomes WHERE task = ?1", [safe_name])
            .map_err(ctx("remove a task's counters"))?;
        tx.execute("DELETE FROM habit_schedule WHERE task = ?1", [safe_name])
            .map_err(ctx("remove a habit's schedule"))?;
        tx.execute("DELETE FROM habit_outputs WHERE task = ?1", [safe_name])
            .map_err(ctx("remove a habit's outputs"))?;
        // Under the connection's lock, so no batch of the ledger counts
        // these outputs meanwhile.
        self.outputs.forget(safe_name);
        tx.execute("DELETE FROM tasks WHERE safe_name = ?1", [safe_name])
            .map_err(ctx("remove a task"))?;
        tx.commit().map_err(ctx("remove a task"))
    }

    /// Records the start of a run and returns it.
    pub fn start_run(&self, task: &str, phase: &str) -> Result<StoredRun> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(ctx("start a run"))?;
        let number = retention::next_number(&tx, task)?;
        let started_at = now_rfc3339();
        tx.execute(
            "INSERT INTO runs (task, number, phase, started_at, outcome) VALUES (?1, ?2, ?3, ?4, 'running')",
            params![task, number, phase, started_at],
        )
        .map_err(ctx("start a run"))?;
        let id = tx.last_insert_rowid();
        retention::prune_on_insert(&tx, task, number, self.keep.of(task))?;
        tx.commit().map_err(ctx("start a run"))?;
        Ok(StoredRun {
            id,
            number,
            phase: phase.to_owned(),
            started_at,
            duration_ms: None,
            exit_code: None,
            outcome: "running".into(),
        })
    }

    /// Records a run that is already over (a service call), numbered after
    /// the task's others. The host records calls through the ledger
    /// (`Ledger::record_call`); this is for tests of the store.
    #[cfg(test)]
    pub fn record_run(&self, task: &str, run: &FinishedRun) -> Result<u64> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(ctx("record a run"))?;
        let number = insert_finished_run(&tx, task, run, self.keep.of(task))?;
        tx.commit().map_err(ctx("record a run"))?;
        Ok(number)
    }

    /// Records the end of `task`'s run `run`.
    pub fn finish_run(
        &self,
        task: &str,
        run: &StoredRun,
        duration_ms: u64,
        exit_code: Option<i32>,
        outcome: &str,
    ) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(ctx("finish a run"))?;
        retention::finish(&tx, task, run, duration_ms, exit_code, outcome)?;
        tx.commit().map_err(ctx("finish a run"))
    }

    /// The last `limit` runs of a task, newest last: by number, which the
    /// index `(task, number)` walks backwards, so a year of records costs
    /// what ten do.
    pub fn recent_runs(&self, task: &str, limit: usize) -> Result<Vec<StoredRun>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT id, number, phase, started_at, duration_ms, exit_code, outcome FROM runs
                 WHERE task = ?1 ORDER BY number DESC LIMIT ?2",
            )
            .map_err(ctx("read runs"))?;
        let rows = stmt
            .query_map(params![task, limit as i64], |r| {
                Ok(StoredRun {
                    id: r.get(0)?,
                    number: r.get(1)?,
                    phase: r.get(2)?,
                    started_at: r.get(3)?,
                    duration_ms: r.get(4)?,
                    exit_code: r.get(5)?,
                    outcome: r.get(6)?,
                })
            })
            .map_err(ctx("read runs"))?;
        let mut runs: Vec<StoredRun> = rows
            .collect::<std::result::Result<_, _>>()
            .map_err(ctx("read a run"))?;
        runs.reverse();
        Ok(runs)
    }

    /// The last slot a habit consumed (ran or skipped), RFC 3339; `None` for
    /// a habit that never ran.
    pub fn habit_last_slot(&self, task: &str) -> Result<Option<String>> {
        self.lock()
            .query_row(
                "SELECT last_slot FROM habit_schedule WHERE task = ?1",
                [task],
                |r| r.get(0),
            )
            .optional()
            .map_err(ctx("read a habit's schedule"))
    }

    /// The newest `last` outputs a habit keeps (all of them when `None`),
    /// oldest first, each as its metadata JSON and its bytes.
    pub fn habit_outputs(&self, task: &str, last: Option<usize>) -> Result<Vec<(String, Vec<u8>)>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT meta_json, output FROM habit_outputs WHERE task = ?1
                 ORDER BY number DESC LIMIT ?2",
            )
            .map_err(ctx("read a habit's history"))?;
        let limit = last.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let rows = stmt
            .query_map(params![task, limit], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(ctx("read a habit's history"))?;
        let mut out: Vec<(String, Vec<u8>)> = rows
            .collect::<std::result::Result<_, _>>()
            .map_err(ctx("read a habit's output"))?;
        out.reverse();
        Ok(out)
    }

    /// The task whose name or safe name is `name`.
    pub fn find_safe_name(&self, name: &str) -> Result<Option<String>> {
        self.lock()
            .query_row(
                "SELECT safe_name FROM tasks WHERE name = ?1 OR safe_name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(ctx("find a task"))
    }
}

/// Now, as RFC 3339 with milliseconds in UTC.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str) -> StoredTask {
        StoredTask {
            safe_name: name.into(),
            name: name.into(),
            file_name: "t.toml".into(),
            task_toml: String::new(),
            files_json: "[]".into(),
            desired: Desired::Running,
            setup_done: false,
            restarts: 0,
        }
    }

    #[test]
    fn runs_are_numbered_per_task_and_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sqlite3");
        {
            let store = Store::open(&path).expect("open");
            store.insert_task(&task("a")).expect("insert");
            let r1 = store.start_run("a", "run").expect("run");
            store
                .finish_run("a", &r1, 5, Some(0), "succeeded")
                .expect("finish");
            let r2 = store.start_run("a", "run").expect("run");
            assert_eq!((r1.number, r2.number), (1, 2));
        }
        let store = Store::open(&path).expect("reopen");
        assert_eq!(
            store.recover().expect("recover"),
            1,
            "the unfinished run is marked lost"
        );
        let runs = store.recent_runs("a", 10).expect("runs");
        assert_eq!(
            runs.iter().map(|r| r.outcome.as_str()).collect::<Vec<_>>(),
            ["succeeded", "lost"]
        );
        store.set_desired("a", Desired::Stopped).expect("stop");
        assert_eq!(store.tasks().expect("tasks")[0].desired, Desired::Stopped);
        store.remove_task("a").expect("remove");
        assert!(store.tasks().expect("tasks").is_empty());
        assert!(store.recent_runs("a", 10).expect("runs").is_empty());
    }
}

//! The writer of habit runs and service calls: many records, few transactions.
//!
//! A host with a thousand one-second habits writes a few thousand run
//! records a second, and each transaction of the store waits for the disk
//! (`synchronous=FULL`: a millisecond or more). One transaction per record
//! would cap the host far below that and, done on the async runtime's
//! threads, would stall every timer meanwhile. So habit records go through
//! this ledger instead: a thread of its own takes every record waiting in
//! its queue and writes them in one transaction (group commit), then answers
//! each caller. A batch that consumes a slot is on disk when its callers
//! hear back; ends of runs and locators are only safe from a killed host
//! until the next slot's commit takes them to disk (see `write`). Callers
//! `await` without blocking a runtime thread. The thread uses
//! the store's own connection, under the store's mutex, so the store's other
//! writers simply queue behind a batch.

use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, Transaction};
use tokio::sync::oneshot;

use super::retention::{self, KeepRuns};
use super::{ctx, Result, StoreError, StoredRun, StoredTask};
use crate::runner::Locator;

/// The most records written in one transaction.
const MAX_BATCH: usize = 512;

/// How a run ended, as recorded.
#[derive(Debug, Clone, Copy)]
pub struct RunEnd {
    /// How long it ran.
    pub duration_ms: u64,
    /// Its exit code, if it exited.
    pub exit_code: Option<i32>,
    /// See `tnet_proto::msg::RunRecord::outcome`.
    pub outcome: &'static str,
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

/// How much output history a habit keeps.
#[derive(Debug, Clone, Copy)]
pub struct HistoryLimits {
    /// At most this many runs.
    pub runs: usize,
    /// At most this many bytes of output in all.
    pub bytes: u64,
}

enum Op {
    Start {
        task: String,
        slot: String,
        started_at: String,
    },
    Skip {
        task: String,
        slot: String,
    },
    Locate {
        id: i64,
        locator: Locator,
    },
    Finish {
        id: i64,
        end: RunEnd,
        output: Option<HabitOutput>,
        keep: HistoryLimits,
    },
    /// A finished service call.
    Record {
        task: String,
        run: super::FinishedRun,
    },
    /// A submitted task's row.
    InsertTask(Box<StoredTask>),
    /// Wakes the thread for what waits in the urgent queue; writes nothing.
    Nudge,
}

impl Op {
    /// Whether this record must be on disk before its caller hears back: a
    /// habit's slot (before the slot's command starts), a new task (before
    /// `tnet run` says it exists).
    fn durable(&self) -> bool {
        matches!(self, Op::Start { .. } | Op::Skip { .. } | Op::InsertTask(_))
    }
}

/// What a written record gives back.
enum Done {
    Run(StoredRun),
    Nothing,
}

struct Job {
    op: Op,
    reply: Option<oneshot::Sender<Result<Done>>>,
}

/// The queue to the writer thread; the thread ends when the ledger is dropped.
pub struct Ledger {
    jobs: std_mpsc::Sender<Job>,
    /// Records a person waits for (a submitted task), written in the next
    /// batch ahead of everything queued: on a host whose habits keep the
    /// thread busy, the queue can hold a few hundred milliseconds of records.
    urgent: Arc<Mutex<Vec<Job>>>,
}

impl Ledger {
    /// Starts the writer thread on the store's connection.
    pub(crate) fn start(conn: Arc<Mutex<Connection>>, keep: Arc<KeepRuns>) -> Result<Ledger> {
        let (jobs, queue) = std_mpsc::channel();
        let urgent = Arc::new(Mutex::new(Vec::new()));
        let first = urgent.clone();
        std::thread::Builder::new()
            .name("tnet-ledger".into())
            .spawn(move || write_batches(&conn, &keep, &first, queue))
            .map_err(|_| StoreError::LedgerClosed)?;
        Ok(Ledger { jobs, urgent })
    }

    async fn ask(&self, op: Op) -> Result<Done> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                op,
                reply: Some(reply),
            })
            .map_err(|_| StoreError::LedgerClosed)?;
        answer.await.map_err(|_| StoreError::LedgerClosed)?
    }

    async fn run(&self, op: Op) -> Result<StoredRun> {
        match self.ask(op).await? {
            Done::Run(run) => Ok(run),
            Done::Nothing => Err(StoreError::LedgerClosed),
        }
    }

    /// Records the start of a habit run for `slot` (started at `started_at`),
    /// and that the slot is consumed, in one transaction: a host killed at any
    /// instant never runs a slot twice.
    pub async fn start_habit_run(
        &self,
        task: &str,
        slot: &str,
        started_at: &str,
    ) -> Result<StoredRun> {
        self.run(Op::Start {
            task: task.to_owned(),
            slot: slot.to_owned(),
            started_at: started_at.to_owned(),
        })
        .await
    }

    /// Records a habit run that was due while the previous one still ran
    /// (`skipped`, started at its slot, no duration), and that its slot is consumed.
    pub async fn skip_habit_run(&self, task: &str, slot: &str) -> Result<StoredRun> {
        self.run(Op::Skip {
            task: task.to_owned(),
            slot: slot.to_owned(),
        })
        .await
    }

    /// Records where a run's process group is, so a restarted host can end
    /// it; queued without waiting (it is written before anything queued later).
    pub fn set_run_locator(&self, id: i64, locator: Locator) -> Result<()> {
        self.jobs
            .send(Job {
                op: Op::Locate { id, locator },
                reply: None,
            })
            .map_err(|_| StoreError::LedgerClosed)
    }

    /// Records the end of a habit run and, when it has output, keeps that
    /// output in the habit's history, in one transaction; then trims the
    /// history to the newest `keep.runs` runs holding at most `keep.bytes`.
    pub async fn finish_habit_run(
        &self,
        id: i64,
        end: RunEnd,
        output: Option<HabitOutput>,
        keep: HistoryLimits,
    ) -> Result<()> {
        self.ask(Op::Finish {
            id,
            end,
            output,
            keep,
        })
        .await
        .map(|_| ())
    }
}

impl Ledger {
    /// Records a finished service call, with the next batch. The caller has
    /// its answer already; like the end of a habit run the record commits
    /// with `synchronous=NORMAL` unless it shares a durable batch (`write`):
    /// a killed host loses none, and calls back to back no longer each wait
    /// for the disk (that wait, on the host's two cores, slowed the next
    /// warm call by a tenth of a millisecond: docs/benchmarks.md).
    ///
    /// Queued at once, before the returned future is first polled, so that
    /// [`Ledger::written`] afterwards covers it.
    pub fn record_call(
        &self,
        task: &str,
        run: super::FinishedRun,
    ) -> impl std::future::Future<Output = Result<()>> {
        let (reply, answer) = oneshot::channel();
        let sent = self.jobs.send(Job {
            op: Op::Record {
                task: task.to_owned(),
                run,
            },
            reply: Some(reply),
        });
        async move {
            sent.map_err(|_| StoreError::LedgerClosed)?;
            answer
                .await
                .map_err(|_| StoreError::LedgerClosed)?
                .map(|_| ())
        }
    }

    /// Returns once everything queued before it is written: the host waits
    /// for it before it exits, or the writer thread would end with it.
    pub async fn written(&self) -> Result<()> {
        self.ask(Op::Nudge).await.map(|_| ())
    }

    /// Adds a submitted task, on disk when this returns. Through the ledger
    /// rather than the store's mutex: a host busy with habits commits batches
    /// back to back, and a submission waiting on the mutex lost the race to
    /// the ledger's thread batch after batch while it blocked one of the
    /// runtime's threads; here it waits its turn in the queue, without
    /// blocking, and shares the next durable commit.
    pub async fn insert_task(&self, task: StoredTask) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        lock_urgent(&self.urgent).push(Job {
            op: Op::InsertTask(Box::new(task)),
            reply: Some(reply),
        });
        self.jobs
            .send(Job {
                op: Op::Nudge,
                reply: None,
            })
            .map_err(|_| StoreError::LedgerClosed)?;
        answer
            .await
            .map_err(|_| StoreError::LedgerClosed)?
            .map(|_| ())
    }
}

fn lock_urgent(urgent: &Mutex<Vec<Job>>) -> std::sync::MutexGuard<'_, Vec<Job>> {
    // Plain pushes and takes: nothing is left half-changed by a panic.
    urgent.lock().unwrap_or_else(|p| p.into_inner())
}

/// The writer thread: everything waiting, one transaction, then the answers.
fn write_batches(
    conn: &Mutex<Connection>,
    keep: &KeepRuns,
    urgent: &Mutex<Vec<Job>>,
    queue: std_mpsc::Receiver<Job>,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = std::mem::take(&mut *lock_urgent(urgent));
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let results = {
            // As in `Store::lock`: SQLite rolls back what a panic interrupted.
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            write(&mut conn, keep, &batch)
        };
        for (job, result) in batch.into_iter().zip(results) {
            if let Some(reply) = job.reply {
                let _ = reply.send(result);
            }
        }
    }
}

/// Writes a batch in one transaction; each job gets its own result, and all
/// of them an error if the transaction itself fails.
///
/// Only a batch that consumes a slot waits for the disk (`synchronous=FULL`,
/// the store's setting): the slot must be on disk before its command starts,
/// or a power cut could run it twice. A batch of ends of runs and process
/// locators commits with `synchronous=NORMAL`: in WAL mode that commit is
/// in the operating system's hands when it returns, so a killed host loses
/// nothing of it, and the next durable commit (the next slot any habit
/// starts) writes it to disk with its own, since the WAL is one file written
/// in order. A power cut can therefore lose only the ends of the runs that
/// ended since the last slot started (they read as `lost` after the restart,
/// like runs the host was killed in), never a slot's record. A locator only
/// matters to a host that was killed while its processes lived on, which a
/// power cut does not leave.
fn write(conn: &mut Connection, keep: &KeepRuns, batch: &[Job]) -> Vec<Result<Done>> {
    let durable = batch.iter().any(|job| job.op.durable());
    if !durable {
        set_synchronous(conn, "NORMAL");
    }
    let results = write_transaction(conn, keep, batch);
    if !durable {
        set_synchronous(conn, "FULL");
    }
    results
}

/// Sets how the connection's commits wait for the disk; a failure leaves the
/// stricter setting or is logged (it cannot fail on an open connection).
fn set_synchronous(conn: &Connection, level: &str) {
    if let Err(e) = conn.pragma_update(None, "synchronous", level) {
        tracing::warn!("cannot set synchronous={level}: {e}");
    }
}

fn write_transaction(conn: &mut Connection, keep: &KeepRuns, batch: &[Job]) -> Vec<Result<Done>> {
    let tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            return batch
                .iter()
                .map(|_| Err(fail("begin a batch", &e)))
                .collect()
        }
    };
    let mut results: Vec<Result<Done>> =
        batch.iter().map(|job| apply(&tx, keep, &job.op)).collect();
    if let Err(e) = tx.commit() {
        results = batch
            .iter()
            .map(|_| Err(fail("commit a batch", &e)))
            .collect();
    }
    results
}

fn fail(action: &'static str, e: &rusqlite::Error) -> StoreError {
    // rusqlite errors are not Clone, and each record of the batch gets one.
    StoreError::Batch {
        action,
        message: e.to_string(),
    }
}

fn apply(tx: &Transaction<'_>, keep: &KeepRuns, op: &Op) -> Result<Done> {
    match op {
        Op::Start {
            task,
            slot,
            started_at,
        } => insert_run(tx, task, slot, started_at, false, keep.of(task)).map(Done::Run),
        Op::Skip { task, slot } => {
            insert_run(tx, task, slot, slot, true, keep.of(task)).map(Done::Run)
        }
        Op::Locate { id, locator } => {
            super::cached_execute(
                tx,
                "UPDATE runs SET pgid = ?2, start_ticks = ?3 WHERE id = ?1",
                params![id, locator.pgid, locator.start_ticks],
            )
            .map_err(ctx("record a run's process"))?;
            Ok(Done::Nothing)
        }
        Op::Finish {
            id,
            end,
            output,
            keep,
        } => {
            finish(tx, *id, end, output.as_ref(), *keep)?;
            Ok(Done::Nothing)
        }
        Op::Record { task, run } => {
            super::insert_finished_run(tx, task, run, keep.of(task))?;
            Ok(Done::Nothing)
        }
        Op::InsertTask(task) => {
            super::insert_task_on(tx, task)?;
            Ok(Done::Nothing)
        }
        Op::Nudge => Ok(Done::Nothing),
    }
}

/// A new run row and the habit's new last slot; the oldest rows past the
/// habit's `keep` go in the same transaction.
fn insert_run(
    tx: &Transaction<'_>,
    task: &str,
    slot: &str,
    started_at: &str,
    skipped: bool,
    keep: u64,
) -> Result<StoredRun> {
    let number = retention::next_number(tx, task)?;
    let (duration_ms, outcome) = if skipped {
        (Some(0), "skipped")
    } else {
        (None, "running")
    };
    super::cached_execute(tx,
        "INSERT INTO runs (task, number, phase, started_at, duration_ms, outcome) VALUES (?1, ?2, 'run', ?3, ?4, ?5)",
        params![task, number, started_at, duration_ms, outcome],
    )
    .map_err(ctx("start a habit run"))?;
    let id = tx.last_insert_rowid();
    super::cached_execute(
        tx,
        "INSERT INTO habit_schedule (task, last_slot) VALUES (?1, ?2)
         ON CONFLICT(task) DO UPDATE SET last_slot = excluded.last_slot",
        params![task, slot],
    )
    .map_err(ctx("record a habit's schedule"))?;
    if skipped {
        retention::count_outcome(tx, task, number, outcome, started_at)?;
    }
    retention::prune_on_insert(tx, task, keep)?;
    Ok(StoredRun {
        id,
        number,
        phase: "run".to_owned(),
        started_at: started_at.to_owned(),
        duration_ms,
        exit_code: None,
        outcome: outcome.to_owned(),
    })
}

fn finish(
    tx: &Transaction<'_>,
    id: i64,
    end: &RunEnd,
    output: Option<&HabitOutput>,
    keep: HistoryLimits,
) -> Result<()> {
    retention::finish(tx, id, end.duration_ms, end.exit_code, end.outcome)?;
    let Some(out) = output else { return Ok(()) };
    super::cached_execute(tx,
        "INSERT OR REPLACE INTO habit_outputs (task, number, meta_json, output) VALUES (?1, ?2, ?3, ?4)",
        params![out.task, out.number, out.meta_json, out.bytes],
    )
    .map_err(ctx("keep a habit's output"))?;
    super::cached_execute(
        tx,
        "DELETE FROM habit_outputs WHERE task = ?1 AND number IN (
             SELECT number FROM (
                 SELECT number,
                        ROW_NUMBER() OVER newest AS n,
                        SUM(length(output)) OVER newest AS bytes
                 FROM habit_outputs WHERE task = ?1
                 WINDOW newest AS (ORDER BY number DESC)
             ) WHERE n > ?2 OR bytes > ?3)",
        params![
            out.task,
            i64::try_from(keep.runs).unwrap_or(i64::MAX),
            i64::try_from(keep.bytes).unwrap_or(i64::MAX)
        ],
    )
    .map_err(ctx("trim a habit's history"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{now_rfc3339, Desired, Store, StoredTask};
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

    fn output(number: u64, meta: &str, bytes: &[u8]) -> Option<HabitOutput> {
        Some(HabitOutput {
            task: "h".into(),
            number,
            meta_json: meta.into(),
            bytes: bytes.to_vec(),
        })
    }

    const OK: RunEnd = RunEnd {
        duration_ms: 3,
        exit_code: Some(0),
        outcome: "succeeded",
    };

    #[tokio::test]
    async fn tasks_added_through_the_ledger_are_kept_and_a_second_of_a_name_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sqlite3");
        {
            let store = Store::open(&path).expect("open");
            let ledger = store.ledger();
            // Added together, they share commits; each is on disk when it returns.
            let (a, b) = tokio::join!(ledger.insert_task(task("a")), ledger.insert_task(task("b")));
            a.expect("a");
            b.expect("b");
            let again = ledger.insert_task(task("a")).await;
            assert!(again.is_err(), "a second task `a` was added");
            // A refused row takes nothing else of its batch with it.
            store.insert_task(&task("h")).expect("insert");
            ledger
                .start_habit_run("h", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z")
                .await
                .expect("start");
        }
        let store = Store::open(&path).expect("reopen");
        let names: Vec<String> = store
            .tasks()
            .expect("tasks")
            .into_iter()
            .map(|t| t.safe_name)
            .collect();
        assert_eq!(names, ["a", "b", "h"]);
    }

    #[tokio::test]
    async fn calls_queued_without_waiting_are_kept_once_written_says_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sqlite3");
        {
            let store = Store::open(&path).expect("open");
            store.insert_task(&task("svc")).expect("insert");
            let ledger = store.ledger();
            for outcome in ["succeeded", "failed", "timeout"] {
                let call = crate::store::FinishedRun {
                    phase: "call",
                    started_at: "2026-01-01T00:00:00.000Z".into(),
                    duration_ms: 1,
                    exit_code: None,
                    outcome,
                };
                // Not awaited: queued as the call is made.
                drop(ledger.record_call("svc", call));
            }
            ledger.written().await.expect("written");
        }
        let store = Store::open(&path).expect("reopen");
        let runs = store.recent_runs("svc", 10).expect("runs");
        let mut seen: Vec<(u64, String)> =
            runs.iter().map(|r| (r.number, r.outcome.clone())).collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                (1, "succeeded".to_owned()),
                (2, "failed".to_owned()),
                (3, "timeout".to_owned())
            ]
        );
    }

    #[tokio::test]
    async fn habit_runs_consume_slots_and_keep_a_bounded_history() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sqlite3");
        let keep = HistoryLimits { runs: 3, bytes: 10 };
        {
            let store = Store::open(&path).expect("open");
            store.insert_task(&task("h")).expect("insert");
            assert_eq!(store.habit_last_slot("h").expect("slot"), None);
            let ledger = store.ledger();
            for (i, out) in ["aa", "bb", "cc", "dd"].iter().enumerate() {
                let slot = format!("2026-01-01T00:00:0{i}.000Z");
                let run = ledger
                    .start_habit_run("h", &slot, &slot)
                    .await
                    .expect("start");
                let locator = Locator {
                    pgid: 42,
                    start_ticks: 7,
                };
                ledger.set_run_locator(run.id, locator).expect("locate");
                let meta = format!("{{\"number\":{}}}", run.number);
                ledger
                    .finish_habit_run(run.id, OK, output(run.number, &meta, out.as_bytes()), keep)
                    .await
                    .expect("finish");
            }
            let skipped = ledger
                .skip_habit_run("h", "2026-01-01T00:00:05.000Z")
                .await
                .expect("skip");
            assert_eq!((skipped.number, skipped.outcome.as_str()), (5, "skipped"));
        }
        let store = Store::open(&path).expect("reopen");
        assert_eq!(
            store.habit_last_slot("h").expect("slot").as_deref(),
            Some("2026-01-01T00:00:05.000Z"),
            "the skipped slot is consumed too"
        );
        assert!(
            store.interrupted_groups().expect("groups").is_empty(),
            "finished runs leave no process to end"
        );
        let history = store.habit_outputs("h", None).expect("history");
        let outputs: Vec<&[u8]> = history.iter().map(|(_, b)| b.as_slice()).collect();
        assert_eq!(outputs, [b"bb", b"cc", b"dd"], "the newest 3, oldest first");
        let last = store.habit_outputs("h", Some(1)).expect("history");
        assert_eq!(last[0].0, "{\"number\":4}");
        let runs = store.recent_runs("h", 10).expect("runs");
        assert_eq!(runs.len(), 5);
        assert_eq!(runs[4].started_at, "2026-01-01T00:00:05.000Z");

        // The byte limit: newest first, 6 + 2 bytes fit in 9, the next 2 do not.
        let ledger = store.ledger();
        let big = HistoryLimits {
            runs: 100,
            bytes: 9,
        };
        let run = ledger
            .start_habit_run("h", "2026-01-01T00:00:06.000Z", &now_rfc3339())
            .await
            .expect("start");
        let failed = RunEnd {
            duration_ms: 1,
            exit_code: Some(1),
            outcome: "failed",
        };
        ledger
            .finish_habit_run(run.id, failed, output(run.number, "{}", b"123456"), big)
            .await
            .expect("finish");
        let history = store.habit_outputs("h", None).expect("history");
        assert_eq!(history.len(), 2, "{history:?}");
        assert_eq!(history[0].1, b"dd");

        store.remove_task("h").expect("remove");
        assert!(store.habit_outputs("h", None).expect("history").is_empty());
        assert_eq!(store.habit_last_slot("h").expect("slot"), None);
    }

    #[tokio::test]
    async fn records_of_many_habits_at_once_are_all_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.sqlite3")).expect("open");
        let starts = (0..200).map(|i| {
            let task = format!("h{i}");
            let ledger = store.ledger();
            async move {
                ledger
                    .start_habit_run(&task, "2026-01-01T00:00:00.000Z", &now_rfc3339())
                    .await
            }
        });
        let runs = futures::future::join_all(starts).await;
        assert!(runs.iter().all(|r| r.as_ref().is_ok_and(|r| r.number == 1)));
        assert_eq!(
            store.interrupted_groups().expect("groups").len(),
            0,
            "no locator recorded yet"
        );
    }
}

//! The writer of habit runs and service calls: many records, few transactions.
//!
//! A host with a thousand one-second habits writes a few thousand run
//! records a second, and each transaction of the store waits for the disk
//! (`synchronous=FULL`: a millisecond or more). One transaction per record
//! would cap the host far below that and, done on the async runtime's
//! threads, would stall every timer meanwhile. So habit records go through
//! this ledger instead: a thread of its own writes the records waiting in
//! its queue in one transaction (group commit), then answers each caller.
//! Callers `await` without blocking a runtime thread. The thread uses the
//! store's own connection, under the store's mutex, so the store's other
//! writers simply queue behind a batch.
//!
//! Every record says by when it must be written, and the thread writes when
//! the first of those comes, not when a record arrives: a slot's record by
//! its slot less [`START_MARGIN`] (the habit hands it in well before),
//! where a run's process is within [`GATHER`], the end of a habit run
//! within [`RUN_END_GATHER`], a submitted task and
//! [`Ledger::written`] at once. So the records of many runs share one
//! transaction, and one wake-up of the thread, even when the runs are spread
//! over the second (docs/benchmarks.md, "Habits": at a hundred habits a
//! second each run had three transactions and a `fsync` of its own). A
//! batch that consumes a slot is on disk when its callers hear back; ends of
//! runs and locators are only safe from a killed host until the next slot's
//! commit takes them to disk (see `write`).

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, Transaction};
use tokio::sync::oneshot;

use super::outputs::{HabitOutput, HistoryLimits, KeptOutputs};
use super::retention::{self, KeepRuns};
use super::{ctx, Result, StoreError, StoredRun, StoredTask};
use crate::runner::Locator;

/// The most records written in one transaction.
const MAX_BATCH: usize = 512;

/// How long before its slot a run's record is committed: the commit, `fsync`
/// included, has this long to end before the command is due (a few
/// milliseconds here; more on a busy disk).
pub const START_MARGIN: Duration = Duration::from_millis(50);

/// How long a record that no promise waits on (where a run's process is, a
/// finished call) may wait to share a transaction with others.
pub const GATHER: Duration = Duration::from_millis(20);

/// How long the end of a habit run may wait to share a transaction. Nobody
/// waits on it but the run's publication (the habit goes on to its next
/// slot meanwhile), so it is the most the ledger delays a publication: at a
/// hundred one-second habits most ends then join the commit of the slots
/// coming up instead of one of their own.
pub const RUN_END_GATHER: Duration = Duration::from_millis(100);

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
        task: String,
        run: StoredRun,
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
    /// Writes what was queued before it, writes nothing itself: everything
    /// (`slots`), or only what need not reach the disk (ends of runs,
    /// locators, calls), leaving the slots handed in ahead for their commit.
    Flush {
        slots: bool,
    },
}

impl Op {
    /// Whether this record must be on disk before its caller hears back: a
    /// habit's slot (before the slot's command starts), a new task (before
    /// `tnet run` says it exists).
    fn durable(&self) -> bool {
        matches!(self, Op::Start { .. } | Op::Skip { .. } | Op::InsertTask(_))
    }

    /// Whether a person waits for it (a submitted task): written in the next
    /// batch, ahead of everything queued.
    fn urgent(&self) -> bool {
        matches!(self, Op::InsertTask(_))
    }
}

/// What a written record gives back.
enum Done {
    Run(StoredRun),
    Nothing,
}

struct Job {
    op: Op,
    /// Written no later than this.
    by: Instant,
    reply: Option<oneshot::Sender<Result<Done>>>,
}

/// What waits for the writer thread.
#[derive(Default)]
struct Queue {
    /// Records a person waits for (a submitted task), written in the next
    /// batch ahead of everything queued: on a host whose habits keep the
    /// thread busy, the queue can hold a few hundred milliseconds of records.
    urgent: Vec<Job>,
    /// Every other record, in the order it came.
    jobs: Vec<Job>,
    /// Until when the thread sleeps, when it does: a record due sooner wakes
    /// it, any other only joins the queue. `None` while it writes.
    asleep_until: Option<Instant>,
    /// The ledger is gone: write what is left and end.
    closed: bool,
}

struct Inbox {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// Transactions written so far (the tests count them).
    commits: std::sync::atomic::AtomicU64,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Plain pushes and takes: nothing is left half-changed by a panic.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, job: Job) -> Result<()> {
        let mut q = self.lock();
        if q.closed {
            return Err(StoreError::LedgerClosed);
        }
        if q.asleep_until.is_some_and(|until| job.by < until) {
            q.asleep_until = Some(job.by);
            self.wake.notify_one();
        }
        if job.op.urgent() {
            q.urgent.push(job);
        } else {
            q.jobs.push(job);
        }
        Ok(())
    }
}

/// What the writer trims as it writes: each task's runs to the number it
/// keeps, each habit's outputs to its history's limits. Shared with the
/// store, which changes both when a task comes or goes.
pub(crate) struct Trims {
    pub(crate) runs: Arc<KeepRuns>,
    pub(crate) outputs: Arc<KeptOutputs>,
}

/// The queue to the writer thread; the thread writes what is left and ends
/// when the ledger is dropped.
pub struct Ledger {
    inbox: Arc<Inbox>,
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.inbox.lock().closed = true;
        self.inbox.wake.notify_one();
    }
}

impl Ledger {
    /// Starts the writer thread on the store's connection.
    pub(crate) fn start(conn: Arc<Mutex<Connection>>, trims: Trims) -> Result<Ledger> {
        let inbox = Arc::new(Inbox {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            commits: std::sync::atomic::AtomicU64::new(0),
        });
        let theirs = inbox.clone();
        std::thread::Builder::new()
            .name("tnet-ledger".into())
            .spawn(move || write_batches(&conn, &trims, &theirs))
            .map_err(|_| StoreError::LedgerClosed)?;
        Ok(Ledger { inbox })
    }

    /// Queues `op` to be written by `by`, and waits until it is.
    async fn ask(&self, op: Op, by: Instant) -> Result<Done> {
        self.queue(op, by).await
    }

    /// Queues `op` to be written by `by` at once, before the returned future
    /// is first polled; the future ends once it is written.
    fn queue(
        &self,
        op: Op,
        by: Instant,
    ) -> impl std::future::Future<Output = Result<Done>> + Send + 'static {
        let (reply, answer) = oneshot::channel();
        let sent = self.inbox.push(Job {
            op,
            by,
            reply: Some(reply),
        });
        async move {
            sent?;
            answer.await.map_err(|_| StoreError::LedgerClosed)?
        }
    }

    async fn run(&self, op: Op, by: Instant) -> Result<StoredRun> {
        match self.ask(op, by).await? {
            Done::Run(run) => Ok(run),
            Done::Nothing => Err(StoreError::LedgerClosed),
        }
    }

    /// Records the start of a habit run for `slot` (started at `started_at`),
    /// and that the slot is consumed, in one transaction: a host killed at any
    /// instant never runs a slot twice. `due` is when the slot comes: the
    /// record is on disk by then, [`START_MARGIN`] before it if the disk
    /// keeps up, sharing its commit with the records queued meanwhile.
    pub async fn start_habit_run(
        &self,
        task: &str,
        slot: &str,
        started_at: &str,
        due: Instant,
    ) -> Result<StoredRun> {
        let op = Op::Start {
            task: task.to_owned(),
            slot: slot.to_owned(),
            started_at: started_at.to_owned(),
        };
        self.run(op, due.checked_sub(START_MARGIN).unwrap_or(due))
            .await
    }

    /// Records a habit run that was due while the previous one still ran
    /// (`skipped`, started at its slot, no duration), and that its slot is
    /// consumed; written at once.
    pub async fn skip_habit_run(&self, task: &str, slot: &str) -> Result<StoredRun> {
        let op = Op::Skip {
            task: task.to_owned(),
            slot: slot.to_owned(),
        };
        self.run(op, Instant::now()).await
    }

    /// Records where a run's process group is, so a restarted host can end
    /// it; queued without waiting, written within [`GATHER`]. (A habit asks
    /// only for a command still running after its first moments; a shorter
    /// one has no locator, its end is written instead.)
    pub fn set_run_locator(&self, id: i64, locator: Locator) -> Result<()> {
        self.inbox.push(Job {
            op: Op::Locate { id, locator },
            by: Instant::now() + GATHER,
            reply: None,
        })
    }

    /// Records the end of a habit run and, when it has output, keeps that
    /// output in the habit's history, in one transaction; then trims the
    /// history to the newest `keep.runs` runs holding at most `keep.bytes`.
    /// Queued at once, before the returned future is first polled (a habit
    /// goes on to its next slot and leaves the waiting to its publisher);
    /// the future ends once the record is written, within [`RUN_END_GATHER`]
    /// if the disk keeps up.
    pub fn finish_habit_run(
        &self,
        task: &str,
        run: &StoredRun,
        end: RunEnd,
        output: Option<HabitOutput>,
        keep: HistoryLimits,
    ) -> impl std::future::Future<Output = Result<()>> + Send + 'static {
        let op = Op::Finish {
            task: task.to_owned(),
            run: run.clone(),
            end,
            output,
            keep,
        };
        let written = self.queue(op, Instant::now() + RUN_END_GATHER);
        async move { written.await.map(|_| ()) }
    }
}

impl Ledger {
    /// Records a finished service call, within [`GATHER`]. The caller has
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
        let op = Op::Record {
            task: task.to_owned(),
            run,
        };
        let written = self.queue(op, Instant::now() + GATHER);
        async move { written.await.map(|_| ()) }
    }

    /// How many transactions the thread has written.
    #[cfg(test)]
    fn commits(&self) -> u64 {
        self.inbox
            .commits
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Returns once everything queued before it is written: the host waits
    /// for it before it exits.
    pub async fn written(&self) -> Result<()> {
        self.ask(Op::Flush { slots: true }, Instant::now())
            .await
            .map(|_| ())
    }

    /// Returns once the ends of runs queued before it are written (with the
    /// locators and calls, in a commit that does not wait for the disk);
    /// the slots handed in ahead of their time still wait for theirs, so
    /// reading a habit's runs (`tnet status`) neither commits a slot early
    /// nor waits for the disk.
    pub async fn ends_written(&self) -> Result<()> {
        self.ask(Op::Flush { slots: false }, Instant::now())
            .await
            .map(|_| ())
    }

    /// Adds a submitted task, on disk when this returns. Through the ledger
    /// rather than the store's mutex: a host busy with habits commits batches
    /// back to back, and a submission waiting on the mutex lost the race to
    /// the ledger's thread batch after batch while it blocked one of the
    /// runtime's threads; here it waits its turn, without blocking, ahead
    /// of the habits' records, and shares the next durable commit.
    pub async fn insert_task(&self, task: StoredTask) -> Result<()> {
        self.ask(Op::InsertTask(Box::new(task)), Instant::now())
            .await
            .map(|_| ())
    }
}

/// The writer thread: sleeps until the first record is due, then writes
/// what may go in one transaction, then answers.
fn write_batches(conn: &Mutex<Connection>, trims: &Trims, inbox: &Inbox) {
    let mut q = inbox.lock();
    loop {
        let now = Instant::now();
        let batch = match take_due(&mut q, now) {
            Taken::Batch(batch) => batch,
            Taken::Sleep(until) => {
                q.asleep_until = Some(until.unwrap_or(now + Duration::from_secs(3600)));
                q = match until {
                    Some(until) => {
                        let wait = until.saturating_duration_since(now);
                        inbox
                            .wake
                            .wait_timeout(q, wait)
                            .unwrap_or_else(|p| p.into_inner())
                            .0
                    }
                    None => inbox.wake.wait(q).unwrap_or_else(|p| p.into_inner()),
                };
                q.asleep_until = None;
                continue;
            }
            Taken::End => return,
        };
        drop(q);
        let results = {
            // As in `Store::lock`: SQLite rolls back what a panic interrupted.
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            write(&mut conn, trims, &batch)
        };
        inbox
            .commits
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for (job, result) in batch.into_iter().zip(results) {
            if let Some(reply) = job.reply {
                let _ = reply.send(result);
            }
        }
        q = inbox.lock();
    }
}

/// What the writer does next.
enum Taken {
    /// Writes these, in this order.
    Batch(Vec<Job>),
    /// Sleeps until the first record is due (`None`: until one comes).
    Sleep(Option<Instant>),
    /// The ledger is gone and everything is written.
    End,
}

/// The records to write now: everything, once a record that must reach the
/// disk (or a flush, or a full batch's worth) is due; only those that need
/// not reach the disk, when one of them is due and no durable one is, so
/// that slots further ahead still share a later commit.
fn take_due(q: &mut Queue, now: Instant) -> Taken {
    let everything = q.closed
        || !q.urgent.is_empty()
        || q.jobs.len() >= MAX_BATCH
        || q.jobs
            .iter()
            .any(|j| j.by <= now && (j.op.durable() || matches!(j.op, Op::Flush { slots: true })));
    if everything {
        if q.urgent.is_empty() && q.jobs.is_empty() {
            return Taken::End;
        }
        let mut batch = std::mem::take(&mut q.urgent);
        let room = MAX_BATCH.saturating_sub(batch.len()).max(1);
        let rest = q.jobs.split_off(room.min(q.jobs.len()));
        batch.append(&mut q.jobs);
        q.jobs = rest;
        return Taken::Batch(batch);
    }
    if q.jobs.iter().any(|j| j.by <= now) {
        let (light, durable): (Vec<Job>, Vec<Job>) = std::mem::take(&mut q.jobs)
            .into_iter()
            .partition(|j| !j.op.durable());
        q.jobs = durable;
        return Taken::Batch(light);
    }
    Taken::Sleep(q.jobs.iter().map(|j| j.by).min())
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
fn write(conn: &mut Connection, trims: &Trims, batch: &[Job]) -> Vec<Result<Done>> {
    let durable = batch.iter().any(|job| job.op.durable());
    if !durable {
        set_synchronous(conn, "NORMAL");
    }
    let results = write_transaction(conn, trims, batch);
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

fn write_transaction(conn: &mut Connection, trims: &Trims, batch: &[Job]) -> Vec<Result<Done>> {
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
        batch.iter().map(|job| apply(&tx, trims, &job.op)).collect();
    if let Err(e) = tx.commit() {
        // The counts of kept outputs took in what did not commit.
        trims.outputs.forget_all();
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

fn apply(tx: &Transaction<'_>, trims: &Trims, op: &Op) -> Result<Done> {
    let keep = &trims.runs;
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
            task,
            run,
            end,
            output,
            keep: limits,
        } => {
            retention::finish(tx, task, run, end.duration_ms, end.exit_code, end.outcome)?;
            if let Some(out) = output {
                trims.outputs.keep(tx, out, *limits)?;
            }
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
        Op::Flush { .. } => Ok(Done::Nothing),
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
    retention::prune_on_insert(tx, task, number, keep)?;
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
                .start_habit_run(
                    "h",
                    "2026-01-01T00:00:00.000Z",
                    "2026-01-01T00:00:00.000Z",
                    Instant::now(),
                )
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
                    .start_habit_run("h", &slot, &slot, Instant::now())
                    .await
                    .expect("start");
                let locator = Locator {
                    pgid: 42,
                    start_ticks: 7,
                };
                ledger.set_run_locator(run.id, locator).expect("locate");
                let meta = format!("{{\"number\":{}}}", run.number);
                ledger
                    .finish_habit_run(
                        "h",
                        &run,
                        OK,
                        output(run.number, &meta, out.as_bytes()),
                        keep,
                    )
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
            .start_habit_run(
                "h",
                "2026-01-01T00:00:06.000Z",
                &now_rfc3339(),
                Instant::now(),
            )
            .await
            .expect("start");
        let failed = RunEnd {
            duration_ms: 1,
            exit_code: Some(1),
            outcome: "failed",
        };
        ledger
            .finish_habit_run("h", &run, failed, output(run.number, "{}", b"123456"), big)
            .await
            .expect("finish");
        let history = store.habit_outputs("h", None).expect("history");
        assert_eq!(history.len(), 2, "{history:?}");
        assert_eq!(history[0].1, b"dd");

        store.remove_task("h").expect("remove");
        assert!(store.habit_outputs("h", None).expect("history").is_empty());
        assert_eq!(store.habit_last_slot("h").expect("slot"), None);

        // A habit of the same name again: its history is counted afresh,
        // not from the removed one's (which would trim the new run away).
        store.insert_task(&task("h")).expect("insert again");
        let two = HistoryLimits {
            runs: 2,
            bytes: 100,
        };
        for (i, out) in ["ee", "ff", "gg"].iter().enumerate() {
            let slot = format!("2026-01-02T00:00:0{i}.000Z");
            let run = ledger
                .start_habit_run("h", &slot, &slot, Instant::now())
                .await
                .expect("start");
            ledger
                .finish_habit_run("h", &run, OK, output(run.number, "{}", out.as_bytes()), two)
                .await
                .expect("finish");
            let kept: Vec<Vec<u8>> = store
                .habit_outputs("h", None)
                .expect("history")
                .into_iter()
                .map(|(_, b)| b)
                .collect();
            let want: Vec<&[u8]> = [b"ee", b"ff", b"gg"][i.saturating_sub(1)..=i]
                .iter()
                .map(|b| b.as_slice())
                .collect();
            assert_eq!(kept, want, "after run {}", i + 1);
        }
    }

    #[tokio::test]
    async fn ends_written_writes_the_ends_of_runs_and_leaves_slots_ahead_for_their_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.sqlite3")).expect("open");
        store.insert_task(&task("h")).expect("insert");
        store.insert_task(&task("later")).expect("insert");
        let ledger = store.ledger();
        let run = ledger
            .start_habit_run(
                "h",
                "2026-01-01T00:00:00.000Z",
                &now_rfc3339(),
                Instant::now(),
            )
            .await
            .expect("start");
        // The run's end, queued (the habit goes on), and another habit's
        // slot, handed in a minute ahead of its time.
        let end = ledger.finish_habit_run(
            "h",
            &run,
            OK,
            output(run.number, "{}", b"ok"),
            HistoryLimits {
                runs: 10,
                bytes: 1000,
            },
        );
        let slot_ahead = ledger.start_habit_run(
            "later",
            "2026-01-01T00:01:00.000Z",
            "2026-01-01T00:01:00.000Z",
            Instant::now() + Duration::from_secs(60),
        );
        tokio::pin!(slot_ahead);
        tokio::select! {
            biased;
            _ = &mut slot_ahead => panic!("the slot was written before its time"),
            written = ledger.ends_written() => written.expect("ends written"),
        }
        assert_eq!(
            store.recent_runs("h", 1).expect("runs")[0].outcome,
            "succeeded"
        );
        assert_eq!(store.habit_outputs("h", None).expect("history").len(), 1);
        assert_eq!(
            store.habit_last_slot("later").expect("slot"),
            None,
            "the slot ahead waits for its own commit"
        );
        end.await.expect("end");
        ledger.written().await.expect("written");
        assert!(store.habit_last_slot("later").expect("slot").is_some());
    }

    #[tokio::test]
    async fn slots_due_together_share_one_commit_and_a_flush_writes_what_waits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.sqlite3")).expect("open");
        let ledger = store.ledger();
        let before = ledger.commits();
        // Ten habits whose slots come within a tenth of a second, handed in
        // at once, well ahead: one transaction takes them all.
        let due = Instant::now() + Duration::from_millis(400);
        let starts = (0..10).map(|i| {
            let task = format!("h{i}");
            let due = due + Duration::from_millis(10 * i);
            async move {
                ledger
                    .start_habit_run(&task, "2026-01-01T00:00:00.000Z", &now_rfc3339(), due)
                    .await
            }
        });
        let runs = futures::future::join_all(starts).await;
        assert!(runs.iter().all(|r| r.as_ref().is_ok_and(|r| r.number == 1)));
        assert!(
            Instant::now() + START_MARGIN >= due,
            "written before it had to be: nothing else could join it"
        );
        assert_eq!(ledger.commits() - before, 1, "one commit for ten slots");

        // A slot a minute ahead would wait; a flush (the host's last
        // word before it exits) writes it now.
        let later = Instant::now() + Duration::from_secs(60);
        let started = now_rfc3339();
        let (far, flushed) = tokio::join!(
            ledger.start_habit_run("far", "2026-01-01T00:01:00.000Z", &started, later),
            async {
                tokio::task::yield_now().await;
                ledger.written().await
            }
        );
        flushed.expect("flush");
        assert_eq!(far.expect("far").number, 1);
        assert!(Instant::now() < later);
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
                    .start_habit_run(
                        &task,
                        "2026-01-01T00:00:00.000Z",
                        &now_rfc3339(),
                        Instant::now(),
                    )
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

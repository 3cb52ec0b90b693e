//! What a habit does after setup: run its commands at each slot of its
//! schedule (SPEC 7), and publish each run's stdout with its metadata.
//!
//! The habit is `scheduled` between runs and `running` during one. Each slot
//! is consumed exactly once, recorded in the store in the same transaction
//! as the run it starts (or the skip it records), so a host killed at any
//! instant picks up after the last consumed slot with no burst of missed
//! runs ([`Plan::resume`] and `catch_up`). The record is handed
//! in [`RECORD_AHEAD`] (on a [`RECORD_GRID`]) before the slot and is on disk
//! before the command starts, at its slot. A slot that comes due while the
//! previous run still goes is not started twice: it is recorded as a
//! `skipped` run, with a `skipped` event.
//!
//! Each run's stdout (not stderr) is captured on its way to the task's log,
//! kept in the habit's bounded history, and published on
//! `tnet/<host>/habit/<task>` with a JSON [`HabitRun`] attachment, from a
//! task of its own so the network never delays the schedule. Only runs that
//! ran to their end are published: skipped, stopped, shutdown and lost runs
//! have no output to give.

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use futures::future::BoxFuture;
use futures::stream::SelectAll;
use futures::StreamExt;
use tnet_proto::keys;
use tnet_proto::msg::{self, Event, EventKind, HabitRun, TaskState};
use tnet_proto::task::value::value_of;
use tokio::sync::mpsc;
use zenoh::qos::CongestionControl;

use super::capture::Captured;
use super::{failure, publish_event, Actor, Control, Interrupt, STOP_GRACE};
use crate::runner::{forward, Exit, OutputChunk, OutputStream};
use crate::scheduler::{until, Plan};
use crate::store::{HabitOutput, HistoryLimits, RunEnd, StoredRun};

/// How much output history each habit keeps for late subscribers.
pub const HISTORY: HistoryLimits = HistoryLimits {
    runs: 100,
    bytes: 32 << 20,
};

/// How long, after a run's commands ended, its output may still be arriving:
/// a background child that keeps stdout open must not hold the habit up.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// How long before its slot a run is handed to the ledger. The record (which
/// consumes the slot, so that a host killed at any instant never runs it
/// twice) waits for the disk, a few milliseconds here and more on a busy
/// one; written ahead, that wait is not the command's lateness. The ledger
/// commits it [`START_MARGIN`](crate::store::ledger::START_MARGIN) before the slot, with every record that came
/// meanwhile: at a hundred habits a second, the slots of the next fifth of
/// a second share one commit. A host killed after the commit loses the slot
/// (it reads `lost`), as one killed between the record and the start always
/// did: a slot runs at most once, never twice.
const RECORD_AHEAD: Duration = Duration::from_millis(250);

/// The habits of a lane hand their records in together: each wakes for it at
/// the last multiple of this on the clock before its slot less
/// [`RECORD_AHEAD`], not at an instant of its own, so that one wake-up of the
/// lane serves every habit due within it (at a hundred habits a second, five
/// of a lane's fifty a second). The ledger writes each record when the first
/// of its batch is due, as before; a record that comes up to this much
/// earlier may join an earlier commit, which widens the moment before a slot
/// in which a killed host loses it (reads `lost`) by as much, never runs it
/// twice.
const RECORD_GRID: Duration = Duration::from_millis(100);

/// How long a run's command runs before the host records where its process
/// group is (so that a host killed while it runs ends it when it starts
/// again). A command that ends sooner needs no such record, and most habit
/// commands do. A host killed within this moment of a spawn cannot end that
/// command later; the record used to be queued at the spawn and written
/// with the ledger's next batch, so a shorter moment of the same kind was
/// there before.
const LOCATE_AFTER: Duration = Duration::from_millis(20);

/// How many runs may wait for their publication; past it a run's output is
/// not published (it is still kept in the history) and its event goes out
/// at once, rather than hold up the schedule.
const PUBLISH_QUEUE: usize = 8;

/// How long a stopping habit waits for its publisher to tell its last runs.
const PUBLISH_DRAIN: Duration = Duration::from_secs(1);

/// A run that ended, on its way to the habit's publisher: once its record
/// is written (so that a subscriber who hears of it and asks for the
/// history finds it there), its output and then its event go out. The
/// habit does not wait for that write: it is on to its next slot.
struct Finished {
    written: BoxFuture<'static, crate::store::Result<()>>,
    /// The run's stdout and its `HabitRun` JSON.
    output: Vec<u8>,
    meta_json: String,
    event: Event,
}

/// How a run's commands ended.
enum RunOutcome {
    /// They ran to the end (or could not start); the slot after the last
    /// one consumed meanwhile, `None` when the schedule has no more.
    Ended { next: Option<DateTime<Utc>> },
    /// A control message stopped them.
    Interrupted(Interrupt),
}

impl Actor {
    /// Runs the habit on its schedule until a control message stops it;
    /// returns once its last run is recorded and told, so that a stop is
    /// answered (and its `stopped` event told) after the runs before it.
    pub(crate) async fn drive_habit(&mut self) -> Option<Interrupt> {
        let (publisher, publishing) = self.habit_publisher();
        let interrupt = self.habit_loop(&publisher).await;
        self.snap.send_modify(|s| s.next_run = None);
        drop(publisher);
        // The ends the ledger still gathers, written now rather than in
        // up to `RUN_END_GATHER`; then the publisher tells what is left.
        if let Err(err) = self.shared.store.ledger().ends_written().await {
            tracing::warn!(task = %self.info.name, "{err}");
        }
        // A subscriber too slow to take them (publications block) does not
        // hold the stop up for long: what is left goes on in the background.
        let _ = tokio::time::timeout(PUBLISH_DRAIN, publishing).await;
        interrupt
    }

    async fn habit_loop(&mut self, publisher: &mpsc::Sender<Box<Finished>>) -> Option<Interrupt> {
        let info = self.info.clone();
        let plan = match info.spec.habit.as_ref().and_then(Plan::new) {
            Some(plan) => plan,
            None => {
                // A validated habit always has a plan; this is a bug, said plainly.
                tracing::error!(task = %info.name, "the habit has no usable schedule");
                self.set_state(TaskState::Failed);
                return None;
            }
        };
        let last = match self.shared.store.habit_last_slot(&info.safe_name) {
            Ok(last) => last.as_deref().and_then(parse_time),
            Err(err) => {
                tracing::warn!(task = %info.name, "{err}");
                None
            }
        };
        let Some(resume) = plan.resume(last, Utc::now()) else {
            self.set_state(TaskState::Finished);
            return None;
        };
        if resume.missed > 0 {
            let catch_up = info.spec.habit.as_ref().map(|h| h.catch_up.as_str());
            tracing::info!(
                task = %info.name,
                "{} run(s) were missed while the habit could not run (catch_up = \"{}\")",
                resume.missed,
                catch_up.unwrap_or_default(),
            );
        }
        let mut next = resume.slot;
        loop {
            // One change seen by whoever watches (each wakes its watchers).
            self.snap.send_modify(|s| {
                s.next_run = Some(rfc3339(next));
                s.state = TaskState::Scheduled;
                s.pid = None;
            });
            tokio::select! {
                ctl = self.rx.recv() => match interrupt_of(ctl) {
                    Some(interrupt) => return Some(interrupt),
                    None => continue,
                },
                // Woken early: the slot's record is on disk when it comes.
                () = tokio::time::sleep(until(record_at(next), Utc::now())) => {}
            }
            // Woken more than a period late (a suspended machine, a stalled
            // host): the latest due slot runs, the ones before it are missed.
            let slot = match plan.due(next, Utc::now()) {
                Some(due) => {
                    tracing::info!(task = %info.name, "woke late: {} run(s) missed", due.passed_over + 1);
                    due.slot
                }
                None => next,
            };
            match self.habit_run(&plan, slot, publisher).await {
                RunOutcome::Interrupted(interrupt) => return Some(interrupt),
                RunOutcome::Ended { next: Some(n) } => next = n,
                RunOutcome::Ended { next: None } => {
                    self.set_state(TaskState::Finished);
                    return None;
                }
            }
        }
    }

    /// A queue to this habit's publisher, which runs in its own task: a slow
    /// disk, network or subscriber (publications block rather than drop)
    /// never stalls the schedule. It publishes on the session clients reach
    /// (`Shared::front_session`): on the secure default the gate's, so a run
    /// crosses one session to its subscribers, not two, and a habit holds no
    /// declaration there (a declared publisher held 2.5 to 4 KiB a habit).
    /// The task ends once the queue is dropped and emptied.
    fn habit_publisher(&self) -> (mpsc::Sender<Box<Finished>>, tokio::task::JoinHandle<()>) {
        let key = keys::habit_output(&self.shared.name, &self.info.name);
        // Boxed: the channel allocates room for 32 of what it carries at once,
        // and a thousand habits each held 32 runs' worth (10 MiB in all).
        let (tx, mut rx) = mpsc::channel::<Box<Finished>>(PUBLISH_QUEUE);
        let (shared, info) = (self.shared.clone(), self.info.clone());
        let publishing = tokio::spawn(async move {
            while let Some(run) = rx.recv().await {
                if let Err(err) = run.written.await {
                    tracing::warn!(task = %info.name, "{err}");
                }
                let session = shared.front_session();
                let put = session
                    .put(&key, run.output)
                    .attachment(run.meta_json)
                    .congestion_control(CongestionControl::Block);
                if let Err(err) = put.await {
                    tracing::warn!(task = %info.name, "cannot publish a run's output: {err}");
                }
                publish_event(&shared, &info, &run.event).await;
            }
        });
        (tx, publishing)
    }

    /// One run for `slot`: its commands in order (the first failure ends it),
    /// skipping the slots that come due meanwhile; then its record, its
    /// output kept and published, and its event.
    async fn habit_run(
        &mut self,
        plan: &Plan,
        slot: DateTime<Utc>,
        publisher: &mpsc::Sender<Box<Finished>>,
    ) -> RunOutcome {
        let info = self.info.clone();
        // Recorded before it is due (the loop woke `RECORD_AHEAD` early), so
        // the disk's wait is not the command's: it starts at its slot, which
        // is the start recorded. Recorded late, it starts when recorded.
        let now = Utc::now();
        let starts_at = slot.max(now);
        let due = std::time::Instant::now() + until(slot, now);
        let run = match self
            .shared
            .store
            .ledger()
            .start_habit_run(&info.safe_name, &rfc3339(slot), &rfc3339(starts_at), due)
            .await
        {
            Ok(run) => run,
            Err(err) => {
                // Without its record a run would be invisible: none is started.
                tracing::warn!(task = %info.name, "{err}");
                let message = format!("a run of `{}` could not start: {err}", info.name);
                self.emit(EventKind::Failed, None, None, message).await;
                return RunOutcome::Ended {
                    next: plan.following(slot),
                };
            }
        };
        if let Some(interrupt) = self.wait_for_slot(slot).await {
            let end = RunEnd {
                duration_ms: 0,
                exit_code: None,
                outcome: interrupt.outcome(),
            };
            if let Err(err) = self
                .shared
                .store
                .ledger()
                .finish_habit_run(&info.safe_name, &run, end, None, HISTORY)
                .await
            {
                tracing::warn!(task = %info.name, "{err}");
            }
            return RunOutcome::Interrupted(interrupt);
        }
        let started = Instant::now();
        self.snap.send_modify(|s| {
            s.last_run = Some(run.started_at.clone());
            s.state = TaskState::Running;
        });

        let mut captured = Captured::default();
        // Every command's output, read here rather than by tasks of its own.
        let mut reading = SelectAll::<OutputStream>::new();
        let mut next = plan.following(slot);
        let mut exit = Exit::Code(0);
        let mut reason = None;
        for command in &info.spec.commands {
            let mut spec = self.command_spec(command);
            // The slot this run is for: a command can make its work idempotent
            // by it (a slot runs at most once, even across host crashes).
            spec.env.push(("TNET_SCHEDULED".to_owned(), rfc3339(slot)));
            let mut exec = match info.runner.spawn_reading(&spec) {
                Ok((exec, output)) => {
                    reading.push(output);
                    exec
                }
                Err(err) => {
                    reason = Some(failure::cannot_start(command, &spec.workdir, &err));
                    exit = Exit::Code(127);
                    break;
                }
            };
            self.snap.send_modify(|s| s.pid = exec.pid());
            // Where its process group is, for a host killed while it runs,
            // once it has run a moment: most habit commands end sooner,
            // and their run's end is all the ledger needs to hear.
            let locate_at = tokio::time::Instant::now() + LOCATE_AFTER;
            let mut located = false;
            exit = loop {
                tokio::select! {
                    Some(chunk) = reading.next(), if !reading.is_empty() => {
                        self.keep_output(chunk, &mut captured).await;
                    }
                    () = tokio::time::sleep_until(locate_at), if !located => {
                        located = true;
                        if let Some(loc) = exec.locator() {
                            if let Err(err) = self.shared.store.ledger().set_run_locator(run.id, loc) {
                                tracing::warn!(task = %info.name, "{err}");
                            }
                        }
                    }
                    ended = exec.wait() => break ended.unwrap_or_else(|err| {
                        reason = Some(failure::could_not_run(command, &err));
                        Exit::Code(-1)
                    }),
                    ctl = self.rx.recv() => {
                        let Some(interrupt) = interrupt_of(ctl) else { continue };
                        if let Err(err) = exec.terminate(STOP_GRACE).await {
                            tracing::warn!(task = %info.name, "stopping a command failed: {err}");
                        }
                        let end = RunEnd {
                            duration_ms: millis(started.elapsed()),
                            exit_code: None,
                            outcome: interrupt.outcome(),
                        };
                        if let Err(err) = self.shared.store.ledger().finish_habit_run(&info.safe_name, &run, end, None, HISTORY).await {
                            tracing::warn!(task = %info.name, "{err}");
                        }
                        self.log_in_background(reading);
                        return RunOutcome::Interrupted(interrupt);
                    }
                    () = tokio::time::sleep(next.map_or(Duration::MAX, |n| until(n, Utc::now()))), if next.is_some() => {
                        next = self.skip_overlapped(plan, next, &run).await;
                    }
                }
            };
            if !exit.success() {
                break;
            }
        }
        self.read_rest(reading, &mut captured).await;
        let ended = Ended {
            took: started.elapsed(),
            exit,
            reason: reason.or_else(|| failure::shell_verdict(exit)),
        };
        self.finish_habit_run(run, slot, ended, captured, publisher)
            .await;
        RunOutcome::Ended { next }
    }

    /// Keeps a chunk of a run's output for publication (stdout) and sends
    /// it on to the task's log (all of it).
    async fn keep_output(&self, chunk: OutputChunk, captured: &mut Captured) {
        captured.take(&chunk);
        // The log writer ends only with the task; without it nothing is lost here.
        let _ = self.output.send(chunk).await;
    }

    /// Reads what the run's commands still print after the last one ended:
    /// at once when their pipes are closed already (most runs), else for up
    /// to [`OUTPUT_GRACE`]. A background child that keeps a pipe open does
    /// not hold the habit up; what it prints later still reaches the log.
    async fn read_rest(&self, mut reading: SelectAll<OutputStream>, captured: &mut Captured) {
        let grace = tokio::time::sleep(OUTPUT_GRACE);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                // The pipes first: while they have output or their end ready,
                // the grace's timer is not even started.
                biased;
                chunk = reading.next() => match chunk {
                    Some(chunk) => self.keep_output(chunk, captured).await,
                    None => return,
                },
                () = &mut grace => break,
            }
        }
        self.log_in_background(reading);
    }

    /// Sends what is left of a run's output to the task's log from a task of
    /// its own (the habit goes on meanwhile), until its pipes close.
    fn log_in_background(&self, reading: SelectAll<OutputStream>) {
        if !reading.is_empty() {
            tokio::spawn(forward(reading, self.output.clone()));
        }
    }

    /// Waits until `slot` (its run already recorded), unless a control
    /// message interrupts first.
    async fn wait_for_slot(&mut self, slot: DateTime<Utc>) -> Option<Interrupt> {
        let due = tokio::time::Instant::now() + until(slot, Utc::now());
        loop {
            tokio::select! {
                ctl = self.rx.recv() => {
                    if let Some(interrupt) = interrupt_of(ctl) {
                        return Some(interrupt);
                    }
                }
                () = tokio::time::sleep_until(due) => return None,
            }
        }
    }

    /// A slot came due while a run still goes: record it as skipped, and
    /// return the slot after it.
    async fn skip_overlapped(
        &mut self,
        plan: &Plan,
        next: Option<DateTime<Utc>>,
        current: &StoredRun,
    ) -> Option<DateTime<Utc>> {
        let due = next?;
        // Normally exactly this slot; after a stall, the latest due one stands for all.
        let slot = plan.due(due, Utc::now()).map_or(due, |d| d.slot);
        let following = plan.following(slot);
        let info = self.info.clone();
        match self
            .shared
            .store
            .ledger()
            .skip_habit_run(&info.safe_name, &rfc3339(slot))
            .await
        {
            Ok(skipped) => {
                let message = format!(
                    "run {} of `{}` skipped: run {} was still going when it was due",
                    skipped.number, info.name, current.number
                );
                self.emit(EventKind::Skipped, Some(skipped.number), None, message)
                    .await;
            }
            Err(err) => tracing::warn!(task = %info.name, "{err}"),
        }
        if let Some(n) = following {
            self.snap.send_modify(|s| s.next_run = Some(rfc3339(n)));
        }
        following
    }

    /// Records the end of a run, keeps and publishes its output, and tells the world.
    async fn finish_habit_run(
        &mut self,
        run: StoredRun,
        slot: DateTime<Utc>,
        ended: Ended,
        output: Captured,
        publisher: &mpsc::Sender<Box<Finished>>,
    ) {
        let Ended { took, exit, reason } = ended;
        let info = self.info.clone();
        let ignore = info
            .spec
            .habit
            .as_ref()
            .is_some_and(|h| h.ignore_nonzero_exits);
        let succeeded = judge(exit, ignore);
        let outcome = if succeeded { "succeeded" } else { "failed" };
        // Why it failed, when the host knows: kept, logged, and in the event.
        let reason = reason.filter(|_| !succeeded);
        let meta = HabitRun {
            host: self.shared.name.clone(),
            task: info.name.clone(),
            number: run.number,
            scheduled: rfc3339(slot),
            started: run.started_at.clone(),
            duration_ms: millis(took),
            exit_code: exit.code(),
            outcome: outcome.to_owned(),
            truncated: output.truncated,
            value: info.spec.habit.as_ref().and_then(|h| {
                value_of(
                    &String::from_utf8_lossy(&output.bytes),
                    h.value_pattern.as_ref(),
                )
            }),
        };
        let meta_json = String::from_utf8(msg::encode(&meta)).expect("serde_json writes UTF-8");
        let end = RunEnd {
            duration_ms: meta.duration_ms,
            exit_code: meta.exit_code,
            outcome,
        };
        let kept = HabitOutput {
            task: info.safe_name.clone(),
            number: run.number,
            meta_json: meta_json.clone(),
            bytes: output.bytes.clone(),
        };
        // Queued now; the publisher waits for it to be written before it
        // publishes the run.
        let written = self.shared.store.ledger().finish_habit_run(
            &info.safe_name,
            &run,
            end,
            Some(kept),
            HISTORY,
        );
        self.snap.send_modify(|s| {
            s.exit_code = exit.code();
            s.pid = None;
            s.state = TaskState::Scheduled;
        });
        if let Some(reason) = &reason {
            self.record_reason(Some(run.number), reason).await;
        }
        let (kind, message) = match (succeeded, exit) {
            (false, _) if reason.is_some() => (
                EventKind::Failed,
                format!(
                    "run {} of `{}` failed: {}",
                    run.number,
                    info.name,
                    reason.as_deref().unwrap_or_default()
                ),
            ),
            (true, Exit::Code(0)) => (
                EventKind::Succeeded,
                format!("run {} of `{}` succeeded", run.number, info.name),
            ),
            (true, _) => (
                EventKind::Succeeded,
                format!(
                    "run {} of `{}` exited with {} (ignored: ignore_nonzero_exits = true)",
                    run.number,
                    info.name,
                    exit.code().unwrap_or_default()
                ),
            ),
            (false, Exit::Code(code)) => (
                EventKind::Failed,
                format!(
                    "run {} of `{}` failed with exit code {code} (`tnet logs {}` shows why)",
                    run.number, info.name, info.name
                ),
            ),
            (false, Exit::Signal(signal)) => (
                EventKind::Failed,
                format!(
                    "run {} of `{}` was killed by signal {signal}",
                    run.number, info.name
                ),
            ),
        };
        let event = self.event(kind, Some(run.number), exit.code(), message, reason);
        let finished = Box::new(Finished {
            written: Box::pin(written),
            output: output.bytes,
            meta_json,
            event,
        });
        if let Err(full) = publisher.try_send(finished) {
            tracing::warn!(
                task = %info.name,
                "run {} was not published: its subscribers are too slow (it is in the history)",
                run.number
            );
            // Its event is told all the same, without waiting for its record.
            let event = &full.into_inner().event;
            publish_event(&self.shared, &self.info, event).await;
        }
    }
}

/// How a habit run's commands ended.
struct Ended {
    took: Duration,
    exit: Exit,
    /// Why it failed, when the host knows more than the exit code.
    reason: Option<String>,
}

/// Whether a run that ended with `exit` succeeded (SPEC 7.3): with
/// `ignore_nonzero_exits` a non-zero exit code is an ordinary run, not a
/// failure; a kill by a signal is a failure either way.
fn judge(exit: Exit, ignore_nonzero_exits: bool) -> bool {
    exit.success() || (ignore_nonzero_exits && exit.code().is_some())
}

/// A control message as an interruption of the habit; `None` for `Start`
/// (the habit is already on its schedule).
fn interrupt_of(ctl: Option<Control>) -> Option<Interrupt> {
    match ctl {
        Some(Control::Start) => None,
        Some(Control::Restart) => Some(Interrupt::Restart),
        Some(Control::Stop(ack)) => Some(Interrupt::Stop(ack)),
        Some(Control::Shutdown(ack)) => Some(Interrupt::Shutdown(ack)),
        // Every handle is gone: the host is ending.
        None => Some(Interrupt::Shutdown(tokio::sync::oneshot::channel().0)),
    }
}

/// When a habit hands in the record of `slot`: [`RECORD_AHEAD`] before it,
/// moved back to the last multiple of [`RECORD_GRID`] on the clock.
fn record_at(slot: DateTime<Utc>) -> DateTime<Utc> {
    let ahead = slot - chrono::Duration::from_std(RECORD_AHEAD).unwrap_or_default();
    let grid = i64::try_from(RECORD_GRID.as_millis()).unwrap_or(1).max(1);
    let past = ahead.timestamp_millis().rem_euclid(grid);
    ahead - chrono::Duration::milliseconds(past)
}

/// An instant as the store and the wire write it: RFC 3339, UTC, milliseconds.
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_handed_in_on_the_grid_between_ahead_and_ahead_plus_the_grid() {
        let slot = parse_time("2026-12-06T01:00:00.437Z").expect("a time");
        assert_eq!(
            record_at(slot),
            parse_time("2026-12-06T01:00:00.100Z").expect("a time")
        );
        for ms in [0, 1, 99, 100, 250, 349, 350, 999] {
            let slot = parse_time("2026-12-06T01:00:00Z").expect("a time")
                + chrono::Duration::milliseconds(ms);
            let at = record_at(slot);
            assert_eq!(at.timestamp_subsec_millis() % 100, 0, "{slot}: {at}");
            let ahead = (slot - at).num_milliseconds();
            assert!(
                (250..350).contains(&ahead),
                "{slot}: handed in {ahead} ms ahead"
            );
        }
    }

    #[test]
    fn nonzero_exits_fail_unless_ignored() {
        assert!(judge(Exit::Code(0), false));
        assert!(!judge(Exit::Code(3), false));
        assert!(judge(Exit::Code(3), true));
        assert!(!judge(Exit::Signal(9), true), "a kill is never ordinary");
    }
}

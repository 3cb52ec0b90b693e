//! What a daemon does after setup: keep its commands running by its restart
//! policy (SPEC 5.2).
//!
//! After an exit the policy says whether to restart. Restarts wait a delay
//! that doubles after each quick exit up to a cap; a process that stayed up
//! `stable_after` is healthy and the delay starts over. `crashloop_after`
//! quick exits in a row put the daemon in `crashloop`: it is not restarted
//! again, and one event says so, not one per crash.

use std::time::{Duration, Instant};

use tnet_proto::msg::{EventKind, TaskState};
use tnet_proto::task::DaemonDetails;

use super::{Actor, Control, Interrupt, SeqEnd};

/// What the policy decides after an exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The policy does not restart after this outcome.
    End,
    /// Restart after this delay.
    RestartAfter(Duration),
    /// Too many quick exits in a row.
    Crashloop,
}

/// The restart policy's memory between exits; pure, so it is tested without time passing.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    quick_exits: u32,
    delay: Duration,
}

impl Backoff {
    pub(crate) fn new(policy: &DaemonDetails) -> Self {
        Backoff {
            quick_exits: 0,
            delay: policy.restart_delay,
        }
    }

    /// Decides what follows an exit after `uptime`.
    pub(crate) fn after_exit(
        &mut self,
        policy: &DaemonDetails,
        success: bool,
        uptime: Duration,
    ) -> Decision {
        if !policy.restarts_after(success) {
            return Decision::End;
        }
        self.after_crash(policy, uptime)
    }

    /// Decides what follows an exit after `uptime` that calls for a restart
    /// whatever the policy's flags say (a warm service's worker, which is
    /// always started again unless it is in a crash loop).
    pub(crate) fn after_crash(&mut self, policy: &DaemonDetails, uptime: Duration) -> Decision {
        if uptime >= policy.stable_after {
            self.quick_exits = 0;
            self.delay = policy.restart_delay;
        }
        self.quick_exits += 1;
        if self.quick_exits >= policy.crashloop_after {
            return Decision::Crashloop;
        }
        let delay = self.delay;
        self.delay = (self.delay * 2).min(policy.max_restart_delay);
        Decision::RestartAfter(delay)
    }
}

/// How a wait between restarts ended.
enum Pause {
    /// The delay passed, or a user asked to start now.
    Go,
    /// A user stopped or removed the task.
    Interrupted(Interrupt),
}

impl Actor {
    /// Runs the daemon's commands, restarting them by policy. `Some` when interrupted.
    pub(crate) async fn drive_daemon(&mut self) -> Option<Interrupt> {
        let info = self.info.clone();
        let policy = &info.spec.daemon;
        if info.spec.commands.is_empty() {
            // A task that only holds a workspace (the seed's note): ready for a shell and an edit.
            self.set_state(TaskState::Waiting);
            return None;
        }
        let mut backoff = Backoff::new(policy);
        loop {
            self.set_state(TaskState::Running);
            let started = Instant::now();
            let exit = match self.run_sequence(&info.spec.commands, "run").await {
                SeqEnd::Interrupted(i) => return Some(i),
                SeqEnd::Done(exit) => exit,
            };
            let success = exit.success();
            let run = self.last_run_number;
            let reason = self.last_reason.clone();
            let outcome = match (&reason, exit.code()) {
                (Some(reason), _) => format!("failed: {reason}"),
                (None, Some(code)) => format!("exited with code {code}"),
                (None, None) => "was killed by a signal".to_owned(),
            };
            match backoff.after_exit(policy, success, started.elapsed()) {
                Decision::End => {
                    self.set_state(if success {
                        TaskState::Finished
                    } else {
                        TaskState::Failed
                    });
                    let kind = if success {
                        EventKind::Succeeded
                    } else {
                        EventKind::Failed
                    };
                    let msg = format!("`{}` {outcome}", info.name);
                    self.emit_because(kind, run, exit.code(), msg, reason).await;
                    return None;
                }
                Decision::Crashloop => {
                    self.set_state(TaskState::Crashloop);
                    let msg = format!(
                        "`{}` {outcome} ({} times in a row, each within {}); it is not restarted again until `tnet start {}`",
                        info.name,
                        policy.crashloop_after,
                        humantime::format_duration(policy.stable_after),
                        info.name
                    );
                    self.note(&msg).await;
                    self.emit_because(EventKind::Crashloop, run, exit.code(), msg, reason)
                        .await;
                    return None;
                }
                Decision::RestartAfter(delay) => {
                    self.set_state(TaskState::Backoff);
                    let msg = format!(
                        "`{}` {outcome}; restarting in {}",
                        info.name,
                        humantime::format_duration(delay)
                    );
                    self.note(&msg).await;
                    self.emit_because(EventKind::Restarting, run, exit.code(), msg, reason)
                        .await;
                    if let Pause::Interrupted(i) = self.pause(delay).await {
                        return Some(i);
                    }
                    self.count_restart();
                }
            }
        }
    }

    /// Waits `delay` before a restart, still obeying control messages.
    async fn pause(&mut self, delay: Duration) -> Pause {
        tokio::select! {
            _ = tokio::time::sleep(delay) => Pause::Go,
            ctl = self.rx.recv() => match ctl {
                Some(Control::Start) | Some(Control::Restart) => Pause::Go,
                Some(Control::Stop(ack)) => Pause::Interrupted(Interrupt::Stop(ack)),
                Some(Control::Shutdown(ack)) => Pause::Interrupted(Interrupt::Shutdown(ack)),
                None => Pause::Interrupted(Interrupt::Shutdown(tokio::sync::oneshot::channel().0)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(end: bool, fail: bool, success: bool) -> DaemonDetails {
        DaemonDetails {
            restart_on_end: end,
            restart_on_fail: fail,
            restart_on_success: success,
            restart_delay: Duration::from_secs(1),
            max_restart_delay: Duration::from_secs(5),
            stable_after: Duration::from_secs(30),
            crashloop_after: 5,
            ..DaemonDetails::default()
        }
    }

    #[test]
    fn the_restart_matrix() {
        // (end, fail, success) x (exit 0, exit 1) -> restarts?
        let cases = [
            ((true, false, false), [true, true]),
            ((false, true, false), [false, true]),
            ((false, false, true), [true, false]),
            ((false, false, false), [false, false]),
        ];
        for ((end, fail, success), expected) in cases {
            let p = policy(end, fail, success);
            for (exit_ok, want) in [(true, expected[0]), (false, expected[1])] {
                let got = Backoff::new(&p).after_exit(&p, exit_ok, Duration::ZERO);
                assert_eq!(
                    matches!(got, Decision::RestartAfter(_)),
                    want,
                    "flags {end}/{fail}/{success}, success={exit_ok}: {got:?}"
                );
            }
        }
    }

    #[test]
    fn delays_double_up_to_the_cap_then_crashloop() {
        let p = policy(true, false, false);
        let mut b = Backoff::new(&p);
        let delays: Vec<_> = (0..4)
            .map(|_| b.after_exit(&p, false, Duration::ZERO))
            .collect();
        let secs = |d: u64| Decision::RestartAfter(Duration::from_secs(d));
        assert_eq!(delays, [secs(1), secs(2), secs(4), secs(5)]);
        assert_eq!(b.after_exit(&p, false, Duration::ZERO), Decision::Crashloop);
    }

    #[test]
    fn a_crash_backs_off_and_loops_whatever_the_flags_say() {
        // A warm service's worker: no restart flag is set.
        let p = policy(false, false, false);
        let mut b = Backoff::new(&p);
        assert_eq!(b.after_exit(&p, false, Duration::ZERO), Decision::End);
        let delays: Vec<_> = (0..4).map(|_| b.after_crash(&p, Duration::ZERO)).collect();
        let secs = |d: u64| Decision::RestartAfter(Duration::from_secs(d));
        assert_eq!(delays, [secs(1), secs(2), secs(4), secs(5)]);
        assert_eq!(b.after_crash(&p, Duration::ZERO), Decision::Crashloop);
    }

    #[test]
    fn a_process_that_stayed_up_starts_over() {
        let p = policy(true, false, false);
        let mut b = Backoff::new(&p);
        for _ in 0..4 {
            b.after_exit(&p, false, Duration::ZERO);
        }
        assert_eq!(
            b.after_exit(&p, false, Duration::from_secs(31)),
            Decision::RestartAfter(Duration::from_secs(1))
        );
    }
}

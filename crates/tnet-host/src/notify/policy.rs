//! Whether an event notifies, through which of a task's notifiers, and the
//! throttle that keeps a failing task from flooding anyone: the first failure
//! notifies, then at most one reminder per window (with the count of failures
//! since the last notice), then one notice when it recovers.
//!
//! Pure: times are arguments, so the rules are unit-tested without waiting.

use std::time::{Duration, Instant};

use tnet_proto::msg::{Event, EventKind};
use tnet_proto::task::{Notifications, Notifier};

/// Why a notification goes out: what the recipient is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// A run or exit succeeded.
    Succeeded,
    /// The first failure after successes (or ever).
    Failed,
    /// Still failing: `failures` more since the last notice.
    StillFailing {
        /// Failures since the last notice.
        failures: u32,
    },
    /// Succeeded after `failures` failures in a row.
    Recovered {
        /// Failures in the streak that just ended.
        failures: u32,
    },
    /// A daemon kept crashing and is no longer restarted (once per crash loop).
    Crashloop,
    /// Setup failed; the task stops there.
    SetupFailed,
    /// Setup is done and the task waits for the user (`wait_after_setup`).
    Waiting,
}

impl Notice {
    /// The word mails, webhooks and the inbox use (`{outcome}`).
    pub fn outcome(self) -> String {
        match self {
            Notice::Succeeded => "succeeded".to_owned(),
            Notice::Failed => "failed".to_owned(),
            Notice::StillFailing { failures } => {
                format!("still failing ({failures} more failures)")
            }
            Notice::Recovered { failures } => format!("recovered after {failures} failures"),
            Notice::Crashloop => "crash loop".to_owned(),
            Notice::SetupFailed => "setup failed".to_owned(),
            Notice::Waiting => "waiting after setup".to_owned(),
        }
    }

    /// Whether it reports something going well (picks `on_success` over `on_fail`).
    pub fn is_good(self) -> bool {
        matches!(
            self,
            Notice::Succeeded | Notice::Recovered { .. } | Notice::Waiting
        )
    }
}

/// One task's failure streak.
#[derive(Debug, Clone, Default)]
pub struct Streak {
    /// Failures in a row so far (0: not failing).
    in_a_row: u32,
    /// Failures since the last notice about this streak.
    unreported: u32,
    /// When the streak was last notified.
    last_notice: Option<Instant>,
}

/// What an event means for notifications, before throttling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
    Always(Notice),
}

fn outcome_of(event: &Event) -> Option<Outcome> {
    Some(match event.kind {
        EventKind::Succeeded => Outcome::Success,
        EventKind::Failed => Outcome::Failure,
        // A daemon's exit before a restart is an end with that outcome; its
        // failures go through the same throttle as a habit's.
        EventKind::Restarting => match event.exit_code {
            Some(0) => Outcome::Success,
            _ => Outcome::Failure,
        },
        EventKind::Crashloop => Outcome::Always(Notice::Crashloop),
        EventKind::SetupFailed => Outcome::Always(Notice::SetupFailed),
        EventKind::Waiting => Outcome::Always(Notice::Waiting),
        EventKind::SetupDone | EventKind::Skipped | EventKind::Stopped => return None,
    })
}

/// Decides whether `event` notifies, updating the task's `streak`.
/// `window` is the shortest time between two notices of one failure streak.
pub fn decide(
    streak: &mut Streak,
    event: &Event,
    now: Instant,
    window: Duration,
) -> Option<Notice> {
    match outcome_of(event)? {
        Outcome::Always(notice) => {
            if notice != Notice::Waiting {
                // A crash loop or failed setup ends the streak's quiet period:
                // what comes after it is news again.
                *streak = Streak::default();
            }
            Some(notice)
        }
        Outcome::Success => {
            let failures = streak.in_a_row;
            *streak = Streak::default();
            Some(if failures > 0 {
                Notice::Recovered { failures }
            } else {
                Notice::Succeeded
            })
        }
        Outcome::Failure => {
            streak.in_a_row += 1;
            match streak.last_notice {
                None => {
                    streak.last_notice = Some(now);
                    streak.unreported = 0;
                    Some(Notice::Failed)
                }
                Some(last) => {
                    streak.unreported += 1;
                    if now.saturating_duration_since(last) >= window {
                        let failures = std::mem::take(&mut streak.unreported);
                        streak.last_notice = Some(now);
                        Some(Notice::StillFailing { failures })
                    } else {
                        None
                    }
                }
            }
        }
    }
}

/// The task's notifiers that a notice goes through, each once: `on_success`
/// or `on_fail` by the notice, plus `on_end`. A recovery also goes where the
/// failure went (`on_fail`), so whoever heard of the failure hears it is over.
pub fn channels(notify: &Notifications, notice: Notice) -> Vec<Notifier> {
    let mut picked = Vec::new();
    let mut add = |n: Notifier| {
        if n != Notifier::None && !picked.contains(&n) {
            picked.push(n);
        }
    };
    if notice.is_good() {
        add(notify.on_success);
    }
    if !notice.is_good() || matches!(notice, Notice::Recovered { .. }) {
        add(notify.on_fail);
    }
    add(notify.on_end);
    picked
}

#[cfg(test)]
mod tests {
    use super::*;
    use tnet_proto::msg::TaskState;

    fn event(kind: EventKind, exit_code: Option<i32>) -> Event {
        Event {
            host: "h".into(),
            task: "t".into(),
            task_type: "habit".into(),
            kind,
            state: TaskState::Scheduled,
            run: Some(1),
            exit_code,
            message: String::new(),
            reason: None,
            time: String::new(),
        }
    }

    #[test]
    fn ten_failures_in_a_row_notify_once_then_recover_once() {
        let mut streak = Streak::default();
        let start = Instant::now();
        let window = Duration::from_secs(3600);
        let fail = event(EventKind::Failed, Some(1));
        let mut notices = Vec::new();
        for i in 0..10 {
            let now = start + Duration::from_secs(i);
            notices.extend(decide(&mut streak, &fail, now, window));
        }
        let ok = event(EventKind::Succeeded, Some(0));
        notices.extend(decide(
            &mut streak,
            &ok,
            start + Duration::from_secs(10),
            window,
        ));
        assert_eq!(
            notices,
            vec![Notice::Failed, Notice::Recovered { failures: 10 }]
        );
    }

    #[test]
    fn reminders_come_at_most_once_per_window_with_a_count() {
        let mut streak = Streak::default();
        let start = Instant::now();
        let window = Duration::from_secs(60);
        let fail = event(EventKind::Failed, Some(1));
        let mut notices = Vec::new();
        // One failure every 10 s for 3 minutes.
        for i in 0..18 {
            notices.extend(decide(
                &mut streak,
                &fail,
                start + Duration::from_secs(i * 10),
                window,
            ));
        }
        assert_eq!(
            notices,
            vec![
                Notice::Failed,
                Notice::StillFailing { failures: 6 },
                Notice::StillFailing { failures: 6 },
            ]
        );
    }

    #[test]
    fn successes_notify_each_time_and_skips_never() {
        let mut streak = Streak::default();
        let now = Instant::now();
        let w = Duration::from_secs(1);
        let ok = event(EventKind::Succeeded, Some(0));
        assert_eq!(decide(&mut streak, &ok, now, w), Some(Notice::Succeeded));
        assert_eq!(decide(&mut streak, &ok, now, w), Some(Notice::Succeeded));
        assert_eq!(
            decide(&mut streak, &event(EventKind::Skipped, None), now, w),
            None
        );
        assert_eq!(
            decide(&mut streak, &event(EventKind::Stopped, None), now, w),
            None
        );
    }

    #[test]
    fn daemon_restarts_are_throttled_and_the_crash_loop_notifies_once() {
        let mut streak = Streak::default();
        let now = Instant::now();
        let w = Duration::from_secs(3600);
        let crash = event(EventKind::Restarting, Some(3));
        let got: Vec<_> = (0..4)
            .filter_map(|_| decide(&mut streak, &crash, now, w))
            .collect();
        assert_eq!(got, vec![Notice::Failed]);
        let looped = event(EventKind::Crashloop, Some(3));
        assert_eq!(
            decide(&mut streak, &looped, now, w),
            Some(Notice::Crashloop)
        );
    }

    #[test]
    fn channels_follow_the_outcome_and_never_repeat() {
        let n = Notifications {
            on_end: Notifier::Email,
            on_fail: Notifier::Qmail,
            on_success: Notifier::Email,
            ..Notifications::default()
        };
        assert_eq!(channels(&n, Notice::Succeeded), vec![Notifier::Email]);
        assert_eq!(
            channels(&n, Notice::Failed),
            vec![Notifier::Qmail, Notifier::Email]
        );
        assert_eq!(
            channels(&n, Notice::Recovered { failures: 2 }),
            vec![Notifier::Email, Notifier::Qmail]
        );
        assert!(channels(&Notifications::default(), Notice::Failed).is_empty());
    }
}

//! A habit's scheduling decisions, as pure functions of times (SPEC 7.1).
//!
//! Nothing here reads a clock or sleeps: every function takes "now" as an
//! argument, so the decisions (the next fire time, daylight-saving days,
//! runs missed while the host was down) are unit-tested without waiting.
//! The habit driver (`supervisor/habit.rs`) does the waiting.
//!
//! A schedule is a sequence of **slots**, the instants a run is due:
//!
//! - an interval (`"5m"`) has a slot every interval, counted from the
//!   habit's previous slot (fixed rate: a run's own length does not shift
//!   the ones after it); a habit that never ran has its first slot at once;
//! - a cron expression has a slot at every wall-clock time it matches, in
//!   the habit's time zone (the host's own unless the task names one).
//!   Across daylight-saving changes it behaves like cron(8), through
//!   `croner`: a daily `30 2 * * *` runs once on the day 02:30 does not exist
//!   (at 03:00, the first instant after the gap) and once on the day it
//!   exists twice (at the first 02:30).
//!
//! Each slot is consumed once: it is run, or recorded as skipped. The last
//! consumed slot is persisted, so a restarted host knows which slots it
//! missed and never replays them in a burst (see [`Plan::resume`]).

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use tnet_proto::task::{CatchUp, HabitDetails, Schedule};

/// How many missed slots are counted one by one before giving up counting
/// (a per-second cron schedule and a host down for a week).
pub const MAX_COUNTED: u64 = 10_000;

/// The zone a cron expression is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The host's local time zone (`TZ`, else `/etc/localtime`).
    Local,
    /// A named IANA zone.
    Named(chrono_tz::Tz),
}

#[derive(Debug, Clone)]
enum Rule {
    Every(chrono::Duration),
    Cron(Box<croner::Cron>),
}

/// A habit's schedule, ready to answer "when".
#[derive(Debug, Clone)]
pub struct Plan {
    rule: Rule,
    zone: Zone,
    catch_up: CatchUp,
}

/// Where a habit picks up when its actor starts (host start, `tnet start`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The slot to run next. It may be in the past: with `catch_up = "latest"`,
    /// the latest missed slot, to be run at once.
    pub slot: DateTime<Utc>,
    /// Slots that passed while the habit could not run and will never run
    /// (counted up to [`MAX_COUNTED`]).
    pub missed: u64,
}

/// Slots that are due at once, found when the driver wakes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The latest slot that is due: the one to consume.
    pub slot: DateTime<Utc>,
    /// Earlier due slots passed over with it (counted up to [`MAX_COUNTED`]).
    pub passed_over: u64,
}

impl Plan {
    /// The plan of a habit. `None` only for a cron text that no longer parses,
    /// which a validated [`HabitDetails`] never holds.
    pub fn new(details: &HabitDetails) -> Option<Plan> {
        let rule = match &details.time_between_runs {
            Schedule::Every { every, .. } => Rule::Every(chrono::Duration::from_std(*every).ok()?),
            cron @ Schedule::Cron { .. } => Rule::Cron(Box::new(cron.cron()?)),
        };
        Some(Plan {
            rule,
            zone: details.time_zone.map_or(Zone::Local, Zone::Named),
            catch_up: details.catch_up,
        })
    }

    /// The first slot of a habit that has never run: now for an interval,
    /// the next match for a cron expression. `None` when a cron expression
    /// never matches again (it cannot, for a validated schedule).
    pub fn first(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.rule {
            Rule::Every(_) => Some(now),
            Rule::Cron(_) => self.following(now),
        }
    }

    /// The first slot strictly after `slot`.
    pub fn following(&self, slot: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.rule {
            Rule::Every(every) => slot.checked_add_signed(*every),
            Rule::Cron(cron) => match self.zone {
                Zone::Local => cron_after(cron, &chrono::Local, slot),
                Zone::Named(tz) => cron_after(cron, &tz, slot),
            },
        }
    }

    /// The latest slot in `(after, now]` and how many earlier slots lie in
    /// that range too; `None` when no slot is due.
    pub fn due(&self, after: DateTime<Utc>, now: DateTime<Utc>) -> Option<Due> {
        match &self.rule {
            Rule::Every(every) => {
                let step = every.num_milliseconds().max(1);
                let steps = (now - after).num_milliseconds().div_euclid(step);
                if steps < 1 {
                    return None;
                }
                let slot = after + chrono::Duration::milliseconds(steps * step);
                Some(Due {
                    slot,
                    passed_over: (steps as u64 - 1).min(MAX_COUNTED),
                })
            }
            Rule::Cron(cron) => {
                let mut slot = self.following(after).filter(|s| *s <= now)?;
                let mut passed_over = 0;
                while let Some(next) = self.following(slot).filter(|s| *s <= now) {
                    passed_over += 1;
                    if passed_over >= MAX_COUNTED {
                        // Counting stops; the latest due slot is found directly.
                        let latest = match self.zone {
                            Zone::Local => cron_at_or_before(cron, &chrono::Local, now),
                            Zone::Named(tz) => cron_at_or_before(cron, &tz, now),
                        };
                        slot = latest.unwrap_or(next);
                        break;
                    }
                    slot = next;
                }
                Some(Due { slot, passed_over })
            }
        }
    }

    /// Where a habit picks up at `now`, given the last slot it consumed
    /// (`None` for a habit that never ran).
    ///
    /// Missed slots are never replayed one by one: with `catch_up = "skip"`
    /// the habit waits for its next slot; with `"latest"` the latest missed
    /// slot runs at once, then the schedule goes on.
    pub fn resume(&self, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<Resume> {
        let Some(last) = last else {
            return Some(Resume {
                slot: self.first(now)?,
                missed: 0,
            });
        };
        let Some(due) = self.due(last, now) else {
            return Some(Resume {
                slot: self.following(last)?,
                missed: 0,
            });
        };
        let all_due = (due.passed_over + 1).min(MAX_COUNTED);
        Some(match self.catch_up {
            CatchUp::Skip => Resume {
                slot: self.following(due.slot)?,
                missed: all_due,
            },
            CatchUp::Latest => Resume {
                slot: due.slot,
                missed: all_due - 1,
            },
        })
    }
}

/// How long from `now` until `slot`; zero when it is already due.
pub fn until(slot: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (slot - now).to_std().unwrap_or(Duration::ZERO)
}

/// The first match of `cron` strictly after `after`, read in `zone`.
fn cron_after<Z: TimeZone>(
    cron: &croner::Cron,
    zone: &Z,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    cron.find_next_occurrence(&after.with_timezone(zone), false)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The last match of `cron` at or before `at`, read in `zone`.
fn cron_at_or_before<Z: TimeZone>(
    cron: &croner::Cron,
    zone: &Z,
    at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    cron.find_previous_occurrence(&at.with_timezone(zone), true)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Tz;

    fn plan(schedule: &str, zone: Option<Tz>, catch_up: CatchUp) -> Plan {
        Plan::new(&HabitDetails {
            time_between_runs: Schedule::parse(schedule).expect("valid schedule"),
            ignore_nonzero_exits: false,
            time_zone: zone,
            catch_up,
            value_pattern: None,
        })
        .expect("a plan")
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("RFC 3339")
            .with_timezone(&Utc)
    }

    /// Every slot in `[from, to)`, walking the schedule as the driver does.
    fn slots(plan: &Plan, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut at = plan.following(from - chrono::Duration::seconds(1));
        while let Some(slot) = at.filter(|s| *s < to) {
            out.push(slot);
            at = plan.following(slot);
        }
        out
    }

    #[test]
    fn intervals_keep_a_fixed_rate_from_the_first_run() {
        let p = plan("90s", None, CatchUp::Skip);
        let now = utc("2026-01-01T10:00:00.250Z");
        assert_eq!(p.first(now), Some(now), "a new habit runs at once");
        assert_eq!(p.following(now), Some(utc("2026-01-01T10:01:30.250Z")));
    }

    #[test]
    fn cron_with_five_and_six_fields() {
        let five = plan("*/5 * * * *", Some(chrono_tz::UTC), CatchUp::Skip);
        let t = utc("2026-01-01T10:02:10Z");
        assert_eq!(five.first(t), Some(utc("2026-01-01T10:05:00Z")));
        assert_eq!(
            five.following(utc("2026-01-01T10:05:00Z")),
            Some(utc("2026-01-01T10:10:00Z")),
            "a slot is never its own follower"
        );
        let six = plan("*/10 * * * * *", Some(chrono_tz::UTC), CatchUp::Skip);
        assert_eq!(
            six.following(utc("2026-01-01T10:02:10.400Z")),
            Some(utc("2026-01-01T10:02:20Z"))
        );
    }

    #[test]
    fn cron_reads_wall_clock_time_in_the_named_zone() {
        let p = plan("0 9 * * *", Some(chrono_tz::Asia::Tokyo), CatchUp::Skip);
        // 09:00 in Tokyo (UTC+9, no DST) is 00:00 UTC.
        assert_eq!(
            p.following(utc("2026-06-01T12:00:00Z")),
            Some(utc("2026-06-02T00:00:00Z"))
        );
    }

    #[test]
    fn a_daily_0230_runs_exactly_once_on_both_dst_change_days() {
        let berlin = chrono_tz::Europe::Berlin;
        let p = plan("30 2 * * *", Some(berlin), CatchUp::Skip);
        let local_day = |t: &DateTime<Utc>| t.with_timezone(&berlin).date_naive().to_string();

        // 2026-03-29: at 02:00 clocks jump to 03:00, so 02:30 does not exist.
        let spring = slots(&p, utc("2026-03-27T12:00:00Z"), utc("2026-03-30T12:00:00Z"));
        let days: Vec<String> = spring.iter().map(local_day).collect();
        assert_eq!(
            days,
            ["2026-03-28", "2026-03-29", "2026-03-30"],
            "{spring:?}"
        );
        // On the change day it runs at the first instant after the gap, 03:00 CEST.
        assert_eq!(spring[1], utc("2026-03-29T01:00:00Z"));
        assert_eq!(spring[2], utc("2026-03-30T00:30:00Z"), "02:30 CEST");

        // 2026-10-25: at 03:00 clocks go back to 02:00, so 02:30 happens twice.
        let autumn = slots(&p, utc("2026-10-23T12:00:00Z"), utc("2026-10-26T12:00:00Z"));
        let days: Vec<String> = autumn.iter().map(local_day).collect();
        assert_eq!(
            days,
            ["2026-10-24", "2026-10-25", "2026-10-26"],
            "{autumn:?}"
        );
        // Once, at the first 02:30 (still CEST, UTC+2).
        assert_eq!(autumn[1], utc("2026-10-25T00:30:00Z"));
        assert_eq!(autumn[2], utc("2026-10-26T01:30:00Z"), "02:30 CET");
    }

    #[test]
    fn new_york_change_days_run_once_too() {
        let ny = chrono_tz::America::New_York;
        let count_on = |schedule: &str, day: &str| {
            let p = plan(schedule, Some(ny), CatchUp::Skip);
            slots(&p, utc("2026-03-01T00:00:00Z"), utc("2026-11-30T00:00:00Z"))
                .iter()
                .filter(|t| t.with_timezone(&ny).date_naive().to_string() == day)
                .count()
        };
        // 2026-03-08: 02:00 jumps to 03:00. 2026-11-01: 01:00-02:00 happens twice.
        assert_eq!(count_on("30 2 * * *", "2026-03-08"), 1);
        assert_eq!(count_on("30 1 * * *", "2026-11-01"), 1);
        assert_eq!(count_on("30 2 * * *", "2026-11-01"), 1);
    }

    #[test]
    fn due_finds_the_latest_slot_and_counts_the_rest() {
        let p = plan("1s", None, CatchUp::Skip);
        let last = utc("2026-01-01T10:00:00Z");
        assert_eq!(p.due(last, utc("2026-01-01T10:00:00.999Z")), None);
        assert_eq!(
            p.due(last, utc("2026-01-01T10:00:01Z")),
            Some(Due {
                slot: utc("2026-01-01T10:00:01Z"),
                passed_over: 0
            })
        );
        assert_eq!(
            p.due(last, utc("2026-01-01T10:00:03.500Z")),
            Some(Due {
                slot: utc("2026-01-01T10:00:03Z"),
                passed_over: 2
            })
        );
        let cron = plan("* * * * *", Some(chrono_tz::UTC), CatchUp::Skip);
        assert_eq!(
            cron.due(utc("2026-01-01T10:00:00Z"), utc("2026-01-01T10:04:30Z")),
            Some(Due {
                slot: utc("2026-01-01T10:04:00Z"),
                passed_over: 3
            })
        );
    }

    #[test]
    fn counting_missed_cron_slots_is_bounded() {
        let p = plan("* * * * * *", Some(chrono_tz::UTC), CatchUp::Skip);
        let due = p
            .due(utc("2026-01-01T00:00:00Z"), utc("2026-01-08T00:00:00.5Z"))
            .expect("due");
        assert_eq!(due.slot, utc("2026-01-08T00:00:00Z"));
        assert_eq!(due.passed_over, MAX_COUNTED);
    }

    #[test]
    fn after_downtime_skip_waits_for_the_next_slot() {
        let p = plan("10s", None, CatchUp::Skip);
        let last = utc("2026-01-01T10:00:00Z");
        // Down for 45 s: slots 10, 20, 30 and 40 s were missed.
        let r = p.resume(Some(last), utc("2026-01-01T10:00:45Z"));
        assert_eq!(
            r,
            Some(Resume {
                slot: utc("2026-01-01T10:00:50Z"),
                missed: 4
            }),
            "no run at once, and the rate keeps its phase"
        );
    }

    #[test]
    fn after_downtime_latest_runs_one_at_once() {
        let p = plan("10s", None, CatchUp::Latest);
        let last = utc("2026-01-01T10:00:00Z");
        let r = p.resume(Some(last), utc("2026-01-01T10:00:45Z"));
        assert_eq!(
            r,
            Some(Resume {
                slot: utc("2026-01-01T10:00:40Z"),
                missed: 3
            }),
            "one run for the latest missed slot, now; the three before it are dropped"
        );
        // Its follower is back in phase and in the future.
        assert_eq!(
            p.following(utc("2026-01-01T10:00:40Z")),
            Some(utc("2026-01-01T10:00:50Z"))
        );
    }

    #[test]
    fn a_short_restart_misses_nothing() {
        for catch_up in [CatchUp::Skip, CatchUp::Latest] {
            let p = plan("10s", None, catch_up);
            let r = p.resume(
                Some(utc("2026-01-01T10:00:00Z")),
                utc("2026-01-01T10:00:04Z"),
            );
            assert_eq!(
                r,
                Some(Resume {
                    slot: utc("2026-01-01T10:00:10Z"),
                    missed: 0
                })
            );
        }
    }

    #[test]
    fn a_new_cron_habit_waits_for_its_first_match() {
        let p = plan("0 * * * *", Some(chrono_tz::UTC), CatchUp::Latest);
        let r = p.resume(None, utc("2026-01-01T10:20:00Z"));
        assert_eq!(
            r,
            Some(Resume {
                slot: utc("2026-01-01T11:00:00Z"),
                missed: 0
            }),
            "catch-up concerns missed runs, and a new habit missed none"
        );
    }

    #[test]
    fn cron_catch_up_across_days() {
        let p = plan("30 2 * * *", Some(chrono_tz::UTC), CatchUp::Latest);
        let r = p
            .resume(
                Some(utc("2026-01-01T02:30:00Z")),
                utc("2026-01-04T12:00:00Z"),
            )
            .expect("resume");
        assert_eq!(r.slot, utc("2026-01-04T02:30:00Z"));
        assert_eq!(r.missed, 2, "the 2nd and 3rd are dropped, the 4th runs");
    }

    #[test]
    fn until_never_goes_negative() {
        let now = utc("2026-01-01T10:00:00Z");
        assert_eq!(until(utc("2026-01-01T09:00:00Z"), now), Duration::ZERO);
        assert_eq!(
            until(utc("2026-01-01T10:00:01.5Z"), now),
            Duration::from_millis(1500)
        );
    }
}

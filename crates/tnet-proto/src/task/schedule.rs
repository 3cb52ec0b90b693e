//! A habit's `time_between_runs` (SPEC 3.1, 7): a fixed interval or a cron
//! expression; and its `time_zone`, the zone a cron expression is read in.

use std::fmt;
use std::time::Duration;

use croner::parser::{CronParser, Seconds, Year};
use serde::{Serialize, Serializer};

/// The shortest interval accepted: a habit is a command started by `sh -c`,
/// and starting one many times a second would only load the host.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// When a habit runs, as validated from its `time_between_runs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// A run every `every`, e.g. `"5m"` or `"1h 30m"`.
    Every {
        /// As written (trimmed), shown back to the user.
        text: String,
        /// The interval, at least [`MIN_INTERVAL`].
        every: Duration,
    },
    /// A run at each time a cron expression matches, e.g. `"*/5 * * * *"`.
    Cron {
        /// As written (trimmed); 5 fields, or 6 with seconds first, or a nickname like `@hourly`.
        text: String,
    },
}

impl Schedule {
    /// Reads a `time_between_runs` value; the error says which forms are accepted.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        const FORMS: &str = "a duration like \"5m\", \"1h 30m\" or \"90s\", \
             or a cron expression with 5 fields like \"*/5 * * * *\" (6 with seconds first)";
        let text = text.trim();
        if text.is_empty() {
            return Err(format!("`time_between_runs` is empty; write {FORMS}"));
        }
        // A duration never contains `*` or a bare field list, so trying it first
        // cannot swallow a cron expression.
        if let Ok(every) = humantime::parse_duration(text) {
            if every < MIN_INTERVAL {
                return Err(format!(
                    "`{text}` is shorter than the shortest interval, {}",
                    humantime::format_duration(MIN_INTERVAL)
                ));
            }
            return Ok(Schedule::Every {
                text: text.to_owned(),
                every,
            });
        }
        let fields = text.split_whitespace().count();
        if !(text.starts_with('@') || fields == 5 || fields == 6) {
            return Err(format!("`{text}` is not a schedule; write {FORMS}"));
        }
        let cron = cron_parser()
            .parse(text)
            .map_err(|e| format!("`{text}` is not a valid cron expression: {e}"))?;
        ever_matches(&cron)
            .then(|| Schedule::Cron {
                text: text.to_owned(),
            })
            .ok_or_else(|| format!("the cron expression `{text}` never matches a real date"))
    }

    /// The schedule as written (trimmed).
    pub fn as_str(&self) -> &str {
        match self {
            Schedule::Every { text, .. } | Schedule::Cron { text } => text,
        }
    }

    /// The parsed cron expression, for the scheduler; `None` for an interval.
    pub fn cron(&self) -> Option<croner::Cron> {
        match self {
            // Parsed with the same settings as in `parse`, so this only fails
            // for a `Schedule` built by hand with a bad text.
            Schedule::Cron { text } => cron_parser().parse(text).ok(),
            Schedule::Every { .. } => None,
        }
    }
}

/// Five fields, or six with seconds first; no year field (it would make a
/// habit that silently stops one day).
fn cron_parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
}

/// Whether `cron` matches any time at all: `0 0 30 2 *` (February 30th) parses
/// but would never run. Without a year field every pattern repeats within
/// 28 years, so searching from a fixed date is enough.
fn ever_matches(cron: &croner::Cron) -> bool {
    let Some(start) =
        chrono::NaiveDate::from_ymd_opt(2000, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0))
    else {
        return true;
    };
    cron.find_next_occurrence(&start, true).is_ok()
}

/// The word that names the host's own time zone in `time_zone` (the default).
pub const LOCAL_ZONE: &str = "local";

/// Reads a `time_zone` value: an IANA name such as `"Europe/Berlin"` or
/// `"UTC"`, or `"local"` for the host's own zone (`None`). The error is a
/// message and, when a name is close, a hint naming it.
pub fn parse_time_zone(text: &str) -> Result<Option<chrono_tz::Tz>, (String, String)> {
    let text = text.trim();
    if text == LOCAL_ZONE {
        return Ok(None);
    }
    if let Ok(zone) = text.parse::<chrono_tz::Tz>() {
        return Ok(Some(zone));
    }
    let message = if text.is_empty() {
        "`time_zone` is empty".to_owned()
    } else {
        format!("unknown time zone `{text}`")
    };
    let hint = match zone_like(text) {
        Some(name) => format!("did you mean `{name}`?"),
        None => format!(
            "write an IANA time zone name like \"Europe/Berlin\" or \"UTC\", \
             or \"{LOCAL_ZONE}\" for the host's own"
        ),
    };
    Err((message, hint))
}

/// The IANA name closest to `word`: the same name in other letter case, the
/// only zone whose city is `word` (`Berlin`), or a close spelling.
fn zone_like(word: &str) -> Option<&'static str> {
    // Below this, suggestions pair unrelated cities.
    const THRESHOLD: f64 = 0.9;
    let word = word.to_lowercase().replace(' ', "_");
    if word.is_empty() {
        return None;
    }
    let names = || chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
    if let Some(same) = names().find(|n| n.to_lowercase() == word) {
        return Some(same);
    }
    let mut cities = names().filter(|n| {
        n.rsplit('/')
            .next()
            .is_some_and(|city| city.to_lowercase() == word)
    });
    if let (Some(only), None) = (cities.next(), cities.next()) {
        return Some(only);
    }
    names()
        .map(|n| (strsim::jaro_winkler(&word, &n.to_lowercase()), n))
        .filter(|(score, _)| *score >= THRESHOLD)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n)
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialized as the plain string the user wrote, so a spec round-trips.
impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every(text: &str) -> Duration {
        match Schedule::parse(text) {
            Ok(Schedule::Every { every, .. }) => every,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn durations() {
        assert_eq!(every("5m"), Duration::from_secs(300));
        assert_eq!(every("1h 30m"), Duration::from_secs(5400));
        assert_eq!(every("90s"), Duration::from_secs(90));
        assert_eq!(every(" 10s "), Duration::from_secs(10));
    }

    #[test]
    fn cron_expressions() {
        for text in [
            "*/5 * * * *",
            "0 */10 * * * *",
            "0 9 * * MON-FRI",
            "@hourly",
        ] {
            let schedule = Schedule::parse(text).expect(text);
            assert!(matches!(schedule, Schedule::Cron { .. }), "{text}");
            assert_eq!(schedule.as_str(), text);
            assert!(schedule.cron().is_some());
        }
    }

    #[test]
    fn refusals_say_what_is_accepted() {
        for text in ["soon", "", "   ", "5 parsecs", "* * *"] {
            let err = Schedule::parse(text).expect_err(text);
            assert!(err.contains("5m") && err.contains("cron"), "{text}: {err}");
        }
        let err = Schedule::parse("61 * * * *").expect_err("minute 61");
        assert!(err.contains("not a valid cron expression"), "{err}");
        assert!(
            Schedule::parse("0 0 0 1 1 * 2030").is_err(),
            "no year field"
        );
    }

    #[test]
    fn zero_and_tiny_intervals_are_refused() {
        assert!(Schedule::parse("0s").is_err());
        assert!(Schedule::parse("10ms").is_err());
        assert_eq!(every("1s"), MIN_INTERVAL);
    }

    #[test]
    fn impossible_dates_are_refused() {
        let err = Schedule::parse("0 0 30 2 *").expect_err("February 30th");
        assert!(err.contains("never matches"), "{err}");
        assert!(Schedule::parse("0 0 29 2 *").is_ok(), "leap days exist");
    }

    #[test]
    fn time_zones() {
        assert_eq!(parse_time_zone("local"), Ok(None));
        assert_eq!(
            parse_time_zone(" Europe/Berlin "),
            Ok(Some(chrono_tz::Europe::Berlin))
        );
        assert_eq!(parse_time_zone("UTC"), Ok(Some(chrono_tz::UTC)));
        let hint = |text: &str| parse_time_zone(text).expect_err(text).1;
        assert_eq!(hint("europe/berlin"), "did you mean `Europe/Berlin`?");
        assert_eq!(hint("Berlin"), "did you mean `Europe/Berlin`?");
        assert_eq!(hint("Europe/Berln"), "did you mean `Europe/Berlin`?");
        assert_eq!(hint("New York"), "did you mean `America/New_York`?");
        assert!(hint("Mars/Olympus").contains("IANA"));
        assert_eq!(
            parse_time_zone("").expect_err("empty").0,
            "`time_zone` is empty"
        );
    }

    #[test]
    fn serializes_as_written() {
        let schedule = Schedule::parse("1h 30m").expect("valid");
        assert_eq!(schedule.to_string(), "1h 30m");
        assert_eq!(
            serde_json::to_string(&schedule).expect("serializes"),
            "\"1h 30m\""
        );
    }
}

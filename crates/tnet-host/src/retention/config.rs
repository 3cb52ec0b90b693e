//! `[retention]` of `host.toml`: how much history and cache the host keeps
//! (every key optional; defaults and reasons in `docs/retention.md`).

use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use crate::limits::{load_host_toml, parse_host_toml, parse_size, RawSize};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// What the host keeps, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// `keep_runs`: run records per task (the newest); a task's own
    /// `[task_details] keep_runs` wins.
    pub keep_runs: u64,
    /// `keep_inbox`: inbox entries kept at most (oldest read ones go first).
    pub keep_inbox: u64,
    /// `inbox_max_age`: read inbox entries older than this go.
    pub inbox_max_age: Duration,
    /// `keep_deliveries`: delivery records kept at most (finished ones).
    pub keep_deliveries: u64,
    /// `deliveries_max_age`: finished delivery records older than this go.
    pub deliveries_max_age: Duration,
    /// `blob_grace`: how long a file no task uses stays in the upload cache
    /// (so a quick `tnet rm` + `tnet run` sends nothing).
    pub blob_grace: Duration,
    /// `blob_cache_max`: bytes the upload cache never exceeds.
    pub blob_cache_max: u64,
    /// `sweep_interval`: how often the host prunes what is past these limits
    /// (a backlog of runs, old inbox entries, unused files, call folders).
    pub sweep_interval: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep_runs: crate::store::DEFAULT_KEEP_RUNS,
            keep_inbox: 10_000,
            inbox_max_age: 90 * DAY,
            keep_deliveries: 10_000,
            deliveries_max_age: 30 * DAY,
            blob_grace: Duration::from_secs(60 * 60),
            blob_cache_max: 20 << 30,
            sweep_interval: Duration::from_secs(60),
        }
    }
}

#[derive(Deserialize)]
struct RawFile {
    retention: Option<RawRetention>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    keep_runs: Option<u64>,
    keep_inbox: Option<u64>,
    inbox_max_age: Option<String>,
    keep_deliveries: Option<u64>,
    deliveries_max_age: Option<String>,
    blob_grace: Option<String>,
    blob_cache_max: Option<RawSize>,
    sweep_interval: Option<String>,
}

impl Retention {
    /// Reads the `[retention]` of the host config at `path`.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Retention> {
        load_host_toml(path, Self::parse)
    }

    /// Reads the `[retention]` table of a host config's text; defaults without one.
    pub fn parse(text: &str) -> anyhow::Result<Retention> {
        let raw: RawFile = parse_host_toml(text)?;
        let mut r = Retention::default();
        let Some(raw) = raw.retention else {
            return Ok(r);
        };
        let count = |value: Option<u64>, key: &str, default: u64| -> anyhow::Result<u64> {
            let n = value.unwrap_or(default);
            anyhow::ensure!(n >= 1, "[retention] {key} must be at least 1");
            Ok(n)
        };
        let duration = |value: Option<String>, key: &str, default: Duration| match value {
            None => Ok(default),
            Some(t) => {
                let d = humantime::parse_duration(t.trim()).with_context(|| {
                    format!(
                        "[retention] {key} = \"{t}\" is not a duration like \"1h\" or \"30 days\""
                    )
                })?;
                anyhow::ensure!(!d.is_zero(), "[retention] {key} must be more than 0");
                Ok(d)
            }
        };
        r.keep_runs = count(raw.keep_runs, "keep_runs", r.keep_runs)?;
        r.keep_inbox = count(raw.keep_inbox, "keep_inbox", r.keep_inbox)?;
        r.keep_deliveries = count(raw.keep_deliveries, "keep_deliveries", r.keep_deliveries)?;
        r.inbox_max_age = duration(raw.inbox_max_age, "inbox_max_age", r.inbox_max_age)?;
        r.deliveries_max_age = duration(
            raw.deliveries_max_age,
            "deliveries_max_age",
            r.deliveries_max_age,
        )?;
        r.blob_grace = duration(raw.blob_grace, "blob_grace", r.blob_grace)?;
        r.sweep_interval = duration(raw.sweep_interval, "sweep_interval", r.sweep_interval)?;
        r.blob_cache_max = match raw.blob_cache_max {
            None => r.blob_cache_max,
            Some(RawSize::Bytes(b)) => b,
            Some(RawSize::Text(t)) => parse_size(&t).with_context(|| {
                format!("[retention] blob_cache_max = \"{t}\" is not a size like \"20 GiB\" or a number of bytes")
            })?,
        };
        Ok(r)
    }

    /// How often the sweep runs: its interval, or more often when the
    /// upload cache's grace is shorter (a file is dropped at most half a
    /// grace late).
    pub fn tick(&self) -> Duration {
        self.sweep_interval
            .min(self.blob_grace / 2)
            .max(Duration::from_millis(100))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_settings_and_mistakes() {
        assert_eq!(Retention::parse("").expect("empty"), Retention::default());
        let r = Retention::parse(
            "[retention]\nkeep_runs = 5\nblob_grace = \"1s\"\nblob_cache_max = \"3 MiB\"\ninbox_max_age = \"2 days\"\n[limits]\nmax_files = 3\n",
        )
        .expect("valid");
        assert_eq!(r.keep_runs, 5);
        assert_eq!(r.blob_grace, Duration::from_secs(1));
        assert_eq!(r.blob_cache_max, 3 << 20);
        assert_eq!(r.inbox_max_age, 2 * DAY);
        assert_eq!(r.tick(), Duration::from_millis(500));
        for bad in [
            "[retention]\nkeep_runs = 0",
            "[retention]\nkeep_run = 5",
            "[retention]\nblob_grace = \"soon\"",
            "[retention]\nblob_cache_max = \"lots\"",
        ] {
            let err = Retention::parse(bad).expect_err(bad);
            assert!(
                format!("{err:#}").contains("keep_run") || format!("{err:#}").contains("blob"),
                "{err:#}"
            );
        }
    }
}

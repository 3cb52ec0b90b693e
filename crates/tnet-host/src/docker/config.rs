//! `[docker]` of `host.toml`: how the host deals with its Docker engine
//! (every key optional; `docs/docker.md`).

use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use crate::limits::{load_host_toml, parse_host_toml};

/// The host's Docker settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerConfig {
    /// `pull_stall_timeout`: a pull that moves no byte for this long is
    /// given up (the engine itself retries a vanished registry for over a
    /// minute, then fails; the submitter should not wait that long).
    pub pull_stall: Duration,
}

impl Default for DockerConfig {
    fn default() -> Self {
        DockerConfig {
            pull_stall: Duration::from_secs(60),
        }
    }
}

#[derive(Deserialize)]
struct RawFile {
    docker: Option<RawDocker>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocker {
    pull_stall_timeout: Option<String>,
}

impl DockerConfig {
    /// Reads the `[docker]` of the host config at `path`.
    pub fn load(path: &std::path::Path) -> anyhow::Result<DockerConfig> {
        load_host_toml(path, Self::parse)
    }

    /// Reads the `[docker]` table of a host config's text; defaults without one.
    pub fn parse(text: &str) -> anyhow::Result<DockerConfig> {
        let raw: RawFile = parse_host_toml(text)?;
        let mut config = DockerConfig::default();
        let Some(raw) = raw.docker else {
            return Ok(config);
        };
        if let Some(text) = raw.pull_stall_timeout {
            let d = humantime::parse_duration(text.trim()).with_context(|| {
                format!("[docker] pull_stall_timeout = \"{text}\" is not a duration like \"60s\" or \"2m\"")
            })?;
            anyhow::ensure!(
                !d.is_zero(),
                "[docker] pull_stall_timeout must be more than 0"
            );
            config.pull_stall = d;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_settings_and_mistakes() {
        assert_eq!(
            DockerConfig::parse("").expect("empty"),
            DockerConfig::default()
        );
        let c =
            DockerConfig::parse("[docker]\npull_stall_timeout = \"3s\"\n[limits]\nmax_files = 3\n")
                .expect("valid");
        assert_eq!(c.pull_stall, Duration::from_secs(3));
        for bad in [
            "[docker]\npull_stall_timeout = \"soon\"",
            "[docker]\npull_stall_timeout = \"0s\"",
            "[docker]\npull_stall = \"3s\"",
        ] {
            let err = DockerConfig::parse(bad).expect_err(bad);
            assert!(format!("{err:#}").contains("pull_stall"), "{err:#}");
        }
    }
}

//! Limits on what a client may send: the `[limits]` table of `host.toml`
//! (every key optional; defaults and the reasons for them in
//! `docs/security.md#limits`), the checks of a task against them, and the
//! counters of what is in progress (uploads, shells).
//!
//! The counters are host-wide. Until certificate identities reach the
//! handlers, anything a client says about itself (a session id, a token) is
//! free to mint, so a count per claimed client would not bound a hostile one;
//! a count per host does. An answer over a limit is a [`ErrorKind::LimitExceeded`]
//! that names the limit, its value and the key that changes it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Deserialize;
use tnet_proto::msg::{ErrorKind, ErrorReply};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

/// The limits of one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `max_task_file`: bytes of one task file.
    pub max_task_file: u64,
    /// `max_files`: files of one task.
    pub max_files: u64,
    /// `max_file_size`: bytes of one file of a task.
    pub max_file_size: u64,
    /// `max_task_size`: bytes of all the files of one task together.
    pub max_task_size: u64,
    /// `max_service_input`: bytes of one service call's input.
    pub max_service_input: u64,
    /// `max_uploads`: files being uploaded at once, on the whole host.
    pub max_uploads: usize,
    /// `max_shells`: shell sessions open at once, on the whole host.
    pub max_shells: usize,
    /// `upload_idle`: an upload that received nothing for this long is
    /// abandoned (its partial file deleted, its place freed).
    pub upload_idle: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_task_file: MIB,
            max_files: 10_000,
            max_file_size: 64 * GIB,
            max_task_size: 256 * GIB,
            max_service_input: GIB,
            max_uploads: 8,
            max_shells: 16,
            upload_idle: Duration::from_secs(120),
        }
    }
}

/// A size in `host.toml`: bytes, or text like `"64 GiB"`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum RawSize {
    Bytes(u64),
    Text(String),
}

#[derive(Deserialize)]
struct RawFile {
    limits: Option<RawLimits>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_task_file: Option<RawSize>,
    max_files: Option<u64>,
    max_file_size: Option<RawSize>,
    max_task_size: Option<RawSize>,
    max_service_input: Option<RawSize>,
    max_uploads: Option<usize>,
    max_shells: Option<usize>,
    upload_idle: Option<String>,
}

/// Reads a size: `1048576`, `"1 MiB"`, `"1.5GiB"`, `"500 MB"` (KiB, MiB,
/// GiB, TiB are powers of 1024; KB, MB, GB, TB of 1000; case does not matter).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => KIB,
        "mib" | "m" => MIB,
        "gib" | "g" => GIB,
        "tib" | "t" => TIB,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return None,
    };
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(unit);
    }
    let value = number.parse::<f64>().ok()? * unit as f64;
    (value.is_finite() && value >= 0.0 && value < u64::MAX as f64).then(|| value.round() as u64)
}

/// A size as people read it: `1 MiB`, `2.5 GiB`, `300 bytes`.
pub fn show_size(bytes: u64) -> String {
    let Some((unit, name)) = [(TIB, "TiB"), (GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")]
        .into_iter()
        .find(|(unit, _)| bytes >= *unit)
    else {
        return format!("{bytes} bytes");
    };
    if bytes % unit == 0 {
        format!("{} {name}", bytes / unit)
    } else {
        format!("{:.1} {name}", bytes as f64 / unit as f64)
    }
}

/// The smallest whole size in one unit that holds `bytes`, as a `host.toml` value.
fn size_that_fits(bytes: u64) -> String {
    let (unit, name) = if bytes > GIB {
        (GIB, "GiB")
    } else if bytes > MIB {
        (MIB, "MiB")
    } else {
        (KIB, "KiB")
    };
    format!("\"{} {name}\"", bytes.div_ceil(unit).max(1))
}

/// The answer to a request over a limit: what was over, the limit, its
/// value and the setting that changes it.
pub fn exceeded(what: &str, limit: &str, key: &str, suggested: &str) -> ErrorReply {
    ErrorReply::new(
        ErrorKind::LimitExceeded,
        format!(
            "{what}, over this host's limit of {limit}; its owner can change the limit with `[limits] {key} = {suggested}` in the host's host.toml (docs/security.md, Limits)"
        ),
    )
}

/// Reads the host config at `path` with `parse`, naming the file in errors.
pub(crate) fn load_host_toml<T>(
    path: &std::path::Path,
    parse: impl FnOnce(&str) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the host config {}", path.display()))?;
    parse(&text).with_context(|| format!("in the host config {}", path.display()))
}

/// Deserializes a host config's text. As in `notify::config`: toml's messages
/// quote the offending line, which could hold a secret of another table, so
/// only the message and the line number are kept.
pub(crate) fn parse_host_toml<T: serde::de::DeserializeOwned>(text: &str) -> anyhow::Result<T> {
    toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| format!(" (line {})", text[..s.start].matches('\n').count() + 1))
            .unwrap_or_default();
        anyhow::anyhow!("{}{at}", e.message())
    })
}

impl Limits {
    /// Reads the `[limits]` of the host config at `path`.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Limits> {
        load_host_toml(path, Self::parse)
    }

    /// Reads the `[limits]` table of a host config's text (other tables
    /// belong to the notifier, see `notify::config`); defaults without one.
    pub fn parse(text: &str) -> anyhow::Result<Limits> {
        let raw: RawFile = parse_host_toml(text)?;
        let mut limits = Limits::default();
        let Some(raw) = raw.limits else {
            return Ok(limits);
        };
        let size = |value: Option<RawSize>, key: &str, default: u64| match value {
            None => Ok(default),
            Some(RawSize::Bytes(b)) => Ok(b),
            Some(RawSize::Text(t)) => parse_size(&t).with_context(|| {
                format!(
                    "[limits] {key} = \"{t}\" is not a size like \"64 GiB\" or a number of bytes"
                )
            }),
        };
        limits.max_task_file = size(raw.max_task_file, "max_task_file", limits.max_task_file)?;
        limits.max_file_size = size(raw.max_file_size, "max_file_size", limits.max_file_size)?;
        limits.max_task_size = size(raw.max_task_size, "max_task_size", limits.max_task_size)?;
        limits.max_service_input = size(
            raw.max_service_input,
            "max_service_input",
            limits.max_service_input,
        )?;
        limits.max_files = raw.max_files.unwrap_or(limits.max_files);
        limits.max_uploads = raw.max_uploads.unwrap_or(limits.max_uploads);
        limits.max_shells = raw.max_shells.unwrap_or(limits.max_shells);
        if let Some(t) = raw.upload_idle {
            limits.upload_idle = humantime::parse_duration(t.trim()).with_context(|| {
                format!("[limits] upload_idle = \"{t}\" is not a duration like \"2m\"")
            })?;
            anyhow::ensure!(
                !limits.upload_idle.is_zero(),
                "[limits] upload_idle must be more than 0"
            );
        }
        Ok(limits)
    }

    /// Checks a task: its file's size, how many files it has, each file's
    /// size and their total. `files` are (path in the workspace, size).
    pub fn check_task<'a>(
        &self,
        file_name: &str,
        task_file_size: u64,
        files: impl ExactSizeIterator<Item = (&'a str, u64)>,
    ) -> Result<(), ErrorReply> {
        if task_file_size > self.max_task_file {
            return Err(exceeded(
                &format!(
                    "the task file `{}` is {}",
                    shown_name(file_name),
                    show_size(task_file_size)
                ),
                &format!("{} for a task file", show_size(self.max_task_file)),
                "max_task_file",
                &size_that_fits(task_file_size),
            ));
        }
        let count = files.len() as u64;
        if count > self.max_files {
            return Err(exceeded(
                &format!("the task has {count} files"),
                &format!("{} files per task", self.max_files),
                "max_files",
                &count.to_string(),
            ));
        }
        let mut total: u64 = 0;
        for (path, size) in files {
            if size > self.max_file_size {
                return Err(exceeded(
                    &format!("file `{}` is {}", shown_name(path), show_size(size)),
                    &format!("{} for one file", show_size(self.max_file_size)),
                    "max_file_size",
                    &size_that_fits(size),
                ));
            }
            total = total.saturating_add(size);
        }
        if total > self.max_task_size {
            return Err(exceeded(
                &format!("the task's files add up to {}", show_size(total)),
                &format!("{} per task", show_size(self.max_task_size)),
                "max_task_size",
                &size_that_fits(total),
            ));
        }
        Ok(())
    }

    /// Checks one file's size as its first chunk arrives.
    pub fn check_file_size(&self, hash: &str, size: u64) -> Result<(), ErrorReply> {
        if size <= self.max_file_size {
            return Ok(());
        }
        Err(exceeded(
            &format!(
                "an upload of {} ({})",
                show_size(size),
                hash.get(..12).unwrap_or(hash)
            ),
            &format!("{} for one file", show_size(self.max_file_size)),
            "max_file_size",
            &size_that_fits(size),
        ))
    }

    /// Checks a service call's input size.
    pub fn check_service_input(&self, size: u64) -> Result<(), ErrorReply> {
        if size <= self.max_service_input {
            return Ok(());
        }
        Err(exceeded(
            &format!("the call's input is {}", show_size(size)),
            &format!("{} for a service input", show_size(self.max_service_input)),
            "max_service_input",
            &size_that_fits(size),
        ))
    }
}

/// A name from the network, cut short for a message.
fn shown_name(name: &str) -> String {
    name.chars().take(200).collect()
}

/// The limits with the counters of what is in progress; one per host.
pub struct Guards {
    /// The configured limits.
    pub limits: Limits,
    shells: Arc<Semaphore>,
    uploads: Mutex<Uploads>,
}

/// An open shell's place among [`Limits::max_shells`]; freed when dropped.
pub type ShellSlot = OwnedSemaphorePermit;

impl Guards {
    /// Counters for `limits`, with nothing in progress.
    pub fn new(limits: Limits) -> Guards {
        Guards {
            shells: Arc::new(Semaphore::new(
                limits.max_shells.min(Semaphore::MAX_PERMITS),
            )),
            uploads: Mutex::new(Uploads::default()),
            limits,
        }
    }

    /// A place for one more shell, or the answer that the host has its limit open.
    pub fn shell(&self) -> Result<ShellSlot, ErrorReply> {
        self.shells.clone().try_acquire_owned().map_err(|_| {
            let max = self.limits.max_shells;
            exceeded(
                &format!("{max} shell sessions are open on this host (close one and try again)"),
                &format!("{max} shells at once"),
                "max_shells",
                &(max * 2).max(1).to_string(),
            )
        })
    }

    fn uploads(&self) -> std::sync::MutexGuard<'_, Uploads> {
        // Plain map operations: nothing is left half-changed by a panic.
        self.uploads.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes a chunk of the upload of `hash`, taking a place for it if it is
    /// new. Returns the uploads abandoned meanwhile, whose partial files the
    /// caller deletes.
    pub fn upload_chunk(&self, hash: &str) -> Result<Vec<String>, ErrorReply> {
        let max = self.limits.max_uploads;
        self.uploads()
            .admit(hash, Instant::now(), max, self.limits.upload_idle)
            .map_err(|()| {
                exceeded(
                    &format!("{max} files are being uploaded to this host already (try again when they are done)"),
                    &format!("{max} uploads at once"),
                    "max_uploads",
                    &(max * 2).max(1).to_string(),
                )
            })
    }

    /// The upload of `hash` ended (verified, or refused): its place is free.
    pub fn upload_done(&self, hash: &str) {
        self.uploads().active.remove(hash);
    }
}

/// Uploads in progress: hash → when its last chunk arrived.
#[derive(Default)]
struct Uploads {
    active: HashMap<String, Instant>,
}

impl Uploads {
    /// Admits a chunk of `hash` at `now`. A new upload needs a place among
    /// `max`; uploads idle for `idle` are dropped first (and returned).
    fn admit(
        &mut self,
        hash: &str,
        now: Instant,
        max: usize,
        idle: Duration,
    ) -> Result<Vec<String>, ()> {
        if let Some(last) = self.active.get_mut(hash) {
            *last = now;
            return Ok(Vec::new());
        }
        let abandoned: Vec<String> = self
            .active
            .iter()
            .filter(|(_, last)| now.saturating_duration_since(**last) >= idle)
            .map(|(h, _)| h.clone())
            .collect();
        for h in &abandoned {
            self.active.remove(h);
        }
        if self.active.len() >= max {
            return Err(());
        }
        self.active.insert(hash.to_owned(), now);
        Ok(abandoned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(parse_size("1048576"), Some(MIB));
        assert_eq!(parse_size("1 MiB"), Some(MIB));
        assert_eq!(parse_size("64GiB"), Some(64 * GIB));
        assert_eq!(parse_size("1.5 kib"), Some(1536));
        assert_eq!(parse_size("500 MB"), Some(500_000_000));
        for bad in ["", "lots", "1 parsec", "-1 MiB", "99999999999999 TiB"] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
        assert_eq!(show_size(MIB), "1 MiB");
        assert_eq!(show_size(3 * MIB / 2), "1.5 MiB");
        assert_eq!(show_size(300), "300 bytes");
        assert_eq!(size_that_fits(MIB + 1), "\"2 MiB\"");
    }

    #[test]
    fn every_key_is_optional_and_typos_are_errors() {
        assert_eq!(Limits::parse("").expect("empty"), Limits::default());
        let text = "[email]\nserver = \"s\"\nfrom = \"f\"\n\n[limits]\nmax_task_file = \"4 KiB\"\nmax_files = 3\nmax_file_size = 1000\nmax_shells = 0\nupload_idle = \"5s\"\n";
        let l = Limits::parse(text).expect("parses");
        assert_eq!(l.max_task_file, 4096);
        assert_eq!(l.max_files, 3);
        assert_eq!(l.max_file_size, 1000);
        assert_eq!(l.max_shells, 0);
        assert_eq!(l.upload_idle, Duration::from_secs(5));
        assert_eq!(l.max_task_size, Limits::default().max_task_size);
        let err = Limits::parse("[limits]\nmax_file = 3\n").expect_err("typo");
        assert!(format!("{err:#}").contains("max_file"), "{err:#}");
        let err = Limits::parse("[limits]\nmax_file_size = \"huge\"\n").expect_err("bad size");
        assert!(format!("{err:#}").contains("64 GiB"), "{err:#}");
    }

    #[test]
    fn a_task_over_a_limit_is_told_which_and_how_to_change_it() {
        let l = Limits {
            max_task_file: 100,
            max_files: 2,
            max_file_size: 10 * MIB,
            max_task_size: 15 * MIB,
            ..Limits::default()
        };
        let check = |toml: u64, files: &[(&str, u64)]| {
            l.check_task("t.toml", toml, files.iter().copied())
                .map_err(|e| (e.kind, e.message))
        };
        assert!(check(100, &[("a", 10 * MIB), ("b", 5 * MIB)]).is_ok());
        let (kind, msg) = check(101, &[]).expect_err("task file");
        assert_eq!(kind, ErrorKind::LimitExceeded);
        assert!(
            msg.contains("`t.toml` is 101 bytes") && msg.contains("max_task_file = \"1 KiB\""),
            "{msg}"
        );
        let (_, msg) = check(1, &[("a", 1), ("b", 1), ("c", 1)]).expect_err("count");
        assert!(
            msg.contains("3 files")
                && msg.contains("limit of 2 files per task")
                && msg.contains("max_files = 3"),
            "{msg}"
        );
        let (_, msg) = check(1, &[("big", 10 * MIB + 1)]).expect_err("one file");
        assert!(
            msg.contains("`big`")
                && msg.contains("10 MiB for one file")
                && msg.contains("max_file_size = \"11 MiB\""),
            "{msg}"
        );
        let (_, msg) = check(1, &[("a", 10 * MIB), ("b", 6 * MIB)]).expect_err("total");
        assert!(
            msg.contains("add up to 16 MiB") && msg.contains("max_task_size = \"16 MiB\""),
            "{msg}"
        );
        // Sizes near the top of u64 neither overflow nor pass.
        let huge = Limits {
            max_file_size: u64::MAX,
            ..l.clone()
        };
        assert!(huge
            .check_task("t", 1, [("a", u64::MAX), ("b", u64::MAX)].into_iter())
            .is_err());
    }

    #[test]
    fn uploads_take_places_and_abandoned_ones_free_theirs() {
        let mut u = Uploads::default();
        let t0 = Instant::now();
        let idle = Duration::from_secs(60);
        assert_eq!(u.admit("a", t0, 2, idle), Ok(vec![]));
        assert_eq!(u.admit("b", t0, 2, idle), Ok(vec![]));
        // More chunks of an upload in progress need no new place.
        assert_eq!(
            u.admit("a", t0 + Duration::from_secs(50), 2, idle),
            Ok(vec![])
        );
        assert_eq!(u.admit("c", t0 + Duration::from_secs(50), 2, idle), Err(()));
        // `b` has been idle for a minute: it is abandoned and `c` takes its place.
        assert_eq!(
            u.admit("c", t0 + Duration::from_secs(60), 2, idle),
            Ok(vec!["b".to_owned()])
        );
        u.active.remove("a");
        assert_eq!(
            u.admit("d", t0 + Duration::from_secs(61), 2, idle),
            Ok(vec![])
        );
    }

    #[test]
    fn shells_are_counted_until_their_slot_drops() {
        let g = Guards::new(Limits {
            max_shells: 1,
            ..Limits::default()
        });
        let slot = g.shell().expect("first");
        let err = g.shell().expect_err("second");
        assert_eq!(err.kind, ErrorKind::LimitExceeded);
        assert!(err.message.contains("max_shells = 2"), "{}", err.message);
        drop(slot);
        let _again = g.shell().expect("free again");
    }
}

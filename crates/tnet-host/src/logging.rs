//! The host's own log: lines on stderr, coloured only for a person at a terminal.
//!
//! Under a service manager stderr is a pipe to the journal (or a file), and
//! colour escapes would land in it as bytes (`journalctl` shows them as
//! `[2m...`, `grep` misses words split by them). So colour is used only when
//! stderr is a terminal and `NO_COLOR` is not set. When stderr is the
//! journal itself (`JOURNAL_STREAM` names it), the timestamp is left out: the
//! journal stamps every line already.

use std::io::IsTerminal;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogStyle {
    /// Colour escapes (ANSI).
    pub ansi: bool,
    /// A timestamp at the start of each line.
    pub timestamp: bool,
}

impl LogStyle {
    /// The style for a stderr that is (or is not) a terminal, with `NO_COLOR`
    /// set (or not), and connected to the journal (or not).
    pub fn choose(terminal: bool, no_color: bool, journal: bool) -> LogStyle {
        LogStyle {
            ansi: terminal && !no_color,
            timestamp: !journal,
        }
    }

    /// The style for this process's stderr and environment.
    pub fn for_stderr() -> LogStyle {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        LogStyle::choose(
            std::io::stderr().is_terminal(),
            no_color,
            stderr_is_journal(),
        )
    }
}

/// Whether stderr is the journal's stream: systemd sets `JOURNAL_STREAM` to
/// `<device>:<inode>` of the stream it connected, and a process whose stderr
/// was redirected since has another one (systemd.exec(5)).
fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = value.to_str().and_then(|v| v.split_once(':')) else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(meta) = std::fs::File::from(fd).metadata() else {
        return false;
    };
    dev.parse() == Ok(meta.dev()) && ino.parse() == Ok(meta.ino())
}

/// Sets up logging to stderr, `info` unless `RUST_LOG` says otherwise.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,zenoh=warn"));
    let style = LogStyle::for_stderr();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(style.ansi);
    if style.timestamp {
        builder.init();
    } else {
        builder.without_time().init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_for_a_person_at_a_terminal() {
        assert!(LogStyle::choose(true, false, false).ansi);
        assert!(!LogStyle::choose(true, true, false).ansi, "NO_COLOR");
        assert!(
            !LogStyle::choose(false, false, false).ansi,
            "a pipe or file"
        );
        assert!(!LogStyle::choose(false, false, true).ansi, "the journal");
    }

    #[test]
    fn the_journal_stamps_lines_itself() {
        assert!(LogStyle::choose(false, false, false).timestamp);
        assert!(!LogStyle::choose(false, false, true).timestamp);
    }
}

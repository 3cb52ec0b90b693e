//! Why a command failed, where a user looks (issue 16).
//!
//! An exit code of `-1` or `127` says nothing about a container that would
//! not start (`exec: "sh": executable file not found`) or a workspace that
//! is gone. The host knows why: the reason is kept with the run (`tnet
//! status`), written as a line into the task's log (`tnet logs`), and carried
//! in the run's event (`tnet events`, notifications), never only in the
//! host's own log.

use std::path::Path;

use super::Actor;
use crate::runner::Exit;

/// A command the runner could not start (a missing or unreadable working
/// folder, no Docker engine, an input file that is gone).
pub(crate) fn cannot_start(command: &str, workdir: &Path, err: &std::io::Error) -> String {
    format!("cannot start `{command}` in {}: {err}", workdir.display())
}

/// A command that was handed to the runner but never ran to an exit the
/// host could read (a container that cannot start, an exec the engine lost).
pub(crate) fn could_not_run(command: &str, err: &std::io::Error) -> String {
    format!("`{command}` could not run: {err}")
}

/// What an exit means when it is the shell's own verdict on a command line
/// (`sh -c` exits 127 for a command it cannot find, 126 for one it cannot
/// execute); the shell's own message is in the task's log.
pub(crate) fn shell_verdict(exit: Exit) -> Option<String> {
    let what = match exit.code()? {
        127 => "the shell found no such command",
        126 => "the shell could not execute the command (not executable, or a folder)",
        _ => return None,
    };
    Some(format!(
        "exit code {}: {what} (its message is in `tnet logs`)",
        exit.code().unwrap_or_default()
    ))
}

impl Actor {
    /// Keeps `reason` with run `number` and writes it into the task's log.
    /// The event about the run carries it too (its caller's).
    pub(crate) async fn record_reason(&self, number: Option<u64>, reason: &str) {
        if let Some(number) = number {
            if let Err(err) = self
                .shared
                .store
                .set_run_reason(&self.info.safe_name, number, reason)
            {
                tracing::warn!(task = %self.info.name, "{err}");
            }
            self.note(&format!("run {number} failed: {reason}")).await;
        } else {
            self.note(&format!("failed: {reason}")).await;
        }
        tracing::info!(task = %self.info.name, run = ?number, "{reason}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_the_command_and_what_went_wrong() {
        let err = std::io::Error::from(std::io::ErrorKind::NotFound);
        let text = cannot_start("./serve", Path::new("/t/w"), &err);
        assert!(text.contains("./serve") && text.contains("/t/w"), "{text}");
        assert!(shell_verdict(Exit::Code(127)).is_some_and(|r| r.contains("no such command")));
        assert!(shell_verdict(Exit::Code(126)).is_some());
        assert_eq!(shell_verdict(Exit::Code(1)), None);
        assert_eq!(shell_verdict(Exit::Signal(9)), None);
    }
}

//! The text of tnet-host's systemd unit, as a pure function of the binary,
//! the host's flags and the scope (system or user).
//!
//! `packaging/systemd/tnet-host.service` is this text for
//! [`DEFAULT_BINARY`] with no flags; a test keeps the two equal.

use std::ffi::OsString;
use std::path::Path;

/// The unit's file name.
pub const UNIT_NAME: &str = "tnet-host.service";

/// Where the documented unit (`packaging/systemd/`) expects the binary.
pub const DEFAULT_BINARY: &str = "/usr/local/bin/tnet-host";

/// The first line of every unit tnet-host writes, so `uninstall` knows the
/// file is its own and never removes a unit someone wrote by hand.
pub const MARKER: &str = "# Written by tnet-host (`tnet-host systemd print`); see docs/running.md.";

/// Which systemd runs the unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The system's (`/etc/systemd/system/`): starts at boot.
    System,
    /// A user's (`~/.config/systemd/user/`): starts with the user's systemd,
    /// at login, or at boot with lingering on.
    User,
}

impl Scope {
    /// `systemctl`'s arguments before the verb.
    pub fn systemctl_args(self) -> &'static [&'static str] {
        match self {
            Scope::System => &[],
            Scope::User => &["--user"],
        }
    }

    /// The target whose start pulls the unit in once it is enabled.
    pub fn wanted_by(self) -> &'static str {
        match self {
            Scope::System => "multi-user.target",
            Scope::User => "default.target",
        }
    }
}

/// Why a command line cannot be written into a unit.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnitError {
    /// Units are text: a path or flag that is not UTF-8 cannot be written.
    #[error("{0:?} is not UTF-8, which a unit file cannot hold")]
    NotUtf8(OsString),
    /// A line break or other control character would end the unit's line.
    #[error(
        "{0:?} holds a control character (a line break?), which cannot be written into ExecStart="
    )]
    ControlCharacter(String),
    /// systemd runs only absolute paths without a search.
    #[error("the binary path {0:?} is not absolute; give the full path, e.g. {DEFAULT_BINARY}")]
    RelativeBinary(String),
}

/// The unit for `binary` run with `flags`, for `scope`.
pub fn render(binary: &Path, flags: &[OsString], scope: Scope) -> Result<String, UnitError> {
    let exec_start = exec_start(binary, flags)?;
    let ordering = match scope {
        Scope::System => {
            "# Tasks use the network, and docker tasks the Docker engine: start after
# both, and so (in reverse, at shutdown) stop before them, while the host can
# still reach its containers to stop them. Both are harmless where absent.
After=network-online.target docker.service
Wants=network-online.target
"
        }
        Scope::User => {
            "# A user's systemd cannot order itself after system units (the network,
# Docker). It starts at login, or at boot with `loginctl enable-linger USER`.
"
        }
    };
    Ok(format!(
        "{MARKER}
# tnet-host as a service: it starts at boot and again if it fails. Change the
# host's flags with `tnet-host systemd install --force FLAGS...`, other
# settings with a drop-in (`systemctl edit tnet-host`).

[Unit]
Description=tnet host: runs the tasks handed to this machine
{ordering}
[Service]
Type=simple
ExecStart={exec_start}
Restart=on-failure
# A host that cannot start (its port taken) tries again every 2 s.
RestartSec=2s
# On `systemctl stop` only the host gets SIGTERM. It stops its tasks itself,
# each like `tnet stop` (TERM to the task's process group, KILL after the
# task's stop_grace), records their runs as ended by the shutdown and exits 0;
# at the next start it runs them again. The default KillMode=control-group
# would send SIGTERM to every task process at the same instant as to the host:
# the host would see its tasks die under it and record failures (and send
# their failure notifications) instead of a shutdown. Whatever still runs once
# the host has exited gets SIGKILL.
KillMode=mixed
# Tasks stop in parallel: keep this above the longest stop_grace of a task.
TimeoutStopSec=90s
# The host writes plain log lines to stderr: `journalctl -u tnet-host`.
StandardOutput=journal
StandardError=journal

[Install]
WantedBy={wanted_by}
",
        wanted_by = scope.wanted_by(),
    ))
}

/// `ExecStart=`'s value: the binary and its flags, each quoted for systemd.
pub fn exec_start(binary: &Path, flags: &[OsString]) -> Result<String, UnitError> {
    let binary_text = utf8(binary.as_os_str())?;
    if !binary.is_absolute() {
        return Err(UnitError::RelativeBinary(binary_text.to_owned()));
    }
    let mut words = vec![quote(binary_text)?];
    for flag in flags {
        words.push(quote(utf8(flag)?)?);
    }
    Ok(words.join(" "))
}

fn utf8(text: &std::ffi::OsStr) -> Result<&str, UnitError> {
    text.to_str()
        .ok_or_else(|| UnitError::NotUtf8(text.to_owned()))
}

/// One word of a command line as systemd reads it back unchanged
/// (systemd.service(5), "Command lines"): `%` starts a specifier and `$` a
/// variable, so both are doubled; a word with anything but plain characters
/// goes in double quotes, with `\` and `"` escaped.
fn quote(word: &str) -> Result<String, UnitError> {
    if word.chars().any(char::is_control) {
        return Err(UnitError::ControlCharacter(word.to_owned()));
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:,=+@-".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return Ok(word.to_owned());
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for c in word.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(flags: &[&str]) -> Vec<OsString> {
        flags.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_committed_unit_is_what_print_writes() {
        let committed = include_str!("../../../../packaging/systemd/tnet-host.service");
        let printed =
            render(Path::new(DEFAULT_BINARY), &[], Scope::System).expect("the default renders");
        assert_eq!(
            committed, printed,
            "packaging/systemd/tnet-host.service differs from the unit tnet-host writes: \
             regenerate it with `tnet-host systemd print --binary {DEFAULT_BINARY} > packaging/systemd/tnet-host.service`"
        );
    }

    #[test]
    fn plain_words_stay_bare_and_the_rest_is_quoted() {
        let line = exec_start(
            Path::new("/opt/tnet host/tnet-host"),
            &words(&[
                "--name",
                "lab-1",
                "--home",
                "/srv/my tasks",
                "-l",
                "tcp/0.0.0.0:7449",
                "--ssh-user",
                "a\"b\\c",
            ]),
        )
        .expect("renders");
        assert_eq!(
            line,
            r#""/opt/tnet host/tnet-host" --name lab-1 --home "/srv/my tasks" -l tcp/0.0.0.0:7449 --ssh-user "a\"b\\c""#
        );
    }

    #[test]
    fn specifiers_and_variables_are_escaped() {
        let line = exec_start(
            Path::new("/bin/tnet-host"),
            &words(&["--home", "/t/%h$HOME"]),
        )
        .expect("renders");
        assert_eq!(line, r#"/bin/tnet-host --home "/t/%%h$$HOME""#);
        assert_eq!(
            exec_start(Path::new("/bin/tnet-host"), &words(&["--name", ""])).expect("renders"),
            r#"/bin/tnet-host --name """#
        );
    }

    #[test]
    fn what_cannot_be_written_is_refused() {
        assert!(matches!(
            exec_start(Path::new("/bin/tnet-host"), &words(&["--name", "a\nb"])),
            Err(UnitError::ControlCharacter(_))
        ));
        assert!(matches!(
            exec_start(Path::new("tnet-host"), &[]),
            Err(UnitError::RelativeBinary(_))
        ));
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStringExt;
            let bad = OsString::from_vec(vec![0xff, 0xfe]);
            assert!(matches!(
                exec_start(Path::new("/bin/tnet-host"), &[bad]),
                Err(UnitError::NotUtf8(_))
            ));
        }
    }

    #[test]
    fn a_user_unit_waits_for_no_system_unit() {
        let unit = render(Path::new("/bin/tnet-host"), &[], Scope::User).expect("renders");
        assert!(unit.contains("WantedBy=default.target"));
        assert!(!unit.contains("After="), "{unit}");
        assert!(unit.contains("KillMode=mixed"));
        let system = render(Path::new("/bin/tnet-host"), &[], Scope::System).expect("renders");
        assert!(system.contains("WantedBy=multi-user.target"));
        assert!(system.contains("After=network-online.target docker.service"));
    }
}

//! Running the host on boot: `tnet-host systemd print | install | uninstall`
//! writes, installs or removes a systemd unit that starts this binary with
//! the host flags given (docs/running.md).
//!
//! The unit's text is [`unit`]'s; this module decides where it goes, never
//! overwrites a different unit or removes one it did not write without
//! `--force`, and runs `systemctl` only when asked to (`--enable`,
//! `--disable`). Everything else it prints, as the exact commands to run.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use clap::{ArgMatches, Args, Subcommand};

use crate::config::{given_host_flags, user_home, HostArgs};

pub mod unit;

pub use unit::{Scope, DEFAULT_BINARY, UNIT_NAME};

/// The unit's name as `systemctl` commands are shown and run.
const SERVICE: &str = "tnet-host";

/// `tnet-host systemd ...`.
#[derive(Debug, Args)]
pub struct SystemdArgs {
    /// What to do with the unit.
    #[command(subcommand)]
    pub action: Action,
}

/// What to do with the unit.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Write the unit to stdout.
    #[command(after_help = "Example:\n  tnet-host systemd print --name lab1 --home /srv/tasks")]
    Print(UnitArgs),
    /// Write the unit where systemd finds it (/etc/systemd/system/, or
    /// ~/.config/systemd/user/ with --user), then say how to start it.
    #[command(
        after_help = "Examples:\n  sudo tnet-host systemd install --home /srv/tasks\n  tnet-host systemd install --user --enable"
    )]
    Install(InstallArgs),
    /// Remove the unit `install` wrote.
    Uninstall(UninstallArgs),
}

/// The unit's contents: scope, binary and the host's flags.
#[derive(Debug, Args)]
pub struct UnitArgs {
    /// A unit for your user's systemd (~/.config/systemd/user/) instead of the system's.
    #[arg(long)]
    pub user: bool,
    /// The tnet-host binary the unit runs (default: this one).
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
    /// The host's flags, written into ExecStart= as given here.
    #[command(flatten, next_help_heading = "Host flags (written into the unit)")]
    pub host: HostArgs,
}

/// `install`'s flags.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Replace an existing unit that differs.
    #[arg(long)]
    pub force: bool,
    /// Also run `systemctl daemon-reload` and `systemctl enable --now tnet-host`.
    #[arg(long)]
    pub enable: bool,
    /// The unit (declared last: its host flags get a heading of their own in --help).
    #[command(flatten)]
    pub unit: UnitArgs,
}

/// `uninstall`'s flags.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Remove the user unit (~/.config/systemd/user/) instead of the system's.
    #[arg(long)]
    pub user: bool,
    /// Remove the unit even if tnet-host did not write it.
    #[arg(long)]
    pub force: bool,
    /// First run `systemctl disable --now tnet-host` (stopping the host), then `daemon-reload`.
    #[arg(long)]
    pub disable: bool,
}

/// Runs `tnet-host systemd ...`; `matches` are the subcommand's own, to know
/// which host flags were typed (only those go into the unit).
pub fn run(args: SystemdArgs, matches: &ArgMatches) -> anyhow::Result<()> {
    let action_matches = matches.subcommand().map(|(_, m)| m);
    match args.action {
        Action::Print(unit) => {
            let text = unit_text(&unit, action_matches)?;
            print!("{text}");
            Ok(())
        }
        Action::Install(install) => self::install(&install, action_matches),
        Action::Uninstall(uninstall) => self::uninstall(&uninstall),
    }
}

fn scope(user: bool) -> Scope {
    if user {
        Scope::User
    } else {
        Scope::System
    }
}

/// The unit for these arguments: the binary, and the host flags typed on the
/// command line (not those taken from the environment, which the service
/// will not have: each of those gets a note on stderr).
fn unit_text(args: &UnitArgs, matches: Option<&ArgMatches>) -> anyhow::Result<String> {
    let binary = match &args.binary {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .context("cannot tell where this tnet-host binary is; give it with --binary")?,
    };
    let given = matches.map(given_host_flags).unwrap_or_default();
    for (variable, flag) in &given.from_environment {
        eprintln!(
            "note: {variable} is set here, but the service will not see this environment, so it is not written into the unit; give --{flag} to write it"
        );
    }
    for (flag, path) in [
        ("home", &args.host.home),
        ("host-config", &args.host.host_config),
        ("config", &args.host.fabric.config),
    ] {
        if let Some(path) = path {
            if given.typed.contains(flag) && path.is_relative() {
                bail!(
                    "--{flag} {}: give an absolute path; the service does not start in this folder",
                    path.display()
                );
            }
        }
    }
    Ok(unit::render(&binary, &given.flags, scope(args.user))?)
}

/// Where the unit goes for `scope`.
pub fn unit_path(scope: Scope) -> anyhow::Result<PathBuf> {
    Ok(unit_dir(scope)?.join(UNIT_NAME))
}

/// The folder systemd reads the administrator's (or the user's own) units
/// from: `/etc/systemd/system`, or `$XDG_CONFIG_HOME/systemd/user` (default
/// `~/.config/systemd/user`).
fn unit_dir(scope: Scope) -> anyhow::Result<PathBuf> {
    match scope {
        Scope::System => Ok(PathBuf::from("/etc/systemd/system")),
        Scope::User => {
            let config = std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .or_else(|| user_home().map(|h| h.join(".config")))
                .context("cannot find your home folder (HOME is not set) to install a user unit")?;
            Ok(config.join("systemd/user"))
        }
    }
}

fn install(args: &InstallArgs, matches: Option<&ArgMatches>) -> anyhow::Result<()> {
    let scope = scope(args.unit.user);
    let text = unit_text(&args.unit, matches)?;
    if let Some(binary) = &args.unit.binary {
        anyhow::ensure!(
            binary.is_file(),
            "{} does not exist: the unit would fail to start; put tnet-host there first, or give another --binary",
            binary.display()
        );
    }
    let path = unit_path(scope)?;
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    let replaced = match existing {
        Some(old) if old == text => {
            println!("{} is already this unit; unchanged", path.display());
            false
        }
        Some(old) if !args.force => bail!(
            "{} exists and differs ({}); give --force to replace it",
            path.display(),
            differences(&old, &text)
        ),
        previous => {
            write_atomically(&path, &text).map_err(|err| match scope {
                Scope::System if err.kind() == std::io::ErrorKind::PermissionDenied => {
                    anyhow::anyhow!(
                        "cannot write {}: {err}; run it as root (sudo), or install a unit for your user with --user",
                        path.display()
                    )
                }
                _ => anyhow::anyhow!("cannot write {}: {err}", path.display()),
            })?;
            println!("wrote {}", path.display());
            previous.is_some()
        }
    };
    let mut steps = vec![
        systemctl(scope, &["daemon-reload"]),
        systemctl(scope, &["enable", "--now", SERVICE]),
    ];
    if replaced {
        // `enable --now` leaves a running host on its old flags.
        steps.push(systemctl(scope, &["try-restart", SERVICE]));
    }
    if args.enable {
        run_steps(&steps, &path, "enabled")?;
        println!(
            "tnet-host is enabled: it starts at every boot; its log: {}",
            journal_hint(scope)
        );
    } else {
        println!(
            "to start it now and at every boot, run:\n  {}",
            and_then(&steps)
        );
        println!("its log: {}", journal_hint(scope));
    }
    if scope == Scope::User {
        println!(
            "a user's services start at login; to start it at boot without a login: loginctl enable-linger {}",
            std::env::var("USER").unwrap_or_else(|_| "$USER".to_owned())
        );
    }
    Ok(())
}

fn uninstall(args: &UninstallArgs) -> anyhow::Result<()> {
    let scope = scope(args.user);
    let path = unit_path(scope)?;
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            println!("no unit at {}; nothing to remove", path.display());
            return Ok(());
        }
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    if !args.force && !text.starts_with(unit::MARKER) {
        bail!(
            "{} was not written by tnet-host; give --force to remove it anyway",
            path.display()
        );
    }
    let wants = unit_dir(scope)?
        .join(format!("{}.wants", scope.wanted_by()))
        .join(UNIT_NAME);
    let disable = systemctl(scope, &["disable", "--now", SERVICE]);
    if args.disable {
        run_steps(std::slice::from_ref(&disable), &path, "disabled")?;
    } else if wants.symlink_metadata().is_ok() {
        bail!(
            "tnet-host is enabled ({} exists); run `{}` first, or give --disable",
            wants.display(),
            shown(&disable)
        );
    }
    std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    println!("removed {}", path.display());
    let reload = systemctl(scope, &["daemon-reload"]);
    if args.disable {
        run_steps(std::slice::from_ref(&reload), &path, "reloaded")?;
    } else {
        println!("so that systemd forgets it, run:\n  {}", shown(&reload));
    }
    Ok(())
}

/// Writes `text` to `path` through a temporary file and a rename, so systemd
/// never reads half a unit.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{UNIT_NAME}.tmp"));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// The `ExecStart=` lines of two units when they differ there, else a general word.
fn differences(old: &str, new: &str) -> String {
    let exec = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("ExecStart="))
            .unwrap_or("no ExecStart=")
            .to_owned()
    };
    let (a, b) = (exec(old), exec(new));
    if a == b {
        "other lines than ExecStart=".to_owned()
    } else {
        format!("it has `{a}`, this one `{b}`")
    }
}

/// `systemctl [--user] ARGS...`.
fn systemctl(scope: Scope, args: &[&str]) -> Vec<String> {
    std::iter::once("systemctl")
        .chain(scope.systemctl_args().iter().copied())
        .chain(args.iter().copied())
        .map(str::to_owned)
        .collect()
}

fn shown(command: &[String]) -> String {
    command.join(" ")
}

fn and_then(commands: &[Vec<String>]) -> String {
    commands
        .iter()
        .map(|c| shown(c))
        .collect::<Vec<_>>()
        .join(" && ")
}

fn journal_hint(scope: Scope) -> &'static str {
    match scope {
        Scope::System => "journalctl -u tnet-host",
        Scope::User => "journalctl --user -u tnet-host",
    }
}

/// Runs each command in turn, stopping at the first that fails.
fn run_steps(steps: &[Vec<String>], unit: &Path, what: &str) -> anyhow::Result<()> {
    for step in steps {
        let (program, rest) = step.split_first().expect("a command has a program");
        println!("running: {}", shown(step));
        let status = match Command::new(program).args(rest).status() {
            Ok(status) => status,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => bail!(
                "{program} is not on PATH, so the unit ({}) was not {what}: is this machine run by systemd?",
                unit.display()
            ),
            Err(err) => bail!("cannot run `{}`: {err}", shown(step)),
        };
        if !status.success() {
            bail!(
                "`{}` failed ({status}), so the unit ({}) was not {what}; its messages are above",
                shown(step),
                unit.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commands_shown_are_the_ones_run() {
        let steps = [
            systemctl(Scope::System, &["daemon-reload"]),
            systemctl(Scope::System, &["enable", "--now", SERVICE]),
        ];
        assert_eq!(
            and_then(&steps),
            "systemctl daemon-reload && systemctl enable --now tnet-host"
        );
        assert_eq!(
            shown(&systemctl(Scope::User, &["daemon-reload"])),
            "systemctl --user daemon-reload"
        );
    }

    #[test]
    fn differences_name_the_exec_lines() {
        let a = "x\nExecStart=/a --name one\n";
        let b = "x\nExecStart=/a --name two\n";
        assert_eq!(
            differences(a, b),
            "it has `ExecStart=/a --name one`, this one `ExecStart=/a --name two`"
        );
        assert_eq!(
            differences("ExecStart=/a\nA\n", "ExecStart=/a\nB\n"),
            "other lines than ExecStart="
        );
    }
}

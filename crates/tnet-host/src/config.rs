//! The host's flags and environment, validated into a [`HostConfig`].

use std::path::PathBuf;

use anyhow::Context;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use tnet_proto::fabric::FabricArgs;
use tnet_proto::task::safe_name;

/// Environment variable naming the tasks folder (SPEC 10).
pub const ENV_HOME: &str = "TNET_HOME";

/// Environment variable naming the host config file.
pub const ENV_HOST_CONFIG: &str = "TNET_HOST_CONFIG";

/// `tnet-host`: runs tasks handed to this machine over Zenoh.
#[derive(Debug, Parser)]
#[command(
    name = "tnet-host",
    version,
    about,
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  tnet-host                      # name = hostname, tasks in ~/.tasks, port 7449, LAN discovery\n  tnet-host --name lab1 --home /srv/tasks -l tcp/0.0.0.0:7500\n  tnet-host --insecure            # plain TCP, no certificates: trusted lab networks only\n  sudo tnet-host systemd install --home /srv/tasks   # run on boot (docs/running.md)"
)]
pub struct Cli {
    /// How to run the host (without a subcommand).
    #[command(flatten)]
    pub host: HostArgs,
    /// Something else than running the host.
    #[command(subcommand)]
    pub command: Option<HostCommand>,
}

/// `tnet-host`'s subcommands.
#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// Run on boot: print, install or remove a systemd unit that starts this host.
    Systemd(Box<crate::systemd::SystemdArgs>),
    /// Write man pages (tnet-host.1 and one per subcommand) into a folder; for packaging.
    #[command(hide = true)]
    Manpages {
        /// The folder to write them into (it must exist).
        dir: PathBuf,
    },
}

impl Cli {
    /// Parses the process's arguments (exiting with clap's message on bad
    /// ones), with the matches, which tell typed flags from the environment's.
    /// `--help` shows an environment variable's value only when it is set.
    pub fn parse_args() -> (Cli, ArgMatches) {
        let mut command = Self::help_command(&|name| std::env::var_os(name).is_some());
        let matches = command.get_matches_mut();
        match Cli::from_arg_matches(&matches) {
            Ok(cli) => (cli, matches),
            Err(err) => err.format(&mut command).exit(),
        }
    }

    /// The command line, showing the values of the environment variables `is_set` says are set.
    fn help_command(is_set: &dyn Fn(&std::ffi::OsStr) -> bool) -> clap::Command {
        tnet_proto::clihelp::env_values_only_when_set(Cli::command(), is_set)
    }

    /// Writes `tnet-host.1` and a page per subcommand into `dir`.
    pub fn write_man_pages(dir: &std::path::Path) -> anyhow::Result<()> {
        let command = Self::help_command(&|_| false);
        clap_mangen::generate_to(command, dir)
            .with_context(|| format!("cannot write man pages into {}", dir.display()))
    }
}

/// The host's flags.
#[derive(Debug, Args)]
pub struct HostArgs {
    /// This host's name in tnet (default: the machine's hostname).
    #[arg(long)]
    pub name: Option<String>,
    /// The tasks folder (default: ~/.tasks).
    #[arg(long, env = ENV_HOME, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// The address `tnet ssh` should use to reach this machine (default: the host's name).
    #[arg(long, value_name = "ADDRESS")]
    pub ssh_address: Option<String>,
    /// The SSH port `tnet ssh` should use.
    #[arg(long, default_value_t = 22)]
    pub ssh_port: u16,
    /// The user `tnet ssh` should log in as (default: the user running the host).
    #[arg(long, value_name = "USER")]
    pub ssh_user: Option<String>,
    /// The host's own settings (notifiers: `[email]`, `[webhook]`, `[command]`,
    /// `[notify]`, see docs/notifications.md; `[limits]`, see docs/security.md; `[retention]`, see docs/retention.md; `[docker]`, see docs/docker.md). Default: `<home>/.tnet/host.toml` when it exists.
    #[arg(long, env = ENV_HOST_CONFIG, value_name = "FILE")]
    pub host_config: Option<PathBuf>,
    /// This host's identity bundle (ca.pem, cert.pem, key.pem; default <home>/.tnet/tls/,
    /// issued from the local fleet on first start).
    #[arg(long, value_name = "DIR")]
    pub identity: Option<PathBuf>,
    /// The fleet to issue this host's identity from when it has none (default ~/.config/tnet/fleet).
    #[arg(long, env = tnet_fleet::ENV_FLEET, value_name = "DIR")]
    pub fleet: Option<PathBuf>,
    /// Zenoh's common options.
    #[command(flatten)]
    pub fabric: FabricArgs,
}

/// Everything the host needs to know to start.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// The host's safe name, used in every key expression.
    pub name: String,
    /// The tasks folder.
    pub home: PathBuf,
    /// Zenoh options.
    pub fabric: FabricArgs,
    /// What `tnet ssh` is told.
    pub ssh: tnet_proto::msg::SshInfo,
    /// Notifier settings from the host config file (defaults without one).
    pub notify: crate::notify::config::NotifyConfig,
    /// `--identity`.
    pub identity: Option<PathBuf>,
    /// `--fleet` / `TNET_FLEET`.
    pub fleet: Option<PathBuf>,
    /// `[limits]` from the host config file (defaults without one).
    pub limits: crate::limits::Limits,
    /// `[retention]` from the host config file (defaults without one).
    pub retention: crate::retention::Retention,
    /// `[docker]` from the host config file (defaults without one).
    pub docker: crate::docker::config::DockerConfig,
}

impl HostConfig {
    /// Fills in defaults: the hostname, `~/.tasks`.
    pub fn from_args(args: HostArgs) -> anyhow::Result<Self> {
        let raw_name = match args.name {
            Some(n) => n,
            None => hostname::get()
                .context("cannot read this machine's hostname; give one with --name")?
                .to_string_lossy()
                .into_owned(),
        };
        let name = safe_name(raw_name.trim());
        anyhow::ensure!(
            !name.is_empty(),
            "the host name is empty; give one with --name"
        );
        let home = match args.home {
            Some(h) => h,
            None => user_home()
                .map(|h| h.join(".tasks"))
                .context("neither HOME nor the user database names this user's home folder; give the tasks folder with --home or TNET_HOME")?,
        };
        let user = args
            .ssh_user
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| {
                nix::unistd::User::from_uid(nix::unistd::getuid())
                    .ok()
                    .flatten()
                    .map(|u| u.name)
            })
            .unwrap_or_else(|| "root".to_owned());
        let ssh = tnet_proto::msg::SshInfo {
            user,
            address: args.ssh_address,
            port: args.ssh_port,
        };
        let host_config = args
            .host_config
            .or_else(|| Some(crate::paths::Paths::new(&home).host_config()).filter(|p| p.exists()));
        let (notify, limits, retention, docker) = match host_config {
            Some(path) => (
                crate::notify::config::NotifyConfig::load(&path)?,
                crate::limits::Limits::load(&path)?,
                crate::retention::Retention::load(&path)?,
                crate::docker::config::DockerConfig::load(&path)?,
            ),
            None => Default::default(),
        };
        Ok(HostConfig {
            notify,
            limits,
            retention,
            docker,
            name,
            home,
            fabric: args.fabric,
            ssh,
            identity: args.identity,
            fleet: args.fleet.filter(|f| !f.as_os_str().is_empty()),
        })
    }
}

/// The home folder of the user running the host: `HOME`, or the user
/// database's entry when `HOME` is not set (a system service started by
/// systemd without `User=` gets no `HOME`).
pub(crate) fn user_home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.dir)
        })
}

/// The host flags of a command line, as typed there.
#[derive(Debug, Default)]
pub struct GivenFlags {
    /// Each typed flag with its values, in the order `HostArgs` declares them.
    pub flags: Vec<std::ffi::OsString>,
    /// The long names of the typed flags.
    pub typed: std::collections::BTreeSet<String>,
    /// Flags whose value came from an environment variable instead: (variable, flag).
    pub from_environment: Vec<(String, String)>,
}

/// The host flags typed in `matches` (a command that flattens [`HostArgs`]),
/// spelled out again as long flags, so they can be passed on (a systemd
/// unit's `ExecStart=`). Read from clap's own definition of the flags, so a
/// flag added to `HostArgs` is passed on with no change here.
pub fn given_host_flags(matches: &ArgMatches) -> GivenFlags {
    use clap::parser::ValueSource;
    let mut given = GivenFlags::default();
    let definition = HostArgs::augment_args(clap::Command::new("tnet-host"));
    for arg in definition.get_arguments() {
        let id = arg.get_id().as_str();
        let Some(long) = arg.get_long() else { continue };
        match matches.value_source(id) {
            Some(ValueSource::CommandLine) => {}
            Some(ValueSource::EnvVariable) => {
                if let Some(variable) = arg.get_env() {
                    given
                        .from_environment
                        .push((variable.to_string_lossy().into_owned(), long.to_owned()));
                }
                continue;
            }
            _ => continue,
        }
        given.typed.insert(long.to_owned());
        if !arg.get_action().takes_values() {
            given.flags.push(format!("--{long}").into());
            continue;
        }
        for value in matches.get_raw(id).into_iter().flatten() {
            given.flags.push(format!("--{long}").into());
            given.flags.push(value.to_owned());
        }
    }
    given
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn flags_of(args: &[&str]) -> Vec<String> {
        let matches = Cli::command()
            .try_get_matches_from(args)
            .expect("the arguments parse");
        let (_, systemd) = matches.subcommand().expect("a subcommand");
        let (_, print) = systemd.subcommand().expect("an action");
        given_host_flags(print)
            .flags
            .iter()
            .map(|f| f.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn typed_host_flags_are_passed_on_as_long_flags() {
        assert_eq!(
            flags_of(&[
                "tnet-host",
                "systemd",
                "print",
                "--user",
                "-l",
                "tcp/0.0.0.0:7500",
                "--name",
                "lab1",
                "-e",
                "tcp/10.0.0.1:7449,tcp/10.0.0.2:7449",
                "--no-multicast-scouting",
                "--ssh-port",
                "2222",
            ]),
            [
                "--name",
                "lab1",
                "--ssh-port",
                "2222",
                "--connect",
                "tcp/10.0.0.1:7449",
                "--connect",
                "tcp/10.0.0.2:7449",
                "--listen",
                "tcp/0.0.0.0:7500",
                "--no-multicast-scouting",
            ]
        );
        assert!(flags_of(&["tnet-host", "systemd", "print"]).is_empty());
    }

    #[test]
    fn the_passed_on_flags_parse_back_to_the_same_host() {
        let original = [
            "tnet-host",
            "systemd",
            "print",
            "--name",
            "lab1",
            "--home",
            "/srv/t",
            "-m",
            "client",
            "--ssh-user",
            "ops",
            "--host-config",
            "/etc/tnet/host.toml",
        ];
        let again: Vec<String> = std::iter::once("tnet-host".to_owned())
            .chain(flags_of(&original))
            .collect();
        let cli = Cli::try_parse_from(&again).expect("the flags parse as a host's");
        assert!(cli.command.is_none());
        assert_eq!(cli.host.name.as_deref(), Some("lab1"));
        assert_eq!(cli.host.home.as_deref(), Some(Path::new("/srv/t")));
        assert_eq!(cli.host.fabric.mode.as_deref(), Some("client"));
        assert_eq!(cli.host.ssh_user.as_deref(), Some("ops"));
    }

    #[test]
    fn host_flags_and_a_subcommand_do_not_mix() {
        let err = Cli::try_parse_from(["tnet-host", "--name", "x", "systemd", "print"])
            .expect_err("host flags go after the subcommand");
        assert_eq!(
            err.kind(),
            clap::error::ErrorKind::ArgumentConflict,
            "{err}"
        );
    }
}

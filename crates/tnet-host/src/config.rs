//! The host's flags and environment, validated into a [`HostConfig`].

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use tnet_proto::fabric::FabricArgs;
use tnet_proto::task::safe_name;

/// Environment variable naming the tasks folder (SPEC 10).
pub const ENV_HOME: &str = "TNET_HOME";

/// Environment variable naming the host config file.
pub const ENV_HOST_CONFIG: &str = "TNET_HOST_CONFIG";

/// `tnet-host`: runs tasks handed to this machine over Zenoh.
#[derive(Debug, Parser)]
#[command(
    version,
    about,
    after_help = "Example:\n  tnet-host                      # name = hostname, tasks in ~/.tasks, port 7449, LAN discovery\n  tnet-host --name lab1 --home /srv/tasks -l tcp/0.0.0.0:7500"
)]
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
    /// `[notify]`; see docs/notifications.md). Default: `<home>/.tnet/host.toml` when it exists.
    #[arg(long, env = ENV_HOST_CONFIG, value_name = "FILE")]
    pub host_config: Option<PathBuf>,
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
        let notify = match host_config {
            Some(path) => crate::notify::config::NotifyConfig::load(&path)?,
            None => crate::notify::config::NotifyConfig::default(),
        };
        Ok(HostConfig {
            notify,
            name,
            home,
            fabric: args.fabric,
            ssh,
        })
    }
}

/// The home folder of the user running the host: `HOME`, or the user
/// database's entry when `HOME` is not set (a system service started by
/// systemd without `User=` gets no `HOME`).
fn user_home() -> Option<PathBuf> {
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

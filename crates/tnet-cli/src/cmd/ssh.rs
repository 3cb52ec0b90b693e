//! `tnet ssh <task>`: the system `ssh` to the task's host, landing in its
//! workspace, for users who prefer OpenSSH.
//!
//! The host advertises the user, address and port to use (`tnet hosts
//! --json`); flags override them. The workspace path reaches a remote shell,
//! so it is quoted.

use anyhow::{bail, Context};
use tnet_proto::msg::{Request, Response};

use crate::args::SshArgs;
use crate::client::Client;
use crate::target;

/// Runs `ssh` and returns its exit code.
pub async fn run(client: &Client, args: SshArgs) -> anyhow::Result<u8> {
    let t = target::resolve(client, &args.task).await?;
    let status = target::status(client, &t).await?;
    let info = match client.ask_host(&t.host, Request::HostInfo).await? {
        Response::HostInfo(i) => i,
        other => bail!("host `{}` gave an unexpected answer: {other:?}", t.host),
    };
    let user = args.user.or(info.ssh.as_ref().map(|s| s.user.clone()));
    let address = args
        .address
        .or(info.ssh.as_ref().and_then(|s| s.address.clone()))
        .unwrap_or_else(|| t.host.clone());
    let port = args.port.or(info.ssh.as_ref().map(|s| s.port));
    let argv = ssh_command(
        &status.workspace,
        user.as_deref(),
        &address,
        port,
        args.command.as_deref(),
        &args.ssh_args,
    );
    let code = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .status()
        .context("cannot run `ssh`; install the OpenSSH client")?
        .code()
        .unwrap_or(255);
    Ok(u8::try_from(code).unwrap_or(255))
}

/// The `ssh` command line: a terminal, the extra options, then the
/// destination and a remote command that enters the workspace.
pub fn ssh_command(
    workspace: &str,
    user: Option<&str>,
    address: &str,
    port: Option<u16>,
    command: Option<&str>,
    extra: &[String],
) -> Vec<String> {
    let mut argv = vec!["ssh".to_owned(), "-t".to_owned()];
    if let Some(port) = port {
        argv.extend(["-p".to_owned(), port.to_string()]);
    }
    argv.extend(extra.iter().cloned());
    argv.push(match user {
        Some(u) => format!("{u}@{address}"),
        None => address.to_owned(),
    });
    let cd = format!("cd {}", shell_escape::unix::escape(workspace.into()));
    argv.push(match command {
        Some(cmd) => format!("{cd} && {cmd}"),
        None => format!("{cd} && exec \"${{SHELL:-/bin/sh}}\" -l"),
    });
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_is_quoted_for_the_remote_shell() {
        let argv = ssh_command(
            "/home/u/.tasks/a'b;rm -rf",
            Some("u"),
            "10.0.0.2",
            Some(2222),
            None,
            &["-i".into(), "k".into()],
        );
        assert_eq!(&argv[..6], ["ssh", "-t", "-p", "2222", "-i", "k"]);
        assert_eq!(argv[6], "u@10.0.0.2");
        assert_eq!(
            argv[7],
            r#"cd '/home/u/.tasks/a'\''b;rm -rf' && exec "${SHELL:-/bin/sh}" -l"#
        );
    }
}

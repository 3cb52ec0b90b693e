//! `tnet shell` through a real pseudo-terminal, and `tnet ssh` against a real
//! OpenSSH server.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use expectrl::session::OsSession;
use expectrl::{ControlCode, Expect, Session};
use tnet_tests::{bin, free_port, process_alive, wait_until, write_file, Host};

use crate::daemons::{INSTALLER, SEED_DAEMON};

const TIMEOUT: Duration = Duration::from_secs(20);

/// A task with no commands: a workspace to shell into.
fn workspace_task(host: &Host, name: &str) {
    let dir = tempfile::tempdir().expect("dir");
    let file = write_file(
        dir.path(),
        "t.toml",
        &format!("task_name = \"{name}\"\ntask_type = \"daemon\"\n"),
        0o644,
    );
    host.tnet(&["run", file.to_str().expect("utf8")]).ok();
    host.wait_state(name, "waiting");
}

/// `tnet shell TASK` on a pseudo-terminal, wrapped so that its exit code is
/// printed and the terminal's settings after it are compared with before.
fn spawn_shell(host: &Host, task: &str) -> OsSession {
    let script = format!(
        "before=$(stty -g); '{}' --connect {} shell '{task}'; echo \"tnet exited $?\"; [ \"$(stty -g)\" = \"$before\" ] && echo terminal-restored",
        bin("tnet").display(),
        host.endpoint()
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script])
        .env("TERM", "xterm")
        .envs(tnet_tests::client_env());
    let mut session = Session::spawn(cmd).expect("a pty");
    session.set_expect_timeout(Some(TIMEOUT));
    session.send_line("export PS1='READY> '").expect("send");
    session.expect("READY> ").expect("the remote prompt");
    session
}

#[test]
fn an_interactive_shell_in_the_workspace() {
    let host = Host::start("shellhost");
    workspace_task(&host, "box");
    let ws = host.home.join("box");
    let mut s = spawn_shell(&host, "box");

    s.send_line("pwd").expect("send");
    s.expect(ws.to_str().expect("utf8"))
        .expect("the shell starts in the workspace");

    s.send_line("echo made here > from-shell.txt")
        .expect("send");
    s.expect("READY> ").expect("prompt");
    wait_until(TIMEOUT, "the file made in the shell is on the host", || {
        (std::fs::read_to_string(ws.join("from-shell.txt")).ok()? == "made here\n").then_some(())
    });

    s.get_process_mut()
        .set_window_size(101, 37)
        .expect("resize");
    wait_until(TIMEOUT, "the remote terminal follows the resize", || {
        s.send_line("stty size").ok()?;
        s.expect("READY> ").ok()?;
        s.send_line("echo size=$(stty size)").ok()?;
        let found = s.expect(expectrl::Regex("size=[0-9]+ [0-9]+")).ok()?;
        String::from_utf8_lossy(found.get(0)?)
            .contains("size=37 101")
            .then_some(())
    });

    s.send_line("sh -c 'echo sleep-$((1+1)); exec sleep 30'")
        .expect("send");
    s.expect("sleep-2").expect("sleep started");
    s.send(ControlCode::EndOfText).expect("Ctrl-C");
    s.send_line("echo still-$((40+2))").expect("send");
    s.set_expect_timeout(Some(Duration::from_secs(10)));
    s.expect("still-42")
        .expect("Ctrl-C interrupted sleep, not the session");

    s.set_expect_timeout(Some(TIMEOUT));
    s.send_line("exit 3").expect("send");
    s.expect("tnet exited 3").expect("the remote exit code");
    // The terminal's settings after tnet are those from before it.
    s.expect("terminal-restored")
        .expect("the terminal is restored");
}

#[test]
fn a_killed_client_leaves_no_shell_behind() {
    let host = Host::start("shellkill");
    workspace_task(&host, "box");
    let ws = host.home.join("box");
    let mut s = spawn_shell(&host, "box");
    s.send_line("echo $$ > shell.pid").expect("send");
    let pid: u32 = wait_until(TIMEOUT, "the shell writes its pid", || {
        std::fs::read_to_string(ws.join("shell.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    });
    assert!(process_alive(pid));
    // Kill the whole client side (the wrapper and tnet) as a crash would.
    let _ = Command::new("pkill")
        .args(["-KILL", "-f", &format!("{} shell", host.endpoint())])
        .status();
    wait_until(TIMEOUT, "the host ends the orphaned shell", || {
        (!process_alive(pid)).then_some(())
    });
}

#[test]
fn the_game_server_story_through_a_shell() {
    let host = Host::start("gameshell");
    let dir = tempfile::tempdir().expect("dir");
    write_file(dir.path(), "game-server-installer", INSTALLER, 0o644);
    let task = write_file(dir.path(), "gameserver.toml", SEED_DAEMON, 0o644);
    host.tnet(&["run", task.to_str().expect("utf8")]).ok();
    host.wait_state("Game Server", "waiting");

    let mut s = spawn_shell(&host, "Game Server");
    s.send_line("sed -i 's/RAM=512M/RAM=6G/' start.sh && grep RAM= start.sh")
        .expect("send");
    s.expect("RAM=6G").expect("edited in the shell");
    s.send_line("exit").expect("send");
    s.expect("tnet exited 0").expect("left the shell");

    let edited = SEED_DAEMON.replace("commands = []", r#"commands = ["./start.sh"]"#);
    let new_task = write_file(dir.path(), "gameserver-v2.toml", &edited, 0o644);
    host.tnet(&[
        "edit",
        "Game Server",
        "--file",
        new_task.to_str().expect("utf8"),
    ])
    .ok();
    wait_until(
        TIMEOUT,
        "the daemon runs the script edited in the shell",
        || {
            host.tnet(&["logs", "Game Server"])
                .ok()
                .stdout
                .contains("game server up with RAM=6G")
                .then_some(())
        },
    );
}

#[test]
fn one_command_streams_its_output_and_exit_code() {
    let host = Host::start("shellcmd");
    workspace_task(&host, "box");
    let out = host.tnet(&[
        "shell",
        "box",
        "--",
        "sh",
        "-c",
        "pwd; echo oops >&2; exit 4",
    ]);
    assert_eq!(out.code, Some(4), "{out:?}");
    assert!(out.stdout.trim_end().ends_with("/box"), "{out:?}");
    assert!(out.stderr.contains("oops"), "{out:?}");
}

/// Debian's OpenSSH server on a loopback port, for as long as it lives.
struct Sshd {
    child: std::process::Child,
    port: u16,
    key: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Sshd {
    /// Starts one; fails the test when OpenSSH's server is missing
    /// (`tnet_tests::require`: a skipped test would read as a pass).
    fn start() -> Sshd {
        let sshd = Path::new("/usr/sbin/sshd");
        tnet_tests::require(
            sshd.exists(),
            "OpenSSH's server, /usr/sbin/sshd (Debian's openssh-server)",
        );
        let dir = tempfile::tempdir().expect("dir");
        let d = dir.path();
        let keygen = |path: &Path| {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(path)
                .status()
                .expect("ssh-keygen");
            assert!(ok.success());
        };
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys"))
            .expect("authorized_keys");
        let port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\nUsePAM no\nStrictModes no\nPasswordAuthentication no\nPermitRootLogin prohibit-password\nPidFile {d}/sshd.pid\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).expect("config");
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("sshd");
        wait_until(TIMEOUT, "sshd listens", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Sshd {
            child,
            port,
            key: d.join("client_key"),
            _dir: dir,
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn tnet_ssh_lands_in_the_workspace_and_passes_the_exit_code() {
    let sshd = Sshd::start();
    let host = Host::start("sshhost");
    workspace_task(&host, "box");
    let ws = host.home.join("box");
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let script = format!(
        "'{}' --connect {} ssh box --user {user} --address 127.0.0.1 --port {} -- -i '{}' -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR; echo \"ssh exited $?\"",
        bin("tnet").display(),
        host.endpoint(),
        sshd.port,
        sshd.key.display()
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script])
        .env("TERM", "xterm")
        .envs(tnet_tests::client_env());
    let mut s = Session::spawn(cmd).expect("a pty");
    s.set_expect_timeout(Some(TIMEOUT));
    s.send_line("export PS1='SSH> '; pwd").expect("send");
    s.expect(ws.to_str().expect("utf8"))
        .expect("ssh lands in the workspace");
    s.send_line("exit 5").expect("send");
    s.expect("ssh exited 5")
        .expect("the exit code passes through");
}

//! The process runner: `sh -c` in the workspace, in a process group of its own.
//!
//! The group is what gets signalled, so stopping a task also stops whatever
//! its command started (grandchildren included): TERM first, KILL after the
//! grace period for anything still there.

use std::io;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::sync::mpsc;

use super::spawn::{spawn_sh, Child, Input};
use super::{
    CommandSpec, Execution, Exit, Locator, OutputChunk, OutputStream, Piped, Runner, Stream,
};
use crate::procfs;

/// Runs commands as local process groups.
#[derive(Debug, Default, Clone)]
pub struct ProcessRunner;

impl Runner for ProcessRunner {
    fn spawn(
        &self,
        spec: &CommandSpec,
        output: mpsc::Sender<OutputChunk>,
    ) -> io::Result<Box<dyn Execution>> {
        let spawned = spawn_sh(spec, input_of(spec)?)?;
        let (out, err) = (reader(spawned.stdout)?, reader(spawned.stderr)?);
        tokio::spawn(pump(out, Stream::Stdout, output.clone()));
        tokio::spawn(pump(err, Stream::Stderr, output));
        Ok(Box::new(ProcessExecution::new(spawned.child)))
    }

    fn spawn_reading(&self, spec: &CommandSpec) -> io::Result<(Box<dyn Execution>, OutputStream)> {
        let spawned = spawn_sh(spec, input_of(spec)?)?;
        let (out, err) = (reader(spawned.stdout)?, reader(spawned.stderr)?);
        let output =
            futures::stream::select(chunks(out, Stream::Stdout), chunks(err, Stream::Stderr));
        Ok((
            Box::new(ProcessExecution::new(spawned.child)),
            Box::pin(output),
        ))
    }

    fn spawn_piped(
        &self,
        spec: &CommandSpec,
        stderr: mpsc::Sender<OutputChunk>,
    ) -> BoxFuture<'_, io::Result<Piped>> {
        let spawned = (|| {
            let spawned = spawn_sh(spec, Input::Piped)?;
            let (stdout, err) = (reader(spawned.stdout)?, reader(spawned.stderr)?);
            let stdin = spawned
                .stdin
                .ok_or_else(|| io::Error::other("the command's input pipe was not opened"))?;
            let stdin = pipe::Sender::from_owned_fd_unchecked(stdin)?;
            tokio::spawn(pump(err, Stream::Stderr, stderr));
            Ok(Piped {
                exec: Box::new(ProcessExecution::new(spawned.child)),
                stdin: Box::pin(stdin),
                stdout: Box::pin(stdout),
            })
        })();
        Box::pin(async move { spawned })
    }
}

/// The command's standard input: `spec.stdin`'s file, or none.
fn input_of(spec: &CommandSpec) -> io::Result<Input> {
    match &spec.stdin {
        Some(path) => Ok(Input::File(std::fs::File::open(path)?)),
        None => Ok(Input::Null),
    }
}

/// One of the command's output pipes (non-blocking already), registered
/// with the runtime.
fn reader(fd: OwnedFd) -> io::Result<pipe::Receiver> {
    pipe::Receiver::from_owned_fd_unchecked(fd)
}

/// A pipe's first read buffer, and the most it grows to.
const FIRST_READ: usize = 4 * 1024;
const LARGEST_READ: usize = 64 * 1024;

/// A pipe's output as it comes, until it closes.
fn chunks(
    pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    stream: Stream,
) -> impl futures::Stream<Item = OutputChunk> + Send + 'static {
    // Small at first: most commands (a habit's) say a line or two, and a
    // thousand habits a second each paid two 64 KiB buffers. A read that
    // fills the buffer doubles it, so a loud command (a 100 MiB service
    // result) soon moves in large reads.
    let buf = vec![0u8; FIRST_READ];
    futures::stream::unfold((pipe, buf), move |(mut pipe, mut buf)| async move {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                let bytes = buf[..n].to_vec();
                if n == buf.len() && buf.len() < LARGEST_READ {
                    buf.resize(buf.len() * 2, 0);
                }
                Some((OutputChunk { stream, bytes }, (pipe, buf)))
            }
        }
    })
}

/// Copies a pipe into the output channel until it closes.
async fn pump(
    pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    stream: Stream,
    output: mpsc::Sender<OutputChunk>,
) {
    super::forward(Box::pin(chunks(pipe, stream)), output).await;
}

/// A process group started by [`ProcessRunner`].
pub struct ProcessExecution {
    child: Child,
    pid: Option<u32>,
    exit: Option<Exit>,
}

impl ProcessExecution {
    fn new(child: Child) -> ProcessExecution {
        let pid = Some(child.id());
        ProcessExecution {
            child,
            pid,
            exit: None,
        }
    }

    async fn reap(&mut self) -> io::Result<Exit> {
        if let Some(e) = self.exit {
            return Ok(e);
        }
        let e = self.child.wait().await?;
        self.exit = Some(e);
        Ok(e)
    }
}

impl Execution for ProcessExecution {
    fn pid(&self) -> Option<u32> {
        self.pid
    }

    fn locator(&self) -> Option<Locator> {
        // Read when asked, not at the spawn: a habit asks only for a command
        // that outlives its first moments, and most end sooner.
        let pgid = self.pid.filter(|_| self.exit.is_none())?;
        Some(Locator {
            pgid,
            start_ticks: process_start_ticks(pgid)?,
        })
    }

    fn wait(&mut self) -> BoxFuture<'_, io::Result<Exit>> {
        self.reap().boxed()
    }

    fn terminate(&mut self, grace: Duration) -> BoxFuture<'_, io::Result<Exit>> {
        async move {
            let Some(pgid) = self.pid else {
                return self.reap().await;
            };
            let deadline = Instant::now() + grace;
            signal_group(pgid, Signal::SIGTERM);
            loop {
                if self.exit.is_none() {
                    self.exit = self.child.try_wait()?;
                }
                // The leader is reaped and nothing else is left in its group.
                if self.exit.is_some() && !group_alive(pgid) {
                    break;
                }
                if Instant::now() >= deadline {
                    signal_group(pgid, Signal::SIGKILL);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            self.reap().await
        }
        .boxed()
    }
}

fn signal_group(pgid: u32, signal: Signal) {
    if let Ok(pgid) = i32::try_from(pgid) {
        // ESRCH (the group is already gone) is the outcome we want anyway.
        let _ = killpg(Pid::from_raw(pgid), signal);
    }
}

/// Whether any process of the group is still running. Zombies do not count:
/// a grandchild orphaned by the stop is reparented to PID 1, and an init that
/// reaps slowly (a container's, a sandbox's) would otherwise hold every stop
/// for as long as it takes to get round to it.
fn group_alive(pgid: u32) -> bool {
    if !i32::try_from(pgid).is_ok_and(|p| killpg(Pid::from_raw(p), None).is_ok()) {
        return false;
    }
    procfs::pids().any(|pid| {
        procfs::stat(pid).is_some_and(|s| s.pgrp == pgid && s.state != 'Z' && s.state != 'X')
    })
}

/// The start time of a process in clock ticks since boot, from `/proc`.
pub fn process_start_ticks(pid: u32) -> Option<u64> {
    procfs::stat(pid).map(|s| s.start_ticks)
}

/// Ends a process group left running by a host that died, if it is still the
/// same group (its leader started at the recorded time). Blocking for up to `grace`.
pub fn kill_stale_group(locator: &Locator, grace: Duration) {
    // A leader that exited leaves its group id reserved while members remain
    // (Linux does not reuse it), so a group with no leader is still ours.
    let same = match process_start_ticks(locator.pgid) {
        Some(ticks) => ticks == locator.start_ticks,
        None => group_alive(locator.pgid),
    };
    if !same {
        return;
    }
    signal_group(locator.pgid, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while group_alive(locator.pgid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_group(locator.pgid, Signal::SIGKILL);
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[test]
    fn a_group_of_zombies_is_not_alive() {
        use std::os::unix::process::CommandExt;
        // Never waited for, so it stays a zombie of this test process.
        let child = std::process::Command::new("true")
            .process_group(0)
            .spawn()
            .expect("spawns");
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(10);
        while procfs::stat(pid).map(|s| s.state) != Some('Z') {
            assert!(Instant::now() < deadline, "`true` never exited");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            killpg(Pid::from_raw(pid as i32), None).is_ok(),
            "the zombie holds its group"
        );
        assert!(!group_alive(pid), "a zombie runs nothing");
        drop(child);

        let mut running = std::process::Command::new("sleep")
            .arg("100")
            .process_group(0)
            .spawn()
            .expect("spawns");
        assert!(group_alive(running.id()));
        running.kill().expect("kills");
        running.wait().expect("reaps");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn input_comes_from_a_file_and_arguments_are_positional() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = dir.path().join("input");
        std::fs::write(&input, b"from the file\n").expect("write");
        let mut spec = CommandSpec::new(
            r#"cat; printf '%s|' "$@"; echo "$#""#,
            dir.path().to_path_buf(),
            Vec::new(),
        );
        spec.args = vec!["a b".into(), "$HOME".into()];
        spec.stdin = Some(input);
        let (tx, mut rx) = mpsc::channel(4);
        let mut exec = ProcessRunner.spawn(&spec, tx).expect("spawns");
        let mut out = Vec::new();
        while let Some(chunk) = rx.recv().await {
            assert_eq!(chunk.stream, Stream::Stdout);
            out.extend(chunk.bytes);
        }
        assert_eq!(exec.wait().await.expect("waits"), Exit::Code(0));
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "from the file\na b|$HOME|2\n"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_environment_is_the_hosts_with_the_tasks_own_over_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = CommandSpec::new(
            r#"printf '%s|%s|' "$TNET_TASK" "$PATH"; env | grep -c '^HOME='; printf '%s' "$HOME""#,
            dir.path().to_path_buf(),
            vec![
                ("TNET_TASK".into(), "a task".into()),
                ("HOME".into(), "/elsewhere".into()),
            ],
        );
        let (mut exec, output) = ProcessRunner.spawn_reading(&spec).expect("spawns");
        let out: Vec<u8> = output
            .filter(|c| std::future::ready(c.stream == Stream::Stdout))
            .flat_map(|c| futures::stream::iter(c.bytes))
            .collect()
            .await;
        assert_eq!(exec.wait().await.expect("waits"), Exit::Code(0));
        let path = std::env::var("PATH").expect("the tests have a PATH");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            format!("a task|{path}|1\n/elsewhere"),
            "the host's PATH, the task's HOME once, over the host's"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_command_let_go_of_is_reaped_when_it_ends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = CommandSpec::new("sleep 0.2", dir.path().to_path_buf(), Vec::new());
        let (exec, _output) = ProcessRunner.spawn_reading(&spec).expect("spawns");
        let pid = exec.pid().expect("a pid");
        drop(exec);
        let deadline = Instant::now() + Duration::from_secs(10);
        // Gone from /proc only once reaped: a zombie stays until then.
        while procfs::stat(pid).is_some() {
            assert!(Instant::now() < deadline, "process {pid} was never reaped");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

//! How a task's command is started and stopped.
//!
//! A [`Runner`] turns one command line into an [`Execution`]; the supervisor
//! drives executions without knowing whether they are process groups (the
//! [`process`] runner) or execs in a task's container
//! ([`crate::docker::runner`]). The host picks a runner per task. Output is
//! sent as [`OutputChunk`]s over a bounded channel the caller chooses (the
//! task's log, or one service call's result), so a loud command is slowed by
//! back-pressure instead of filling the host's memory.
//!
//! Everything a runner needs is in [`CommandSpec`] as plain data (a command
//! line, arguments, environment, a file for standard input), so a container
//! runner can do the same with a bind mount and an attached stdin.

pub mod process;
mod spawn;

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

/// Which stream a chunk of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// A piece of a command's output.
#[derive(Debug, Clone)]
pub struct OutputChunk {
    /// Where it came from.
    pub stream: Stream,
    /// The bytes, as read.
    pub bytes: Vec<u8>,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// A shell command line, run with `sh -c`.
    pub command: String,
    /// The task's workspace, the working directory.
    pub workdir: PathBuf,
    /// Extra environment variables (`TNET_TASK`, `TNET_HOST`...).
    pub env: Vec<(String, String)>,
    /// The shell's positional parameters (`$1`, `"$@"`): a service caller's arguments.
    pub args: Vec<String>,
    /// A file whose bytes are the command's standard input (a service call's
    /// input); `None` gives it an empty one.
    pub stdin: Option<PathBuf>,
}

impl CommandSpec {
    /// `command` in `workdir` with `env`, no arguments and empty input.
    pub fn new(command: &str, workdir: PathBuf, env: Vec<(String, String)>) -> Self {
        CommandSpec {
            command: command.to_owned(),
            workdir,
            env,
            args: Vec::new(),
            stdin: None,
        }
    }
}

/// How an execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
}

impl Exit {
    /// Exit code 0.
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }

    /// The exit code, if it exited rather than being killed.
    pub fn code(self) -> Option<i32> {
        match self {
            Exit::Code(c) => Some(c),
            Exit::Signal(_) => None,
        }
    }
}

/// Where an execution can be found again after the host restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locator {
    /// Process group id.
    pub pgid: u32,
    /// The group leader's start time (`/proc/<pid>/stat` field 22), so a reused pid is not mistaken for it.
    pub start_ticks: u64,
}

/// A running command.
pub trait Execution: Send {
    /// Its process id, for display.
    fn pid(&self) -> Option<u32>;
    /// How to find it again after a host restart, while it runs (read from
    /// the system when asked).
    fn locator(&self) -> Option<Locator>;
    /// Waits for it to end.
    fn wait(&mut self) -> BoxFuture<'_, std::io::Result<Exit>>;
    /// Asks it to stop (TERM), and kills it (KILL) if it has not ended after `grace`.
    fn terminate(&mut self, grace: Duration) -> BoxFuture<'_, std::io::Result<Exit>>;
}

/// A command the host talks to through its standard input and output (a
/// warm service's worker); its standard error goes where the runner was told.
pub struct Piped {
    /// The running command.
    pub exec: Box<dyn Execution>,
    /// Its standard input.
    pub stdin: Pin<Box<dyn AsyncWrite + Send>>,
    /// Its standard output.
    pub stdout: Pin<Box<dyn AsyncRead + Send>>,
}

/// A command's output for its caller to read: stdout and stderr chunks,
/// tagged, as they come; it ends when both are closed.
pub type OutputStream = BoxStream<'static, OutputChunk>;

/// Sends `chunks` into `output` until they end or the receiver is gone.
pub(crate) async fn forward(
    mut chunks: impl futures::Stream<Item = OutputChunk> + Unpin,
    output: mpsc::Sender<OutputChunk>,
) {
    use futures::StreamExt;
    while let Some(chunk) = chunks.next().await {
        if output.send(chunk).await.is_err() {
            return;
        }
    }
}

/// Starts commands.
pub trait Runner: Send + Sync {
    /// Starts `spec`, sending its output to `output`.
    fn spawn(
        &self,
        spec: &CommandSpec,
        output: mpsc::Sender<OutputChunk>,
    ) -> std::io::Result<Box<dyn Execution>>;

    /// Starts `spec`; its output is read from the stream returned, in the
    /// caller's task. A habit run reads its commands' output this way:
    /// with [`Runner::spawn`] each run spawned a task per pipe, and every
    /// chunk woke one more task on its way (docs/benchmarks.md, "Habits").
    /// By default the output still comes through a channel fed by
    /// [`Runner::spawn`].
    fn spawn_reading(
        &self,
        spec: &CommandSpec,
    ) -> std::io::Result<(Box<dyn Execution>, OutputStream)> {
        let (tx, rx) = mpsc::channel(64);
        let exec = self.spawn(spec, tx)?;
        let chunks = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        });
        Ok((exec, Box::pin(chunks)))
    }

    /// Starts `spec` with its standard input and output connected to the
    /// host (`spec.stdin` is not used); standard error goes to `stderr`.
    fn spawn_piped(
        &self,
        spec: &CommandSpec,
        stderr: mpsc::Sender<OutputChunk>,
    ) -> BoxFuture<'_, std::io::Result<Piped>>;

    /// A user stopped the task (its executions are already ended): a
    /// container runner stops the task's container.
    fn stopped(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    /// The task was removed: a container runner removes its container.
    fn removed(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    /// The engine and container commands run in, for `tnet shell`.
    fn container(&self) -> Option<(Arc<crate::docker::Engine>, String)> {
        None
    }
}

/// The runner of a docker task on a host with no Docker engine (a host that
/// restarted without one): every start fails with this message.
pub struct Unavailable(pub String);

impl Runner for Unavailable {
    fn spawn(
        &self,
        _spec: &CommandSpec,
        _output: mpsc::Sender<OutputChunk>,
    ) -> std::io::Result<Box<dyn Execution>> {
        Err(std::io::Error::other(self.0.clone()))
    }

    fn spawn_piped(
        &self,
        _spec: &CommandSpec,
        _stderr: mpsc::Sender<OutputChunk>,
    ) -> BoxFuture<'_, std::io::Result<Piped>> {
        let message = self.0.clone();
        Box::pin(async move { Err(std::io::Error::other(message)) })
    }
}

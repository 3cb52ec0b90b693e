//! The container runner: each command is an exec in the task's container.
//!
//! `spawn` returns at once; the exec is created and started in a Tokio task
//! (the container made ready first), its output pumped into the caller's
//! channel and its exit code read with `inspect_exec` when the output ends.
//! Standard input comes from a file by a redirection at the top of the
//! script (`exec <FILE`), since the call folder is mounted at the same path.
//!
//! Stopping: TERM, then KILL after the grace period, to the exec's process
//! and its descendants, as the process runner signals a group: by the
//! host's own `kill` when it sees the process (its host pid comes from
//! `inspect_exec`), else through the engine alone ([`super::signal`]).

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, oneshot, watch};

use super::signal::{ExecPids, PidLine, PID_PROLOGUE};
use super::{ContainerPlan, Engine};
use crate::runner::{CommandSpec, Execution, Exit, Locator, OutputChunk, Piped, Runner, Stream};

/// The standard input and output of an exec started for [`Runner::spawn_piped`].
type ExecPipes = (std::pin::Pin<Box<dyn AsyncWrite + Send>>, DuplexStream);

/// Where an exec's standard output goes: the caller's channel, or a pipe
/// the host reads (a warm service's worker).
enum Stdout {
    Channel,
    Piped(oneshot::Sender<ExecPipes>),
}

/// Runs one task's commands in its container.
pub struct ContainerRunner {
    engine: Arc<Engine>,
    plan: ContainerPlan,
    /// Set once this host made sure of the container (and ended what a dead
    /// host left running in an adopted one).
    ready: Arc<tokio::sync::Mutex<bool>>,
}

impl ContainerRunner {
    /// A runner for the task described by `plan`.
    pub fn new(engine: Arc<Engine>, plan: ContainerPlan) -> ContainerRunner {
        ContainerRunner {
            engine,
            plan,
            ready: Arc::new(tokio::sync::Mutex::new(false)),
        }
    }
}

/// Where an exec is.
#[derive(Debug, Clone)]
enum State {
    Starting,
    Running { pids: ExecPids },
    Ended(Exit),
    Failed(String),
}

impl ContainerRunner {
    /// Starts `spec` as an exec in the task's container, its output going
    /// where `stdout` says.
    fn start(
        &self,
        spec: &CommandSpec,
        output: mpsc::Sender<OutputChunk>,
        stdout: Stdout,
    ) -> ExecExecution {
        let (tx, rx) = watch::channel(State::Starting);
        let engine = self.engine.clone();
        let plan = self.plan.clone();
        let ready = self.ready.clone();
        let spec = spec.clone();
        let container = engine.container_name(&plan.safe_name);
        let signaller = engine.clone();
        let task = tokio::spawn(async move {
            let ran = run_exec(&engine, &plan, &ready, &spec, output, stdout, &tx).await;
            let end = match ran {
                Ok(exit) => State::Ended(exit),
                Err(message) => State::Failed(message),
            };
            tx.send_replace(end);
        });
        ExecExecution {
            state: rx,
            task,
            engine: signaller,
            container,
        }
    }
}

impl Runner for ContainerRunner {
    fn spawn(
        &self,
        spec: &CommandSpec,
        output: mpsc::Sender<OutputChunk>,
    ) -> io::Result<Box<dyn Execution>> {
        Ok(Box::new(self.start(spec, output, Stdout::Channel)))
    }

    fn spawn_piped(
        &self,
        spec: &CommandSpec,
        stderr: mpsc::Sender<OutputChunk>,
    ) -> BoxFuture<'_, io::Result<Piped>> {
        let (pipes_tx, pipes_rx) = oneshot::channel();
        let mut exec = self.start(spec, stderr, Stdout::Piped(pipes_tx));
        async move {
            match pipes_rx.await {
                Ok((stdin, stdout)) => Ok(Piped {
                    exec: Box::new(exec),
                    stdin,
                    stdout: Box::pin(stdout),
                }),
                // The exec never started: its error says why.
                Err(_) => match exec.ended().await {
                    Ok(exit) => Err(io::Error::other(format!(
                        "the exec ended at once ({exit:?})"
                    ))),
                    Err(err) => Err(err),
                },
            }
        }
        .boxed()
    }

    fn stopped(&self) -> BoxFuture<'_, ()> {
        async move {
            *self.ready.lock().await = false;
            if let Err(err) = self.engine.stop_task(&self.plan.safe_name).await {
                tracing::warn!(task = %self.plan.safe_name, "{err}");
            }
        }
        .boxed()
    }

    fn removed(&self) -> BoxFuture<'_, ()> {
        async move {
            if let Err(err) = self.engine.remove_task(&self.plan.safe_name).await {
                tracing::warn!(task = %self.plan.safe_name, "{err}");
            }
        }
        .boxed()
    }

    fn container(&self) -> Option<(Arc<Engine>, String)> {
        Some((
            self.engine.clone(),
            self.engine.container_name(&self.plan.safe_name),
        ))
    }
}

/// Makes the container ready once per runner (adopting a running one).
pub async fn ready_container(
    engine: &Engine,
    plan: &ContainerPlan,
    ready: &tokio::sync::Mutex<bool>,
) -> Result<String, String> {
    let mut done = ready.lock().await;
    let name = engine.container_name(&plan.safe_name);
    if *done {
        return Ok(name);
    }
    let (name, adopted) = engine
        .ensure_container(plan)
        .await
        .map_err(|e| e.to_string())?;
    if adopted {
        engine
            .end_stale_commands(&name)
            .await
            .map_err(|e| e.to_string())?;
    }
    *done = true;
    Ok(name)
}

async fn run_exec(
    engine: &Engine,
    plan: &ContainerPlan,
    ready: &tokio::sync::Mutex<bool>,
    spec: &CommandSpec,
    output: mpsc::Sender<OutputChunk>,
    stdout: Stdout,
    state: &watch::Sender<State>,
) -> Result<Exit, String> {
    let name = ready_container(engine, plan, ready).await?;
    let piped = matches!(stdout, Stdout::Piped(_));
    // The pid line first: what stops it when the host cannot see it.
    let script = if piped {
        // Standard input is the attached stream.
        format!("{PID_PROLOGUE}\n{}", spec.command)
    } else {
        let stdin = match &spec.stdin {
            Some(path) => shell_escape::unix::escape(path.to_string_lossy()).into_owned(),
            None => "/dev/null".to_owned(),
        };
        format!("{PID_PROLOGUE}\nexec <{stdin}\n{}", spec.command)
    };
    // `sh -c SCRIPT sh ARGS...`: the arguments stay `$1`..., as in the process runner.
    let mut cmd = vec!["sh".to_owned(), "-c".to_owned(), script, "sh".to_owned()];
    cmd.extend(spec.args.iter().cloned());
    let config = ExecConfig {
        cmd: Some(cmd),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        user: Some(engine.user().to_owned()),
        working_dir: Some(spec.workdir.to_string_lossy().into_owned()),
        attach_stdin: Some(piped),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let failed = |what: &'static str| {
        let name = name.clone();
        move |e: bollard::errors::Error| format!("cannot {what} in container {name}: {e}")
    };
    let exec = engine
        .docker
        .create_exec(&name, config)
        .await
        .map_err(failed("create an exec"))?;
    let options = StartExecOptions {
        detach: false,
        tty: false,
        output_capacity: Some(64 * 1024),
    };
    let started = engine
        .docker
        .start_exec(&exec.id, Some(options))
        .await
        .map_err(failed("start an exec"))?;
    let host = engine.exec_pid(&exec.id).await;
    let mut pids = ExecPids {
        host: host.and_then(super::signal::visible),
        inner: None,
    };
    if host.is_some() && pids.host.is_none() {
        tracing::debug!(container = %name, "the engine's pids are not this host's: commands are signalled through the engine");
    }
    state.send_replace(State::Running { pids });
    let mut pid_line = PidLine::default();
    if let StartExecResults::Attached {
        output: mut out,
        input,
    } = started
    {
        // A worker's standard output goes into a pipe the host reads; its
        // reader's end is handed over with the attached standard input.
        let mut pipe = match stdout {
            Stdout::Piped(pipes) => {
                let (ours, theirs) = tokio::io::duplex(64 * 1024);
                if pipes.send((input, theirs)).is_err() {
                    return Err("the exec's reader went away".to_owned());
                }
                Some(ours)
            }
            Stdout::Channel => None,
        };
        while let Some(item) = out.next().await {
            let (stream, bytes) = match item {
                Ok(LogOutput::StdOut { message }) => (Stream::Stdout, message.to_vec()),
                Ok(LogOutput::StdErr { message }) => {
                    let (rest, inner) = pid_line.feed(&message);
                    if inner.is_some() {
                        pids.inner = inner;
                        state.send_replace(State::Running { pids });
                    }
                    (Stream::Stderr, rest)
                }
                Ok(_) => continue,
                Err(_) => break,
            };
            if bytes.is_empty() {
                continue;
            }
            if let (Stream::Stdout, Some(pipe)) = (stream, pipe.as_mut()) {
                // A reader that went away has nothing more to read; the
                // output is still drained so the exec can end.
                let _ = pipe.write_all(&bytes).await;
                continue;
            }
            let chunk = OutputChunk { stream, bytes };
            if output.send(chunk).await.is_err() {
                break;
            }
        }
    }
    drop(output);
    // The output ends a moment before the engine records the exit.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = engine
            .docker
            .inspect_exec(&exec.id)
            .await
            .map_err(failed("inspect an exec"))?;
        if info.running != Some(true) {
            let code = info.exit_code.unwrap_or(-1);
            return Ok(Exit::Code(i32::try_from(code).unwrap_or(-1)));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "an exec in {name} closed its output but never ended"
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A command running as an exec.
pub struct ExecExecution {
    state: watch::Receiver<State>,
    task: tokio::task::JoinHandle<()>,
    engine: Arc<Engine>,
    container: String,
}

impl ExecExecution {
    async fn ended(&mut self) -> io::Result<Exit> {
        let state = self
            .state
            .wait_for(|s| matches!(s, State::Ended(_) | State::Failed(_)))
            .await
            .map_err(|_| io::Error::other("the exec's task ended without a result"))?
            .clone();
        match state {
            State::Ended(exit) => Ok(exit),
            State::Failed(message) => Err(io::Error::other(message)),
            _ => Err(io::Error::other("unreachable exec state")),
        }
    }
}

impl Execution for ExecExecution {
    fn pid(&self) -> Option<u32> {
        match &*self.state.borrow() {
            State::Running { pids } => pids.host,
            _ => None,
        }
    }

    fn locator(&self) -> Option<Locator> {
        // A host that restarts finds the container by its labels instead.
        None
    }

    fn wait(&mut self) -> BoxFuture<'_, io::Result<Exit>> {
        self.ended().boxed()
    }

    fn terminate(&mut self, grace: Duration) -> BoxFuture<'_, io::Result<Exit>> {
        async move {
            // Not yet started: dropping the task abandons the exec before it runs.
            let started = tokio::time::timeout(
                Duration::from_secs(30),
                self.state.wait_for(|s| !matches!(s, State::Starting)),
            )
            .await
            .is_ok();
            if !started {
                self.task.abort();
                return Ok(Exit::Signal(9));
            }
            // The pid inside the container comes with the command's first
            // output: a moment after it starts, at most.
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                self.state.wait_for(|s| match s {
                    State::Running { pids } => pids.host.is_some() || pids.inner.is_some(),
                    _ => true,
                }),
            )
            .await;
            let now = self.state.borrow().clone();
            let pids = match now {
                State::Running { pids } => pids,
                State::Ended(exit) => return Ok(exit),
                State::Failed(message) => return Err(io::Error::other(message)),
                State::Starting => ExecPids::default(),
            };
            let signalled = self
                .engine
                .signal_exec(&self.container, pids, Signal::SIGTERM)
                .await;
            if !signalled {
                // Nothing to signal: wait a while for it to end by itself,
                // never for ever, or a stop would hang the task's actor and
                // every request behind it.
                return match tokio::time::timeout(grace, self.ended()).await {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::warn!("an exec that cannot be signalled did not end within {grace:?}; leaving it to the container's stop");
                        self.task.abort();
                        Ok(Exit::Signal(9))
                    }
                };
            }
            if let Ok(result) = tokio::time::timeout(grace, self.ended()).await {
                return result;
            }
            self.engine
                .signal_exec(&self.container, pids, Signal::SIGKILL)
                .await;
            match tokio::time::timeout(Duration::from_secs(10), self.ended()).await {
                Ok(result) => result,
                Err(_) => {
                    self.task.abort();
                    Ok(Exit::Signal(9))
                }
            }
        }
        .boxed()
    }
}

impl Drop for ExecExecution {
    fn drop(&mut self) {
        if matches!(*self.state.borrow(), State::Starting) {
            self.task.abort();
        }
    }
}

/// Signals `root` and every process descending from it (a snapshot of
/// `/proc`); `false` when `root` itself could not be signalled.
pub fn signal_tree(root: u32, signal: Signal) -> bool {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for pid in crate::procfs::pids() {
        if let Some(s) = crate::procfs::stat(pid) {
            children.entry(s.ppid).or_default().push(pid);
        }
    }
    let mut todo = vec![root];
    let mut reached = false;
    while let Some(pid) = todo.pop() {
        if let Ok(p) = i32::try_from(pid) {
            let sent = kill(Pid::from_raw(p), signal).is_ok();
            reached |= pid == root && sent;
        }
        if let Some(kids) = children.get(&pid) {
            todo.extend(kids);
        }
    }
    reached
}

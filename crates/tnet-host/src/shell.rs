//! `tnet shell`: interactive shells in a task's workspace, carried over Zenoh.
//!
//! Each session has its own keys (`tnet/<host>/shell/<id>/...`): keystrokes
//! and window sizes come in, terminal output and the exit code go out. The
//! shell runs on a pseudo-terminal as the leader of its own session, so
//! colours, full-screen programs and Ctrl-C behave as in any terminal. The
//! client holds a liveliness token for the session; when it goes (the client
//! quit or was killed), the host hangs up the shell's whole process group, so
//! no shell is left behind.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tnet_proto::keys::{self, ShellPart};
use tnet_proto::msg::{self, ShellExit, ShellSize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zenoh::qos::CongestionControl;
use zenoh::sample::SampleKind;

/// What a session runs, decided by the handler.
pub struct ShellPlan {
    /// The host's name, for keys.
    pub host: String,
    /// The session id.
    pub session: String,
    /// The workspace, the working directory.
    pub workdir: PathBuf,
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// A terminal of this size, or plain pipes.
    pub size: Option<ShellSize>,
    /// The session's place among `[limits] max_shells`, freed when it ends.
    pub slot: crate::limits::ShellSlot,
}

/// The shell to start: the host user's login shell, else bash, else sh.
pub fn login_shell() -> String {
    std::env::var("SHELL")
        .ok()
        .filter(|s| std::path::Path::new(s).is_file())
        .or_else(|| {
            std::path::Path::new("/bin/bash")
                .is_file()
                .then(|| "/bin/bash".to_owned())
        })
        .unwrap_or_else(|| "/bin/sh".to_owned())
}

/// Errors of starting a session.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    /// Zenoh refused a declaration.
    #[error("cannot set up the session's keys: {0}")]
    Fabric(String),
    /// The program could not start.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// What was started.
        program: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

/// A session's declared keys.
struct SessionKeys {
    input: zenoh::pubsub::Subscriber<zenoh::handlers::FifoChannelHandler<zenoh::sample::Sample>>,
    resize: zenoh::pubsub::Subscriber<zenoh::handlers::FifoChannelHandler<zenoh::sample::Sample>>,
    client: zenoh::pubsub::Subscriber<zenoh::handlers::FifoChannelHandler<zenoh::sample::Sample>>,
    output: zenoh::pubsub::Publisher<'static>,
    exit: zenoh::pubsub::Publisher<'static>,
}

/// Declares a session's keys, and returns once the client's subscribers
/// for its output and exit are known here (see [`client_subscribed`]).
async fn declare(session: &zenoh::Session, plan: &ShellPlan) -> Result<SessionKeys, ShellError> {
    let key = |part| keys::shell(&plan.host, &plan.session, part);
    let fabric = |e: zenoh::Error| ShellError::Fabric(e.to_string());
    let keys = SessionKeys {
        input: session
            .declare_subscriber(key(ShellPart::Input))
            .await
            .map_err(fabric)?,
        resize: session
            .declare_subscriber(key(ShellPart::Size))
            .await
            .map_err(fabric)?,
        client: session
            .liveliness()
            .declare_subscriber(key(ShellPart::Client))
            .history(true)
            .await
            .map_err(fabric)?,
        output: session
            .declare_publisher(key(ShellPart::Output))
            .congestion_control(CongestionControl::Block)
            .await
            .map_err(fabric)?,
        // Blocking, as the output is: under congestion Zenoh drops a
        // plain put, and a client whose exit is dropped waits for ever.
        exit: session
            .declare_publisher(key(ShellPart::Exit))
            .congestion_control(CongestionControl::Block)
            .await
            .map_err(fabric)?,
    };
    client_subscribed(&keys).await;
    Ok(keys)
}

/// How long a session waits for its client's subscriptions to be known here
/// before its command starts.
const CLIENT_SEEN: Duration = Duration::from_secs(5);

/// Waits (up to [`CLIENT_SEEN`]) until the client's subscribers for the
/// output and the exit are known here. The client declares them before it
/// asks for the shell, but over QUIC Zenoh sends declarations and requests
/// on streams of their own, so the request can come first; output or an
/// exit published before the subscriber is known reaches no one, and a
/// `tnet shell box -- true` then waited for its exit for ever.
async fn client_subscribed(keys: &SessionKeys) {
    let deadline = tokio::time::Instant::now() + CLIENT_SEEN;
    for publisher in [&keys.output, &keys.exit] {
        if !crate::subscribers::known(publisher, deadline).await {
            tracing::warn!("a shell's client is not subscribed to its output after {CLIENT_SEEN:?}; starting anyway");
            return;
        }
    }
}

/// Starts a session and returns once its keys are declared, so the client
/// can send keystrokes as soon as it has the answer.
pub async fn start(session: zenoh::Session, plan: ShellPlan) -> Result<(), ShellError> {
    let SessionKeys {
        input,
        resize,
        client,
        output,
        exit,
    } = declare(&session, &plan).await?;
    let slot = plan.slot;
    let program = plan.argv.first().cloned().unwrap_or_else(login_shell);
    let spawn_err = |source| ShellError::Spawn {
        program: program.clone(),
        source,
    };

    match plan.size {
        Some(size) => {
            let (pty, pts) =
                pty_process::open().map_err(|e| spawn_err(std::io::Error::other(e)))?;
            let _ = pty.resize(pty_process::Size::new(size.rows, size.cols));
            let mut cmd = pty_process::Command::new(&program)
                .args(&plan.argv[1.min(plan.argv.len())..])
                .current_dir(&plan.workdir)
                .envs(plan.env.iter().map(|(k, v)| (k, v)))
                .kill_on_drop(true);
            if plan.argv.is_empty() {
                // A login shell reads the user's profile, as ssh would.
                cmd = pty_process::Command::new(&program)
                    .arg("-l")
                    .current_dir(&plan.workdir)
                    .envs(plan.env.iter().map(|(k, v)| (k, v)))
                    .kill_on_drop(true);
            }
            if let Some(var) = crate::zenoh_pools::hidden_from_children() {
                cmd = cmd.env_remove(var);
            }
            let mut child = cmd
                .spawn(pts)
                .map_err(|e| spawn_err(std::io::Error::other(e)))?;
            let pgid = child.id();
            let (mut reader, mut writer) = pty.into_split();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut status = None;
                loop {
                    tokio::select! {
                        n = reader.read(&mut buf) => match n {
                            // EIO: every process holding the terminal is gone.
                            Ok(0) | Err(_) => break,
                            Ok(n) => { let _ = output.put(buf[..n].to_vec()).await; }
                        },
                        sample = input.recv_async() => match sample {
                            Ok(s) => { let _ = writer.write_all(&s.payload().to_bytes()).await; }
                            Err(_) => break,
                        },
                        sample = resize.recv_async() => {
                            if let Ok(size) = sample.map_err(drop).and_then(|s| msg::decode::<ShellSize>(&s.payload().to_bytes()).map_err(drop)) {
                                let _ = writer.resize(pty_process::Size::new(size.rows, size.cols));
                            }
                        },
                        sample = client.recv_async() => {
                            if sample.map(|s| s.kind() == SampleKind::Delete).unwrap_or(true) {
                                tracing::info!("shell client went away; hanging up its shell");
                                hang_up(pgid);
                                break;
                            }
                        },
                        s = child.wait(), if status.is_none() => {
                            status = Some(s);
                            // What the shell left running in the background goes
                            // with it, and the terminal then reads as closed.
                            hang_up(pgid);
                        }
                    }
                }
                hang_up(pgid);
                let status = match status {
                    Some(s) => s.ok(),
                    None => tokio::time::timeout(Duration::from_secs(5), child.wait())
                        .await
                        .ok()
                        .and_then(Result::ok),
                };
                publish_exit(&exit, status).await;
                drop(slot);
            });
        }
        None => {
            let mut cmd = tokio::process::Command::new(&program);
            crate::zenoh_pools::hide_from(cmd.as_std_mut());
            let mut child = cmd
                .args(&plan.argv[1.min(plan.argv.len())..])
                .current_dir(&plan.workdir)
                .envs(plan.env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .kill_on_drop(true)
                .spawn()
                .map_err(spawn_err)?;
            let pgid = child.id();
            let mut stdin = child.stdin.take();
            let mut stdout = child.stdout.take().expect("stdout was piped");
            let mut stderr = child.stderr.take().expect("stderr was piped");
            tokio::spawn(async move {
                let (mut out_buf, mut err_buf) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
                let (mut out_open, mut err_open) = (true, true);
                loop {
                    tokio::select! {
                        n = stdout.read(&mut out_buf), if out_open => match n {
                            Ok(0) | Err(_) => out_open = false,
                            Ok(n) => { let _ = output.put(out_buf[..n].to_vec()).await; }
                        },
                        n = stderr.read(&mut err_buf), if err_open => match n {
                            Ok(0) | Err(_) => err_open = false,
                            Ok(n) => { let _ = output.put(err_buf[..n].to_vec()).attachment("stderr").await; }
                        },
                        sample = input.recv_async(), if stdin.is_some() => match sample {
                            // An empty message is the end of the client's input.
                            Ok(s) if s.payload().is_empty() => { stdin = None; }
                            Ok(s) => {
                                if let Some(w) = stdin.as_mut() {
                                    if w.write_all(&s.payload().to_bytes()).await.is_err() { stdin = None; }
                                }
                            }
                            Err(_) => stdin = None,
                        },
                        sample = client.recv_async() => {
                            if sample.map(|s| s.kind() == SampleKind::Delete).unwrap_or(true) {
                                hang_up(pgid);
                                break;
                            }
                        },
                        else => break,
                    }
                    if !out_open && !err_open {
                        break;
                    }
                }
                let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
                    .await
                    .ok()
                    .and_then(Result::ok);
                hang_up(pgid);
                publish_exit(&exit, status).await;
                drop(slot);
            });
        }
    }
    Ok(())
}

/// Tells the client how the session ended.
async fn publish_exit(
    exit: &zenoh::pubsub::Publisher<'static>,
    status: Option<std::process::ExitStatus>,
) {
    let code = ShellExit {
        code: code_of(status),
    };
    let _ = exit.put(msg::encode(&code)).await;
}

/// Ends a session's process group: HUP, as a closed terminal would.
fn hang_up(pgid: Option<u32>) {
    if let Some(p) = pgid.and_then(|p| i32::try_from(p).ok()) {
        let _ = killpg(Pid::from_raw(p), Signal::SIGHUP);
        let _ = killpg(Pid::from_raw(p), Signal::SIGCONT);
    }
}

fn code_of(status: Option<std::process::ExitStatus>) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Some(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
        None => 255,
    }
}

/// Starts a session inside a docker task's container: an exec of the shell
/// (with a terminal when the client has one), relayed through the same keys.
pub async fn start_in_container(
    session: zenoh::Session,
    plan: ShellPlan,
    engine: std::sync::Arc<crate::docker::Engine>,
    container: String,
) -> Result<(), ShellError> {
    use bollard::container::LogOutput;
    use bollard::exec::{StartExecOptions, StartExecResults};
    use bollard::models::ExecConfig;
    use bollard::query_parameters::ResizeExecOptionsBuilder;
    use futures::StreamExt;

    let SessionKeys {
        input,
        resize,
        client,
        output,
        exit,
    } = declare(&session, &plan).await?;
    let slot = plan.slot;
    let tty = plan.size.is_some();
    let program = if plan.argv.is_empty() {
        "a login shell".to_owned()
    } else {
        plan.argv.join(" ")
    };
    // Through `sh`, which first says its pid in the container (the pid line,
    // taken off the output below), so the shell can be ended even when the
    // host cannot see the container's processes.
    let mut argv = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        format!("{}; exec \"$@\"", crate::docker::signal::PID_PROLOGUE),
        "sh".to_owned(),
    ];
    if plan.argv.is_empty() {
        // The image's bash if it has one, else its sh; a login shell either way.
        argv.extend([
            "sh".to_owned(),
            "-c".to_owned(),
            "if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi".to_owned(),
        ]);
    } else {
        argv.extend(plan.argv.iter().cloned());
    }
    let spawn_err = |e: bollard::errors::Error| ShellError::Spawn {
        program: format!("{program} in container {container}"),
        source: std::io::Error::other(e.to_string()),
    };
    let config = ExecConfig {
        cmd: Some(argv),
        env: Some(plan.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        user: Some(engine.user().to_owned()),
        working_dir: Some(plan.workdir.to_string_lossy().into_owned()),
        tty: Some(tty),
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let exec = engine
        .docker
        .create_exec(&container, config)
        .await
        .map_err(spawn_err)?;
    let options = StartExecOptions {
        detach: false,
        tty,
        output_capacity: None,
    };
    let StartExecResults::Attached {
        output: mut out,
        input: mut stdin,
    } = engine
        .docker
        .start_exec(&exec.id, Some(options))
        .await
        .map_err(spawn_err)?
    else {
        return Err(ShellError::Spawn {
            program,
            source: std::io::Error::other("the engine started the exec detached"),
        });
    };
    let resize_to = |size: ShellSize| {
        ResizeExecOptionsBuilder::new()
            .h(i32::from(size.rows))
            .w(i32::from(size.cols))
            .build()
    };
    if let Some(size) = plan.size {
        let _ = engine.docker.resize_exec(&exec.id, resize_to(size)).await;
    }
    let mut pids = crate::docker::signal::ExecPids {
        host: engine
            .exec_pid(&exec.id)
            .await
            .and_then(crate::docker::signal::visible),
        inner: None,
    };
    let mut pid_line = crate::docker::signal::PidLine::default();
    tokio::spawn(async move {
        let mut input_open = true;
        loop {
            tokio::select! {
                item = out.next() => match item {
                    // With a terminal everything comes as one stream, the pid line first.
                    Some(Ok(LogOutput::StdErr { message })) if !tty => {
                        let (rest, inner) = pid_line.feed(&message);
                        pids.inner = pids.inner.or(inner);
                        if !rest.is_empty() {
                            let _ = output.put(rest).attachment("stderr").await;
                        }
                    }
                    Some(Ok(chunk)) => {
                        let bytes = chunk.into_bytes();
                        let bytes = if tty {
                            let (rest, inner) = pid_line.feed(&bytes);
                            pids.inner = pids.inner.or(inner);
                            rest
                        } else {
                            bytes.to_vec()
                        };
                        if !bytes.is_empty() {
                            let _ = output.put(bytes).await;
                        }
                    }
                    Some(Err(_)) | None => break,
                },
                sample = input.recv_async(), if input_open => match sample {
                    // An empty message is the end of a pipe client's input.
                    Ok(s) if s.payload().is_empty() && !tty => {
                        let _ = stdin.shutdown().await;
                        input_open = false;
                    }
                    Ok(s) => { let _ = stdin.write_all(&s.payload().to_bytes()).await; }
                    Err(_) => input_open = false,
                },
                sample = resize.recv_async() => {
                    if let Ok(size) = sample.map_err(drop).and_then(|s| msg::decode::<ShellSize>(&s.payload().to_bytes()).map_err(drop)) {
                        let _ = engine.docker.resize_exec(&exec.id, resize_to(size)).await;
                    }
                },
                sample = client.recv_async() => {
                    if sample.map(|s| s.kind() == SampleKind::Delete).unwrap_or(true) {
                        tracing::info!("shell client went away; ending its shell in the container");
                        engine.signal_exec(&container, pids, Signal::SIGHUP).await;
                        engine.signal_exec(&container, pids, Signal::SIGKILL).await;
                        break;
                    }
                },
            }
        }
        let mut code = 255;
        for _ in 0..250 {
            match engine.docker.inspect_exec(&exec.id).await {
                Ok(info) if info.running != Some(true) => {
                    code = info
                        .exit_code
                        .and_then(|c| i32::try_from(c).ok())
                        .unwrap_or(255);
                    break;
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(_) => break,
            }
        }
        let _ = exit.put(msg::encode(&ShellExit { code })).await;
        drop(slot);
    });
    Ok(())
}

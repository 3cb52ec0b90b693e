//! `tnet shell <task> [-- CMD...]`: a shell in a task's workspace, over
//! tnet's own connection (no SSH server to set up).
//!
//! With a terminal, the client switches it to raw mode so every key
//! (Ctrl-C, Ctrl-D, arrows) goes to the remote shell, follows window
//! resizes, and always restores the terminal: on exit, on error, on a panic
//! and on SIGTERM/SIGHUP. The remote exit code becomes this command's.

use std::io::{IsTerminal, Write};

use anyhow::bail;
use tnet_proto::keys::{self, ShellPart};
use tnet_proto::msg::{self, Request, Response, ShellExit, ShellRequest, ShellSize};
use tokio::io::AsyncReadExt;
use tokio::signal::unix::{signal, SignalKind};
use zenoh::qos::CongestionControl;
use zenoh::sample::SampleKind;

use crate::args::ShellArgs;
use crate::client::Client;
use crate::target;

/// Restores the terminal when dropped, whatever way the session ends.
struct RawMode;

impl RawMode {
    fn enable() -> anyhow::Result<RawMode> {
        crossterm::terminal::enable_raw_mode()?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = crossterm::terminal::disable_raw_mode();
            previous(info);
        }));
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

fn window_size() -> Option<ShellSize> {
    crossterm::terminal::size()
        .ok()
        .map(|(cols, rows)| ShellSize { cols, rows })
}

/// Opens a shell and relays it until it ends.
pub async fn run(client: &Client, args: ShellArgs) -> anyhow::Result<u8> {
    let t = target::resolve(client, &args.task).await?;
    let session_id = uuid::Uuid::new_v4().to_string();
    let key = |part| keys::shell(&t.host, &session_id, part);
    let interactive = std::io::stdin().is_terminal() && (args.command.is_empty() || args.tty);
    let fabric = |e: zenoh::Error| anyhow::anyhow!("cannot set up the shell session: {e}");

    // Declared before the request: the host answers after it has seen them,
    // so no output and no keystroke is lost at the start.
    let _token = client
        .session
        .liveliness()
        .declare_token(key(ShellPart::Client))
        .await
        .map_err(fabric)?;
    let output = client
        .session
        .declare_subscriber(key(ShellPart::Output))
        .await
        .map_err(fabric)?;
    let exit = client
        .session
        .declare_subscriber(key(ShellPart::Exit))
        .await
        .map_err(fabric)?;
    let host_alive = client
        .session
        .liveliness()
        .declare_subscriber(keys::host_alive(&t.host))
        .await
        .map_err(fabric)?;

    let request = ShellRequest {
        name: t.name.clone(),
        session: session_id.clone(),
        size: if interactive { window_size() } else { None },
        term: std::env::var("TERM").ok(),
        command: (!args.command.is_empty()).then(|| args.command.clone()),
    };
    match client
        .ask_host(&t.host, Request::OpenShell(request))
        .await?
    {
        Response::ShellOpened { .. } => {}
        other => bail!("host `{}` gave an unexpected answer: {other:?}", t.host),
    }
    let input = client
        .session
        .declare_publisher(key(ShellPart::Input))
        .congestion_control(CongestionControl::Block)
        .await
        .map_err(fabric)?;
    let size_key = key(ShellPart::Size);

    let _raw = if interactive {
        Some(RawMode::enable()?)
    } else {
        None
    };
    let mut stdin = tokio::io::stdin();
    let mut stdin_open = true;
    let mut buf = vec![0u8; 4096];
    let mut winch = signal(SignalKind::window_change())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let code = loop {
        tokio::select! {
            // Output first: it was sent before the exit code.
            biased;
            sample = output.recv_async() => {
                let Ok(sample) = sample else { break 255 };
                show(&sample)?;
            }
            sample = exit.recv_async() => {
                let Ok(sample) = sample else { break 255 };
                // Output published before the exit code has already arrived
                // (one link keeps order); print what is still queued.
                while let Ok(Some(rest)) = output.try_recv() {
                    show(&rest)?;
                }
                break msg::decode::<ShellExit>(&sample.payload().to_bytes()).map(|e| e.code).unwrap_or(255);
            }
            n = stdin.read(&mut buf), if stdin_open => match n {
                Ok(0) | Err(_) => {
                    stdin_open = false;
                    // Without a terminal, an empty message tells the host the input ended.
                    let _ = input.put(Vec::<u8>::new()).await;
                }
                Ok(n) => { let _ = input.put(buf[..n].to_vec()).await; }
            },
            _ = winch.recv() => {
                if let (true, Some(size)) = (interactive, window_size()) {
                    let _ = client.session.put(&size_key, msg::encode(&size)).await;
                }
            }
            sample = host_alive.recv_async() => {
                if sample.map(|s| s.kind() == SampleKind::Delete).unwrap_or(true) {
                    drop(_raw);
                    bail!("host `{}` went away; the shell is gone", t.host);
                }
            }
            _ = term.recv() => break 143,
            _ = hup.recv() => break 129,
        }
    };
    Ok(u8::try_from(code).unwrap_or(255))
}

/// Prints a chunk of the session's output on stdout, or stderr when marked so.
fn show(sample: &zenoh::sample::Sample) -> std::io::Result<()> {
    let bytes = sample.payload().to_bytes();
    if sample
        .attachment()
        .is_some_and(|a| a.to_bytes().as_ref() == b"stderr")
    {
        let mut err = std::io::stderr().lock();
        err.write_all(&bytes)?;
        err.flush()
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(&bytes)?;
        out.flush()
    }
}

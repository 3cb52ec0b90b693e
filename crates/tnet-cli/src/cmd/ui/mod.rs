//! `tnet ui`: the fleet at a glance in a browser, live (docs/ui.md).
//!
//! A web server on loopback, a client of the hosts like any verb: one
//! session opened by `session.rs` with this `tnet`'s identity, the reads of
//! `tnet hosts`, `ls`, `status`, `logs`, `sub --last`, `services`, `inbox`,
//! and the Zenoh subscriptions of `events`, `logs -f`, `sub` and `inbox -f`
//! turned into Server-Sent Events (`live.rs`). Pages are HTML written on the
//! server (`html.rs` frames them), a small hand-written script (`assets/ui.js`)
//! applies live updates; habits' numbers become SVG plots (`plot.rs`).
//!
//! # Layout
//!
//! - `access.rs`: the URL's token, the CSRF checks, which listen addresses need `--expose`.
//! - `server.rs`: the routes, the access check in front of them, the shared state.
//! - `live.rs`: Zenoh subscriptions fanned out to every open page.
//! - one file per page: `hosts.rs`, `tasks.rs` (and one task: `task.rs`),
//!   `habits.rs`, `services.rs`, `inbox.rs`.

mod access;
mod habits;
mod hosts;
mod html;
mod inbox;
mod live;
mod plot;
mod server;
mod services;
mod task;
mod tasks;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tnet_proto::fabric::FabricArgs;

use crate::args::UiArgs;

/// Who the dashboard acts as, and whether that identity may change tasks.
#[derive(Debug, Clone)]
pub struct Acting {
    /// For people: `` `alice` (user) ``.
    pub who: String,
    /// Whether to show the actions only an admin may take.
    pub admin: bool,
}

impl Acting {
    /// This `tnet`'s identity (the host still checks every request).
    fn resolve(fabric: &FabricArgs) -> anyhow::Result<Acting> {
        if fabric.insecure {
            return Ok(Acting {
                who: "no certificate (--insecure)".to_owned(),
                admin: true,
            });
        }
        let id = crate::identity::resolve()?;
        Ok(Acting {
            who: format!("`{}` ({})", id.name(), id.role()),
            admin: id.role() == tnet_fleet::Role::Admin,
        })
    }
}

/// Serves the dashboard until Ctrl-C or SIGTERM.
pub async fn run(fabric: &FabricArgs, timeout: Duration, args: UiArgs) -> anyhow::Result<u8> {
    let acting = Acting::resolve(fabric)?;
    let warning = access::check_listen(args.listen, args.expose, &acting.who)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // It lasts: on a LAN, a host that starts later is found too.
    let client = crate::session::open_lasting(fabric, timeout)
        .await
        .context("cannot reach the tnet network")?;
    let token = access::Token::generate()?;
    let live = live::Live::start(&client.session).await?;
    let url = format!(
        "http://{}/?{}={}",
        shown(addr),
        access::TOKEN_PARAM,
        token.as_str()
    );
    let state = Arc::new(server::Ui {
        client,
        token,
        cookie: access::cookie_name(addr.port()),
        acting,
        live,
    });
    if let Some(warning) = warning {
        eprintln!("{warning}");
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "tnet ui: {url}")?;
        out.flush()?;
    }
    eprintln!(
        "the dashboard acts as {}; keep the URL to yourself. Ctrl-C to stop",
        state.acting.who
    );
    if args.open {
        open_browser(&url);
    }
    let app = server::router(state);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        })
        .await
        .context("the dashboard's server stopped")?;
    Ok(0)
}

/// The address as a browser is given it (`localhost` is not used: it may
/// resolve to another address family than the one listened on).
fn shown(addr: std::net::SocketAddr) -> String {
    match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => format!("127.0.0.1:{}", addr.port()),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => format!("[::1]:{}", addr.port()),
        _ => addr.to_string(),
    }
}

/// `--open`: the desktop's browser, if there is one; the URL is printed anyway.
fn open_browser(url: &str) {
    match std::process::Command::new("xdg-open")
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(mut child) => {
            // Reaped, so it leaves no zombie behind.
            std::thread::spawn(move || child.wait());
        }
        Err(err) => eprintln!("cannot open a browser (xdg-open: {err}); open the URL above"),
    }
}

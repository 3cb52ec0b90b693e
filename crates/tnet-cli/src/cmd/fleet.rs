//! `tnet fleet`: the fleet's authority and roster. Issuing, revoking and
//! listing need no host; each change of the roster is then pushed to every
//! host that is up (`push`), so a revocation takes effect within seconds.

use std::time::Duration;

use anyhow::Context;
use tnet_fleet::{Fleet, Role, Validity};
use tnet_proto::fabric::FabricArgs;
use tnet_proto::msg::{Request, Response, RosterRequest};

use crate::args::{FleetAction, FleetArgs};
use crate::output;

/// Runs a fleet action.
pub async fn run(args: FleetArgs, fabric: &FabricArgs, timeout: Duration) -> anyhow::Result<u8> {
    let dir = match args.fleet.clone().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d,
        None => Fleet::default_dir()
            .context("cannot find the user's config folder; give the fleet with --fleet DIR")?,
    };
    match args.action {
        FleetAction::Init => {
            let fleet = Fleet::init(&dir)?;
            let admin = fleet.bundle_dir(Role::Admin, tnet_fleet::authority::ADMIN_NAME);
            println!("created the fleet in {}", dir.display());
            println!(
                "  authority:  {}/ca.pem (ca-key.pem stays on this machine)",
                dir.display()
            );
            println!(
                "  admin:      {} (tnet on this machine uses it)",
                admin.display()
            );
            println!("next: `tnet fleet add-host NAME` for each machine that runs tnet-host");
            Ok(0)
        }
        FleetAction::AddHost { name, days } => {
            let fleet = open(&dir)?;
            let id = fleet.add(Role::Host, &name, Validity::days(days))?;
            println!("issued host `{name}` in {}", id.dir().display());
            println!(
                "copy it to that machine (docs/security.md):\n  scp -r {} {name}:.tasks/.tnet/tls   # <home>/.tnet/tls of the host, or start it with --identity DIR",
                id.dir().display()
            );
            roster_changed(&fleet, fabric, timeout).await
        }
        FleetAction::AddClient { name, role, days } => {
            let fleet = open(&dir)?;
            let role = Role::parse(&role)
                .filter(|r| matches!(r, Role::User | Role::Admin))
                .with_context(|| format!("--role is `user` or `admin`, not `{role}`"))?;
            let id = fleet.add(role, &name, Validity::days(days))?;
            println!("issued {role} `{name}` in {}", id.dir().display());
            println!(
                "copy it to their machine (docs/security.md):\n  scp -r {} MACHINE:.config/tnet/identity   # or point TNET_IDENTITY at it",
                id.dir().display()
            );
            roster_changed(&fleet, fabric, timeout).await
        }
        FleetAction::AddRouter { name, listen, days } => {
            let fleet = open(&dir)?;
            let id = fleet.add(Role::Router, &name, Validity::days(days))?;
            let config = write_router_config(&fleet, id.dir(), &listen)?;
            println!("issued router `{name}` in {}", id.dir().display());
            println!(
                "run it with its configuration:\n  zenohd -c {}   # from that folder; hosts and tnet use --connect {}",
                config.display(),
                listen
            );
            roster_changed(&fleet, fabric, timeout).await
        }
        FleetAction::Revoke { name } => {
            let fleet = open(&dir)?;
            fleet.revoke(&name)?;
            println!("revoked `{name}`: hosts that hold this roster refuse it");
            roster_changed(&fleet, fabric, timeout).await
        }
        FleetAction::Push => {
            let fleet = open(&dir)?;
            push_roster(&fleet, fabric, timeout).await
        }
        FleetAction::Ls(json) => {
            let fleet = open(&dir)?;
            let (_, roster) = fleet.roster()?;
            if json.json {
                println!("{}", serde_json::to_string_pretty(&roster)?);
                return Ok(0);
            }
            let rows: Vec<Vec<String>> = roster
                .members
                .iter()
                .map(|m| {
                    vec![
                        m.name.clone(),
                        m.role.to_string(),
                        m.expires.get(..10).unwrap_or(&m.expires).to_owned(),
                        if m.revoked { "revoked" } else { "active" }.to_owned(),
                    ]
                })
                .collect();
            output::table(&["NAME", "ROLE", "EXPIRES", "STATUS"], &rows)?;
            println!("roster version {}", roster.version);
            Ok(0)
        }
    }
}

fn open(dir: &std::path::Path) -> anyhow::Result<Fleet> {
    Fleet::open(dir).with_context(|| {
        format!(
            "no fleet in {}: the first `tnet-host` on this machine creates one, or `tnet fleet init` (or give it with --fleet/TNET_FLEET)",
            dir.display()
        )
    })
}

/// After any change of the roster: routers' configurations, then every host that is up.
async fn roster_changed(
    fleet: &Fleet,
    fabric: &FabricArgs,
    timeout: Duration,
) -> anyhow::Result<u8> {
    rewrite_router_configs(fleet)?;
    push_roster(fleet, fabric, timeout).await
}

/// Tells every host that is up about the fleet's roster. Hosts that are
/// down ask the others when they start, so this never fails the command.
async fn push_roster(fleet: &Fleet, fabric: &FabricArgs, timeout: Duration) -> anyhow::Result<u8> {
    let (signed, roster) = fleet.roster()?;
    let text = String::from_utf8_lossy(&signed.to_bytes()).into_owned();
    let later = "hosts that are down take it from the others when they start; `tnet fleet push` tells the hosts again";
    let client = match crate::session::open(fabric, timeout).await {
        Ok(client) => client,
        Err(err) => {
            eprintln!(
                "roster version {} not pushed: {err:#}\n{later}",
                roster.version
            );
            return Ok(0);
        }
    };
    let request = Request::Roster(RosterRequest { offer: Some(text) });
    let answers = match client.ask(None, request).await {
        Ok(answers) => answers,
        Err(err) => {
            eprintln!(
                "roster version {} not pushed: {err:#}\n{later}",
                roster.version
            );
            return Ok(0);
        }
    };
    if answers.is_empty() {
        eprintln!(
            "no host is up to tell about roster version {}; {later}",
            roster.version
        );
        return Ok(0);
    }
    for answer in answers {
        match answer.response {
            Response::Roster { version, taken, .. } => println!(
                "host `{}`: roster version {version}{}",
                answer.host,
                if taken { " (taken now)" } else { "" }
            ),
            Response::Error(err) => {
                eprintln!("host `{}` refused the roster: {}", answer.host, err.message)
            }
            _ => eprintln!("host `{}` gave an unexpected answer", answer.host),
        }
    }
    Ok(0)
}

/// Writes `zenohd.json5` into a router's bundle: QUIC with mutual TLS, and
/// the roster's access control for the clients that connect to it.
fn write_router_config(
    fleet: &Fleet,
    bundle: &std::path::Path,
    listen: &str,
) -> anyhow::Result<std::path::PathBuf> {
    let id = tnet_fleet::Identity::load(bundle)?;
    let (_, roster) = fleet.roster()?;
    let path = bundle.join("zenohd.json5");
    tnet_fleet::authority::write_file_atomically(
        &path,
        tnet_fleet::zenoh::router_config(&id, &roster, listen).as_bytes(),
        0o644,
    )?;
    Ok(path)
}

/// After a change of the roster: every router's configuration gets it
/// (zenohd reads access control at start, so it must be restarted).
fn rewrite_router_configs(fleet: &Fleet) -> anyhow::Result<()> {
    let routers = fleet.dir().join("routers");
    let Ok(entries) = std::fs::read_dir(&routers) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path().join("zenohd.json5");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let listen = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["listen"]["endpoints"][0].as_str().map(str::to_owned))
            .unwrap_or_else(|| "quic/0.0.0.0:7447".to_owned());
        write_router_config(fleet, &entry.path(), &listen)?;
        println!(
            "router {}: restart zenohd with {} (it reads access control at start)",
            entry.file_name().to_string_lossy(),
            path.display()
        );
    }
    Ok(())
}

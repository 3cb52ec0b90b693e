//! A `zenohd` router on a free loopback port, for tests of hosts and clients
//! that share no multicast domain and meet through a router (docs/fleet.md).
//!
//! `zenohd` is Eclipse Zenoh's own router, installed by `scripts/test-deps.sh`
//! (`cargo install zenohd --version 1.10.2 --locked`) into `~/.cargo/bin`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, wait_until};

/// A running `zenohd`, killed when dropped.
pub struct Router {
    child: Child,
    /// Its loopback port.
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// Where `zenohd` is: in `PATH`, or where `cargo install` puts it.
fn zenohd() -> PathBuf {
    let in_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("zenohd"));
    let in_cargo = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|dir| dir.join("bin/zenohd"));
    in_path
        .chain(in_cargo)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "zenohd (Zenoh's router) is not installed: run scripts/test-deps.sh \
                 (it runs `cargo install zenohd --version 1.10.2 --locked`)"
            )
        })
}

impl Router {
    /// Starts `zenohd` as a router of the test fleet, listening on
    /// `quic/127.0.0.1:<free port>` with mutual TLS and the roster's access
    /// control (what `tnet fleet add-router` writes), multicast scouting off,
    /// and waits until it listens. `hosts` are the names of the hosts that
    /// will connect to it: zenohd reads its access control at start, so they
    /// are in the fleet's roster before it starts.
    pub fn start(hosts: &[&str]) -> Router {
        use tnet_fleet::{Fleet, Role, Validity};
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = tempfile::tempdir().expect("a folder for the router");
        let fleet = Fleet::open(&crate::fleet_dir()).expect("the test fleet");
        for host in hosts {
            fleet
                .issue_into(&dir.path().join(host), Role::Host, host, Validity::days(1))
                .expect("the host is in the roster");
        }
        let name = format!(
            "router-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let identity = fleet
            .add(Role::Router, &name, Validity::days(1))
            .expect("a router identity");
        let (_, roster) = fleet.roster().expect("the roster");
        let log = dir.path().join("zenohd.log");
        let port = free_port();
        let config = dir.path().join("zenohd.json5");
        std::fs::write(
            &config,
            tnet_fleet::zenoh::router_config(&identity, &roster, &format!("quic/127.0.0.1:{port}")),
        )
        .expect("the router's configuration");
        let child = Command::new(zenohd())
            .arg("-c")
            .arg(&config)
            // Its working folder: anything it writes stays in the test's folder.
            .current_dir(dir.path())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            // zenohd logs to standard output.
            .stdout(std::fs::File::create(&log).expect("the router's log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("zenohd starts");
        let mut router = Router {
            child,
            port,
            log,
            _dir: dir,
        };
        wait_until(
            Duration::from_secs(20),
            &format!("zenohd listens on port {port}"),
            || {
                if let Ok(Some(status)) = router.child.try_wait() {
                    panic!("zenohd ended ({status}):\n{}", router.log());
                }
                router.log().contains("can be reached at").then_some(())
            },
        );
        router
    }

    /// The endpoint hosts and clients connect to.
    pub fn endpoint(&self) -> String {
        format!("quic/127.0.0.1:{}", self.port)
    }

    /// What it wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

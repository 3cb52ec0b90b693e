//! Machines on one LAN, made of Linux network namespaces, for tests of
//! discovery across machines on one computer.
//!
//! Each machine is a namespace with `lo` and an `eth0` on `10.47.0.0/16`,
//! whose other end is plugged into a bridge. The bridge lives in a namespace
//! of its own, so a test adds nothing to the computer's own network, and two
//! test processes each have a LAN of their own (the same addresses, never
//! the same wire). Names carry the test process's id; everything is removed
//! when the [`Lan`] is dropped, panics included: every process still in a
//! machine is killed, then the namespaces are deleted.
//!
//! Multicast scouting needs a route to send on: with no default route, a
//! namespace has none for `224.0.0.224`, so each machine gets
//! `224.0.0.0/4 dev eth0`.
//!
//! Making namespaces needs root and iproute2's `ip`; [`Lan::new`] fails the
//! test saying so when either is missing (CI runs as root).

use std::ffi::OsStr;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::{bin, process_alive, run_bounded, wait_until, Output, COMMAND_LIMIT};

/// Every name this harness gives a namespace starts with this, then the test process's id.
const PREFIX: &str = "tnetlan";

/// Which LAN of this test process a new one is.
static NEXT_LAN: AtomicUsize = AtomicUsize::new(0);

/// The most machines a [`Lan`] has: a bridge takes at most 1024 ports, and
/// 200 hosts with a client and a router fit with room to spare.
pub const MAX_MACHINES: usize = 1000;

/// A LAN of machines (namespaces) around a bridge.
pub struct Lan {
    bridge: String,
    machines: Vec<Machine>,
}

/// One machine of a [`Lan`]: a network namespace with an address, and a
/// folder of its own for homes and logs.
pub struct Machine {
    /// The namespace's name.
    pub namespace: String,
    /// Its address on the LAN.
    pub address: Ipv4Addr,
    dir: tempfile::TempDir,
}

/// Runs `ip` with `args` (words separated by spaces: the names here have
/// none), failing the test with what `ip` said.
fn ip(args: &str) {
    let out = Command::new("ip")
        .args(args.split_whitespace())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip {args}`: {e}"));
    assert!(
        out.status.success(),
        "`ip {args}` failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Fails the test unless namespaces can be made here.
fn require_root_and_ip() {
    let root = nix::unistd::geteuid().is_root();
    let has_ip = Command::new("ip")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        root && has_ip,
        "this test makes network namespaces, so it needs root and iproute2's `ip` \
         (root: {root}, ip found: {has_ip}); run it as root, e.g. `sudo -E cargo test -p tnet-tests --test it fleet` \
         (CI runs as root)"
    );
}

/// The namespaces of this harness that exist now.
fn our_namespaces() -> Vec<String> {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(PREFIX))
        .map(str::to_owned)
        .collect()
}

/// The test process that made a namespace of this harness.
fn owner(namespace: &str) -> Option<u32> {
    namespace
        .strip_prefix(PREFIX)?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// Kills every process in `namespace` and deletes it.
fn remove(namespace: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids = pids_in(namespace);
        if pids.is_empty() || Instant::now() >= deadline {
            break;
        }
        for pid in pids {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("ip")
        .args(["netns", "delete", namespace])
        .stderr(Stdio::null())
        .status();
}

/// The live processes in `namespace`.
fn pids_in(namespace: &str) -> Vec<u32> {
    let Ok(out) = Command::new("ip")
        .args(["netns", "pids", namespace])
        .stderr(Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter(|p| process_alive(*p))
        .collect()
}

impl Lan {
    /// A LAN of `n` machines (at most [`MAX_MACHINES`]), `10.47.0.11` upwards.
    pub fn new(n: usize) -> Lan {
        require_root_and_ip();
        assert!(
            n <= MAX_MACHINES,
            "a LAN of at most {MAX_MACHINES} machines"
        );
        // Namespaces a killed test run could not remove (its Drop never ran).
        for stale in our_namespaces() {
            if owner(&stale).is_some_and(|pid| !process_alive(pid)) {
                remove(&stale);
            }
        }
        let base = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            NEXT_LAN.fetch_add(1, Ordering::Relaxed)
        );
        // Built into the guard from the start, so a failure halfway removes what exists.
        let mut lan = Lan {
            bridge: format!("{base}-br"),
            machines: Vec::new(),
        };
        let br = lan.bridge.clone();
        ip(&format!("netns add {br}"));
        ip(&format!("-n {br} link set lo up"));
        // No spanning tree and no forward delay: a port forwards the moment it is up.
        ip(&format!(
            "-n {br} link add br0 type bridge stp_state 0 forward_delay 0"
        ));
        ip(&format!("-n {br} link set br0 up"));
        for i in 0..n {
            let ns = format!("{base}-m{i}");
            let address = Ipv4Addr::from(
                u32::from(Ipv4Addr::new(10, 47, 0, 11))
                    + u32::try_from(i).expect("at most MAX_MACHINES"),
            );
            ip(&format!("netns add {ns}"));
            lan.machines.push(Machine {
                namespace: ns.clone(),
                address,
                dir: tempfile::tempdir().expect("a folder for the machine"),
            });
            // The pair is made inside the bridge's namespace with its peer
            // moved straight into the machine's, so it never appears in the
            // computer's own namespace and its names never clash there.
            ip(&format!(
                "-n {br} link add p{i} type veth peer name eth0 netns {ns}"
            ));
            ip(&format!("-n {br} link set p{i} master br0 up"));
            ip(&format!("-n {ns} link set lo up"));
            ip(&format!("-n {ns} addr add {address}/16 dev eth0"));
            ip(&format!("-n {ns} link set eth0 up"));
            ip(&format!("-n {ns} route add 224.0.0.0/4 dev eth0"));
        }
        lan
    }

    /// The `i`th machine.
    pub fn machine(&self, i: usize) -> &Machine {
        &self.machines[i]
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for machine in &self.machines {
            remove(&machine.namespace);
        }
        remove(&self.bridge);
    }
}

impl Machine {
    /// `program` to be run inside this machine, with a home of the machine's
    /// own (`HOME`, `XDG_CACHE_HOME`: an empty host cache) and no tnet
    /// address or default host from the test's environment.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.namespace])
            .arg(program)
            .env("HOME", self.home())
            .env("XDG_CACHE_HOME", self.home().join(".cache"))
            .env_remove("TNET_CONNECT")
            .env_remove("TNET_HOST")
            .env_remove("TNET_HOME")
            .env_remove("TNET_INSECURE")
            // Hosts take their identity from the test fleet; `tnet` is its admin.
            .envs(crate::client_env());
        cmd
    }

    /// The machine's user home (for `tnet`'s host cache).
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// The real `tnet` on this machine, with nothing configured: hosts are
    /// found by multicast scouting alone.
    pub fn tnet(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(bin("tnet"));
        cmd.args(args);
        run_bounded(cmd, b"", COMMAND_LIMIT)
    }

    /// `tnet hosts --json` on this machine: the hosts it listed.
    pub fn hosts_json(&self) -> Vec<serde_json::Value> {
        self.tnet(&["hosts", "--json"])
            .ok()
            .json()
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Starts `tnet-host --name <name>` on this machine on default settings
    /// (port 7449 on every interface, multicast scouting on), and waits until
    /// it answers at its address.
    pub fn start_host(&self, name: &str) -> LanHost {
        let host = self.spawn_host(name);
        wait_until(
            Duration::from_secs(20),
            &format!("host {name} answers at {}", host.endpoint),
            || {
                // Asked at its address, not found by scouting: this is about
                // the host being up, not about discovery.
                let mut cmd = self.command(bin("tnet"));
                cmd.args(["--connect", &host.endpoint, "hosts", "--json"]);
                let out = run_bounded(cmd, b"", COMMAND_LIMIT);
                let hosts = serde_json::from_str::<serde_json::Value>(&out.stdout).ok()?;
                hosts
                    .as_array()?
                    .iter()
                    .any(|h| h["host"] == name)
                    .then_some(())
            },
        );
        host
    }

    /// Starts `tnet-host --name <name>` on this machine on default settings
    /// and returns at once (see [`Lan::start_hosts`]).
    pub fn spawn_host(&self, name: &str) -> LanHost {
        let home = self.dir.path().join("tasks");
        let log = self.dir.path().join("tnet-host.log");
        let file = std::fs::File::create(&log).expect("the host's log");
        let child = self
            .command(bin("tnet-host"))
            .args(["--name", name, "--home"])
            .arg(&home)
            .env("RUST_LOG", "info,zenoh=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("tnet-host starts");
        LanHost {
            child: Some(child),
            name: name.to_owned(),
            home,
            log,
            endpoint: format!("quic/{}:7449", self.address),
        }
    }
}

impl Lan {
    /// Starts a host on each of the first `names.len()` machines, all at
    /// once, and waits (at most `limit`) until every one says it is ready:
    /// the line `tnet-host ready` it logs once its queryables and its
    /// liveliness token are declared. Asking a hundred hosts one by one
    /// with `tnet --connect` would take longer than starting them.
    pub fn start_hosts(&self, names: &[String], limit: Duration) -> Vec<LanHost> {
        let mut hosts: Vec<LanHost> = names
            .iter()
            .enumerate()
            .map(|(i, name)| self.machine(i).spawn_host(name))
            .collect();
        let started = Instant::now();
        let mut waiting: Vec<usize> = (0..hosts.len()).collect();
        wait_until(limit, "every host says it is ready", || {
            waiting.retain(|&i| {
                let host = &mut hosts[i];
                if let Some(child) = host.child.as_mut() {
                    if let Ok(Some(status)) = child.try_wait() {
                        panic!("host {} ended ({status}):\n{}", host.name, host.log());
                    }
                }
                !host.log().contains("tnet-host ready")
            });
            waiting.is_empty().then_some(())
        });
        eprintln!("{} hosts ready in {:?}", hosts.len(), started.elapsed());
        hosts
    }
}

/// A `tnet-host` running on a [`Machine`].
pub struct LanHost {
    child: Option<Child>,
    /// Its name.
    pub name: String,
    /// Its tasks folder.
    pub home: PathBuf,
    /// Where its stderr goes.
    log: PathBuf,
    /// Where it listens: `quic/<machine address>:7449`.
    pub endpoint: String,
}

impl LanHost {
    /// Its stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Where its log is.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Kills it with SIGKILL, as a crash or a pulled plug would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for LanHost {
    fn drop(&mut self) {
        // Its tasks' processes are killed with the rest of the namespace.
        self.kill9();
    }
}

/// The names of hosts as `tnet hosts --json` lists them.
pub fn host_names(hosts: &[serde_json::Value]) -> Vec<&str> {
    hosts.iter().filter_map(|h| h["host"].as_str()).collect()
}

//! A harness for end-to-end tests: real `tnet-host` processes on free
//! loopback ports, each in its own temporary home, driven by the real `tnet`.
//!
//! Nothing here sleeps and hopes: [`wait_until`] polls a condition (usually an
//! answer from the host) until it holds or a deadline passes.

use std::io::BufRead;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub mod netns;
pub mod router;
pub mod soak;

/// Fails the test unless what it needs from outside cargo is here.
///
/// The suite skips nothing: cargo's summary counts a test that returned
/// early as passed, so a skip would read as a pass (issue 18). The README's
/// test command, `scripts/test.sh`, installs everything first
/// (`scripts/test-deps.sh`).
pub fn require(available: bool, what: &str) {
    assert!(
        available,
        "this test needs {what}, which is missing here: `scripts/test-deps.sh` installs it \
         (as root; otherwise it lists what to install), and `scripts/test.sh` runs it first"
    );
}

/// Fails the test unless `python3` can import `module` (see [`require`]).
pub fn require_python_module(module: &str, package: &str) {
    let found = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    require(
        found,
        &format!("python3 with the `{module}` module (PyPI `{package}`)"),
    );
}

/// The directory holding the workspace's built binaries (`target/debug`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    // target/debug/deps/it-<hash> -> target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// The path of a workspace binary, which `cargo test --workspace` builds.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built; run the tests with `cargo test --workspace`",
        path.display()
    );
    path
}

/// The fleet every test host and client belongs to: created once (atomically,
/// so parallel test binaries share it) next to the built binaries.
pub fn fleet_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = bin_dir().join("tnet-test-fleet");
        tnet_fleet::Fleet::ensure(&dir).expect("a test fleet");
        dir
    })
    .clone()
}

/// The admin client bundle of the test fleet.
pub fn admin_identity() -> PathBuf {
    fleet_dir()
        .join("clients")
        .join(tnet_fleet::authority::ADMIN_NAME)
}

/// The environment a `tnet` (or a Python client) of the tests runs with: the
/// test fleet's admin identity, never the user's own configuration.
pub fn client_env() -> Vec<(&'static str, PathBuf)> {
    vec![
        (tnet_fleet::ENV_FLEET, fleet_dir()),
        (tnet_fleet::ENV_IDENTITY, admin_identity()),
    ]
}

/// A plain Zenoh client's configuration (no tnet code) that reaches
/// `endpoint` as the test fleet's admin: peer, scouting off, mutual TLS.
pub fn zenoh_client_config(endpoint: &str) -> zenoh::Config {
    let identity = tnet_fleet::Identity::load(&admin_identity()).expect("the admin identity");
    let mut config = zenoh::Config::default();
    let mut settings = vec![
        ("mode".to_owned(), "\"peer\"".to_owned()),
        ("connect/endpoints".to_owned(), format!("[\"{endpoint}\"]")),
        ("listen/endpoints".to_owned(), "[]".to_owned()),
        ("scouting/multicast/enabled".to_owned(), "false".to_owned()),
    ];
    settings.extend(tnet_fleet::zenoh::tls_inserts(&identity));
    for (key, value) in settings {
        config.insert_json5(&key, &value).expect("a valid setting");
    }
    config
}

/// A port nobody listens on right now, over TCP nor UDP (hosts listen on
/// QUIC, which is UDP; `--insecure` ones on TCP).
pub fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && std::net::UdpSocket::bind(("0.0.0.0", port)).is_ok()
        {
            return port;
        }
    }
}

/// Removes the containers of hosts named `host` whose home is gone (a
/// finished or killed run's). A live host of the same name (another
/// checkout's suite on this machine) keeps its own: its home still exists.
pub fn remove_dead_containers(host: &str) {
    let Ok(out) = Command::new("docker")
        .args(["ps", "-a", "--filter", &format!("label=tnet.host={host}")])
        .args(["--format", r#"{{.ID}} {{.Label "tnet.home"}}"#])
        .output()
    else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (id, home) = line.split_once(' ').unwrap_or((line, ""));
        if home.is_empty() || !Path::new(home).exists() {
            let _ = Command::new("docker").args(["rm", "-f", id]).output();
        }
    }
}

/// Polls `f` until it returns `Some`, or panics after `timeout` saying `what` never happened.
pub fn wait_until<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a finished `tnet` command printed.
pub struct Output {
    /// Whether it exited 0.
    pub success: bool,
    /// Its exit code.
    pub code: Option<i32>,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard output as bytes, for binary results.
    pub bytes: Vec<u8>,
    /// Standard error.
    pub stderr: String,
}

impl std::fmt::Debug for Output {
    // Leaves out the bytes (a test may carry megabytes of them).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut stdout = self.stdout.clone();
        if stdout.len() > 4000 {
            stdout.truncate(4000);
            stdout.push_str("...");
        }
        f.debug_struct("Output")
            .field("code", &self.code)
            .field("stdout", &stdout)
            .field("stderr", &self.stderr)
            .finish()
    }
}

/// How long any one command of a test may run before the test fails.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(120);

/// Runs `cmd` to its end with `stdin` as its input, failing the test if it
/// takes longer than `limit` (the command is killed then).
pub fn run_bounded(mut cmd: Command, stdin: &[u8], limit: Duration) -> Output {
    use std::io::{Read, Write};
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut input = child.stdin.take().expect("piped stdin");
    let stdin = stdin.to_vec();
    // Threads, so a command that writes a lot while reading never blocks the test.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let mut out = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = out.read_to_end(&mut bytes);
        bytes
    });
    let mut err = child.stderr.take().expect("piped stderr");
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the command") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} ran longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    let bytes = reader.join().expect("stdout reader");
    Output {
        success: status.success(),
        code: status.code(),
        stdout: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
        stderr: err_reader.join().expect("stderr reader"),
    }
}

impl Output {
    /// Standard output parsed as JSON; panics with both streams when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// Panics with both streams unless the command succeeded.
    pub fn ok(self) -> Self {
        assert!(self.success, "tnet failed: {self:?}");
        self
    }
}

/// How long a host has to answer after it is started: on a loaded machine
/// (the whole suite on two cores, Docker busy) start-up has taken seconds.
const HOST_START: Duration = Duration::from_secs(30);

/// How a start of the host process went.
enum Started {
    /// It lists itself in `tnet hosts`.
    Answers,
    /// It exited because its port was taken meanwhile.
    PortTaken,
}

/// A running `tnet-host`.
pub struct Host {
    child: Option<Child>,
    /// Its name.
    pub name: String,
    /// Its tasks folder.
    pub home: PathBuf,
    /// Its loopback port.
    pub port: u16,
    /// Whether it takes part in multicast scouting.
    scouting: bool,
    /// Extra environment for the host process (`DOCKER_HOST`...).
    env: Vec<(String, String)>,
    /// Zenoh endpoints it connects to (a router) besides listening.
    connect: Vec<String>,
    /// Its home on a tmpfs of this many bytes, in a mount namespace of its own.
    small_disk: Option<u64>,
    /// Run in a pid namespace of its own (with its own `/proc`): it sees
    /// none of the processes outside, as with a remote Docker engine.
    pid_namespace: bool,
    _dir: Option<tempfile::TempDir>,
}

impl Host {
    /// Starts a host called `name` in a fresh temporary home and waits until it answers.
    pub fn start(name: &str) -> Host {
        Host::start_on(name, false)
    }

    /// Starts a host with extra environment variables.
    pub fn start_with_env(name: &str, env: &[(&str, &str)]) -> Host {
        Host::start_full(name, false, env, None)
    }

    /// Starts a host whose default host config (`<home>/.tnet/host.toml`) is `config`.
    pub fn start_with_config(name: &str, config: &str) -> Host {
        Host::start_full(name, false, &[], Some(config))
    }

    /// Starts a host with scouting off that also connects to `router`
    /// (`-e`), as a host beyond the LAN meets its clients (docs/fleet.md).
    pub fn start_through(name: &str, router: &str) -> Host {
        Host::start_host(name, false, &[], None, &[router])
    }

    /// A host not started yet: a fresh home, a free port, scouting off.
    fn unstarted(name: &str) -> Host {
        let dir = tempfile::tempdir().expect("a temporary home");
        Host {
            child: None,
            name: name.to_owned(),
            home: dir.path().join("tasks"),
            port: free_port(),
            scouting: false,
            env: Vec::new(),
            connect: Vec::new(),
            small_disk: None,
            pid_namespace: false,
            _dir: Some(dir),
        }
    }

    fn start_on(name: &str, scouting: bool) -> Host {
        Host::start_full(name, scouting, &[], None)
    }

    fn start_full(name: &str, scouting: bool, env: &[(&str, &str)], config: Option<&str>) -> Host {
        Host::start_host(name, scouting, env, config, &[])
    }

    fn start_host(
        name: &str,
        scouting: bool,
        env: &[(&str, &str)],
        config: Option<&str>,
        connect: &[&str],
    ) -> Host {
        let mut host = Host::unstarted(name);
        if let Some(config) = config {
            std::fs::create_dir_all(host.home.join(".tnet")).expect("the records folder");
            std::fs::write(host.home.join(".tnet/host.toml"), config).expect("write host.toml");
        }
        host.scouting = scouting;
        host.env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        host.connect = connect.iter().map(|e| (*e).to_owned()).collect();
        host.spawn();
        host
    }

    /// Starts a host in a pid namespace of its own, with its own `/proc`
    /// (root only): it cannot see or signal any process outside, those of
    /// its Docker containers included, as a host using a remote or rootless
    /// engine. `Host::pid` is then `unshare`'s, which takes the host with it
    /// when killed.
    pub fn start_in_pid_namespace(name: &str) -> Host {
        let mut host = Host::unstarted(name);
        host.pid_namespace = true;
        host.spawn();
        host
    }

    /// Starts a host whose home is a size-limited tmpfs of `bytes`, mounted
    /// in a private mount namespace of the host process (root only; the
    /// mount goes when the host does, so a kill leaves nothing behind).
    /// [`Host::disk_home`] is its home as the test sees it. Its records live
    /// only as long as the process: do not start it again.
    pub fn start_on_small_disk(name: &str, bytes: u64) -> Host {
        let mut host = Host::unstarted(name);
        host.small_disk = Some(bytes);
        host.spawn();
        host
    }

    /// The host's home as this process sees it: through `/proc/<pid>/root`
    /// for a host on a small disk of its own.
    pub fn disk_home(&self) -> PathBuf {
        match self.small_disk {
            Some(_) => Path::new(&format!("/proc/{}/root", self.pid()))
                .join(self.home.strip_prefix("/").unwrap_or(&self.home)),
            None => self.home.clone(),
        }
    }

    /// The host process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the host runs").id()
    }

    /// The endpoint clients connect to (QUIC with mutual TLS, the test fleet's certificates).
    pub fn endpoint(&self) -> String {
        format!("quic/127.0.0.1:{}", self.port)
    }

    /// Where the host's stderr goes (read it when a test fails).
    pub fn log_path(&self) -> PathBuf {
        self.home.with_file_name(format!("{}.log", self.name))
    }

    /// Starts the host process and waits until it answers. A port found
    /// free can be taken before the host binds it (a client of another test
    /// binds ephemeral ports too): a host that exits saying so is started
    /// again on another port. Any other early exit, or no answer in time,
    /// fails the test with what the host printed.
    fn spawn(&mut self) {
        for _ in 0..5 {
            match self.spawn_once() {
                Started::Answers => return,
                Started::PortTaken => self.port = free_port(),
            }
        }
        panic!(
            "host {}: five free ports were taken before it could listen; log:\n{}",
            self.name,
            self.log()
        );
    }

    fn spawn_once(&mut self) -> Started {
        let logged = std::fs::metadata(self.log_path()).map_or(0, |m| m.len());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("host log");
        let mut cmd = match self.small_disk {
            None if self.pid_namespace => {
                let mut cmd = Command::new("unshare");
                cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child", "--"])
                    .arg(bin("tnet-host"));
                cmd
            }
            None => Command::new(bin("tnet-host")),
            Some(bytes) => {
                // unshare and sh exec in turn: the child's pid is the host's.
                let mut cmd = Command::new("unshare");
                cmd.args(["-m", "--propagation", "private", "--", "sh", "-c"])
                    .arg(r#"mkdir -p "$2" && mount -t tmpfs -o "size=$1" tnet-test "$2" && shift 2 && exec "$@""#)
                    .arg("sh")
                    .arg(bytes.to_string())
                    .arg(&self.home)
                    .arg(bin("tnet-host"));
                cmd
            }
        };
        cmd.args(["--name", &self.name, "--home"]).arg(&self.home);
        if self.scouting {
            cmd.args(["-l", &format!("quic/0.0.0.0:{}", self.port)]);
        } else {
            cmd.args(["-l", &self.endpoint(), "--no-multicast-scouting"]);
        }
        for endpoint in &self.connect {
            cmd.args(["-e", endpoint]);
        }
        let child = cmd
            .env_remove("TNET_CONNECT")
            .env_remove("TNET_HOME")
            .env_remove("TNET_INSECURE")
            .env(tnet_fleet::ENV_FLEET, fleet_dir())
            .env("RUST_LOG", "info,zenoh=warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("tnet-host starts");
        self.child = Some(child);
        let deadline = Instant::now() + HOST_START;
        loop {
            if self.answers() {
                return Started::Answers;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                let log = self.log_since(logged);
                if log.contains("Address already in use") {
                    return Started::PortTaken;
                }
                panic!(
                    "host {} exited before answering ({status}); log:\n{log}",
                    self.name
                );
            }
            assert!(
                Instant::now() < deadline,
                "host {} did not answer within {HOST_START:?}; log:\n{}",
                self.name,
                self.log_since(logged)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether `tnet hosts` through this host's endpoint lists it.
    fn answers(&self) -> bool {
        let out = self.tnet(&["hosts", "--json"]);
        serde_json::from_str::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|hosts| {
                hosts
                    .as_array()
                    .map(|hosts| hosts.iter().any(|h| h["host"] == self.name.as_str()))
            })
            .unwrap_or(false)
    }

    /// Kills the host with SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` to the host process (as `kill -SIG` would).
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = i32::try_from(self.pid()).expect("a pid fits in i32");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal)
            .unwrap_or_else(|e| panic!("cannot send {signal} to the host: {e}"));
    }

    /// Waits, at most `timeout`, for the host process to end by itself, and
    /// returns how it ended; panics (after killing it) if it does not.
    /// [`Host::start_again`] starts it again.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("the host runs");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("wait for the host") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "host {} did not end within {timeout:?}; its log:\n{}",
                    self.name,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the host again on the same home and port after [`Host::kill9`]
    /// or [`Host::wait_exit`].
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the host is still running");
        self.spawn();
    }

    /// Starts the host again on the same home and port.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Runs `tnet` against this host.
    pub fn tnet(&self, args: &[&str]) -> Output {
        tnet(&[&self.endpoint()], args)
    }

    /// Starts `tnet` against this host without waiting for it to end (`tnet sub`, `logs -f`).
    pub fn tnet_streaming(&self, args: &[&str]) -> Streaming {
        let mut cmd = Command::new(bin("tnet"));
        cmd.arg("--connect")
            .arg(self.endpoint())
            .args(args)
            .env_remove("TNET_CONNECT")
            .env_remove("TNET_HOST")
            .env_remove("TNET_INSECURE")
            .envs(client_env());
        Streaming::start(cmd)
    }

    /// Runs `tnet` against this host with `input` on its standard input.
    pub fn tnet_input(&self, args: &[&str], input: &[u8]) -> Output {
        tnet_with_input(&[&self.endpoint()], args, input)
    }

    /// The host's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// What the host printed past the first `from` bytes of its log (this start's).
    fn log_since(&self, from: u64) -> String {
        let all = std::fs::read(self.log_path()).unwrap_or_default();
        String::from_utf8_lossy(all.get(from as usize..).unwrap_or(&all)).into_owned()
    }

    /// `tnet ls --json` as a list of task objects.
    pub fn tasks(&self) -> Vec<serde_json::Value> {
        self.tnet(&["ls", "--json"])
            .ok()
            .json()
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The state of one task, if the host has it.
    pub fn state(&self, task: &str) -> Option<String> {
        self.tasks()
            .into_iter()
            .find(|t| t["name"] == task)
            .and_then(|t| t["state"].as_str().map(str::to_owned))
    }

    /// Waits until `task` is in `state`.
    pub fn wait_state(&self, task: &str, state: &str) {
        wait_until(
            Duration::from_secs(20),
            &format!("{task} is {state} (log:\n{})", self.log()),
            || (self.state(task).as_deref() == Some(state)).then_some(()),
        );
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop();
        // Its docker tasks' containers (found by its home: another host of
        // the same name may be running them too).
        remove_containers_of_home(&self.home);
    }
}

/// Removes the containers of the host whose home is `home`.
fn remove_containers_of_home(home: &Path) {
    let label = format!("label=tnet.home={}", home.display());
    let Ok(out) = Command::new("docker")
        .args(["ps", "-aq", "--filter", &label])
        .output()
    else {
        return;
    };
    for id in String::from_utf8_lossy(&out.stdout).lines() {
        let _ = Command::new("docker").args(["rm", "-f", id]).output();
    }
}

impl Host {
    /// Ends the host: SIGTERM, then SIGKILL after 10 s.
    fn stop(&mut self) {
        // SIGTERM lets the host end its tasks' process groups before it goes.
        if let Some(mut child) = self.child.take() {
            // `unshare` ignores SIGTERM while it waits: the host itself gets it.
            let target = if self.pid_namespace {
                std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id()))
                    .ok()
                    .and_then(|c| c.split_whitespace().next()?.parse().ok())
                    .unwrap_or(child.id())
            } else {
                child.id()
            };
            if let Ok(pid) = i32::try_from(target) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs the real `tnet` connected to `endpoints`, with scouting off.
pub fn tnet(endpoints: &[&str], args: &[&str]) -> Output {
    tnet_with_input(endpoints, args, b"")
}

/// [`tnet`] with extra environment variables (`EDITOR`...).
pub fn tnet_with_env(endpoints: &[&str], args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tnet_command(endpoints);
    cmd.args(args).envs(env.iter().copied());
    run_bounded(cmd, b"", COMMAND_LIMIT)
}

/// Like [`tnet`], with `input` on its standard input.
pub fn tnet_with_input(endpoints: &[&str], args: &[&str], input: &[u8]) -> Output {
    let mut cmd = tnet_command(endpoints);
    cmd.args(args);
    run_bounded(cmd, input, COMMAND_LIMIT)
}

/// The real `tnet` connected to `endpoints` with scouting off, ready for
/// arguments; for commands a test runs in the background.
pub fn tnet_command(endpoints: &[&str]) -> Command {
    let mut cmd = Command::new(bin("tnet"));
    cmd.arg("--connect")
        .arg(endpoints.join(","))
        .env_remove("TNET_CONNECT")
        .env_remove("TNET_HOST")
        .env_remove("TNET_INSECURE")
        .envs(client_env());
    cmd
}

/// Whether a process is alive (and not a zombie).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            stat.rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next())
                != Some("Z")
        }
        Err(_) => false,
    }
}

/// A long-running `tnet` (`logs -f`, `events`) whose output lines are read as they come.
pub struct Follower {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    /// Every line read so far, for failure messages.
    pub seen: Vec<String>,
}

impl Follower {
    /// Starts `tnet` with `args` against `endpoints`.
    pub fn start(endpoints: &[&str], args: &[&str]) -> Follower {
        let mut child = Command::new(bin("tnet"))
            .arg("--connect")
            .arg(endpoints.join(","))
            .args(args)
            .env_remove("TNET_CONNECT")
            .env_remove("TNET_INSECURE")
            .envs(client_env())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tnet runs");
        let (tx, rx) = std::sync::mpsc::channel();
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            });
        }
        Follower {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Reads lines until one satisfies `pred`, or panics after `timeout`.
    pub fn wait_line(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no matching line within {timeout:?}; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Lines that arrived so far without waiting.
    pub fn drain(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        &self.seen
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Host {
    /// Starts a long-running `tnet` against this host.
    pub fn follow(&self, args: &[&str]) -> Follower {
        Follower::start(&[&self.endpoint()], args)
    }

    /// `tnet status <task> --json`.
    pub fn status(&self, task: &str) -> serde_json::Value {
        self.tnet(&["status", task, "--json"]).ok().json()
    }
}

/// Writes `text` to `dir/name` with `mode`, creating folders.
pub fn write_file(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&path, text).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

/// A command that keeps printing (`tnet sub`, a Python subscriber), read line
/// by line as it goes; killed when dropped.
pub struct Streaming {
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Streaming {
    /// Starts `cmd` with its stdout and stderr read in the background.
    pub fn start(mut cmd: Command) -> Streaming {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr.clone();
        let pipe = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { return };
                let mut all = sink.lock().unwrap_or_else(|p| p.into_inner());
                all.push_str(&line);
                all.push('\n');
            }
        });
        Streaming {
            child: Some(child),
            lines,
            stderr,
        }
    }

    /// What it wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The next line of its stdout, or `None` after `timeout` (or at its end).
    pub fn next_line(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// The next `n` lines, all within `timeout`; panics saying `what` otherwise.
    pub fn lines(&self, n: usize, timeout: Duration, what: &str) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left) {
                Some(line) => out.push(line),
                None => panic!(
                    "timed out after {timeout:?} waiting for {what}: got {out:?}; stderr:\n{}",
                    self.stderr()
                ),
            }
        }
        out
    }

    /// Sends SIGINT (Ctrl-C) and waits, at most ten seconds, for it to end.
    pub fn interrupt(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGINT,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                panic!("it did not end within 10 s of Ctrl-C");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits, at most `timeout`, for it to end by itself.
    pub fn wait(mut self, timeout: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "it did not end within {timeout:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

//! The soak (issue 16, `docs/reliability.md`): one host under a steady
//! workload (uploads, edits, a habit every second, service calls, a plain
//! daemon and a docker daemon), killed with SIGKILL at random instants and
//! started again, its promises checked after every restart.
//!
//! [`run`] drives it; the suite runs a short version (`tests/it/soak.rs`),
//! `scripts/soak.sh` the long one. Every check that is made counts as an
//! invariant checked; every one that fails is a violation, described.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{tnet_command, wait_until, Host};

/// How a soak runs.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// Kills (and restarts) of the host.
    pub cycles: usize,
    /// Seed of the random instants and sizes (printed, to run it again).
    pub seed: u64,
    /// Whether a docker daemon is part of the workload.
    pub docker: Option<String>,
}

/// What a soak found.
#[derive(Debug, Default)]
pub struct SoakReport {
    /// Cycles completed (kill, restart, checks).
    pub cycles: usize,
    /// Operations in flight at each kill, by kind (`run`, `edit`, `call`, `rm`).
    pub in_flight: Vec<BTreeMap<&'static str, usize>>,
    /// Operations completed by the workload.
    pub ops_done: usize,
    /// Individual checks made.
    pub checks: usize,
    /// Checks that failed, described.
    pub violations: Vec<String>,
    /// Time from starting the host again to its first answer, per cycle.
    pub restart_ms: Vec<u64>,
    /// The slowest answer to a request after a restart.
    pub slowest_answer_ms: u64,
}

impl SoakReport {
    /// The report as text, for the test's output and docs/reliability.md.
    pub fn text(&self, config: &SoakConfig, took: Duration) -> String {
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for kill in &self.in_flight {
            for (k, n) in kill {
                *kinds.entry(k).or_default() += n;
            }
        }
        let per_kill: Vec<usize> = self.in_flight.iter().map(|m| m.values().sum()).collect();
        let mut restart = self.restart_ms.clone();
        restart.sort_unstable();
        let median = restart.get(restart.len() / 2).copied().unwrap_or_default();
        let max = restart.last().copied().unwrap_or_default();
        format!(
            "soak: seed {seed}, {cycles} cycles in {secs:.0} s (docker: {docker})\n\
             operations completed: {ops}\n\
             operations in flight at the kills: {total} ({kinds:?}); per kill: {per_kill:?}\n\
             kills with at least one operation in flight: {busy}/{cycles}\n\
             invariants checked: {checks}\n\
             host start to first answer: median {median} ms, max {max} ms\n\
             slowest answer after a restart: {slow} ms\n\
             violations: {nv}\n{list}",
            seed = config.seed,
            cycles = self.cycles,
            secs = took.as_secs_f64(),
            docker = config.docker.is_some(),
            ops = self.ops_done,
            total = per_kill.iter().sum::<usize>(),
            busy = per_kill.iter().filter(|n| **n > 0).count(),
            checks = self.checks,
            slow = self.slowest_answer_ms,
            nv = self.violations.len(),
            list = self
                .violations
                .iter()
                .map(|v| format!("  - {v}\n"))
                .collect::<String>(),
        )
    }
}

/// A small deterministic generator (xorshift), so a seed replays a soak's instants.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low).max(1)
    }
}

fn hash_of(bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// Whether the host has a task, as far as the driver knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Yes,
    /// A `run` or `rm` was in flight: either is right until the host says.
    Maybe,
}

/// What the driver expects of one task.
#[derive(Debug, Clone)]
struct Expected {
    presence: Presence,
    /// The states it may settle in after a restart.
    states: &'static [&'static str],
    /// Each workspace file and the contents it may hold (two while an edit
    /// is in flight: the old one or the new one, never a mix).
    files: BTreeMap<String, BTreeSet<u64>>,
}

/// The driver's model of the host, shared with the workload threads.
#[derive(Default)]
struct Model {
    tasks: BTreeMap<String, Expected>,
    /// Child processes of operations in flight: (kind, pid).
    running: HashMap<usize, (&'static str, u32)>,
    ops_done: usize,
    violations: Vec<String>,
}

type Shared = Arc<Mutex<Model>>;

fn lock(model: &Shared) -> std::sync::MutexGuard<'_, Model> {
    model.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs one `tnet` operation as a child the driver can kill at the host's
/// kill; `Some(stdout)` when it succeeded.
fn op(
    model: &Shared,
    slot: usize,
    kind: &'static str,
    endpoint: &str,
    args: &[&str],
) -> Option<Vec<u8>> {
    let mut cmd = tnet_command(&[endpoint]);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let child: Child = cmd.spawn().ok()?;
    lock(model).running.insert(slot, (kind, child.id()));
    let out = child.wait_with_output().ok();
    let mut m = lock(model);
    m.running.remove(&slot);
    let out = out?;
    if out.status.success() {
        m.ops_done += 1;
        Some(out.stdout)
    } else {
        None
    }
}

fn write(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, bytes).expect("write a workload file");
}

fn random_bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
    (0..len).map(|_| (rng.next() >> 24) as u8).collect()
}

/// The workload's streams: each loops until `stop`, pausing while `pause`.
struct Workload {
    stop: Arc<AtomicBool>,
    pause: Arc<AtomicBool>,
    /// Whether each stream is inside an operation.
    busy: Arc<Vec<AtomicBool>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

const STREAMS: usize = 3;

impl Workload {
    fn start(model: &Shared, endpoint: &str, dir: &Path, seed: u64) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let pause = Arc::new(AtomicBool::new(true));
        let busy: Arc<Vec<AtomicBool>> =
            Arc::new((0..STREAMS).map(|_| AtomicBool::new(false)).collect());
        let mut threads = Vec::new();
        for stream in 0..STREAMS {
            let (model, endpoint, dir) = (model.clone(), endpoint.to_owned(), dir.to_path_buf());
            let (stop, pause, busy) = (stop.clone(), pause.clone(), busy.clone());
            threads.push(std::thread::spawn(move || {
                let mut rng = Rng(seed ^ (0x9e37_79b9 * (stream as u64 + 1)));
                let mut step = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    busy[stream].store(true, Ordering::SeqCst);
                    // Checked after marking busy: a pause that saw this
                    // stream idle never sees it start an operation.
                    if pause.load(Ordering::SeqCst) {
                        busy[stream].store(false, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    step += 1;
                    match stream {
                        0 => upload_or_remove(&model, &endpoint, &dir, &mut rng, step),
                        1 => edit(&model, &endpoint, &dir, &mut rng),
                        _ => call(&model, &endpoint, &mut rng),
                    }
                    busy[stream].store(false, Ordering::SeqCst);
                }
            }));
        }
        Workload {
            stop,
            pause,
            busy,
            threads,
        }
    }

    fn resume(&self) {
        self.pause.store(false, Ordering::SeqCst);
    }

    /// Stops starting operations and waits until none is in flight.
    fn pause(&self) {
        self.pause.store(true, Ordering::SeqCst);
        wait_until(Duration::from_secs(60), "the workload pauses", || {
            self.busy
                .iter()
                .all(|b| !b.load(Ordering::SeqCst))
                .then_some(())
        });
    }

    fn end(self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// A workspace-only daemon with files (`waiting`): uploads cost no process.
fn holder_file(dir: &Path, name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let folder = dir.join(name);
    let list: Vec<String> = files.iter().map(|(p, _)| format!("\"{p}\"")).collect();
    for (path, bytes) in files {
        write(&folder.join(path), bytes);
    }
    let file = folder.join("task.toml");
    write(
        &file,
        format!(
            "task_name = \"{name}\"\ntask_type = \"daemon\"\nnecessary_files = [{}]\n",
            list.join(", ")
        )
        .as_bytes(),
    );
    file
}

fn upload_or_remove(model: &Shared, endpoint: &str, dir: &Path, rng: &mut Rng, step: u64) {
    let uploads: Vec<String> = lock(model)
        .tasks
        .keys()
        .filter(|k| k.starts_with("up-"))
        .cloned()
        .collect();
    if uploads.len() >= 3 {
        let name = &uploads[0];
        if let Some(t) = lock(model).tasks.get_mut(name) {
            t.presence = Presence::Maybe;
        }
        if op(model, 0, "rm", endpoint, &["rm", name]).is_some() {
            lock(model).tasks.remove(name);
        }
        return;
    }
    let name = format!("up-{step}-{}", rng.next() % 10_000);
    let size = rng.between(16 << 10, 1 << 20) as usize;
    let data = random_bytes(rng, size);
    let note = format!("upload {name}\n").into_bytes();
    let file = holder_file(dir, &name, &[("data.bin", &data), ("sub/note.txt", &note)]);
    lock(model).tasks.insert(
        name.clone(),
        Expected {
            presence: Presence::Maybe,
            states: &["waiting"],
            files: BTreeMap::from([
                ("data.bin".to_owned(), BTreeSet::from([hash_of(&data)])),
                ("sub/note.txt".to_owned(), BTreeSet::from([hash_of(&note)])),
            ]),
        },
    );
    let path = file.to_string_lossy().into_owned();
    if op(model, 0, "run", endpoint, &["run", &path]).is_some() {
        if let Some(t) = lock(model).tasks.get_mut(&name) {
            t.presence = Presence::Yes;
        }
    }
}

fn edit(model: &Shared, endpoint: &str, dir: &Path, rng: &mut Rng) {
    let size = rng.between(1 << 10, 256 << 10) as usize;
    let text = random_bytes(rng, size);
    let file = holder_file(dir, "notes", &[("notes.txt", &text)]);
    let new = hash_of(&text);
    if let Some(t) = lock(model).tasks.get_mut("notes") {
        t.files.entry("notes.txt".into()).or_default().insert(new);
    }
    let path = file.to_string_lossy().into_owned();
    if op(
        model,
        1,
        "edit",
        endpoint,
        &["edit", "notes", "--file", &path],
    )
    .is_some()
    {
        if let Some(t) = lock(model).tasks.get_mut("notes") {
            t.files.insert("notes.txt".into(), BTreeSet::from([new]));
        }
    }
}

fn call(model: &Shared, endpoint: &str, rng: &mut Rng) {
    let input = format!("call {}\n", rng.next());
    let dir = std::env::temp_dir();
    let path = dir.join(format!("tnet-soak-input-{}", std::process::id()));
    write(&path, input.as_bytes());
    let file = path.to_string_lossy().into_owned();
    if let Some(out) = op(
        model,
        2,
        "call",
        endpoint,
        &["call", "svc", "--input", &file],
    ) {
        if out != input.as_bytes() {
            lock(model).violations.push(format!(
                "a call answered {:?} to {input:?}",
                String::from_utf8_lossy(&out)
            ));
        }
    }
}

/// Counts checks and collects violations.
#[derive(Default)]
struct Checks {
    made: usize,
    failed: Vec<String>,
}

impl Checks {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.made += 1;
        if !ok {
            self.failed.push(what());
        }
    }
}

/// A process's environment variable.
fn env_of(pid: u32, key: &str) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{key}=");
    environ
        .split(|b| *b == 0)
        .filter_map(|e| std::str::from_utf8(e).ok())
        .find_map(|e| e.strip_prefix(&prefix).map(str::to_owned))
}

struct Proc {
    pid: u32,
    ppid: u32,
    pgid: u32,
    zombie: bool,
    in_container: bool,
    cmdline: String,
}

fn processes() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let in_container = status
                .lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .is_some_and(|l| l.split_whitespace().count() > 1);
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| {
                    String::from_utf8_lossy(&b)
                        .replace('\0', " ")
                        .trim()
                        .to_owned()
                })
                .unwrap_or_default();
            Some(Proc {
                pid,
                zombie: rest.first() == Some(&"Z"),
                ppid: rest.get(1)?.parse().ok()?,
                pgid: rest.get(2)?.parse().ok()?,
                in_container,
                cmdline,
            })
        })
        .collect()
}

/// Whether `pid` descends from `ancestor`.
fn descends(pid: u32, ancestor: u32, parents: &HashMap<u32, u32>) -> bool {
    let mut at = pid;
    for _ in 0..64 {
        match parents.get(&at) {
            Some(&p) if p == ancestor => return true,
            Some(&p) if p > 1 => at = p,
            _ => return false,
        }
    }
    false
}

/// The plain task processes of the host, by task, and the orphans among them.
fn task_groups(host: &Host) -> (HashMap<String, BTreeSet<u32>>, Vec<String>, usize) {
    let all = processes();
    let parents: HashMap<u32, u32> = all.iter().map(|p| (p.pid, p.ppid)).collect();
    let mut groups: HashMap<String, BTreeSet<u32>> = HashMap::new();
    let mut orphans = Vec::new();
    let mut docker_sleepers = 0;
    for p in all.iter().filter(|p| !p.zombie) {
        if env_of(p.pid, "TNET_HOST").as_deref() != Some(host.name.as_str()) {
            continue;
        }
        // Another suite's host of the same name (a second checkout's tests
        // on this machine) runs processes with the same TNET_HOST: only
        // those whose workspace is in this host's home are its own.
        let ours =
            env_of(p.pid, "TNET_WORKSPACE").is_some_and(|w| Path::new(&w).starts_with(&host.home));
        if !ours {
            continue;
        }
        let task = env_of(p.pid, "TNET_TASK").unwrap_or_default();
        if p.in_container {
            if p.cmdline == "sleep 100001" {
                docker_sleepers += 1;
            }
            continue;
        }
        if !descends(p.pid, host.pid(), &parents) {
            orphans.push(format!("pid {} ({}) of task {task}", p.pid, p.cmdline));
        }
        groups.entry(task).or_default().insert(p.pgid);
    }
    (groups, orphans, docker_sleepers)
}

/// Asks the host for its task list over a Zenoh session of the driver's
/// own, timing each answer (the CLI's own start is not the host's).
fn answer_times(host: &Host, n: usize) -> Vec<Option<Duration>> {
    use zenoh::Wait;
    let Ok(session) = zenoh::open(crate::zenoh_client_config(&host.endpoint())).wait() else {
        return vec![None; n];
    };
    let request = tnet_proto::msg::RequestEnvelope::new(tnet_proto::msg::Request::List);
    let key = tnet_proto::keys::host_control(&host.name);
    let mut times = Vec::new();
    for _ in 0..n {
        let asked = Instant::now();
        let answered = session
            .get(&key)
            .payload(tnet_proto::msg::encode(&request))
            .timeout(Duration::from_secs(5))
            .wait()
            .ok()
            .and_then(|replies| replies.recv().ok())
            .is_some_and(|reply| reply.result().is_ok());
        times.push(answered.then(|| asked.elapsed()));
    }
    let _ = session.close().wait();
    times
}

/// The fixed tasks every soak runs.
fn submit_fixed(host: &Host, dir: &Path, model: &Shared, docker: Option<&str>) {
    let mut tasks = vec![
        (
            "keeper",
            "task_type = \"daemon\"\ncommands = [\"exec sleep 100000\"]\n",
            &["running"][..],
        ),
        (
            "tick",
            "task_type = \"habit\"\ncommands = [\"echo \\\"$TNET_SCHEDULED\\\" >> slots.txt\"]\n\
             [habit_details]\ntime_between_runs = \"1s\"\n",
            &["scheduled", "running"][..],
        ),
        (
            "svc",
            "task_type = \"service\"\ncommands = [\"cat\"]\n",
            &["ready"][..],
        ),
    ];
    let dock;
    if let Some(image) = docker {
        dock = format!(
            "task_type = \"daemon\"\nrun_in_docker = true\ncommands = [\"exec sleep 100001\"]\n\
             [docker_settings]\ndocker_img_id = \"{image}\"\n"
        );
        tasks.push(("dock", &dock, &["running"][..]));
    }
    for (name, body, states) in tasks {
        let file = dir.join(format!("{name}.toml"));
        write(&file, format!("task_name = \"{name}\"\n{body}").as_bytes());
        host.tnet(&["run", &file.to_string_lossy()]).ok();
        lock(model).tasks.insert(
            name.to_owned(),
            Expected {
                presence: Presence::Yes,
                states,
                files: BTreeMap::new(),
            },
        );
    }
    let text = b"first notes\n";
    let file = holder_file(dir, "notes", &[("notes.txt", text)]);
    host.tnet(&["run", &file.to_string_lossy()]).ok();
    lock(model).tasks.insert(
        "notes".into(),
        Expected {
            presence: Presence::Yes,
            states: &["waiting"],
            files: BTreeMap::from([("notes.txt".to_owned(), BTreeSet::from([hash_of(text)]))]),
        },
    );
}

/// Runs a soak on a fresh host called `name`.
pub fn run(name: &str, config: &SoakConfig) -> SoakReport {
    crate::remove_dead_containers(name);
    let mut host = Host::start(name);
    let dir = tempfile::tempdir().expect("a workload folder");
    let model: Shared = Arc::new(Mutex::new(Model::default()));
    submit_fixed(&host, dir.path(), &model, config.docker.as_deref());
    let mut rng = Rng(config.seed.max(1));
    let mut report = SoakReport::default();
    let mut runs_seen: HashMap<(String, u64), String> = HashMap::new();
    let mut max_run: HashMap<String, u64> = HashMap::new();
    let workload = Workload::start(&model, &host.endpoint(), dir.path(), config.seed);
    for cycle in 0..config.cycles {
        workload.resume();
        std::thread::sleep(Duration::from_millis(rng.between(300, 2500)));
        host.kill9();
        // The clients of the moment go with it (their outcome is unknown
        // either way; the host's records must not depend on it).
        let mut in_flight: BTreeMap<&'static str, usize> = BTreeMap::new();
        for (kind, pid) in lock(&model).running.values() {
            *in_flight.entry(kind).or_default() += 1;
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        report.in_flight.push(in_flight);
        workload.pause();
        let started = Instant::now();
        host.start_again();
        report.restart_ms.push(started.elapsed().as_millis() as u64);
        let mut checks = Checks::default();
        check_host(
            &host,
            &model,
            &mut checks,
            &mut report,
            &mut runs_seen,
            &mut max_run,
        );
        for v in &checks.failed {
            eprintln!("soak cycle {cycle}: VIOLATION {v}");
        }
        report.checks += checks.made;
        report.violations.extend(
            checks
                .failed
                .into_iter()
                .map(|v| format!("cycle {cycle}: {v}")),
        );
        report.cycles += 1;
    }
    workload.end();
    drop(host);
    crate::remove_dead_containers(name);
    let mut m = lock(&model);
    report.ops_done = m.ops_done;
    report.violations.append(&mut m.violations);
    report
}

fn check_host(
    host: &Host,
    model: &Shared,
    checks: &mut Checks,
    report: &mut SoakReport,
    runs_seen: &mut HashMap<(String, u64), String>,
    max_run: &mut HashMap<String, u64>,
) {
    // It answers, each request within a second.
    for t in answer_times(host, 3) {
        let ms = t.map_or(u64::MAX, |t| t.as_millis() as u64);
        report.slowest_answer_ms = report.slowest_answer_ms.max(ms.min(60_000));
        checks.check(ms < 1000, || format!("a request took {ms} ms (limit 1000)"));
    }
    // Every task it acknowledged is there, none it removed is.
    let listed: BTreeMap<String, String> = host
        .tasks()
        .into_iter()
        .filter_map(|t| {
            Some((
                t["name"].as_str()?.to_owned(),
                t["state"].as_str()?.to_owned(),
            ))
        })
        .collect();
    {
        let mut m = lock(model);
        let names: Vec<String> = m.tasks.keys().cloned().collect();
        for name in names {
            let expected = m.tasks[&name].presence;
            let there = listed.contains_key(&name);
            match expected {
                Presence::Yes => checks.check(there, || format!("task {name} is gone")),
                Presence::Maybe if there => {
                    if let Some(t) = m.tasks.get_mut(&name) {
                        t.presence = Presence::Yes;
                    }
                }
                Presence::Maybe => {
                    m.tasks.remove(&name);
                }
            }
        }
        for name in listed.keys() {
            checks.check(m.tasks.contains_key(name), || {
                format!("task {name} is there but was never acknowledged nor in flight")
            });
        }
    }
    let expected: BTreeMap<String, Expected> = lock(model).tasks.clone();
    // Each task settles in its state.
    for (name, exp) in &expected {
        let settled = wait_settle(Duration::from_secs(20), || {
            host.state(name)
                .is_some_and(|s| exp.states.contains(&s.as_str()))
        });
        checks.check(settled, || {
            format!(
                "task {name} is {:?}, not one of {:?}",
                host.state(name),
                exp.states
            )
        });
    }
    // Every workspace file holds what was submitted (the new or the old
    // version of one whose edit was in flight, never a mix).
    for (name, exp) in &expected {
        for (path, allowed) in &exp.files {
            let on_disk = std::fs::read(host.home.join(name).join(path))
                .ok()
                .map(|b| hash_of(&b));
            let ok = on_disk.is_some_and(|h| allowed.contains(&h));
            checks.check(ok, || {
                format!("{name}/{path} holds none of the submitted versions")
            });
            if let (true, Some(h)) = (ok, on_disk) {
                if let Some(t) = lock(model).tasks.get_mut(name) {
                    t.files.insert(path.clone(), BTreeSet::from([h]));
                }
            }
        }
    }
    // No slot of the habit ran twice.
    let slots = std::fs::read_to_string(host.home.join("tick/slots.txt")).unwrap_or_default();
    let mut seen = BTreeSet::new();
    for slot in slots.lines() {
        checks.check(seen.insert(slot.to_owned()), || {
            format!("habit slot {slot} ran twice")
        });
    }
    // Run numbers only grow, and a number once seen keeps its run.
    for name in ["keeper", "tick", "svc", "dock"] {
        if !expected.contains_key(name) {
            continue;
        }
        let status = host.status(name);
        let runs = status["runs"].as_array().cloned().unwrap_or_default();
        let mut last = 0;
        for r in &runs {
            let n = r["number"].as_u64().unwrap_or_default();
            checks.check(n > last, || {
                format!("{name}: run {n} listed after run {last}")
            });
            last = n;
            let started = r["started"].as_str().unwrap_or_default().to_owned();
            let before = runs_seen
                .entry((name.to_owned(), n))
                .or_insert_with(|| started.clone());
            checks.check(*before == started, || {
                format!("{name}: run {n} started {before} before, {started} now")
            });
        }
        let prev = max_run.entry(name.to_owned()).or_default();
        checks.check(last >= *prev, || {
            format!("{name}: newest run {last} after {prev}")
        });
        *prev = last.max(*prev);
    }
    // One process group per running plain task, no orphans; one container
    // and one daemon command in it for the docker task.
    let settled = wait_settle(Duration::from_secs(10), || {
        let (groups, orphans, sleepers) = task_groups(host);
        groups.get("keeper").map_or(0, BTreeSet::len) == 1
            && orphans.is_empty()
            && (!expected.contains_key("dock") || sleepers == 1)
    });
    let (groups, orphans, sleepers) = task_groups(host);
    let keeper = groups.get("keeper").map_or(0, BTreeSet::len);
    checks.check(settled || keeper == 1, || {
        format!("keeper has {keeper} process groups")
    });
    for name in ["tick", "svc"] {
        let n = groups.get(name).map_or(0, BTreeSet::len);
        checks.check(n <= 1, || format!("{name} has {n} process groups"));
    }
    for (task, g) in &groups {
        let running = expected
            .get(task)
            .is_some_and(|e| e.states.contains(&"running") || e.states.contains(&"ready"));
        checks.check(running, || {
            format!("task {task} ({g:?}) runs processes but should not")
        });
    }
    checks.check(orphans.is_empty(), || {
        format!("orphan processes: {orphans:?}")
    });
    if expected.contains_key("dock") {
        checks.check(sleepers == 1, || {
            format!("the docker daemon runs {sleepers} times")
        });
        let containers = Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=tnet.home={}", host.home.display()),
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
            .unwrap_or_default();
        checks.check(containers == 1, || {
            format!("{containers} containers for one docker task")
        });
    }
}

/// Polls `ok` until it holds or `limit` passes; whether it held.
fn wait_settle(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

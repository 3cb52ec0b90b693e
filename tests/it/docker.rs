//! Docker tasks (SPEC 8) against the real engine.
//!
//! No registry is reachable, so the suite makes its own image: a busybox root
//! filesystem (Debian's `busybox-static`) imported as `tnet-test/busybox:1`,
//! kept between tests and runs. The image holds `/tnet-image-marker`, a file
//! that exists nowhere else, so a task that prints it proves it ran inside a
//! container. Each test's host has its own name, and the containers labelled
//! with it are removed when the test ends, pass or fail.
//!
//! A machine without a Docker engine fails these tests, saying so: nothing
//! is skipped (`tnet_tests::require`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use tnet_tests::{wait_until, Host};

mod inside;
mod registry;

pub(crate) const IMAGE: &str = "tnet-test/busybox:1";
pub(crate) const MARKER: &str = "made-by-the-tnet-test-suite";
const WAIT: Duration = Duration::from_secs(60);

/// `docker ARGS`, its stdout when it succeeds.
pub(crate) fn docker(args: &[&str]) -> Option<String> {
    let out = Command::new("docker").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Fails the test unless a Docker engine answers (`tnet_tests::require`).
pub(crate) fn require_engine() {
    tnet_tests::require(
        docker(&["info", "--format", "{{.ServerVersion}}"]).is_some(),
        "a Docker engine that answers `docker info`",
    );
}

static IMAGE_LOCK: Mutex<()> = Mutex::new(());

/// Makes the test image once (kept between runs).
pub(crate) fn test_image() {
    let _one = IMAGE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if docker(&["image", "inspect", IMAGE]).is_some() {
        return;
    }
    let root = tempfile::tempdir().expect("rootfs dir");
    busybox_rootfs(root.path());
    import(root.path(), IMAGE);
}

/// Fills `r` with a busybox root filesystem: one link per applet,
/// `etc/passwd`, a world-writable `tmp`, and `/tnet-image-marker`. No `PATH`
/// goes with it: `docker import` without `--change` sets none.
pub(crate) fn busybox_rootfs(r: &Path) {
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.is_file(),
        "/bin/busybox is missing: install busybox-static (scripts/test-deps.sh)"
    );
    for dir in ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "tmp", "root"] {
        std::fs::create_dir_all(r.join(dir)).expect("mkdir");
    }
    std::fs::copy(busybox, r.join("bin/busybox")).expect("copy busybox");
    let list = Command::new(busybox)
        .arg("--list-full")
        .output()
        .expect("busybox --list-full");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let link = r.join(applet);
        if applet != "bin/busybox" && !link.exists() {
            let _ = std::os::unix::fs::symlink("/bin/busybox", link);
        }
    }
    std::fs::write(
        r.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
    )
    .expect("passwd");
    std::fs::write(r.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").expect("group");
    std::fs::write(r.join("tnet-image-marker"), format!("{MARKER}\n")).expect("marker");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(r.join("tmp"), std::fs::Permissions::from_mode(0o1777))
        .expect("chmod tmp");
}

/// `docker import` of the root filesystem `r` as `image` (no `--change`).
pub(crate) fn import(r: &Path, image: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("tar -c . | docker import - {image} >/dev/null"))
        .current_dir(r)
        .status()
        .expect("tar | docker import");
    assert!(status.success(), "docker import of {image} failed");
}

/// Removes a host's containers when dropped (and any left by an earlier
/// run), once its home is gone: [`tnet_tests::remove_dead_containers`].
pub(crate) struct Containers(String);

impl Containers {
    pub(crate) fn of(host: &str) -> Containers {
        let c = Containers(host.to_owned());
        c.clean();
        c
    }

    pub(crate) fn ids(&self, task: Option<&str>) -> Vec<String> {
        let mut args = vec![
            "ps".to_owned(),
            "-aq".to_owned(),
            "--filter".to_owned(),
            format!("label=tnet.host={}", self.0),
        ];
        if let Some(task) = task {
            args.extend(["--filter".to_owned(), format!("label=tnet.task={task}")]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        docker(&args)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn clean(&self) {
        tnet_tests::remove_dead_containers(&self.0);
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        self.clean();
    }
}

/// A docker task file in `dir` on the test image; `body` holds the type's lines.
pub(crate) fn task_file(dir: &Path, name: &str, body: &str, docker_extra: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "task_name = \"{name}\"\nrun_in_docker = true\n{body}\n\n\
             [docker_settings]\ndocker_img_id = \"{IMAGE}\"\n{docker_extra}"
        ),
    )
    .expect("write the task file");
    path
}

pub(crate) fn p(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

pub(crate) fn inspect(id: &str, format: &str) -> String {
    docker(&["inspect", "--format", format, id]).unwrap_or_default()
}

fn read_lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[test]
fn docker_daemon_runs_in_its_container_restarts_by_policy_and_stop_rm_follow() {
    require_engine();
    test_image();
    let host = Host::start("dk-daemon");
    let containers = Containers::of("dk-daemon");
    let dir = tempfile::tempdir().expect("dir");
    let file = task_file(
        dir.path(),
        "crashy",
        "task_type = \"daemon\"\n\
         commands = [\"cat /tnet-image-marker >> seen.txt; echo \\\"$TNET_TASK $(pwd)\\\" >> seen.txt; exit 3\"]\n\
         [daemon_details]\nrestart_on_fail = true",
        "",
    );
    host.tnet(&["run", p(&file)]).ok();
    let seen = host.home.join("crashy/seen.txt");
    // Two runs, written from inside the container into the mounted workspace.
    wait_until(WAIT, &format!("two runs (log:\n{})", host.log()), || {
        (read_lines(&seen) >= 4).then_some(())
    });
    let text = std::fs::read_to_string(&seen).expect("seen.txt");
    assert!(text.contains(MARKER), "{text}");
    let workspace = host.home.join("crashy");
    assert!(
        text.contains(&format!("crashy {}", workspace.display())),
        "the working directory is the workspace at its host path: {text}"
    );
    // Files the container wrote belong to the host's user, who may remove them.
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&seen).expect("stat");
    assert_eq!(meta.uid(), nix::unistd::getuid().as_raw());
    assert!(host.status("crashy")["restarts"].as_u64().unwrap_or(0) >= 1);
    // One container for the task however many restarts.
    let ids = containers.ids(Some("crashy"));
    assert_eq!(ids.len(), 1, "{ids:?}");

    host.tnet(&["stop", "crashy"]).ok();
    host.wait_state("crashy", "stopped");
    assert_eq!(inspect(&ids[0], "{{.State.Running}}"), "false");
    host.tnet(&["rm", "crashy"]).ok();
    assert!(containers.ids(Some("crashy")).is_empty(), "rm removes it");
    std::fs::remove_dir_all(dir.path()).ok();
}

#[test]
fn two_hosts_of_one_name_keep_their_own_containers() {
    require_engine();
    test_image();
    let _containers = Containers::of("dk-twin");
    let first = Host::start("dk-twin");
    let second = Host::start("dk-twin");
    let dir = tempfile::tempdir().expect("dir");
    let file = task_file(
        dir.path(),
        "twin",
        "task_type = \"daemon\"\ncommands = [\"echo up >> up.txt; sleep 100000\"]",
        "",
    );
    for host in [&first, &second] {
        host.tnet(&["run", p(&file)]).ok();
        host.wait_state("twin", "running");
    }
    let mine = |host: &Host| {
        docker(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=tnet.home={}", host.home.display()),
        ])
        .unwrap_or_default()
        .lines()
        .count()
    };
    // Each host runs the task in a container of its own; the second did not
    // take over (or remove) the first's.
    wait_until(WAIT, "each host's container running", || {
        (mine(&first) == 1 && mine(&second) == 1).then_some(())
    });
    for host in [&first, &second] {
        wait_until(WAIT, "the daemon writing in its own workspace", || {
            host.home.join("twin/up.txt").exists().then_some(())
        });
    }
    // Removing one host's task leaves the other's running.
    first.tnet(&["rm", "twin"]).ok();
    assert_eq!(mine(&first), 0, "rm removes the first host's container");
    assert_eq!(mine(&second), 1, "the second host's container is untouched");
    assert_eq!(second.state("twin").as_deref(), Some("running"));
}

#[test]
fn docker_habit_output_is_published_from_the_container() {
    require_engine();
    test_image();
    let host = Host::start("dk-habit");
    let _containers = Containers::of("dk-habit");
    let dir = tempfile::tempdir().expect("dir");
    let file = task_file(
        dir.path(),
        "peek",
        "task_type = \"habit\"\ncommands = [\"cat /tnet-image-marker\"]\n\
         [habit_details]\ntime_between_runs = \"1s\"",
        "",
    );
    host.tnet(&["run", p(&file)]).ok();
    wait_until(WAIT, &format!("a run (log:\n{})", host.log()), || {
        let runs = host.status("peek")["runs"].as_array()?.clone();
        runs.iter()
            .any(|r| r["outcome"] == "succeeded")
            .then_some(())
    });
    let sub = host.tnet_streaming(&["sub", "--json", "--last", "1", "peek"]);
    let line = sub
        .next_line(WAIT)
        .unwrap_or_else(|| panic!("no run from tnet sub: {}", sub.stderr()));
    let run: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(run["output"], format!("{MARKER}\n"), "{run}");
    assert_eq!(run["exit_code"], 0, "{run}");
}

#[test]
fn docker_service_answers_a_call_from_its_container() {
    require_engine();
    test_image();
    let host = Host::start("dk-service");
    let containers = Containers::of("dk-service");
    let dir = tempfile::tempdir().expect("dir");
    let file = task_file(
        dir.path(),
        "shout",
        "task_type = \"service\"\n\
         commands = [\"cat /tnet-image-marker; tr a-z A-Z; printf '[%s]' \\\"$@\\\"; test -f \\\"$TNET_INPUT\\\" && echo ' input-file'\"]",
        "",
    );
    host.tnet(&["run", p(&file)]).ok();
    host.wait_state("shout", "ready");
    for _ in 0..3 {
        let out = host
            .tnet_input(
                &["call", "shout", "--input", "-", "--", "a b", "c"],
                b"hello",
            )
            .ok();
        assert_eq!(
            out.stdout,
            format!("{MARKER}\nHELLO[a b][c] input-file\n"),
            "{out:?}"
        );
    }
    // Calls are execs in one container, not a container each.
    assert_eq!(containers.ids(Some("shout")).len(), 1);

    // `tnet shell` runs inside the same container, in the workspace.
    let out = host.tnet(&[
        "shell",
        "shout",
        "--",
        "sh",
        "-c",
        "cat /tnet-image-marker; pwd; echo oops >&2; exit 4",
    ]);
    assert_eq!(out.code, Some(4), "{out:?}");
    let workspace = host.home.join("shout");
    assert_eq!(
        out.stdout,
        format!("{MARKER}\n{}\n", workspace.display()),
        "{out:?}"
    );
    assert!(out.stderr.contains("oops"), "{out:?}");
}

#[test]
fn docker_seed_examples_run_end_to_end_in_containers() {
    require_engine();
    test_image();
    let host = Host::start("dk-seed");
    let containers = Containers::of("dk-seed");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let dir = tempfile::tempdir().expect("dir");
    // The seed's files as written, the image swapped for the suite's (no
    // registry here) and the Game Server's `openjdk8-jdk` dropped (no apt in busybox).
    let seed = |name: &str| {
        std::fs::read_to_string(root.join(name))
            .expect("seed example")
            .replace("\"Ubuntu 22.04\"", &format!("\"{IMAGE}\""))
            .replace("apt_packages = [\"openjdk8-jdk\"]", "apt_packages = []")
    };
    let habit = seed("seed-habit-my_binary.toml")
        .replace("\"5m\"", "\"1s\"")
        .replace(
            "/home/matthew/scripts/my_binary",
            p(&dir.path().join("my_binary")),
        );
    std::fs::write(
        dir.path().join("my_binary"),
        "#!/bin/sh\ncat /tnet-image-marker\necho \"my_binary $*\"\n",
    )
    .expect("my_binary");
    make_executable(&dir.path().join("my_binary"));
    std::fs::write(dir.path().join("habit.toml"), habit).expect("habit");
    std::fs::write(
        dir.path().join("daemon.toml"),
        seed("seed-daemon-game-server.toml"),
    )
    .expect("daemon");
    std::fs::write(
        dir.path().join("game-server-installer"),
        "#!/bin/sh\ncat /tnet-image-marker > installed.txt\nprintf '#!/bin/sh\\necho serving; sleep 1000\\n' > start.sh\nchmod +x start.sh\n",
    )
    .expect("installer");

    host.tnet(&["run", p(&dir.path().join("habit.toml"))]).ok();
    host.tnet(&["run", p(&dir.path().join("daemon.toml"))]).ok();

    let sub = host.tnet_streaming(&["sub", "--json", "--last", "1", "my_binary"]);
    let line = sub
        .next_line(WAIT)
        .unwrap_or_else(|| panic!("no run of my_binary: {}\n{}", sub.stderr(), host.log()));
    let run: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(
        run["output"],
        format!("{MARKER}\nmy_binary --timeout=10\n"),
        "{run}"
    );

    // The Game Server: setup in its container, then it waits for the user.
    host.wait_state("Game Server", "waiting");
    let installed =
        std::fs::read_to_string(host.home.join("Game_Server/installed.txt")).expect("installed");
    assert_eq!(installed.trim(), MARKER);
    let edited = seed("seed-daemon-game-server.toml")
        .replace("commands = []", "commands = [\"./start.sh\"]");
    std::fs::write(dir.path().join("daemon.toml"), edited).expect("edit");
    host.tnet(&[
        "edit",
        "Game Server",
        "--file",
        p(&dir.path().join("daemon.toml")),
    ])
    .ok();
    host.wait_state("Game Server", "running");
    wait_until(WAIT, "the game server serves", || {
        let logs = host.tnet(&["logs", "Game Server"]);
        logs.stdout.contains("serving").then_some(())
    });
    assert_eq!(containers.ids(Some("Game_Server")).len(), 1);
    assert_eq!(containers.ids(Some("my_binary")).len(), 1);
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn docker_host_killed_and_restarted_adopts_its_container() {
    require_engine();
    test_image();
    let mut host = Host::start("dk-adopt");
    let containers = Containers::of("dk-adopt");
    let dir = tempfile::tempdir().expect("dir");
    let file = task_file(
        dir.path(),
        "server",
        "task_type = \"daemon\"\ncommands = [\"echo start >> starts.txt; exec sleep 1000\"]",
        "",
    );
    host.tnet(&["run", p(&file)]).ok();
    let starts = host.home.join("server/starts.txt");
    wait_until(WAIT, "the daemon starts", || {
        (read_lines(&starts) >= 1).then_some(())
    });
    let before = containers.ids(Some("server"));
    assert_eq!(before.len(), 1);

    host.kill9();
    host.start_again();
    wait_until(
        WAIT,
        &format!("the daemon starts again (log:\n{})", host.log()),
        || (read_lines(&starts) >= 2).then_some(()),
    );
    host.wait_state("server", "running");
    assert_eq!(
        containers.ids(Some("server")),
        before,
        "the same container, adopted"
    );
    assert!(
        host.log().contains("adopted a running container"),
        "{}",
        host.log()
    );
    // The dead host's command was ended: one `sleep 1000` in the container.
    let ps = docker(&["exec", &before[0], "ps"]).expect("ps");
    assert_eq!(ps.matches("sleep 1000").count(), 1, "{ps}");

    // The adopted task obeys `tnet stop` and `tnet rm` as any other, promptly
    // (issue 16: the host never answered either).
    let asked = std::time::Instant::now();
    let stop = host.tnet(&["stop", "server"]);
    assert!(stop.success, "{stop:?}\nlog:\n{}", host.log());
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "stop took {:?}",
        asked.elapsed()
    );
    host.wait_state("server", "stopped");
    assert_eq!(inspect(&before[0], "{{.State.Running}}"), "false");
    let asked = std::time::Instant::now();
    let rm = host.tnet(&["rm", "server"]);
    assert!(rm.success, "{rm:?}\nlog:\n{}", host.log());
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "rm took {:?}",
        asked.elapsed()
    );
    assert!(
        containers.ids(Some("server")).is_empty(),
        "the container is gone"
    );
    assert!(host.state("server").is_none());
}

#[test]
fn docker_start_container_on_reboot_sets_a_restart_policy_the_engine_honours() {
    require_engine();
    test_image();
    let host = Host::start("dk-reboot");
    let containers = Containers::of("dk-reboot");
    let dir = tempfile::tempdir().expect("dir");
    let file = task_file(
        dir.path(),
        "sticky",
        "task_type = \"daemon\"\ncommands = [\"exec sleep 1000\"]\n\
         [daemon_details]\nrestart_on_end = true",
        "start_container_on_reboot = true",
    );
    host.tnet(&["run", p(&file)]).ok();
    host.wait_state("sticky", "running");
    // `running` is reported as the command starts; its container is created
    // by that start, a moment later.
    let ids = wait_until(WAIT, "the task's container exists", || {
        let ids = containers.ids(Some("sticky"));
        (!ids.is_empty()).then_some(ids)
    });
    assert_eq!(ids.len(), 1, "one container per task");
    let id = &ids[0];
    assert_eq!(
        inspect(id, "{{.HostConfig.RestartPolicy.Name}}"),
        "unless-stopped"
    );
    // The container's main process exits (as at an engine stop); the engine
    // brings it back. Its container exists before it runs (`docker exec`
    // into it failed once, beside the other tests): first the daemon runs.
    wait_until(WAIT, "the daemon runs in its container", || {
        docker(&["exec", id, "ps"])?
            .contains("sleep 1000")
            .then_some(())
    });
    // Its exit status says nothing: `kill` itself can be killed as PID 1
    // ends and its pid namespace goes with it (seen in CI, on a loaded
    // machine). The restart count says whether PID 1 ended.
    let killed = Command::new("docker")
        .args(["exec", id, "kill", "1"])
        .output()
        .map(|o| format!("{}{}", o.status, String::from_utf8_lossy(&o.stderr)));
    let restarted = format!("the engine restarts the container (`kill 1`: {killed:?})");
    wait_until(WAIT, &restarted, || {
        let count: u64 = inspect(id, "{{.RestartCount}}").parse().ok()?;
        (count >= 1 && inspect(id, "{{.State.Running}}") == "true").then_some(())
    });
    // And the host runs its daemon in it again.
    wait_until(
        WAIT,
        &format!("the daemon runs again (log:\n{})", host.log()),
        || {
            let ps = docker(&["exec", id, "ps"])?;
            ps.contains("sleep 1000").then_some(())
        },
    );
}

#[test]
fn docker_image_that_cannot_be_pulled_is_a_clear_error_with_nothing_left() {
    require_engine();
    let host = Host::start("dk-nopull");
    let containers = Containers::of("dk-nopull");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("ghost.toml");
    std::fs::write(
        &file,
        "task_name = \"ghost\"\ntask_type = \"habit\"\ncommands = [\"true\"]\nrun_in_docker = true\n\
         [habit_details]\ntime_between_runs = \"1m\"\n\
         [docker_settings]\ndocker_img_id = \"tnet-test/no-such-image:0\"\n",
    )
    .expect("write");
    let out = host.tnet(&["run", p(&file)]);
    assert!(!out.success, "{out:?}");
    assert!(
        out.stderr.contains("tnet-test/no-such-image:0") && out.stderr.contains("cannot be pulled"),
        "{out:?}"
    );
    assert!(host.tasks().is_empty());
    assert!(!host.home.join("ghost").exists(), "no workspace left");
    assert!(containers.ids(None).is_empty());
}

#[test]
fn host_without_docker_refuses_docker_tasks_and_serves_the_rest() {
    // Needs no engine: the host is pointed at a socket that does not exist.
    let host = Host::start_with_env(
        "dk-none",
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let dir = tempfile::tempdir().expect("dir");
    let docker_task = task_file(
        dir.path(),
        "boxed",
        "task_type = \"service\"\ncommands = [\"cat\"]",
        "",
    );
    let out = host.tnet(&["run", p(&docker_task)]);
    assert!(!out.success, "{out:?}");
    assert!(out.stderr.contains("no Docker engine"), "{out:?}");
    assert!(host.tasks().is_empty());
    let plain = dir.path().join("plain.toml");
    std::fs::write(
        &plain,
        "task_name = \"plain\"\ntask_type = \"service\"\ncommands = [\"cat\"]\n",
    )
    .expect("write");
    host.tnet(&["run", p(&plain)]).ok();
    host.wait_state("plain", "ready");
    let out = host
        .tnet_input(&["call", "plain", "--input", "-"], b"still here")
        .ok();
    assert_eq!(out.stdout, "still here");
}

pub(crate) const DEBIAN: &str = "tnet-test/debian:12";

/// A Debian image made with debootstrap (kept between runs), for packages.
pub(crate) fn debian_image() {
    static LOCK: Mutex<()> = Mutex::new(());
    let _one = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if docker(&["image", "inspect", DEBIAN]).is_some() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path().join("root");
    let status = Command::new("debootstrap")
        .args(["--variant=minbase", "bookworm"])
        .arg(&root)
        .arg("http://deb.debian.org/debian")
        .stdout(std::process::Stdio::null())
        .status()
        .expect("debootstrap runs (scripts/test-deps.sh installs it)");
    assert!(status.success(), "debootstrap failed");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "rm -rf var/cache/apt/archives/*.deb var/lib/apt/lists/* && tar -c . | docker import - {DEBIAN} >/dev/null"
        ))
        .current_dir(&root)
        .status()
        .expect("tar | docker import");
    assert!(status.success(), "docker import of the Debian image failed");
}

#[test]
fn docker_packages_go_into_a_derived_image_built_once() {
    require_engine();
    debian_image();
    // A derived image left by an earlier run that failed halfway (its name is
    // a hash of what goes in, so it would be found and not built); one still
    // in use by a container stays, and then the count below says so.
    for leftover in docker(&["images", "-q", "tnet-derived"])
        .unwrap_or_default()
        .split_whitespace()
    {
        let _ = docker(&["image", "rm", leftover]);
    }
    let host = Host::start("dk-pkgs");
    let _containers = Containers::of("dk-pkgs");
    let dir = tempfile::tempdir().expect("dir");
    // A real package fetched on the host: the build container needs no network.
    let fetched = Command::new("apt-get")
        .args(["download", "hello"])
        .current_dir(dir.path())
        .status()
        .expect("apt-get download");
    assert!(fetched.success(), "apt-get download hello failed");
    let deb = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".deb"))
        .expect("a .deb")
        .path();
    std::fs::rename(&deb, dir.path().join("hello.deb")).expect("rename");
    for name in ["greet1", "greet2"] {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "task_name = \"{name}\"\ntask_type = \"service\"\ncommands = [\"hello\"]\n\
                 necessary_files = [\"./hello.deb\"]\nrun_in_docker = true\n\
                 [docker_settings]\ndocker_img_id = \"{DEBIAN}\"\napt_packages = [\"./hello.deb\"]\n"
            ),
        )
        .expect("write");
        host.tnet(&["run", p(&path)]).ok();
        host.wait_state(name, "ready");
        let out = host.tnet(&["call", name]).ok();
        assert_eq!(out.stdout, "Hello, world!\n", "{out:?}");
    }
    let log = host.log();
    assert_eq!(log.matches("derived image built").count(), 1, "{log}");
    let image = inspect(
        &_containers.ids(Some("greet2"))[0],
        "{{index .Config.Labels \"tnet.image\"}}",
    );
    assert!(image.starts_with("tnet-derived:"), "{image}");
    // rm of both tasks removes the derived image nobody uses any more.
    host.tnet(&["rm", "greet1"]).ok();
    assert!(
        docker(&["image", "inspect", &image]).is_some(),
        "still used by greet2"
    );
    host.tnet(&["rm", "greet2"]).ok();
    assert!(
        docker(&["image", "inspect", &image]).is_none(),
        "unused, removed"
    );
}

/// An image with no shell: a container of it cannot start.
fn image_without_a_shell() -> &'static str {
    const NOSH: &str = "tnet-test/nosh:1";
    let _one = IMAGE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if docker(&["image", "inspect", NOSH]).is_none() {
        let root = tempfile::tempdir().expect("rootfs dir");
        std::fs::write(root.path().join("only-a-file"), "no shell here\n").expect("write");
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("tar -c . | docker import - {NOSH} >/dev/null"))
            .current_dir(root.path())
            .status()
            .expect("tar | docker import");
        assert!(
            status.success(),
            "docker import of the shell-less image failed"
        );
    }
    NOSH
}

#[test]
fn docker_container_that_cannot_start_says_why_in_status_logs_and_events() {
    require_engine();
    let image = image_without_a_shell();
    let host = Host::start("dk-why");
    let _containers = Containers::of("dk-why");
    let mut events = host.follow(&["events", "--json"]);
    events.wait_line(WAIT, |l| l.contains("following events"));
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("broken.toml");
    std::fs::write(
        &file,
        format!(
            "task_name = \"broken\"\nrun_in_docker = true\ntask_type = \"daemon\"\n\
             commands = [\"echo hi\"]\n\n[docker_settings]\ndocker_img_id = \"{image}\"\n"
        ),
    )
    .expect("write");
    host.tnet(&["run", p(&file)]).ok();
    let why = "executable file not found";
    let event = events.wait_line(WAIT, |l| l.contains("\"failed\"") && l.contains(why));
    let event: serde_json::Value = serde_json::from_str(&event).expect("an event as JSON");
    assert!(
        event["reason"].as_str().is_some_and(|r| r.contains(why)),
        "{event}"
    );
    host.wait_state("broken", "failed");
    let status = host.status("broken");
    assert!(
        status["reason"].as_str().is_some_and(|r| r.contains(why)),
        "{status}"
    );
    let runs = status["runs"].as_array().expect("runs");
    assert!(
        runs.last()
            .is_some_and(|r| r["reason"].as_str().is_some_and(|r| r.contains(why))),
        "{status}"
    );
    let human = host.tnet(&["status", "broken"]).ok();
    assert!(human.stdout.contains(why), "{human:?}");
    wait_until(WAIT, "`tnet logs` says why", || {
        let logs = host.tnet(&["logs", "broken"]).ok();
        logs.stdout.contains(why).then_some(())
    });
}

/// The test image for the soak's docker daemon (the test fails on a machine
/// without an engine, `tnet_tests::require`).
pub(crate) fn soak_image() -> Option<String> {
    require_engine();
    test_image();
    Some(IMAGE.to_owned())
}

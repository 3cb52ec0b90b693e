//! What happens inside a task's container: images without a `PATH`, stop and
//! rm when the host cannot see the container's processes, `tnet shell` with a
//! real terminal, and pip packages from a wheel with no network.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use expectrl::{ControlCode, Expect, Session};
use tnet_tests::{bin, wait_until, Host};

use super::{
    debian_image, docker, inspect, p, require_engine, task_file, test_image, Containers, DEBIAN,
    IMAGE, MARKER,
};

const WAIT: Duration = Duration::from_secs(60);

/// Waits for a task's container to be up and returns its id.
fn running_container(containers: &Containers, task: &str) -> String {
    wait_until(WAIT, "the task's container runs", || {
        let ids = containers.ids(Some(task));
        let id = ids.first()?.clone();
        (inspect(&id, "{{.State.Running}}") == "true").then_some(id)
    })
}

#[test]
fn docker_image_without_a_path_still_finds_commands_by_name() {
    require_engine();
    test_image();
    // `docker import` without `--change` sets no environment at all.
    assert_eq!(
        docker(&[
            "image",
            "inspect",
            "--format",
            "{{json .Config.Env}}",
            IMAGE
        ])
        .as_deref(),
        Some("null"),
        "the test image is meant to have no PATH"
    );
    let host = Host::start("dk-nopath");
    let containers = Containers::of("dk-nopath");
    let dir = tempfile::tempdir().expect("dir");
    let file = task_file(
        dir.path(),
        "bare",
        "task_type = \"service\"\ncommands = [\"echo \\\"PATH=$PATH\\\"; basename $(which cat)\"]",
        "",
    );
    host.tnet(&["run", p(&file)]).ok();
    host.wait_state("bare", "ready");
    let out = host.tnet(&["call", "bare"]).ok();
    assert_eq!(
        out.stdout, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\ncat\n",
        "{out:?}"
    );
    // Set on the container itself, so no engine's own default is relied on.
    let id = &containers.ids(Some("bare"))[0];
    assert!(
        inspect(id, "{{json .Config.Env}}").contains("\"PATH=/usr/local/sbin:"),
        "{}",
        inspect(id, "{{json .Config.Env}}")
    );
    // A shell finds its commands too.
    let out = host.tnet(&["shell", "bare", "--", "sh", "-c", "cat /tnet-image-marker"]);
    assert_eq!(out.stdout, format!("{MARKER}\n"), "{out:?}");
}

#[test]
fn docker_stop_and_rm_work_when_the_host_cannot_see_the_containers_processes() {
    require_engine();
    test_image();
    // In a pid namespace of its own the host sees no process of the engine's:
    // every pid the engine reports is foreign to it (a remote engine's case).
    let host = Host::start_in_pid_namespace("dk-blind");
    let containers = Containers::of("dk-blind");
    let dir = tempfile::tempdir().expect("dir");
    let file = task_file(
        dir.path(),
        "blind",
        "task_type = \"daemon\"\n\
         commands = [\"trap 'echo got-term > term.txt; exit 0' TERM; echo up > up.txt; while :; do sleep 1; done\"]",
        "",
    );
    host.tnet(&["run", p(&file)]).ok();
    let ws = host.home.join("blind");
    wait_until(
        WAIT,
        &format!("the daemon starts (log:\n{})", host.log()),
        || ws.join("up.txt").exists().then_some(()),
    );
    let id = running_container(&containers, "blind");
    let status = host.status("blind");
    assert_eq!(status["state"], "running", "{status}");
    assert!(
        status["pid"].is_null(),
        "the host cannot see the command's process: {status}"
    );

    let asked = Instant::now();
    let stop = host.tnet(&["stop", "blind"]);
    assert!(stop.success, "{stop:?}\nlog:\n{}", host.log());
    host.wait_state("blind", "stopped");
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "stop took {:?}",
        asked.elapsed()
    );
    // The command got TERM (through the engine) and ended as it chose to.
    assert_eq!(
        std::fs::read_to_string(ws.join("term.txt")).unwrap_or_default(),
        "got-term\n",
        "log:\n{}",
        host.log()
    );
    assert_eq!(inspect(&id, "{{.State.Running}}"), "false");
    assert!(
        !host.log().contains("cannot be signalled"),
        "{}",
        host.log()
    );

    // Started again, then removed while running: rm goes through the engine too.
    host.tnet(&["start", "blind"]).ok();
    host.wait_state("blind", "running");
    running_container(&containers, "blind");
    let asked = Instant::now();
    let rm = host.tnet(&["rm", "blind"]);
    assert!(rm.success, "{rm:?}\nlog:\n{}", host.log());
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "rm took {:?}",
        asked.elapsed()
    );
    assert!(
        containers.ids(Some("blind")).is_empty(),
        "the container is gone"
    );
    assert!(host.state("blind").is_none());
    eprintln!("HOSTLOG\n{}", host.log());
}

#[test]
fn docker_shell_with_a_terminal_inside_the_container() {
    require_engine();
    test_image();
    let host = Host::start("dk-tty");
    let containers = Containers::of("dk-tty");
    let dir = tempfile::tempdir().expect("dir");
    let file = task_file(
        dir.path(),
        "boxed",
        "task_type = \"daemon\"\ncommands = [\"exec sleep 1000\"]",
        "",
    );
    host.tnet(&["run", p(&file)]).ok();
    host.wait_state("boxed", "running");
    running_container(&containers, "boxed");

    let script = format!(
        "before=$(stty -g); '{}' --connect {} shell boxed; echo \"tnet exited $?\"; [ \"$(stty -g)\" = \"$before\" ] && echo terminal-restored",
        bin("tnet").display(),
        host.endpoint()
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script])
        .env("TERM", "xterm")
        .envs(tnet_tests::client_env());
    let mut s = Session::spawn(cmd).expect("a pty");
    s.set_expect_timeout(Some(Duration::from_secs(20)));
    s.send_line("export PS1='BOX> '").expect("send");
    s.expect("BOX> ")
        .expect("the prompt of the container's shell");
    // Inside the container (the image's marker), in the workspace, on a terminal.
    s.send_line("cat /tnet-image-marker; pwd; tty")
        .expect("send");
    s.expect(MARKER).expect("the image's marker");
    s.expect(host.home.join("boxed").to_str().expect("utf8"))
        .expect("the workspace");
    s.expect("/dev/pts/").expect("a terminal, not pipes");

    s.get_process_mut().set_window_size(97, 31).expect("resize");
    wait_until(
        Duration::from_secs(20),
        "the container's terminal follows the resize",
        || {
            s.send_line("echo size=$(stty size)").ok()?;
            let found = s.expect(expectrl::Regex("size=[0-9]+ [0-9]+")).ok()?;
            String::from_utf8_lossy(found.get(0)?)
                .contains("size=31 97")
                .then_some(())
        },
    );

    s.send_line("sh -c 'echo sleep-$((1+1)); exec sleep 30'")
        .expect("send");
    s.expect("sleep-2").expect("sleep started");
    s.send(ControlCode::EndOfText).expect("Ctrl-C");
    s.set_expect_timeout(Some(Duration::from_secs(10)));
    s.send_line("echo still-$((40+2))").expect("send");
    s.expect("still-42")
        .expect("Ctrl-C ended sleep, not the session");

    s.set_expect_timeout(Some(Duration::from_secs(20)));
    s.send_line("exit 3").expect("send");
    s.expect("tnet exited 3").expect("the shell's exit code");
    s.expect("terminal-restored")
        .expect("the terminal is restored");
}

const PYTHON_IMAGE: &str = "tnet-test/debian-pip:12";

/// The Debian test image with python3 and pip, made once (kept): apt
/// fetches them over the host's network, as debootstrap does.
fn python_image() {
    static LOCK: Mutex<()> = Mutex::new(());
    let _one = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if docker(&["image", "inspect", PYTHON_IMAGE]).is_some() {
        return;
    }
    debian_image();
    let builder = format!("tnet-test-pip-build-{}", std::process::id());
    let _ = docker(&["rm", "-f", &builder]);
    let built = docker(&[
        "run",
        "--name",
        &builder,
        "--network",
        "host",
        DEBIAN,
        "sh",
        "-c",
        "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-pip >/dev/null && rm -rf /var/lib/apt/lists/*",
    ]);
    let committed =
        built.and_then(|_| docker(&["commit", "--change", "CMD [\"sh\"]", &builder, PYTHON_IMAGE]));
    let _ = docker(&["rm", "-f", &builder]);
    assert!(
        committed.is_some(),
        "could not make {PYTHON_IMAGE} (apt-get install python3-pip in {DEBIAN})"
    );
}

/// A pure-Python wheel, written by hand (a zip with the dist-info pip reads).
fn make_wheel(dir: &Path) -> &'static str {
    const WHEEL: &str = "tnetdemo-1.0-py3-none-any.whl";
    let script = r#"
import sys, zipfile
files = {
    "tnetdemo/__init__.py": "GREETING = 'hello from a wheel'\n",
    "tnetdemo-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tnetdemo\nVersion: 1.0\n",
    "tnetdemo-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: tnet-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = "".join(f"{name},,\n" for name in files) + "tnetdemo-1.0.dist-info/RECORD,,\n"
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for name, text in files.items():
        z.writestr(name, text)
    z.writestr("tnetdemo-1.0.dist-info/RECORD", record)
"#;
    let ok = Command::new("python3")
        .args(["-c", script])
        .arg(dir.join(WHEEL))
        .status()
        .expect("python3 runs");
    assert!(ok.success(), "making the wheel failed");
    WHEEL
}

#[test]
fn docker_pip_packages_in_both_spellings_install_a_wheel_with_no_network() {
    require_engine();
    python_image();
    let host = Host::start("dk-pip");
    let _containers = Containers::of("dk-pip");
    let dir = tempfile::tempdir().expect("dir");
    let wheel = make_wheel(dir.path());
    // The seed's two spellings of the same settings: one derived image.
    for (name, table, key) in [
        ("pip-long", "docker_settings", "pip_packages"),
        ("pip-short", "docker_details", "pip_pkgs"),
    ] {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "task_name = \"{name}\"\ntask_type = \"service\"\nrun_in_docker = true\n\
                 commands = [\"python3 -c 'import tnetdemo; print(tnetdemo.GREETING)'\"]\n\
                 necessary_files = [\"./{wheel}\"]\n\
                 [{table}]\ndocker_img_id = \"{PYTHON_IMAGE}\"\n{key} = [\"./{wheel}\"]\n"
            ),
        )
        .expect("write");
        host.tnet(&["run", p(&path)]).ok();
        host.wait_state(name, "ready");
        let out = host.tnet(&["call", name]).ok();
        assert_eq!(out.stdout, "hello from a wheel\n", "{out:?}");
    }
    let log = host.log();
    assert_eq!(log.matches("derived image built").count(), 1, "{log}");
    // The build had no network at all: the wheel came with the task.
    assert!(log.contains("network=none"), "{log}");
    host.tnet(&["rm", "pip-long"]).ok();
    host.tnet(&["rm", "pip-short"]).ok();
}

//! Task files from the command line, as the seed's "Client Formatting" shows
//! them: the real `tnet` binary in a temporary folder, `--edit` with a
//! scripted editor, and `--menu` driven with key presses through a real
//! pseudo-terminal. Every wait on the terminal has a timeout.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use expectrl::process::unix::WaitStatus;
use expectrl::session::OsSession as Session;
use expectrl::{Eof, Expect};
use tnet_proto::task::{parse_task, Notifier, TaskSpec, TaskType};

const DOWN: &str = "\x1b[B";
const ENTER: &str = "\r";
/// How long any one screen may take to appear.
const SCREEN_TIMEOUT: Duration = Duration::from_secs(20);

/// `tnet` with `args`, run in `dir` with no terminal, no host and no editor.
fn tnet(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tnet"))
        .args(args)
        .current_dir(dir)
        .env_remove("TNET_CONNECT")
        .env_remove("TNET_HOST")
        .env_remove("VISUAL")
        .env("EDITOR", "false")
        .stdin(Stdio::null())
        .output()
        .expect("tnet runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn read_task(path: &Path) -> TaskSpec {
    let text = std::fs::read_to_string(path).expect("the task file was written");
    parse_task(&path.display().to_string(), &text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// A folder with a script and a data file, like a user's project.
fn project() -> Project {
    project_in("myproject")
}

/// A user's project in a folder called `name` (which the menu offers as the
/// task's name).
fn project_in(name: &str) -> Project {
    let root = tempfile::tempdir().expect("tempdir");
    let path = root.path().join(name);
    std::fs::create_dir(&path).expect("mkdir");
    std::fs::write(path.join("myscript.py"), "print('hi')\n").expect("write");
    std::fs::write(path.join("data.csv"), "a,b\n").expect("write");
    std::fs::write(path.join(".env"), "SECRET=1\n").expect("write");
    Project { _root: root, path }
}

struct Project {
    _root: tempfile::TempDir,
    path: PathBuf,
}

impl Project {
    fn path(&self) -> &Path {
        &self.path
    }
}

/// An executable shell script at `dir/name`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// `tnet args` in `dir` on a real pseudo-terminal.
fn spawn_on_terminal(dir: &Path, args: &[&str], editor: Option<&Path>) -> Session {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tnet"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("TNET_CONNECT")
        .env_remove("TNET_HOST")
        .env_remove("VISUAL")
        .env("TERM", "xterm")
        .env(
            "EDITOR",
            editor.map_or("false".into(), |p| p.as_os_str().to_owned()),
        );
    let mut session = expectrl::Session::spawn(command).expect("tnet starts on a pseudo-terminal");
    session.set_expect_timeout(Some(SCREEN_TIMEOUT));
    session
}

/// Waits for `text` on the terminal; panics with what was there instead.
fn expect(session: &mut Session, text: &str) -> String {
    match session.expect(text) {
        Ok(found) => String::from_utf8_lossy(found.before()).into_owned(),
        Err(err) => panic!("waiting for {text:?}: {err}"),
    }
}

/// Waits until a task-name prompt has drawn its initial text (the folder's
/// name), which it does just before it reads the first key.
///
/// The prompt reads each key in raw mode and is back in cooked mode between
/// reads and before the first: an erase key the terminal gets then is eaten
/// by its line editing (under load it was, and the test typed after the old
/// name). So the tests keep the folder's name and type after it, which
/// cooked mode keeps.
fn wait_for_initial_name(session: &mut Session, dir: &Path) {
    expect(session, &tnet_cli::generate::default_name(dir));
}

/// Sends `keys`, then waits for `then`.
fn press(session: &mut Session, keys: &str, then: &str) -> String {
    session.send(keys).expect("keys are sent");
    expect(session, then)
}

/// Waits for the program to end and returns its exit code.
fn exit_code(mut session: Session) -> i32 {
    expect_eof(&mut session);
    let deadline = Instant::now() + SCREEN_TIMEOUT;
    loop {
        match session.get_process().status() {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::StillAlive) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => panic!("tnet did not exit: {other:?}"),
        }
    }
}

fn expect_eof(session: &mut Session) {
    if let Err(err) = session.expect(Eof) {
        panic!("waiting for tnet to end: {err}");
    }
}

/// Seed: `tnet --generate-only --type=service --run="myscript.py" --files=./*`
/// creates `servicetask.toml`, a service that runs myscript.py and sends
/// every file of the folder.
#[test]
fn seed_service_from_flags() {
    let dir = project();
    let out = tnet(
        dir.path(),
        &[
            "--generate-only",
            "--type=service",
            "--run=myscript.py",
            "--files=./*",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let spec = read_task(&dir.path().join("servicetask.toml"));
    assert_eq!(spec.task_type, TaskType::Service);
    assert_eq!(spec.commands, ["myscript.py"]);
    // Expanded here, like a shell would: sorted, no dot files.
    assert_eq!(spec.necessary_files, ["./data.csv", "./myscript.py"]);
    assert!(!spec.name.is_empty());
    assert!(!spec.run_in_docker);
    assert_eq!(spec.notify.on_end, Notifier::None);
    let text = std::fs::read_to_string(dir.path().join("servicetask.toml")).expect("read");
    assert!(
        text.contains("# service -> runs the commands when called"),
        "{text}"
    );

    // The same when the shell has already expanded the glob into several words.
    let out = tnet(
        dir.path(),
        &[
            "--generate-only",
            "--type=service",
            "--run=myscript.py",
            "-o",
            "shell.toml",
            "--files",
            "./data.csv",
            "./myscript.py",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let spec = read_task(&dir.path().join("shell.toml"));
    assert_eq!(spec.necessary_files, ["./data.csv", "./myscript.py"]);
}

#[test]
fn an_existing_file_is_kept_without_force() {
    let dir = project();
    let args = ["--generate-only", "--type=daemon", "--name=first"];
    assert!(tnet(dir.path(), &args).status.success());
    let file = dir.path().join("daemontask.toml");
    let before = std::fs::read_to_string(&file).expect("read");

    let out = tnet(
        dir.path(),
        &["--generate-only", "--type=daemon", "--name=second"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("daemontask.toml already exists"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&file).expect("read"), before);

    let out = tnet(
        dir.path(),
        &[
            "--generate-only",
            "--type=daemon",
            "--name=second",
            "--force",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(read_task(&file).name, "second");
}

#[test]
fn every_flag_reaches_the_file() {
    let dir = project();
    let out = tnet(
        dir.path(),
        &[
            "--generate-only",
            "--type=daemon",
            "--name=Game Server",
            "--setup=chmod +x ./installer",
            "--setup=./installer",
            "--run=./start.sh",
            "--files=myscript.py",
            "--image=Ubuntu 22.04",
            "--apt=openjdk-17-jdk,curl",
            "--pip=requests",
            "--start-container-on-reboot",
            "--on-end=email",
            "--on-fail=email",
            "--on-success=qmail",
            "--restart-on-end",
            "--restart-on-fail",
            "--restart-on-success",
            "--wait-after-setup",
            "-o",
            "game.toml",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let spec = read_task(&dir.path().join("game.toml"));
    assert_eq!(spec.name, "Game Server");
    assert_eq!(spec.setup_commands, ["chmod +x ./installer", "./installer"]);
    assert_eq!(spec.commands, ["./start.sh"]);
    assert_eq!(spec.necessary_files, ["myscript.py"]);
    assert!(spec.run_in_docker, "--image implies --docker");
    assert_eq!(spec.docker.apt_packages, ["openjdk-17-jdk", "curl"]);
    assert_eq!(spec.docker.pip_packages, ["requests"]);
    assert!(spec.docker.start_container_on_reboot);
    assert_eq!(spec.notify.on_success, Notifier::Qmail);
    let daemon = spec.daemon;
    assert!(daemon.restart_on_end && daemon.restart_on_fail && daemon.restart_on_success);
    assert!(daemon.wait_after_setup);

    let out = tnet(
        dir.path(),
        &[
            "--generate-only",
            "--type=habit",
            "--run=date",
            "--every=90s",
            "--ignore-nonzero-exits",
            "-o",
            "h.toml",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let habit = read_task(&dir.path().join("h.toml"))
        .habit
        .expect("a habit");
    assert_eq!(habit.time_between_runs.as_str(), "90s");
    assert!(habit.ignore_nonzero_exits);

    for (args, complaint) in [
        (
            &[
                "--generate-only",
                "--type=habit",
                "--run=date",
                "--every=soon",
            ][..],
            "soon",
        ),
        (
            &["--generate-only", "--type=daemon", "--every=5m"][..],
            "--every does not apply to a daemon",
        ),
        (&["--generate-only", "--name=x"][..], "--type"),
        (
            &["--generate-only", "--type=service", "--files=*.rs"][..],
            "matches no file",
        ),
    ] {
        let out = tnet(dir.path(), args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            stderr(&out).contains(complaint),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

/// Seed: `tnet --generate-only --name=temperature_monitor --type=habit --edit`
/// creates `habittask.toml` and opens the default editor on it.
#[test]
fn seed_habit_opens_the_editor() {
    let dir = project();
    let calls = dir.path().join("calls");
    let editor = script(
        dir.path(),
        "editor.sh",
        &format!(
            "echo \"$1\" >> '{}'\nsed -i 's/^time_between_runs = .*/time_between_runs = \"10m\"/' \"$1\"\n",
            calls.display()
        ),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_tnet"))
        .args([
            "--generate-only",
            "--name=temperature_monitor",
            "--type=habit",
            "--edit",
        ])
        .current_dir(dir.path())
        .env_remove("VISUAL")
        .env("EDITOR", &editor)
        .stdin(Stdio::null())
        .output()
        .expect("tnet runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&calls).expect("editor ran"),
        "habittask.toml\n"
    );
    let spec = read_task(&dir.path().join("habittask.toml"));
    assert_eq!(spec.name, "temperature_monitor");
    assert_eq!(spec.task_type, TaskType::Habit);
    let habit = spec.habit.expect("a habit");
    assert_eq!(habit.time_between_runs.as_str(), "10m");

    // $VISUAL comes before $EDITOR.
    let visual = script(
        dir.path(),
        "visual.sh",
        &format!("echo visual >> '{}'\n", calls.display()),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_tnet"))
        .args(["--generate-only", "--type=daemon", "--edit"])
        .current_dir(dir.path())
        .env("VISUAL", &visual)
        .env("EDITOR", "false")
        .stdin(Stdio::null())
        .output()
        .expect("tnet runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&calls)
        .expect("read")
        .ends_with("visual\n"));
}

/// An editor that leaves a mistake: the problem is shown with its line and
/// column, and "edit again? [Y/n]" answered with Enter reopens the editor.
#[test]
fn a_mistake_after_editing_offers_to_edit_again() {
    let dir = project();
    let count = dir.path().join("count");
    let editor = script(
        dir.path(),
        "editor.sh",
        &format!(
            "n=$(cat '{count}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{count}'\n\
             if [ $n -eq 1 ]; then value=soon; else value=10m; fi\n\
             sed -i \"s/^time_between_runs = .*/time_between_runs = \\\"$value\\\"/\" \"$1\"\n",
            count = count.display()
        ),
    );
    let mut session = spawn_on_terminal(
        dir.path(),
        &[
            "--generate-only",
            "--name=temperature_monitor",
            "--type=habit",
            "--edit",
        ],
        Some(&editor),
    );
    let shown = expect(&mut session, "edit again? [Y/n]");
    assert!(shown.contains("habittask.toml:"), "{shown}");
    assert!(shown.contains("`soon` is not a schedule"), "{shown}");
    session.send(ENTER).expect("answer");
    assert_eq!(exit_code(session), 0);
    assert_eq!(std::fs::read_to_string(&count).expect("read").trim(), "2");
    let spec = read_task(&dir.path().join("habittask.toml"));
    assert_eq!(spec.habit.expect("habit").time_between_runs.as_str(), "10m");
    let text = std::fs::read_to_string(dir.path().join("habittask.toml")).expect("read");
    assert!(
        text.contains("# \"5m\", \"1h 30m\", \"90s\", or a cron expression"),
        "{text}"
    );
}

/// Declining to edit again leaves the file as the editor left it, and fails.
#[test]
fn declining_to_edit_again_keeps_the_file_and_fails() {
    let dir = project();
    let editor = script(
        dir.path(),
        "editor.sh",
        "sed -i 's/^time_between_runs = .*/time_between_runs = \"soon\"/' \"$1\"\n",
    );
    let mut session = spawn_on_terminal(
        dir.path(),
        &["--generate-only", "--type=habit", "--run=date", "--edit"],
        Some(&editor),
    );
    expect(&mut session, "edit again? [Y/n]");
    session.send("n\r").expect("answer");
    expect(&mut session, "still has problems");
    assert_ne!(exit_code(session), 0);
    let text = std::fs::read_to_string(dir.path().join("habittask.toml")).expect("kept");
    assert!(text.contains("time_between_runs = \"soon\""), "{text}");
}

/// Seed: `tnet --generate-only --menu`: the type with the arrow keys, then
/// the details, each change marked `(*unsaved)`, then "Write Changes".
#[test]
fn menu_writes_a_habit() {
    let dir = project_in("temperature");
    let mut s = spawn_on_terminal(dir.path(), &["--generate-only", "--menu"], None);
    expect(&mut s, "Which type of task do you want?");
    expect(
        &mut s,
        "->  Daemon  (Task runs as a background process, like a web server)",
    );
    expect(
        &mut s,
        "    Habit   (Task runs every X interval, like a system backup)",
    );
    expect(
        &mut s,
        "    Service (Task runs when requested, like a printer request)",
    );
    press(&mut s, DOWN, "->  Habit   (Task runs every X interval");
    press(&mut s, ENTER, "Habit selected.");
    expect(&mut s, "Choose a detail to edit (or 'q' to exit):");
    expect(&mut s, "->  Task Type: habit (*unsaved)");

    // Task Name.
    press(&mut s, DOWN, "->  Task Name");
    press(&mut s, ENTER, "Task name: ");
    wait_for_initial_name(&mut s, dir.path());
    press(
        &mut s,
        "_monitor\r",
        "->  Task Name: temperature_monitor (*unsaved)",
    );

    // Commands: add one.
    press(&mut s, DOWN, "->  Commands: (none)");
    press(&mut s, ENTER, "->  Add a command");
    press(&mut s, ENTER, "New command: ");
    press(&mut s, "python3 read_temp.py\r", "->  python3 read_temp.py");
    press(&mut s, "q", "->  Commands: python3 read_temp.py (*unsaved)");

    // Files: a glob, expanded.
    press(&mut s, &DOWN.repeat(2), "->  Files: (none)");
    press(&mut s, ENTER, "->  Add a file, folder or glob");
    press(&mut s, ENTER, "New file, folder or glob: ");
    press(&mut s, "*.py\r", "->  myscript.py");
    press(&mut s, "q", "->  Files: myscript.py (*unsaved)");

    // Habit Settings: the interval.
    press(&mut s, DOWN, "->  Habit Settings: (interval not set)");
    press(&mut s, ENTER, "->  time_between_runs: (not set)");
    press(&mut s, ENTER, "time_between_runs (");
    press(&mut s, "10m\r", "->  time_between_runs: 10m");
    press(&mut s, "q", "->  Habit Settings: every 10m (*unsaved)");

    // Notifications: on_fail by email.
    press(&mut s, DOWN, "->  Notifications");
    press(&mut s, ENTER, "->  on_end: none");
    press(&mut s, DOWN, "->  on_fail: none");
    press(&mut s, ENTER, "->  none");
    press(&mut s, DOWN, "->  email");
    press(&mut s, ENTER, "->  on_fail: email");
    press(&mut s, "q", "->  Notifications (*unsaved)");

    // Write Changes: written, and nothing is unsaved any more.
    press(&mut s, &DOWN.repeat(2), "->  Write Changes");
    press(&mut s, ENTER, "wrote habittask.toml");
    let menu = expect(&mut s, "->  Write Changes");
    assert!(!menu.contains("(*unsaved)"), "{menu}");
    press(&mut s, "q", "exiting...");
    assert_eq!(exit_code(s), 0);

    let spec = read_task(&dir.path().join("habittask.toml"));
    assert_eq!(spec.name, "temperature_monitor");
    assert_eq!(spec.task_type, TaskType::Habit);
    assert_eq!(spec.commands, ["python3 read_temp.py"]);
    assert_eq!(spec.necessary_files, ["myscript.py"]);
    assert_eq!(spec.notify.on_fail, Notifier::Email);
    assert_eq!(spec.habit.expect("habit").time_between_runs.as_str(), "10m");
}

/// `q` leaves the menu without writing anything.
#[test]
fn menu_quit_writes_nothing() {
    let dir = project_in("game");
    let mut s = spawn_on_terminal(dir.path(), &["--generate-only", "--menu"], None);
    expect(&mut s, "->  Daemon  (Task runs as a background process");
    press(&mut s, ENTER, "Daemon selected.");
    expect(&mut s, "->  Task Type: daemon (*unsaved)");
    press(&mut s, DOWN, "->  Task Name");
    press(&mut s, ENTER, "Task name: ");
    wait_for_initial_name(&mut s, dir.path());
    press(&mut s, "_server\r", "->  Task Name: game_server (*unsaved)");
    press(&mut s, "q", "exiting...");
    assert_eq!(exit_code(s), 0);
    let tomls: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
        .collect();
    assert!(tomls.is_empty(), "{tomls:?}");
}

#[test]
fn menu_refuses_without_a_terminal() {
    let dir = project();
    let out = tnet(dir.path(), &["--generate-only", "--menu"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--menu needs a terminal"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn generation_flags_do_not_mix_with_subcommands() {
    let dir = project();
    let out = tnet(dir.path(), &["--type=daemon", "hosts"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("without a subcommand"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn completions_for_each_shell() {
    let dir = project();
    for (shell, marker) in [
        ("bash", "_tnet()"),
        ("zsh", "#compdef tnet"),
        ("fish", "complete -c tnet"),
    ] {
        let out = tnet(dir.path(), &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}:\n{script}");
        assert!(
            script.contains("generate-only"),
            "{shell} completes the generation flags"
        );
    }
}

//! Tests of the whole task-file reading: the seed's files, every spelling, and
//! files full of mistakes.

use std::time::Duration;

use super::parse::MAX_NAME_CHARS;
use super::*;

fn parse(text: &str) -> TaskSpec {
    parse_task("t.toml", text).unwrap_or_else(|e| panic!("{e}"))
}

/// Each problem as `line:column: message (hint)`.
fn problems(text: &str) -> Vec<String> {
    match parse_task("t.toml", text) {
        Ok(spec) => panic!("expected problems, parsed {spec:?}"),
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

fn examples_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn example(name: &str) -> String {
    std::fs::read_to_string(examples_dir().join(name)).expect("example exists")
}

const PROTOTYPE: &str = r#"task_name = "" # (must be unique)
task_type = "" # (daemon)|(habit)|(service)
commands = []
setup_commands = []
necessary_files = []
run_in_docker = false

[task_details]      # not specific, applies to any task
on_end     = "none" # (none)(email)|(qmail)|(...)
on_fail    = "none" # see on_end
on_success = "none" # see on_end

[daemon_details]
restart_on_end = false
restart_on_fail = false
restart_on_success = false
wait_after_setup = false

[habit_details]
time_between_runs = ""       # a measurement of time for the habit to recur
ignore_nonzero_exits = false # ignore when the command fails

[service_details]
service_fail_is_command_fail = false

[docker_settings] # if run_in_docker is false, we ignore all docker_settings
docker_img_id = "Ubuntu 22.04"
start_container_on_reboot = false
"#;

#[test]
fn seed_habit() {
    let spec = parse(&example("seed-habit-my_binary.toml"));
    assert_eq!(spec.name, "my_binary");
    assert_eq!(spec.task_type, TaskType::Habit);
    assert_eq!(spec.commands, ["./my_binary --timeout=10"]);
    assert_eq!(spec.necessary_files, ["/home/matthew/scripts/my_binary"]);
    assert!(spec.run_in_docker);
    assert_eq!(spec.notify.on_success, Notifier::Email);
    assert_eq!(spec.notify.on_end, Notifier::None);
    let habit = spec.habit.expect("a habit");
    assert_eq!(
        habit.time_between_runs,
        Schedule::Every {
            text: "5m".into(),
            every: Duration::from_secs(300)
        }
    );
    assert_eq!(spec.docker, DockerSettings::default());
    // The fields the seed does not have take their defaults.
    assert_eq!(habit.time_zone, None, "the host's own time zone");
    assert_eq!(habit.catch_up, CatchUp::Skip);
}

#[test]
fn seed_daemon() {
    let spec = parse(&example("seed-daemon-game-server.toml"));
    assert_eq!(spec.name, "Game Server");
    assert_eq!(spec.safe_name(), "Game_Server");
    assert_eq!(spec.task_type, TaskType::Daemon);
    assert!(spec.commands.is_empty());
    assert_eq!(spec.setup_commands.len(), 2);
    assert_eq!(spec.necessary_files, ["./game-server-installer"]);
    assert_eq!(spec.notify.on_fail, Notifier::Email);
    assert_eq!(spec.notify.on_success, Notifier::Qmail);
    assert!(spec.daemon.restart_on_end && spec.daemon.wait_after_setup);
    assert_eq!(spec.habit, None);
    assert_eq!(spec.docker.apt_packages, ["openjdk8-jdk"]);
}

#[test]
fn seed_prototype_filled_in_parses_and_its_blanks_are_reported() {
    let filled = PROTOTYPE
        .replace(r#"task_name = """#, r#"task_name = "proto""#)
        .replace(r#"task_type = """#, r#"task_type = "daemon""#);
    let spec = parse(&filled);
    // `time_between_runs = ""` in a daemon is the prototype's blank, not a mistake.
    assert_eq!(spec.habit, None);
    assert_eq!(spec.docker.docker_img_id, "Ubuntu 22.04");
    assert_eq!(
        problems(PROTOTYPE),
        [
            "1:13: `task_name` is empty",
            "2:13: `task_type` is empty (expected one of: daemon, habit, service)",
        ]
    );
}

#[test]
fn every_seed_spelling_parses() {
    for table in ["docker_settings", "docker_details"] {
        for (apt, pip) in [("apt_packages", "pip_packages"), ("apt_pkgs", "pip_pkgs")] {
            for general in ["", "[general]\n"] {
                let text = format!(
                    "{general}task_name = \"t\"\ntask_type = \"service\"\ncommands = [\"cat\"]\n\
                     [{table}]\n{apt} = [\"curl\"]\n{pip} = [\"numpy>=2\"]\n"
                );
                let spec = parse(&text);
                assert_eq!(spec.docker.apt_packages, ["curl"], "{text}");
                assert_eq!(spec.docker.pip_packages, ["numpy>=2"], "{text}");
            }
        }
    }
}

#[test]
fn other_types_tables_are_accepted() {
    let spec = parse(
        "task_name = \"s\"\ntask_type = \"service\"\ncommands = [\"cat\"]\n\
         [daemon_details]\nrestart_on_fail = true\n[habit_details]\ntime_between_runs = \"5m\"\n",
    );
    assert_eq!(spec.habit, None);
    assert!(spec.daemon.restart_on_fail);
}

#[test]
fn several_mistakes_are_all_reported_in_order() {
    let text = r#"task_nme = "x"
task_type = "deamon"
commands = "ls"
setup_commands = ["ok", 2]

[task_details]
on_sucess = "email"
on_end = "emial"

[docker_setings]
apt_pkgs = []
"#;
    assert_eq!(
        problems(text),
        [
            "1:1: unknown key `task_nme` at the top level (did you mean `task_name`?)",
            "1:1: missing `task_name` (add a line like task_name = \"my_task\")",
            "2:13: unknown task_type `deamon` (did you mean `daemon`?)",
            "3:12: `commands` must be a list of strings, not a string",
            "4:25: `setup_commands` must be a list of strings; this item is an integer",
            "7:1: unknown key `on_sucess` in [task_details] (did you mean `on_success`?)",
            "8:10: unknown notifier `emial` for `on_end` (did you mean `email`?)",
            "10:2: unknown table `docker_setings` at the top level (did you mean `docker_settings`?)",
        ]
    );
}

#[test]
fn display_names_the_file() {
    let err = parse_task("dir/a.toml", "task_type = 1\n").expect_err("bad");
    let shown = err.to_string();
    assert!(
        shown.starts_with("dir/a.toml:1:1: missing `task_name`"),
        "{shown}"
    );
    assert!(shown.contains("\ndir/a.toml:1:13: `task_type` must be a string, not an integer"));
}

#[test]
fn keys_in_the_wrong_table_say_where_they_belong() {
    let text = "task_name = \"h\"\ntask_type = \"habit\"\ncommands = [\"date\"]\n\
                time_between_runs = \"5m\"\n[task_details]\nrestart_on_fail = true\n";
    assert_eq!(
        problems(text),
        [
            "2:13: a habit needs `time_between_runs` in [habit_details] \
             (for example: time_between_runs = \"5m\" or \"*/5 * * * *\")",
            "4:1: unknown key `time_between_runs` at the top level \
             (`time_between_runs` belongs in [habit_details])",
            "6:1: unknown key `restart_on_fail` in [task_details] \
             (`restart_on_fail` belongs in [daemon_details])",
        ]
    );
}

#[test]
fn general_and_top_level_together() {
    let text =
        "task_name = \"a\"\ntask_type = \"daemon\"\n[general]\ntask_name = \"b\"\ncommands = []\n";
    assert_eq!(
        problems(text),
        [
            "4:1: `task_name` is given twice: at the top level (line 1) and in [general] (keep one)",
            "5:1: `commands` is in [general], but other general fields are at the top level \
             (put all general fields in one place: the top level or [general])",
        ]
    );
    let unknown = "[general]\ntask_name = \"a\"\ntask_type = \"daemon\"\nrun_in_doker = true\n";
    assert_eq!(
        problems(unknown),
        ["4:1: unknown key `run_in_doker` in [general] (did you mean `run_in_docker`?)"]
    );
}

#[test]
fn two_spellings_at_once() {
    let text = "task_name = \"a\"\ntask_type = \"daemon\"\n[docker_settings]\napt_packages = []\n\
                apt_pkgs = [\"x\"]\n[docker_details]\n";
    assert_eq!(
        problems(text),
        [
            "5:1: `apt_pkgs` repeats `apt_packages` (line 4) \
             (they are two spellings of one field; keep one)",
            "6:2: [docker_details] repeats [docker_settings] (line 3) \
             (they are two spellings of one table; keep one)",
        ]
    );
}

#[test]
fn habit_schedules() {
    let habit =
        "task_name = \"h\"\ntask_type = \"habit\"\ncommands = [\"date\"]\n[habit_details]\n";
    let spec = parse(&format!("{habit}time_between_runs = \"*/5 * * * *\"\n"));
    let schedule = spec.habit.expect("a habit").time_between_runs;
    assert_eq!(
        schedule,
        Schedule::Cron {
            text: "*/5 * * * *".into()
        }
    );
    let soon = problems(&format!("{habit}time_between_runs = \"soon\"\n"));
    assert_eq!(soon.len(), 1);
    assert!(
        soon[0].starts_with("5:21: `soon` is not a schedule; write a duration"),
        "{soon:?}"
    );
    let empty = problems(&format!("{habit}time_between_runs = \"\"\n"));
    assert!(
        empty[0].starts_with("5:21: `time_between_runs` is empty"),
        "{empty:?}"
    );
    // A schedule that is written is checked even where it is not used.
    let daemon = "task_name = \"d\"\ntask_type = \"daemon\"\n[habit_details]\ntime_between_runs = \"soon\"\n";
    assert_eq!(problems(daemon).len(), 1);
}

#[test]
fn habit_time_zone_and_catch_up() {
    let habit = "task_name = \"h\"\ntask_type = \"habit\"\ncommands = [\"date\"]\n\
                 [habit_details]\ntime_between_runs = \"30 2 * * *\"\n";
    let spec = parse(&format!(
        "{habit}time_zone = \"America/New_York\"\ncatch_up = \"latest\"\n"
    ));
    let details = spec.habit.expect("a habit");
    assert_eq!(details.time_zone, Some(chrono_tz::America::New_York));
    assert_eq!(details.catch_up, CatchUp::Latest);
    let local = parse(&format!("{habit}time_zone = \"local\"\n"));
    assert_eq!(local.habit.expect("a habit").time_zone, None);
    // Every mistake at once, each with its fix.
    assert_eq!(
        problems(&format!(
            "{habit}time_zone = \"europe/paris\"\ncatch_up = \"lastest\"\ncatchup = \"skip\"\n"
        )),
        [
            "6:13: unknown time zone `europe/paris` (did you mean `Europe/Paris`?)",
            "7:12: unknown catch_up `lastest` (did you mean `latest`?)",
            "8:1: unknown key `catchup` in [habit_details] (did you mean `catch_up`?)",
        ]
    );
    let wrong_type = problems(&format!("{habit}catch_up = true\n"));
    assert_eq!(
        wrong_type,
        ["6:12: `catch_up` must be a string, not a boolean"]
    );
}

#[test]
fn habit_value_pattern_is_checked_and_written_back() {
    let habit = "task_name = \"h\"\ntask_type = \"habit\"\ncommands = [\"date\"]\n\
                 [habit_details]\ntime_between_runs = \"1m\"\n";
    let spec = parse(&format!("{habit}value_pattern = 'price: ([0-9.]+)'\n"));
    let pattern = spec.habit.as_ref().and_then(|h| h.value_pattern.clone());
    assert_eq!(
        pattern.as_ref().map(|p| p.as_str()),
        Some("price: ([0-9.]+)")
    );
    // Generated back, it reads the same.
    let written = crate::task::generate(&spec, &[]);
    assert!(written.contains("value_pattern = "), "{written}");
    assert_eq!(parse(&written).habit, spec.habit);
    let bad = problems(&format!("{habit}value_pattern = 'price: ([0-9.]+'\n"));
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(
        bad[0].starts_with("6:17: `value_pattern` is not a regular expression: unclosed group"),
        "{bad:?}"
    );
    assert!(bad[0].contains("for example: value_pattern = '"), "{bad:?}");
}

#[test]
fn habits_and_services_need_commands() {
    let text = "task_name = \"s\"\ntask_type = \"service\"\n";
    assert_eq!(
        problems(text),
        ["2:13: a habit or a service needs at least one command in `commands`"]
    );
}

#[test]
fn names() {
    let with = |name: &str| format!("task_name = {name}\ntask_type = \"daemon\"\n");
    assert_eq!(parse(&with("\"  spaced out \"")).name, "spaced out");
    assert_eq!(problems(&with("\"   \"")), ["1:13: `task_name` is empty"]);
    assert_eq!(
        problems(&with("\"a\\u0007b\"")),
        ["1:13: `task_name` contains a control character"]
    );
    let long = format!("\"{}\"", "x".repeat(MAX_NAME_CHARS + 1));
    assert_eq!(
        problems(&with(&long)),
        ["1:13: `task_name` is longer than 200 characters"]
    );
    assert_eq!(
        parse(&with(&format!("\"{}\"", "é".repeat(MAX_NAME_CHARS))))
            .name
            .chars()
            .count(),
        200
    );
    assert_eq!(
        problems("task_type = \"daemon\"\n[general]\n"),
        ["1:1: missing `task_name` (add a line like task_name = \"my_task\")",]
    );
}

#[test]
fn necessary_files() {
    let with = |files: &str| {
        format!("task_name = \"f\"\ntask_type = \"daemon\"\nnecessary_files = {files}\n")
    };
    let spec = parse(&with(r#"["/abs/bin", "./a", "dir/../b", "*.py"]"#));
    assert_eq!(spec.necessary_files.len(), 4);
    assert_eq!(
        problems(&with(r#"["", "../up", "a/../../up"]"#)),
        [
            "3:20: an empty path in `necessary_files`",
            "3:24: `../up` is outside the task file's folder (necessary_files may name \
             absolute paths, or paths in the task file's folder and below)",
            "3:33: `a/../../up` is outside the task file's folder (necessary_files may name \
             absolute paths, or paths in the task file's folder and below)",
        ]
    );
}

#[test]
fn bad_tables_and_packages() {
    let text = "task_name = \"a\"\ntask_type = \"daemon\"\nrun_in_docker = true\ntask_details = \"email\"\n\
                [docker_settings]\ndocker_img_id = \"\"\npip_pkgs = [\"\", \"-r\"]\n\
                start_container_on_reboot = \"yes\"\n";
    assert_eq!(
        problems(text),
        [
            "4:16: `task_details` must be a table ([task_details]), not a string",
            "6:17: `docker_img_id` is empty (write an image, like \"Ubuntu 22.04\" or \"python:3.12-slim\")",
            "7:13: an empty package name in `pip_pkgs`",
            "7:17: `-r` in `pip_pkgs` is not a package name",
            "8:29: `start_container_on_reboot` must be true or false, not a string",
        ]
    );
}

#[test]
fn docker_images() {
    let with = |image: &str| {
        format!("task_name = \"a\"\ntask_type = \"daemon\"\nrun_in_docker = true\n[docker_details]\ndocker_img_id = \"{image}\"\n")
    };
    assert_eq!(
        parse(&with("Debian 12")).docker.image_reference(),
        "debian:12"
    );
    assert_eq!(
        problems(&with("my fancy image")),
        ["5:17: `my fancy image` is not a Docker image (write a reference like \"python:3.12-slim\", \
          or a name and a version like \"Ubuntu 22.04\")"]
    );
}

#[test]
fn syntax_errors_have_positions() {
    assert_eq!(
        problems("task_name = \"a\"\ntask_name = \"b\"\n"),
        ["2:1: `task_name` is given twice"]
    );
    let unclosed = problems("task_name = \"a\"\ncommands = [\n");
    assert!(
        unclosed.iter().all(|p| p.contains("invalid TOML")),
        "{unclosed:?}"
    );
    assert!(unclosed[0].starts_with("2:"), "{unclosed:?}");
}

#[test]
fn spec_serializes_with_type_and_schedule_as_strings() {
    let spec = parse(&example("price-habit.toml"));
    let json = serde_json::to_value(&spec).expect("serializes");
    assert_eq!(json["type"], "habit");
    assert_eq!(json["habit"]["time_between_runs"], "10s");
}

#[test]
fn every_example_parses() {
    let mut seen = 0;
    for entry in std::fs::read_dir(examples_dir()).expect("examples/ exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).expect("readable example");
            if let Err(e) = parse_task(&path.display().to_string(), &text) {
                panic!("{e}");
            }
            seen += 1;
        }
    }
    assert!(seen >= 5, "only {seen} examples");
}

/// Every prefix, and copies with one byte changed, of every example: some
/// parse, most fail, none may panic, and every failure names a position.
#[test]
fn garbled_files_never_panic() {
    let mut texts: Vec<String> = std::fs::read_dir(examples_dir())
        .expect("examples/ exists")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect();
    texts.push(PROTOTYPE.to_owned());
    let noise = [
        b'"', b'[', b']', b'=', b'\n', b'\'', b'#', b'\\', b'{', b',', 0xC3,
    ];
    for text in &texts {
        let bytes = text.as_bytes();
        for cut in 0..=bytes.len() {
            let prefix = String::from_utf8_lossy(&bytes[..cut]);
            check_no_panic(&prefix);
        }
        for (i, noise) in (0..bytes.len()).step_by(3).zip(noise.iter().cycle()) {
            let mut garbled = bytes.to_vec();
            garbled[i] = *noise;
            check_no_panic(&String::from_utf8_lossy(&garbled));
        }
    }
}

fn check_no_panic(text: &str) {
    if let Err(e) = parse_task("g.toml", text) {
        assert!(!e.problems.is_empty());
        assert!(e.problems.iter().all(|p| p.line >= 1 && p.column >= 1));
    }
}

const SERVICE: &str = "task_name = \"s\"\ntask_type = \"service\"\ncommands = [\"cat\"]\n";

#[test]
fn service_details_default_when_absent() {
    let spec = parse(SERVICE);
    assert_eq!(spec.service, ServiceDetails::default());
    assert_eq!(spec.service.timeout, DEFAULT_CALL_TIMEOUT);
    assert_eq!(spec.service.max_concurrent_calls, 4);
    assert_eq!(spec.service.input, InputKind::Text);
    // The seed's table, with only its one field, keeps the other defaults.
    let spec = parse(&format!(
        "{SERVICE}[service_details]\nservice_fail_is_command_fail = true\n"
    ));
    assert!(spec.service.service_fail_is_command_fail);
    assert_eq!(spec.service.max_concurrent_calls, 4);
}

#[test]
fn service_calling_structure_is_read() {
    let spec = parse(&format!(
        r#"{SERVICE}[service_details]
description = "  Labels what is in a photo "
input = "file"
input_media_type = "image/png"
arguments = [
  {{ name = "top", help = "how many labels" }},
  {{ name = "--verbose" }},
]
example = "tnet call s --input cat.png -- 3"
timeout = "1m 30s"
max_concurrent_calls = 2
"#
    ));
    let s = spec.service;
    assert_eq!(s.description, "Labels what is in a photo");
    assert_eq!(s.input, InputKind::File);
    assert_eq!(s.input_media_type.as_deref(), Some("image/png"));
    assert_eq!(
        s.arguments,
        [
            ServiceArgument {
                name: "top".into(),
                help: "how many labels".into()
            },
            ServiceArgument {
                name: "--verbose".into(),
                help: String::new()
            },
        ]
    );
    assert_eq!(
        s.example.as_deref(),
        Some("tnet call s --input cat.png -- 3")
    );
    assert_eq!(s.timeout, Duration::from_secs(90));
    assert_eq!(s.max_concurrent_calls, 2);
}

#[test]
fn service_mistakes_are_all_reported() {
    let text = format!(
        r#"{SERVICE}[service_details]
input = "files"
input_media_type = "png"
arguments = [{{ name = "a", hlep = "x" }}, "b", {{ help = "no name" }}, {{ name = "a" }}]
timeout = "soon"
max_concurrent_calls = 0
max_concurent_calls = 3
"#
    );
    assert_eq!(
        problems(&text),
        [
            "5:9: unknown input `files` (did you mean `file`?)",
            "6:20: `png` is not a media type (write a type and a subtype, like \"image/png\" or \"text/csv\")",
            "7:28: unknown key `hlep` in [service_details] arguments (did you mean `help`?)",
            "7:42: each entry of `arguments` must be a table, not a string (write { name = \"lang\", help = \"language of the answer\" })",
            "7:47: an argument without a `name` (write { name = \"lang\", help = \"language of the answer\" })",
            "7:69: the argument `a` is listed twice",
            "8:11: `soon` is not a duration (write a duration like \"30s\", \"5m\" or \"1h 30m\")",
            "9:24: `max_concurrent_calls` must be from 1 to 1024, not 0",
            "10:1: unknown key `max_concurent_calls` in [service_details] (did you mean `max_concurrent_calls`?)",
        ]
    );
    let text = format!("{SERVICE}[service_details]\ntimeout = 30\nmax_concurrent_calls = \"2\"\n");
    assert_eq!(
        problems(&text),
        [
            "5:11: `timeout` must be a string, not an integer (write a duration like \"30s\", \"5m\" or \"1h 30m\")",
            "6:24: `max_concurrent_calls` must be a whole number, not a string",
        ]
    );
}

#[test]
fn keep_runs_is_a_task_detail_of_at_least_one() {
    let base = "task_name = \"t\"\ntask_type = \"habit\"\ncommands = [\"true\"]\n\n[habit_details]\ntime_between_runs = \"1s\"\n\n[task_details]\n";
    assert_eq!(parse(base).keep_runs, None);
    assert_eq!(parse(&format!("{base}keep_runs = 5\n")).keep_runs, Some(5));
    for (bad, says) in [
        ("keep_runs = 0", "at least 1"),
        ("keep_runs = \"5\"", "whole number"),
        ("keep_runs = 1_000_000_000", "at most 100000000"),
    ] {
        let found = problems(&format!("{base}{bad}\n"));
        assert!(found.iter().any(|p| p.contains(says)), "{bad}: {found:?}");
    }
}

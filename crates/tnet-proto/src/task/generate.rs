//! A task file written from a [`TaskSpec`] (SPEC 10, "Generation"): TOML with
//! short comments like the seed's prototype (what each section means, which
//! values a field takes), that parses back to the same `TaskSpec`.
//!
//! The document is built with `toml_edit`, and every comment sits *above* its
//! key (in the key's decor) or above its table header, never after a value.
//! Tools that rewrite a value through a format-preserving library
//! (`doc["habit_details"]["time_between_runs"] = value("10m")`) replace the
//! value with its own decor, so a comment after it would go; one above the
//! key stays.

use toml_edit::{Array, DocumentMut, Item, Table, Value};

use super::{TaskSpec, TaskType};

/// A value the user did not give, that generation filled in so the file
/// parses; its comment says so, so the user knows to change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// A habit or a service without a command got a stand-in `echo`.
    Commands,
    /// A habit without a schedule got [`PLACEHOLDER_SCHEDULE`].
    Schedule,
}

/// The schedule a generated habit gets when none was given.
pub const PLACEHOLDER_SCHEDULE: &str = "5m";

/// The stand-in command of a habit or service generated without one: harmless
/// if submitted as is, and its output says what to do.
pub fn placeholder_command(name: &str) -> String {
    format!(
        "echo '{}: replace this command in the task file'",
        name.replace('\'', "")
    )
}

/// The comment lines above the first key, with no `#`.
const HEADER: &[&str] = &[
    "A tnet task file. Submit it with `tnet run <this file>`.",
    "Every field is described in docs/task-file.md; a missing field takes its default.",
];

/// The task file for `spec`, with comments. It parses back to `spec`.
pub fn generate(spec: &TaskSpec, placeholders: &[Placeholder]) -> String {
    document(spec, placeholders).to_string()
}

/// The task file for `spec` as an editable document (see [`generate`]).
pub fn document(spec: &TaskSpec, placeholders: &[Placeholder]) -> DocumentMut {
    let mut doc = DocumentMut::new();
    let top = doc.as_table_mut();
    put(top, "task_name", spec.name.as_str(), &[]);
    // The file's header and the name's own comment, separated by a blank line.
    let name_note = "Unique on its host; also names the task's folder there (~/.tasks/<name>).";
    if let Some(mut key) = top.key_mut("task_name") {
        let prefix = format!("{}\n{}", comment_lines(HEADER), comment_lines(&[name_note]));
        key.leaf_decor_mut().set_prefix(prefix);
    }
    put(
        top,
        "task_type",
        spec.task_type.as_str(),
        &[
            "daemon  -> runs the commands as a background process, e.g. a game server",
            "habit   -> runs the commands on a schedule, e.g. checking a price every 5 minutes",
            "service -> runs the commands when called, with the caller's input, and answers with the result",
        ],
    );
    let mut commands_note = vec![
        "Run in order with `sh -c` in the task's folder on the host; the first that fails ends the run.",
    ];
    if spec.task_type == TaskType::Daemon {
        commands_note.push("A daemon may have none: it then only holds its folder.");
    }
    if placeholders.contains(&Placeholder::Commands) {
        commands_note.push("PLACEHOLDER: no command was given; write the command(s) to run.");
    }
    put(top, "commands", list(&spec.commands), &commands_note);
    put(
        top,
        "setup_commands",
        list(&spec.setup_commands),
        &["Run once, before the first commands (in Docker: after the packages are installed)."],
    );
    put(
        top,
        "necessary_files",
        list(&spec.necessary_files),
        &[
            "Copied to the host: paths relative to this file's folder keep their place;",
            "absolute paths land at the top of the task's folder; folders are sent whole.",
        ],
    );
    put(
        top,
        "run_in_docker",
        spec.run_in_docker,
        &["true: run in a container, set up by [docker_settings]."],
    );

    let notify = &spec.notify;
    let mut task = table(&["Who hears about the task's outcomes; applies to any task type."]);
    put(
        &mut task,
        "on_end",
        notify.on_end.as_str(),
        &[
            "After any end of a run: none | email | qmail (kept in the host's inbox, `tnet inbox`)",
            "| webhook (POSTs the event as JSON) | command (gets the event as JSON on stdin).",
        ],
    );
    put(
        &mut task,
        "on_fail",
        notify.on_fail.as_str(),
        &["After a run that failed; see on_end."],
    );
    put(
        &mut task,
        "on_success",
        notify.on_success.as_str(),
        &["After a run that succeeded; see on_end."],
    );
    if !notify.email_to.is_empty() {
        put(
            &mut task,
            "email_to",
            list(&notify.email_to),
            &["Recipients of this task's mails instead of the host's (host.toml)."],
        );
    }
    let optional = [
        (
            "email_subject",
            &notify.email_subject,
            "The mail's subject; {host} {task} {type} {outcome} {exit_code} {run} {started} {duration} {output}.",
        ),
        ("email_body", &notify.email_body, "The mail's body; the same placeholders."),
        ("webhook_url", &notify.webhook_url, "Where `webhook` POSTs the event."),
        ("notify_command", &notify.notify_command, "What `command` runs (sh -c); the event is on its stdin."),
    ];
    for (key, value, comment) in optional {
        if let Some(value) = value {
            put(&mut task, key, value.as_str(), &[comment]);
        }
    }
    put(
        &mut task,
        "stop_grace",
        duration(spec.stop_grace),
        &["How long a stopped command has between TERM and KILL."],
    );
    if let Some(keep) = spec.keep_runs {
        put(
            &mut task,
            "keep_runs",
            i64::from(keep),
            &["Run records the host keeps (the newest); `tnet status` still counts them all."],
        );
    }
    top.insert("task_details", Item::Table(task));

    match spec.task_type {
        TaskType::Daemon => top.insert("daemon_details", Item::Table(daemon_table(spec))),
        TaskType::Habit => top.insert(
            "habit_details",
            Item::Table(habit_table(spec, placeholders)),
        ),
        TaskType::Service => top.insert("service_details", Item::Table(service_table(spec))),
    };
    top.insert("docker_settings", Item::Table(docker_table(spec)));

    doc
}

/// `[daemon_details]`: the restart policy and the wait after setup.
fn daemon_table(spec: &TaskSpec) -> Table {
    let daemon = &spec.daemon;
    let mut t = table(&["How the background process is kept running."]);
    put(
        &mut t,
        "restart_on_end",
        daemon.restart_on_end,
        &["Restart after any exit (with a growing pause if it keeps crashing)."],
    );
    put(
        &mut t,
        "restart_on_fail",
        daemon.restart_on_fail,
        &["Restart after a non-zero exit."],
    );
    put(
        &mut t,
        "restart_on_success",
        daemon.restart_on_success,
        &["Restart after a zero exit."],
    );
    put(
        &mut t,
        "wait_after_setup",
        daemon.wait_after_setup,
        &[
            "After the setup commands, stop and notify, so you can shell in and change things;",
            "`tnet edit` then starts the commands.",
        ],
    );
    put(
        &mut t,
        "restart_delay",
        duration(daemon.restart_delay),
        &["Pause before a restart; it doubles after each quick exit..."],
    );
    put(
        &mut t,
        "max_restart_delay",
        duration(daemon.max_restart_delay),
        &["...up to this."],
    );
    put(
        &mut t,
        "stable_after",
        duration(daemon.stable_after),
        &["A process that stays up this long is healthy: the pause starts over."],
    );
    put(
        &mut t,
        "crashloop_after",
        i64::from(daemon.crashloop_after),
        &["After this many quick exits in a row, stop restarting (state `crashloop`)."],
    );
    t
}

/// A duration as people write it in a task file ("1s", "1m 30s").
fn duration(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// `[habit_details]`: the schedule.
fn habit_table(spec: &TaskSpec, placeholders: &[Placeholder]) -> Table {
    let mut t = table(&["When the commands run; each run's output is published (`tnet sub`)."]);
    let (schedule, ignore, catch_up, zone, pattern) = match &spec.habit {
        Some(h) => (
            h.time_between_runs.as_str(),
            h.ignore_nonzero_exits,
            h.catch_up,
            h.time_zone,
            h.value_pattern.as_ref(),
        ),
        // Only a spec built by hand lacks it; the parser then names the field.
        None => ("", false, crate::task::CatchUp::default(), None, None),
    };
    let mut note =
        vec!["\"5m\", \"1h 30m\", \"90s\", or a cron expression like \"*/5 * * * *\" (5 fields)."];
    if placeholders.contains(&Placeholder::Schedule) {
        note.push("PLACEHOLDER: no interval was given; change it to yours.");
    }
    put(&mut t, "time_between_runs", schedule, &note);
    put(
        &mut t,
        "ignore_nonzero_exits",
        ignore,
        &["true: a run that exits non-zero is not reported as a failure."],
    );
    put(
        &mut t,
        "catch_up",
        catch_up.as_str(),
        &["After the host was down: skip (missed runs are dropped) | latest (one run at once)."],
    );
    if let Some(zone) = zone {
        put(
            &mut t,
            "time_zone",
            zone.name(),
            &["The time zone of a cron schedule (default: the host's)."],
        );
    }
    if let Some(pattern) = pattern {
        put(
            &mut t,
            "value_pattern",
            pattern.as_str(),
            &[
                "Picks each run's number out of its output (plotted by `tnet ui`):",
                "the first group of the last match, or the whole match.",
            ],
        );
    }
    t
}

/// `[service_details]`.
fn service_table(spec: &TaskSpec) -> Table {
    let mut t = table(&["How calls (`tnet call <name>`) are answered."]);
    put(
        &mut t,
        "service_fail_is_command_fail",
        spec.service.service_fail_is_command_fail,
        &[
            "true: a non-zero exit makes the call fail;",
            "false: it is still a result, with its exit code and stderr.",
        ],
    );
    let service = &spec.service;
    put(
        &mut t,
        "description",
        service.description.as_str(),
        &["What the service does, for `tnet services`."],
    );
    put(
        &mut t,
        "input",
        service.input.as_str(),
        &["What a call sends: none | text | file (on stdin and in the file named by $TNET_INPUT)."],
    );
    if let Some(media) = &service.input_media_type {
        put(
            &mut t,
            "input_media_type",
            media.as_str(),
            &["The input's media type, like \"image/png\"."],
        );
    }
    let mut arguments = Array::new();
    for a in &service.arguments {
        let mut entry = toml_edit::InlineTable::new();
        entry.insert("name", a.name.as_str().into());
        entry.insert("help", a.help.as_str().into());
        arguments.push(entry);
    }
    put(
        &mut t,
        "arguments",
        arguments,
        &["Named arguments, given after `--` in `tnet call`: [{ name = \"lang\", help = \"...\" }]."],
    );
    if let Some(example) = &service.example {
        put(
            &mut t,
            "example",
            example.as_str(),
            &["A ready-to-paste call."],
        );
    }
    put(
        &mut t,
        "timeout",
        duration(service.timeout),
        &["A call's time limit (`tnet call --timeout` overrides it)."],
    );
    put(
        &mut t,
        "max_concurrent_calls",
        i64::from(service.max_concurrent_calls),
        &["Calls that run at once; more wait in order."],
    );
    put(
        &mut t,
        "warm",
        service.warm,
        &[
            "true: the one command is a worker, started once after setup and kept running,",
            "that answers calls framed on its stdin/stdout (docs/services.md, \"Warm services\").",
        ],
    );
    put(
        &mut t,
        "workers",
        i64::from(service.workers),
        &["Warm only: workers kept running, each taking one call at a time."],
    );
    t
}

/// `[docker_settings]`, written for every task so that switching
/// `run_in_docker` on needs no lookup.
fn docker_table(spec: &TaskSpec) -> Table {
    let docker = &spec.docker;
    let mut t = table(&["The container; used only when run_in_docker = true."]);
    put(
        &mut t,
        "docker_img_id",
        docker.docker_img_id.as_str(),
        &["\"Ubuntu 22.04\" means ubuntu:22.04; any Docker image reference works (\"python:3.12-slim\")."],
    );
    put(
        &mut t,
        "apt_packages",
        list(&docker.apt_packages),
        &["Installed into the image before the setup commands run."],
    );
    put(
        &mut t,
        "pip_packages",
        list(&docker.pip_packages),
        &["Installed into the image before the setup commands run."],
    );
    put(
        &mut t,
        "start_container_on_reboot",
        docker.start_container_on_reboot,
        &["The container comes back when the machine reboots."],
    );
    t
}

/// An empty table whose header carries `comment`, after a blank line.
fn table(comment: &[&str]) -> Table {
    let mut t = Table::new();
    t.decor_mut()
        .set_prefix(format!("\n{}", comment_lines(comment)));
    t
}

/// Inserts `key = value` with `comment` above it.
fn put(table: &mut Table, key: &str, value: impl Into<Value>, comment: &[&str]) {
    table.insert(key, Item::Value(value.into()));
    if let Some(mut key) = table.key_mut(key) {
        key.leaf_decor_mut().set_prefix(comment_lines(comment));
    }
}

/// `lines` as TOML comment lines, each ending in a newline.
fn comment_lines(lines: &[&str]) -> String {
    lines.iter().map(|line| format!("# {line}\n")).collect()
}

/// A list of strings: on one line when short, else one item per line.
fn list(items: &[String]) -> Array {
    // Past this, a one-line list is hard to read and to diff.
    const ONE_LINE: usize = 60;
    let mut array: Array = items.iter().map(String::as_str).collect();
    let width: usize = items.iter().map(|item| item.len() + 4).sum();
    if width > ONE_LINE {
        for value in array.iter_mut() {
            value.decor_mut().set_prefix("\n    ");
        }
        array.set_trailing_comma(true);
        array.set_trailing("\n");
    }
    array
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{
        parse_task, DaemonDetails, DockerSettings, HabitDetails, Notifications, Notifier, Schedule,
        ServiceDetails,
    };

    /// A spec with every field away from its default, of `task_type`.
    fn full(task_type: TaskType, run_in_docker: bool) -> TaskSpec {
        TaskSpec {
            name: "Game \"Server\" ü".to_owned(),
            task_type,
            commands: vec![
                "./start.sh --ram=4G".to_owned(),
                r#"echo "a 'quoted' \ backslash""#.to_owned(),
            ],
            setup_commands: vec!["chmod +x ./installer".to_owned(), "./installer".to_owned()],
            necessary_files: vec![
                "./installer".to_owned(),
                "/home/matthew/scripts/my_binary".to_owned(),
                "bin/*.sh".to_owned(),
            ],
            run_in_docker,
            stop_grace: std::time::Duration::from_secs(12),
            keep_runs: Some(50),
            notify: Notifications {
                on_end: Notifier::Email,
                on_fail: Notifier::Email,
                on_success: Notifier::Qmail,
                email_to: vec!["ops@example.com".to_owned()],
                email_subject: Some("[{host}] {task}: {outcome}".to_owned()),
                email_body: None,
                webhook_url: Some("http://127.0.0.1:9/hook".to_owned()),
                notify_command: None,
            },
            daemon: if task_type == TaskType::Daemon {
                DaemonDetails {
                    restart_on_end: true,
                    restart_on_fail: true,
                    restart_on_success: false,
                    wait_after_setup: true,
                    restart_delay: std::time::Duration::from_millis(250),
                    max_restart_delay: std::time::Duration::from_secs(90),
                    stable_after: std::time::Duration::from_secs(10),
                    crashloop_after: 3,
                }
            } else {
                DaemonDetails::default()
            },
            habit: (task_type == TaskType::Habit).then(|| HabitDetails {
                time_between_runs: Schedule::parse("*/5 * * * *").expect("valid"),
                ignore_nonzero_exits: true,
                time_zone: None,
                catch_up: crate::task::CatchUp::default(),
                value_pattern: None,
            }),
            service: ServiceDetails {
                service_fail_is_command_fail: task_type == TaskType::Service,
                ..ServiceDetails::default()
            },
            docker: if run_in_docker {
                DockerSettings {
                    docker_img_id: "python:3.12-slim".to_owned(),
                    apt_packages: vec!["openjdk-17-jdk".to_owned(), "curl".to_owned()],
                    pip_packages: vec!["requests==2.32.3".to_owned()],
                    start_container_on_reboot: true,
                }
            } else {
                DockerSettings::default()
            },
        }
    }

    /// The smallest spec of `task_type`: every other field at its default.
    fn minimal(task_type: TaskType) -> TaskSpec {
        TaskSpec {
            name: "t".to_owned(),
            task_type,
            commands: if task_type == TaskType::Daemon {
                Vec::new()
            } else {
                vec!["true".to_owned()]
            },
            setup_commands: Vec::new(),
            necessary_files: Vec::new(),
            run_in_docker: false,
            stop_grace: crate::task::DEFAULT_STOP_GRACE,
            keep_runs: None,
            notify: Notifications::default(),
            daemon: DaemonDetails::default(),
            habit: (task_type == TaskType::Habit).then(|| HabitDetails {
                time_between_runs: Schedule::parse("90s").expect("valid"),
                ignore_nonzero_exits: false,
                time_zone: None,
                catch_up: crate::task::CatchUp::default(),
                value_pattern: None,
            }),
            service: ServiceDetails::default(),
            docker: DockerSettings::default(),
        }
    }

    fn every_spec() -> Vec<TaskSpec> {
        let mut specs = Vec::new();
        for task_type in [TaskType::Daemon, TaskType::Habit, TaskType::Service] {
            specs.push(minimal(task_type));
            specs.push(full(task_type, false));
            specs.push(full(task_type, true));
        }
        let mut warm = minimal(TaskType::Service);
        warm.service.warm = true;
        warm.service.workers = 3;
        specs.push(warm);
        specs
    }

    #[test]
    fn every_type_with_and_without_docker_parses_back_to_itself() {
        for spec in every_spec() {
            let text = generate(&spec, &[]);
            let parsed = parse_task("generated.toml", &text)
                .unwrap_or_else(|e| panic!("{e}\n--- generated ---\n{text}"));
            assert_eq!(parsed, spec, "--- generated ---\n{text}");
        }
    }

    #[test]
    fn comments_say_what_fields_mean_and_take() {
        let text = generate(&full(TaskType::Habit, true), &[]);
        for expected in [
            "# A tnet task file.",
            "# daemon  -> runs the commands as a background process",
            "none | email | qmail",
            "[habit_details]",
            "\"*/5 * * * *\"",
            "used only when run_in_docker = true",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        // Only the task's own details table is written.
        assert!(!text.contains("[daemon_details]") && !text.contains("[service_details]"));
        // Long lists go one item per line.
        assert!(
            text.contains("necessary_files = [\n    \"./installer\",\n"),
            "{text}"
        );
    }

    #[test]
    fn placeholders_are_marked() {
        let mut spec = minimal(TaskType::Habit);
        spec.commands = vec![placeholder_command("temperature_monitor")];
        spec.habit = Some(HabitDetails {
            time_between_runs: Schedule::parse(PLACEHOLDER_SCHEDULE).expect("valid"),
            ignore_nonzero_exits: false,
            time_zone: None,
            catch_up: crate::task::CatchUp::default(),
            value_pattern: None,
        });
        let text = generate(&spec, &[Placeholder::Commands, Placeholder::Schedule]);
        assert_eq!(text.matches("PLACEHOLDER").count(), 2, "{text}");
        assert_eq!(parse_task("t.toml", &text).expect("parses"), spec);
    }

    #[test]
    fn comments_survive_an_edit_through_the_library() {
        for spec in every_spec() {
            let text = generate(&spec, &[]);
            let mut doc: DocumentMut = text.parse().expect("generated TOML parses");
            doc["task_name"] = toml_edit::value("renamed");
            doc["task_details"]["on_fail"] = toml_edit::value("qmail");
            doc["commands"] = toml_edit::value(Array::from_iter(["echo edited"]));
            if spec.task_type == TaskType::Habit {
                doc["habit_details"]["time_between_runs"] = toml_edit::value("10m");
            }
            let edited = doc.to_string();
            for line in text.lines().filter(|l| l.trim_start().starts_with('#')) {
                assert!(
                    edited.contains(line),
                    "lost comment {line:?}\n--- edited ---\n{edited}"
                );
            }
            let parsed = parse_task("edited.toml", &edited).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(parsed.name, "renamed");
            assert_eq!(parsed.notify.on_fail, Notifier::Qmail);
            assert_eq!(parsed.commands, ["echo edited"]);
            if let Some(habit) = parsed.habit {
                assert_eq!(habit.time_between_runs.as_str(), "10m");
            }
        }
    }
}

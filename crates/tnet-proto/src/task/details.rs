//! The task file's tables: `[task_details]`, `[daemon_details]`,
//! `[habit_details]`, `[service_details]` and `[docker_settings]` (or
//! `[docker_details]`), each read with the keys valid in it.

use std::ops::Range;

use super::fields::{str_value, string_list, type_name, Key, Section, Value};
use super::parse::place_of;
use super::problems::{suggestion, Problems};
use super::schedule::{parse_time_zone, Schedule};
use super::{
    CatchUp, DaemonDetails, DockerSettings, HabitDetails, Notifications, Notifier, ServiceDetails,
    TaskType, ValuePattern,
};

/// Each table, as its header is written, and the keys valid in it.
pub(crate) const TABLE_KEYS: [(&str, &[&str]); 6] = [
    (
        "[task_details]",
        &[
            "on_end",
            "on_fail",
            "on_success",
            "stop_grace",
            "email_to",
            "email_subject",
            "email_body",
            "webhook_url",
            "notify_command",
            "keep_runs",
        ],
    ),
    (
        "[daemon_details]",
        &[
            "restart_on_end",
            "restart_on_fail",
            "restart_on_success",
            "wait_after_setup",
            "restart_delay",
            "max_restart_delay",
            "stable_after",
            "crashloop_after",
        ],
    ),
    (
        "[habit_details]",
        &[
            "time_between_runs",
            "ignore_nonzero_exits",
            "time_zone",
            "catch_up",
            "value_pattern",
        ],
    ),
    ("[service_details]", super::service::KEYS),
    ("[docker_settings]", DOCKER_KEYS),
    ("[docker_details]", DOCKER_KEYS),
];
/// How long a stopped command has between TERM and KILL unless the task says.
pub const DEFAULT_STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The most run records a task may ask to keep: a year of a habit every
/// second is 31.5 million, and even that stays quick to read (the store's
/// reads are index lookups), but it is a few GiB of disk.
pub const MAX_KEEP_RUNS: u32 = 100_000_000;

/// Keys of the docker table, with the seed's short spellings.
const DOCKER_KEYS: &[&str] = &[
    "docker_img_id",
    "apt_packages",
    "apt_pkgs",
    "pip_packages",
    "pip_pkgs",
    "start_container_on_reboot",
];

/// Everything the tables say, with defaults for the tables that are absent.
pub(crate) struct Tables {
    /// `[task_details]`.
    pub(crate) notify: Notifications,
    /// `[task_details] stop_grace`.
    pub(crate) stop_grace: std::time::Duration,
    /// `[task_details] keep_runs`.
    pub(crate) keep_runs: Option<u32>,
    /// `[daemon_details]`.
    pub(crate) daemon: DaemonDetails,
    /// `[habit_details]`, `Some` exactly for a habit with a valid schedule.
    pub(crate) habit: Option<HabitDetails>,
    /// `[service_details]`.
    pub(crate) service: ServiceDetails,
    /// `[docker_settings]` or `[docker_details]`.
    pub(crate) docker: DockerSettings,
}

/// Reads every table of `top`. `task_type` is `None` when it was itself a
/// problem; `task_type_span` is where a habit's missing schedule is blamed.
pub(crate) fn read(
    problems: &mut Problems,
    top: Section,
    task_type: Option<TaskType>,
    task_type_span: Option<Range<usize>>,
    run_in_docker: bool,
) -> Tables {
    let [task, daemon, habit, service, docker_settings, docker_details] =
        TABLE_KEYS.map(|(header, keys)| {
            let section = table(problems, top, header)?;
            section.check_keys(problems, keys, place_of);
            Some(section)
        });
    let notify = task.map_or_else(Notifications::default, |s| Notifications {
        on_end: notifier(problems, s, "on_end"),
        on_fail: notifier(problems, s, "on_fail"),
        on_success: notifier(problems, s, "on_success"),
        email_to: s
            .strings(problems, "email_to")
            .into_iter()
            .map(|a| a.into_inner())
            .collect(),
        email_subject: template(problems, s, "email_subject"),
        email_body: template(problems, s, "email_body"),
        webhook_url: webhook_url(problems, s),
        notify_command: s.string(problems, "notify_command").map(str::to_owned),
    });
    let stop_grace = task.map_or(DEFAULT_STOP_GRACE, |s| {
        s.duration(problems, "stop_grace", DEFAULT_STOP_GRACE)
    });
    let keep_runs = task.and_then(|s| s.count_in(problems, "keep_runs", 1, MAX_KEEP_RUNS));
    let daemon = daemon.map_or_else(DaemonDetails::default, |s| {
        let d = DaemonDetails::default();
        DaemonDetails {
            restart_on_end: s.bool(problems, "restart_on_end"),
            restart_on_fail: s.bool(problems, "restart_on_fail"),
            restart_on_success: s.bool(problems, "restart_on_success"),
            wait_after_setup: s.bool(problems, "wait_after_setup"),
            restart_delay: s.duration(problems, "restart_delay", d.restart_delay),
            max_restart_delay: s.duration(problems, "max_restart_delay", d.max_restart_delay),
            stable_after: s.duration(problems, "stable_after", d.stable_after),
            crashloop_after: s.count(problems, "crashloop_after", 1, d.crashloop_after),
        }
    });
    let service = service.map_or_else(ServiceDetails::default, |s| {
        super::service::read(problems, s)
    });
    let habit = habit_details(problems, habit, task_type, task_type_span);
    let docker_table = match (docker_settings, docker_details) {
        (Some(first), Some(second)) => {
            let (earlier, later) = if first.start <= second.start {
                (first, second)
            } else {
                (second, first)
            };
            problems.add_hint(
                later.start..later.start,
                format!(
                    "{} repeats {} (line {})",
                    later.name,
                    earlier.name,
                    problems.line_of(earlier.start)
                ),
                "they are two spellings of one table; keep one",
            );
            Some(earlier)
        }
        (one, other) => one.or(other),
    };
    let docker = docker_table.map_or_else(DockerSettings::default, |s| {
        docker(problems, s, run_in_docker)
    });
    Tables {
        notify,
        stop_grace,
        keep_runs,
        daemon,
        habit,
        service,
        docker,
    }
}

/// The table written `header` (`"[daemon_details]"`), if the file has it.
fn table<'a, 'i>(
    problems: &mut Problems,
    top: Section<'a, 'i>,
    header: &'a str,
) -> Option<Section<'a, 'i>> {
    let key = header.trim_start_matches('[').trim_end_matches(']');
    let (name, value) = top.entry(key)?;
    match value.get_ref().as_table() {
        Some(table) => Some(Section {
            name: header,
            table,
            start: name.span().start,
        }),
        None => {
            problems.add(
                value.span(),
                format!(
                    "`{key}` must be a table ({header}), not {}",
                    type_name(value.get_ref())
                ),
            );
            None
        }
    }
}

/// A notifier field of `[task_details]`; `none` when missing or wrong.
fn notifier(problems: &mut Problems, section: Section, key: &str) -> Notifier {
    let Some(text) = section.string(problems, key) else {
        return Notifier::None;
    };
    match text {
        "none" => Notifier::None,
        "email" => Notifier::Email,
        "qmail" => Notifier::Qmail,
        "webhook" => Notifier::Webhook,
        "command" => Notifier::Command,
        other => {
            if let Some((_, value)) = section.entry(key) {
                problems.add_hint(
                    value.span(),
                    format!("unknown notifier `{other}` for `{key}`"),
                    suggestion(other, &Notifier::ALL),
                );
            }
            Notifier::None
        }
    }
}

/// `email_subject` or `email_body`: a template whose `{placeholders}` must
/// be among [`super::TEMPLATE_FIELDS`].
fn template(problems: &mut Problems, section: Section, key: &str) -> Option<String> {
    let text = section.string(problems, key)?;
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let name = &after[..close];
        if !super::TEMPLATE_FIELDS.contains(&name) {
            if let Some((_, value)) = section.entry(key) {
                problems.add_hint(
                    value.span(),
                    format!("unknown placeholder `{{{name}}}` in `{key}`"),
                    suggestion(name, &super::TEMPLATE_FIELDS),
                );
            }
            return None;
        }
        rest = &after[close + 1..];
    }
    Some(text.to_owned())
}

/// `webhook_url`: an `http://` or `https://` URL.
fn webhook_url(problems: &mut Problems, section: Section) -> Option<String> {
    let text = section.string(problems, "webhook_url")?;
    if text.starts_with("http://") || text.starts_with("https://") {
        return Some(text.to_owned());
    }
    if let Some((_, value)) = section.entry("webhook_url") {
        problems.add_hint(
            value.span(),
            format!("`webhook_url` = \"{text}\" is not an http:// or https:// URL"),
            "write one like \"http://192.168.1.5:8080/hook\"",
        );
    }
    None
}

/// `[habit_details]`: `Some` exactly for a habit. Other tasks may carry the
/// table (the seed's prototype has every table), even with the prototype's
/// `time_between_runs = ""`; a non-empty schedule is still checked, since it
/// is most likely meant.
fn habit_details(
    problems: &mut Problems,
    section: Option<Section>,
    task_type: Option<TaskType>,
    task_type_span: Option<Range<usize>>,
) -> Option<HabitDetails> {
    let is_habit = task_type == Some(TaskType::Habit);
    let ignore_nonzero_exits = section.is_some_and(|s| s.bool(problems, "ignore_nonzero_exits"));
    let time_zone = section.and_then(|s| time_zone(problems, s));
    let catch_up = section.map_or(CatchUp::Skip, |s| catch_up(problems, s));
    let value_pattern = section.and_then(|s| value_pattern(problems, s));
    let entry = section.and_then(|s| s.entry("time_between_runs"));
    let Some((_, value)) = entry else {
        if is_habit {
            problems.add_hint(
                task_type_span.unwrap_or(0..0),
                "a habit needs `time_between_runs` in [habit_details]",
                "for example: time_between_runs = \"5m\" or \"*/5 * * * *\"",
            );
        }
        return None;
    };
    let text = str_value(problems, "time_between_runs", value)?;
    if text.trim().is_empty() && !is_habit {
        return None;
    }
    match Schedule::parse(text) {
        Ok(time_between_runs) => is_habit.then_some(HabitDetails {
            time_between_runs,
            ignore_nonzero_exits,
            time_zone,
            catch_up,
            value_pattern,
        }),
        Err(message) => {
            problems.add(value.span(), message);
            None
        }
    }
}

/// `[habit_details] time_zone`: an IANA name, or `"local"`; `None` (the
/// host's zone) when missing or wrong (which is recorded).
fn time_zone(problems: &mut Problems, section: Section) -> Option<chrono_tz::Tz> {
    let (_, value) = section.entry("time_zone")?;
    let text = str_value(problems, "time_zone", value)?;
    match parse_time_zone(text) {
        Ok(zone) => zone,
        Err((message, hint)) => {
            problems.add_hint(value.span(), message, hint);
            None
        }
    }
}

/// `[habit_details] value_pattern`: a regular expression; `None` when
/// missing or wrong (which is recorded).
fn value_pattern(problems: &mut Problems, section: Section) -> Option<ValuePattern> {
    let (_, value) = section.entry("value_pattern")?;
    let text = str_value(problems, "value_pattern", value)?;
    match ValuePattern::parse(text) {
        Ok(pattern) => Some(pattern),
        Err((message, hint)) => {
            problems.add_hint(value.span(), message, hint);
            None
        }
    }
}

/// `[habit_details] catch_up`: `skip` (the default) or `latest`.
fn catch_up(problems: &mut Problems, section: Section) -> CatchUp {
    let Some(text) = section.string(problems, "catch_up") else {
        return CatchUp::Skip;
    };
    match text {
        "skip" => CatchUp::Skip,
        "latest" => CatchUp::Latest,
        other => {
            if let Some((_, value)) = section.entry("catch_up") {
                problems.add_hint(
                    value.span(),
                    format!("unknown catch_up `{other}`"),
                    suggestion(other, &CatchUp::ALL),
                );
            }
            CatchUp::Skip
        }
    }
}

/// `[docker_settings]` or `[docker_details]`.
fn docker(problems: &mut Problems, section: Section, run_in_docker: bool) -> DockerSettings {
    let defaults = DockerSettings::default();
    let docker_img_id = match section.entry("docker_img_id") {
        Some((_, value)) => match str_value(problems, "docker_img_id", value) {
            // Unused without `run_in_docker`, but never kept empty, so a spec
            // whose setting is switched on later still names an image.
            Some(image) if image.trim().is_empty() => {
                if run_in_docker {
                    problems.add_hint(
                        value.span(),
                        "`docker_img_id` is empty",
                        "write an image, like \"Ubuntu 22.04\" or \"python:3.12-slim\"",
                    );
                }
                defaults.docker_img_id
            }
            Some(image) => {
                let image = image.trim().to_owned();
                let settings = DockerSettings {
                    docker_img_id: image.clone(),
                    ..DockerSettings::default()
                };
                if run_in_docker && settings.image_reference().contains(char::is_whitespace) {
                    problems.add_hint(
                        value.span(),
                        format!("`{image}` is not a Docker image"),
                        "write a reference like \"python:3.12-slim\", or a name and a version like \"Ubuntu 22.04\"",
                    );
                }
                image
            }
            None => defaults.docker_img_id,
        },
        None => defaults.docker_img_id,
    };
    DockerSettings {
        docker_img_id,
        apt_packages: packages(problems, section, "apt_packages", "apt_pkgs"),
        pip_packages: packages(problems, section, "pip_packages", "pip_pkgs"),
        start_container_on_reboot: section.bool(problems, "start_container_on_reboot"),
    }
}

/// A package list given as `long` or `short` (not both).
fn packages(problems: &mut Problems, section: Section, long: &str, short: &str) -> Vec<String> {
    let Some((key, value)) = one_of(problems, section, long, short) else {
        return Vec::new();
    };
    let key = key.get_ref().as_ref();
    let mut names = Vec::new();
    for package in string_list(problems, key, value) {
        let name = package.get_ref().trim();
        if name.is_empty() {
            problems.add(package.span(), format!("an empty package name in `{key}`"));
        } else if name.starts_with('-') {
            // The installer would read it as an option rather than a package.
            problems.add(
                package.span(),
                format!("`{name}` in `{key}` is not a package name"),
            );
        } else {
            names.push(name.to_owned());
        }
    }
    names
}

/// The entry of a field that has two spellings; both at once is a problem at the later one.
fn one_of<'a, 'i>(
    problems: &mut Problems,
    section: Section<'a, 'i>,
    a: &str,
    b: &str,
) -> Option<(&'a Key<'i>, &'a Value<'i>)> {
    match (section.entry(a), section.entry(b)) {
        (Some(first), Some(second)) => {
            let (earlier, later) = if first.0.span().start <= second.0.span().start {
                (first, second)
            } else {
                (second, first)
            };
            problems.add_hint(
                later.0.span(),
                format!(
                    "`{}` repeats `{}` (line {})",
                    later.0.get_ref(),
                    earlier.0.get_ref(),
                    problems.line_of(earlier.0.span().start)
                ),
                "they are two spellings of one field; keep one",
            );
            Some(earlier)
        }
        (one, other) => one.or(other),
    }
}

//! Task file text → [`TaskSpec`] (SPEC 3.1, 3.2), with every problem at its line and column.
//!
//! The TOML is parsed with the span of every key and value (`toml`'s
//! `DeTable`), then each place of the file is read with the keys valid there,
//! so an unknown key is reported where it is, with a "did you mean". Problems
//! are collected, never returned early: a user sees all of them at once. Only
//! a TOML syntax error stops the reading, because past it nothing is certain.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::details;
use super::fields::{str_value, Key, Section, Value};
use super::problems::{suggestion, Problems, TaskFileError};
use super::{TaskSpec, TaskType};

/// The general fields: at the top level, or all of them under `[general]`.
pub(crate) const GENERAL: [&str; 6] = [
    "task_name",
    "task_type",
    "commands",
    "setup_commands",
    "necessary_files",
    "run_in_docker",
];
/// Every table a task file may have, including the seed's alternative spellings.
const TABLES: [&str; 7] = [
    "general",
    "task_details",
    "daemon_details",
    "habit_details",
    "service_details",
    "docker_settings",
    "docker_details",
];
/// Longest `task_name`, in characters; it becomes a folder name and a key chunk.
pub const MAX_NAME_CHARS: usize = 200;

/// Reads the task file `text`; `file` names it in problems (a path, or `-`).
///
/// Accepts every spelling of the seed (SPEC 3.2). Fields that are missing take
/// their defaults (SPEC 3.1); everything else wrong is a [`Problem`] in the
/// error, all of them in file order.
///
/// [`Problem`]: super::Problem
pub fn parse_task(file: &str, text: &str) -> Result<TaskSpec, TaskFileError> {
    let mut problems = Problems::new(text);
    let (doc, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        syntax_problems(&mut problems, text, &errors);
        return Err(problems.into_error(file));
    }
    let top = Section {
        name: "the top level",
        table: doc.get_ref(),
        start: 0,
    };
    let top_keys: Vec<&str> = GENERAL.iter().chain(&TABLES).copied().collect();
    top.check_keys(&mut problems, &top_keys, place_of);

    let (general, general_start) = general_fields(&mut problems, top);
    let general = Section {
        name: "the general fields",
        table: &general,
        start: general_start,
    };
    let name = task_name(&mut problems, general);
    let task_type = task_type(&mut problems, general);
    // Where to blame what a task type requires and the file lacks.
    let task_type_span = general.entry("task_type").map(|(_, value)| value.span());
    let commands = general.strings(&mut problems, "commands");
    if matches!(task_type, Some(TaskType::Habit | TaskType::Service)) && commands.is_empty() {
        // A daemon may hold just a workspace (seed); a habit or service would do nothing.
        let at = general
            .entry("commands")
            .map(|(_, value)| value.span())
            .or(task_type_span.clone())
            .unwrap_or(0..0);
        problems.add(
            at,
            "a habit or a service needs at least one command in `commands`",
        );
    }
    let setup_commands = general.strings(&mut problems, "setup_commands");
    let necessary_files = general.strings(&mut problems, "necessary_files");
    for file in &necessary_files {
        check_necessary_file(&mut problems, file.get_ref(), file.span());
    }
    let run_in_docker = general.bool(&mut problems, "run_in_docker");
    let tables = details::read(&mut problems, top, task_type, task_type_span, run_in_docker);
    if task_type == Some(TaskType::Service) && tables.service.warm && commands.len() > 1 {
        // The worker is one process; a pipeline belongs inside its command line.
        problems.add_hint(
            commands[1].span(),
            format!(
                "a warm service has one command, its worker, not {}",
                commands.len()
            ),
            "join them into one command line, or remove `warm = true` to run them per call",
        );
    }

    let spec = TaskSpec {
        name: name.unwrap_or_default(),
        // A placeholder only when a problem was recorded, and then the spec is dropped.
        task_type: task_type.unwrap_or(TaskType::Daemon),
        commands: unspanned(commands),
        setup_commands: unspanned(setup_commands),
        necessary_files: unspanned(necessary_files),
        run_in_docker,
        notify: tables.notify,
        stop_grace: tables.stop_grace,
        keep_runs: tables.keep_runs,
        daemon: tables.daemon,
        habit: tables.habit,
        service: tables.service,
        docker: tables.docker,
    };
    problems.finish(file, spec)
}

/// The strings of a list without their positions.
fn unspanned(list: Vec<Spanned<String>>) -> Vec<String> {
    list.into_iter().map(Spanned::into_inner).collect()
}

/// Where a key that is valid somewhere else belongs, for the hint.
pub(crate) fn place_of(key: &str) -> Option<String> {
    if GENERAL.contains(&key) {
        return Some("at the top level or in [general]".to_owned());
    }
    details::TABLE_KEYS
        .iter()
        .find(|(_, keys)| keys.contains(&key))
        .map(|(table, _)| format!("in {table}"))
}

/// One problem per TOML syntax error, without repeating a position.
fn syntax_problems(problems: &mut Problems, text: &str, errors: &[toml::de::Error]) {
    let mut seen = Vec::new();
    for error in errors {
        let span = error.span().unwrap_or(0..0);
        if seen.contains(&span.start) {
            continue;
        }
        seen.push(span.start);
        let message = match text.get(span.clone()) {
            Some(key) if error.message() == "duplicate key" && !key.is_empty() => {
                format!("`{key}` is given twice")
            }
            _ => format!("invalid TOML: {}", error.message()),
        };
        problems.add(span, message);
    }
}

/// The general fields, from the top level or `[general]`, and the offset to
/// blame when one is missing.
///
/// Both places at once is a problem on each field of the later place, but
/// the fields are still read (from the earlier place first) so that their own
/// mistakes are reported in the same pass.
fn general_fields<'i>(problems: &mut Problems, top: Section<'_, 'i>) -> (DeTable<'i>, usize) {
    let at_top: Vec<_> = GENERAL.iter().filter_map(|key| top.entry(key)).collect();
    let mut under_general = Vec::new();
    let mut missing_start = 0;
    if let Some((key, value)) = top.entry("general") {
        match value.get_ref() {
            DeValue::Table(table) => {
                let section = Section {
                    name: "[general]",
                    table,
                    start: key.span().start,
                };
                section.check_keys(problems, &GENERAL, place_of);
                under_general = GENERAL.iter().filter_map(|k| section.entry(k)).collect();
                if at_top.is_empty() {
                    missing_start = key.span().start;
                }
            }
            other => problems.add(
                value.span(),
                format!(
                    "`general` must be a table, not {}",
                    super::fields::type_name(other)
                ),
            ),
        }
    }
    let first_start =
        |entries: &[(&Key, &Value)]| entries.iter().map(|(k, _)| k.span().start).min();
    let (first, second, first_place, second_place) =
        match (first_start(&at_top), first_start(&under_general)) {
            (Some(top_start), Some(general_start)) if general_start < top_start => {
                (under_general, at_top, "in [general]", "at the top level")
            }
            _ => (at_top, under_general, "at the top level", "in [general]"),
        };
    // With fields in only one place (or none) there is nothing to reconcile.
    let both_places = !first.is_empty();
    for (key, _) in second.iter().filter(|_| both_places) {
        let name = key.get_ref();
        match first.iter().find(|(k, _)| k.get_ref() == name) {
            Some((earlier, _)) => problems.add_hint(
                key.span(),
                format!(
                    "`{name}` is given twice: {first_place} (line {}) and {second_place}",
                    problems.line_of(earlier.span().start)
                ),
                "keep one",
            ),
            None => problems.add_hint(
                key.span(),
                format!("`{name}` is {second_place}, but other general fields are {first_place}"),
                "put all general fields in one place: the top level or [general]",
            ),
        }
    }
    let mut merged = DeTable::new();
    for (key, value) in first.into_iter().chain(second) {
        if !merged.contains_key(key.get_ref().as_ref()) {
            merged.insert(key.clone(), value.clone());
        }
    }
    (merged, missing_start)
}

/// `task_name`, trimmed; `None` (and a problem) when missing or unusable.
fn task_name(problems: &mut Problems, general: Section) -> Option<String> {
    let Some((_, value)) = general.entry("task_name") else {
        problems.add_hint(
            general.start..general.start,
            "missing `task_name`",
            "add a line like task_name = \"my_task\"",
        );
        return None;
    };
    let name = str_value(problems, "task_name", value)?.trim();
    let problem = if name.is_empty() {
        "`task_name` is empty".to_owned()
    } else if name.chars().any(char::is_control) {
        "`task_name` contains a control character".to_owned()
    } else if name.chars().count() > MAX_NAME_CHARS {
        format!("`task_name` is longer than {MAX_NAME_CHARS} characters")
    } else {
        return Some(name.to_owned());
    };
    problems.add(value.span(), problem);
    None
}

/// `task_type`; `None` (and a problem) when missing or unknown.
fn task_type(problems: &mut Problems, general: Section) -> Option<TaskType> {
    const TYPES: [&str; 3] = ["daemon", "habit", "service"];
    let Some((_, value)) = general.entry("task_type") else {
        problems.add_hint(
            general.start..general.start,
            "missing `task_type`",
            "add a line task_type = \"daemon\", \"habit\" or \"service\"",
        );
        return None;
    };
    let text = str_value(problems, "task_type", value)?;
    let task_type = match text {
        "daemon" => TaskType::Daemon,
        "habit" => TaskType::Habit,
        "service" => TaskType::Service,
        "" => {
            problems.add_hint(value.span(), "`task_type` is empty", suggestion("", &TYPES));
            return None;
        }
        other => {
            problems.add_hint(
                value.span(),
                format!("unknown task_type `{other}`"),
                suggestion(other, &TYPES),
            );
            return None;
        }
    };
    Some(task_type)
}

/// An entry of `necessary_files`: a path or glob that stays inside the task file's folder.
fn check_necessary_file(problems: &mut Problems, path: &str, span: Range<usize>) {
    if path.trim().is_empty() {
        problems.add(span, "an empty path in `necessary_files`");
    } else if path.contains('\0') {
        problems.add(span, "a path in `necessary_files` contains a NUL character");
    } else if climbs_out(path) {
        problems.add_hint(
            span,
            format!("`{path}` is outside the task file's folder"),
            "necessary_files may name absolute paths, or paths in the task file's folder and below",
        );
    }
}

/// Whether a relative `path` leaves its base folder (`../x`, `a/../../x`), by its text alone.
fn climbs_out(path: &str) -> bool {
    if path.starts_with('/') {
        return false;
    }
    let mut depth: usize = 0;
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match depth.checked_sub(1) {
                Some(up) => depth = up,
                None => return true,
            },
            _ => depth += 1,
        }
    }
    false
}

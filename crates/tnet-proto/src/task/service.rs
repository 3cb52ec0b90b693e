//! The `[service_details]` table (SPEC 6): how calls fail, how long they may
//! take, how many run at once, and the calling structure `tnet services`
//! shows (description, input, arguments, example). Every field is optional,
//! so the seed's files, which only have `service_fail_is_command_fail`, stay valid.

use std::time::Duration;

use super::fields::{str_value, type_name, Section, Value};
use super::problems::{suggestion, Problems};
use super::{InputKind, ServiceArgument, ServiceDetails, MAX_CONCURRENT_CALLS, MAX_WORKERS};

/// The keys of `[service_details]`.
pub(crate) const KEYS: &[&str] = &[
    "service_fail_is_command_fail",
    "description",
    "input",
    "input_media_type",
    "arguments",
    "example",
    "timeout",
    "max_concurrent_calls",
    "warm",
    "workers",
];

/// The keys of one entry of `arguments`.
const ARGUMENT_KEYS: &[&str] = &["name", "help"];

/// The shortest `timeout` accepted: less would only kill commands as they start.
pub const MIN_CALL_TIMEOUT: Duration = Duration::from_millis(100);

/// Reads `[service_details]`; every wrong value is a problem and takes its default.
pub(crate) fn read(problems: &mut Problems, section: Section) -> ServiceDetails {
    let defaults = ServiceDetails::default();
    ServiceDetails {
        service_fail_is_command_fail: section.bool(problems, "service_fail_is_command_fail"),
        description: section
            .string(problems, "description")
            .map(|d| d.trim().to_owned())
            .unwrap_or_default(),
        input: input(problems, section),
        input_media_type: media_type(problems, section),
        arguments: arguments(problems, section),
        example: section
            .string(problems, "example")
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned),
        timeout: timeout(problems, section).unwrap_or(defaults.timeout),
        max_concurrent_calls: max_concurrent_calls(problems, section)
            .unwrap_or(defaults.max_concurrent_calls),
        warm: section.bool(problems, "warm"),
        workers: workers(problems, section).unwrap_or(defaults.workers),
    }
}

/// `workers`: an integer from 1 to [`MAX_WORKERS`], and only for a warm service.
fn workers(problems: &mut Problems, section: Section) -> Option<u32> {
    let (_, value) = section.entry("workers")?;
    let Some(integer) = value.get_ref().as_integer() else {
        problems.add(
            value.span(),
            format!(
                "`workers` must be a whole number, not {}",
                type_name(value.get_ref())
            ),
        );
        return None;
    };
    let parsed = i64::from_str_radix(integer.as_str(), integer.radix()).ok();
    let n = match parsed.and_then(|n| u32::try_from(n).ok()) {
        Some(n) if (1..=MAX_WORKERS).contains(&n) => n,
        _ => {
            problems.add(
                value.span(),
                format!("`workers` must be from 1 to {MAX_WORKERS}, not {integer}"),
            );
            return None;
        }
    };
    let warm = section
        .entry("warm")
        .and_then(|(_, v)| v.get_ref().as_bool())
        .unwrap_or(false);
    if !warm && n != 1 {
        problems.add_hint(
            value.span(),
            "`workers` is for warm services only",
            "add `warm = true` (the command is then a long-lived worker), or remove `workers`",
        );
        return None;
    }
    Some(n)
}

/// `input`: `none`, `text` or `file`.
fn input(problems: &mut Problems, section: Section) -> InputKind {
    let Some(text) = section.string(problems, "input") else {
        return InputKind::default();
    };
    match text {
        "none" => InputKind::None,
        "text" => InputKind::Text,
        "file" => InputKind::File,
        other => {
            if let Some((_, value)) = section.entry("input") {
                problems.add_hint(
                    value.span(),
                    format!("unknown input `{other}`"),
                    suggestion(other, &InputKind::ALL),
                );
            }
            InputKind::default()
        }
    }
}

/// `input_media_type`: `type/subtype`, optionally with parameters (`text/plain; charset=utf-8`).
fn media_type(problems: &mut Problems, section: Section) -> Option<String> {
    let (_, value) = section.entry("input_media_type")?;
    let text = str_value(problems, "input_media_type", value)?.trim();
    if is_media_type(text) {
        return Some(text.to_owned());
    }
    problems.add_hint(
        value.span(),
        format!("`{text}` is not a media type"),
        "write a type and a subtype, like \"image/png\" or \"text/csv\"",
    );
    None
}

/// Whether `text` is `type/subtype` (RFC 6838 token characters), parameters aside.
fn is_media_type(text: &str) -> bool {
    let essence = text.split(';').next().unwrap_or_default().trim();
    let token = |t: &str| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
    };
    matches!(essence.split_once('/'), Some((kind, sub)) if token(kind) && token(sub))
}

/// `arguments`: a list of `{ name = "...", help = "..." }`, names unique.
fn arguments(problems: &mut Problems, section: Section) -> Vec<ServiceArgument> {
    let Some((_, value)) = section.entry("arguments") else {
        return Vec::new();
    };
    let Some(items) = value.get_ref().as_array() else {
        problems.add_hint(
            value.span(),
            format!(
                "`arguments` must be a list, not {}",
                type_name(value.get_ref())
            ),
            "for example: arguments = [{ name = \"lang\", help = \"language of the answer\" }]",
        );
        return Vec::new();
    };
    let mut out: Vec<ServiceArgument> = Vec::new();
    for item in items.iter() {
        let Some(argument) = argument(problems, item) else {
            continue;
        };
        if out.iter().any(|a| a.name == argument.name) {
            problems.add(
                item.span(),
                format!("the argument `{}` is listed twice", argument.name),
            );
            continue;
        }
        out.push(argument);
    }
    out
}

/// One entry of `arguments`; `None` (and a problem) when it is unusable.
fn argument(problems: &mut Problems, item: &Value) -> Option<ServiceArgument> {
    let Some(table) = item.get_ref().as_table() else {
        problems.add_hint(
            item.span(),
            format!(
                "each entry of `arguments` must be a table, not {}",
                type_name(item.get_ref())
            ),
            "write { name = \"lang\", help = \"language of the answer\" }",
        );
        return None;
    };
    let entry = Section {
        name: "[service_details] arguments",
        table,
        start: item.span().start,
    };
    entry.check_keys(problems, ARGUMENT_KEYS, |_| None);
    let help = entry
        .string(problems, "help")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let Some((_, name_value)) = entry.entry("name") else {
        problems.add_hint(
            item.span(),
            "an argument without a `name`",
            "write { name = \"lang\", help = \"language of the answer\" }",
        );
        return None;
    };
    let name = str_value(problems, "name", name_value)?.trim();
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        problems.add(
            name_value.span(),
            format!("`{name}` is not an argument name: it must be one word"),
        );
        return None;
    }
    Some(ServiceArgument {
        name: name.to_owned(),
        help,
    })
}

/// `timeout`: a duration like `"30s"` or `"5m"`, at least [`MIN_CALL_TIMEOUT`].
fn timeout(problems: &mut Problems, section: Section) -> Option<Duration> {
    let (_, value) = section.entry("timeout")?;
    const FORM: &str = "write a duration like \"30s\", \"5m\" or \"1h 30m\"";
    let Some(text) = value.get_ref().as_str() else {
        problems.add_hint(
            value.span(),
            format!(
                "`timeout` must be a string, not {}",
                type_name(value.get_ref())
            ),
            FORM,
        );
        return None;
    };
    let text = text.trim();
    match humantime::parse_duration(text) {
        Ok(d) if d >= MIN_CALL_TIMEOUT => Some(d),
        Ok(_) => {
            problems.add(
                value.span(),
                format!(
                    "`timeout = \"{text}\"` is shorter than {}",
                    humantime::format_duration(MIN_CALL_TIMEOUT)
                ),
            );
            None
        }
        Err(_) => {
            problems.add_hint(value.span(), format!("`{text}` is not a duration"), FORM);
            None
        }
    }
}

/// `max_concurrent_calls`: an integer from 1 to [`MAX_CONCURRENT_CALLS`].
fn max_concurrent_calls(problems: &mut Problems, section: Section) -> Option<u32> {
    let (_, value) = section.entry("max_concurrent_calls")?;
    let Some(integer) = value.get_ref().as_integer() else {
        problems.add(
            value.span(),
            format!(
                "`max_concurrent_calls` must be a whole number, not {}",
                type_name(value.get_ref())
            ),
        );
        return None;
    };
    let parsed = i64::from_str_radix(integer.as_str(), integer.radix()).ok();
    match parsed.and_then(|n| u32::try_from(n).ok()) {
        Some(n) if (1..=MAX_CONCURRENT_CALLS).contains(&n) => Some(n),
        _ => {
            problems.add(
                value.span(),
                format!(
                    "`max_concurrent_calls` must be from 1 to {MAX_CONCURRENT_CALLS}, not {integer}"
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_media_type;

    #[test]
    fn media_types_need_a_type_and_a_subtype() {
        for ok in [
            "image/png",
            "text/plain; charset=utf-8",
            "application/vnd.api+json",
        ] {
            assert!(is_media_type(ok), "{ok}");
        }
        for bad in ["png", "image/", "/png", "image png/x", "a/b/c", ""] {
            assert!(!is_media_type(bad), "{bad}");
        }
    }
}

#[cfg(test)]
mod warm_tests {
    use crate::task::parse_task;

    fn parse(details: &str, commands: &str) -> Result<crate::task::TaskSpec, String> {
        let text = format!(
            "task_name = \"w\"\ntask_type = \"service\"\ncommands = {commands}\n[service_details]\n{details}"
        );
        parse_task("w.toml", &text).map_err(|e| e.to_string())
    }

    #[test]
    fn warm_takes_workers_and_one_command() {
        let spec = parse("warm = true\nworkers = 2\n", "['python3 worker.py']").expect("valid");
        assert!(spec.service.warm);
        assert_eq!(spec.service.workers, 2);
        let cold = parse("", "['cat']").expect("valid");
        assert!(!cold.service.warm);
        assert_eq!(cold.service.workers, 1);
    }

    #[test]
    fn warm_mistakes_are_explained() {
        let err = parse("warm = true\n", "['a', 'b']").expect_err("two commands");
        assert!(err.contains("a warm service has one command"), "{err}");
        let err = parse("workers = 2\n", "['a']").expect_err("workers without warm");
        assert!(err.contains("add `warm = true`"), "{err}");
        let err = parse("warm = true\nworkers = 0\n", "['a']").expect_err("zero");
        assert!(err.contains("`workers` must be from 1 to 64"), "{err}");
        let err = parse("warm = \"yes\"\n", "['a']").expect_err("not a bool");
        assert!(err.contains("warm"), "{err}");
    }
}

//! Typed reads of one table of a task file, each wrong type recorded as a
//! problem at the value's position instead of stopping the parse.

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::problems::{suggestion, Problems};

/// A key as parsed, with the span of its name.
pub(crate) type Key<'i> = Spanned<std::borrow::Cow<'i, str>>;
/// A value as parsed, with its span.
pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// One table of the file (or the top level), with what problems call it.
#[derive(Clone, Copy)]
pub(crate) struct Section<'a, 'i> {
    /// How messages name the place: "[daemon_details]" or "the top level".
    pub(crate) name: &'a str,
    pub(crate) table: &'a DeTable<'i>,
    /// Byte offset where the table starts, for problems about a missing key.
    pub(crate) start: usize,
}

impl<'a, 'i> Section<'a, 'i> {
    /// The key and value of `key`, if present.
    pub(crate) fn entry(&self, key: &str) -> Option<(&'a Key<'i>, &'a Value<'i>)> {
        self.table.get_key_value(key)
    }

    /// Where the section is, for messages: "in [daemon_details]", "at the top level".
    pub(crate) fn place(&self) -> String {
        if self.name.starts_with('[') {
            format!("in {}", self.name)
        } else {
            format!("at {}", self.name)
        }
    }

    /// `key` as a bool; `false` when missing or wrong (which is recorded).
    pub(crate) fn bool(&self, problems: &mut Problems, key: &str) -> bool {
        self.entry(key)
            .and_then(|(_, value)| bool_value(problems, key, value))
            .unwrap_or(false)
    }

    /// `key` as a string; `None` when missing or wrong (which is recorded).
    pub(crate) fn string(&self, problems: &mut Problems, key: &str) -> Option<&'a str> {
        self.entry(key)
            .and_then(|(_, value)| str_value(problems, key, value))
    }

    /// `key` as a duration like "5s" or "1m 30s"; `default` when missing or
    /// wrong (which is recorded).
    pub(crate) fn duration(
        &self,
        problems: &mut Problems,
        key: &str,
        default: std::time::Duration,
    ) -> std::time::Duration {
        let Some((_, value)) = self.entry(key) else {
            return default;
        };
        let Some(text) = str_value(problems, key, value) else {
            return default;
        };
        match humantime::parse_duration(text.trim()) {
            Ok(d) => d,
            Err(_) => {
                problems.add_hint(
                    value.span(),
                    format!("`{key}` = \"{text}\" is not a duration"),
                    "write one like \"500ms\", \"5s\" or \"1m 30s\"",
                );
                default
            }
        }
    }

    /// `key` as a whole number of at least `min`; `default` when missing or
    /// wrong (which is recorded).
    pub(crate) fn count(&self, problems: &mut Problems, key: &str, min: u32, default: u32) -> u32 {
        let Some((_, value)) = self.entry(key) else {
            return default;
        };
        match value
            .get_ref()
            .as_integer()
            .and_then(|i| i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok())
        {
            Some(n) if n >= i64::from(min) && n <= i64::from(u32::MAX) => n as u32,
            _ => {
                problems.add(
                    value.span(),
                    format!("`{key}` must be a whole number of at least {min}"),
                );
                default
            }
        }
    }

    /// `key` as a whole number from `min` to `max`; `None` when missing,
    /// `Some(min)` when wrong (which is recorded).
    pub(crate) fn count_in(
        &self,
        problems: &mut Problems,
        key: &str,
        min: u32,
        max: u32,
    ) -> Option<u32> {
        let (_, value) = self.entry(key)?;
        let n = self.count(problems, key, min, min);
        if n > max {
            problems.add(
                value.span(),
                format!("`{key}` must be at most {max}, not {n}"),
            );
            return Some(min);
        }
        Some(n)
    }

    /// `key` as a list of strings; empty when missing or wrong (which is recorded).
    pub(crate) fn strings(&self, problems: &mut Problems, key: &str) -> Vec<Spanned<String>> {
        self.entry(key)
            .map(|(_, value)| string_list(problems, key, value))
            .unwrap_or_default()
    }

    /// Records every key not in `known`, with a "did you mean" among them or,
    /// for a key valid elsewhere, where it belongs (`place_of`).
    pub(crate) fn check_keys(
        &self,
        problems: &mut Problems,
        known: &[&str],
        place_of: impl Fn(&str) -> Option<String>,
    ) {
        for (key, value) in self.table.iter() {
            let name = key.get_ref().as_ref();
            if known.contains(&name) {
                continue;
            }
            let what = if value.get_ref().is_table() {
                "table"
            } else {
                "key"
            };
            let message = format!("unknown {what} `{name}` {}", self.place());
            let hint = match place_of(name) {
                Some(place) => format!("`{name}` belongs {place}"),
                None => suggestion(name, known),
            };
            problems.add_hint(key.span(), message, hint);
        }
    }
}

/// The name of a value's type for messages ("an integer", "a table").
pub(crate) fn type_name(value: &DeValue) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

/// `value` as a bool, or a problem naming `key`.
pub(crate) fn bool_value(problems: &mut Problems, key: &str, value: &Value) -> Option<bool> {
    let found = value.get_ref().as_bool();
    if found.is_none() {
        problems.add(
            value.span(),
            format!(
                "`{key}` must be true or false, not {}",
                type_name(value.get_ref())
            ),
        );
    }
    found
}

/// `value` as a string, or a problem naming `key`.
pub(crate) fn str_value<'a>(
    problems: &mut Problems,
    key: &str,
    value: &'a Value,
) -> Option<&'a str> {
    let found = value.get_ref().as_str();
    if found.is_none() {
        problems.add(
            value.span(),
            format!(
                "`{key}` must be a string, not {}",
                type_name(value.get_ref())
            ),
        );
    }
    found
}

/// `value` as a list of strings, each with its span; each item that is not a
/// string is a problem of its own, so all of them are reported.
pub(crate) fn string_list(
    problems: &mut Problems,
    key: &str,
    value: &Value,
) -> Vec<Spanned<String>> {
    let Some(items) = value.get_ref().as_array() else {
        problems.add(
            value.span(),
            format!(
                "`{key}` must be a list of strings, not {}",
                type_name(value.get_ref())
            ),
        );
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item.get_ref().as_str() {
            Some(text) => Some(Spanned::new(item.span(), text.to_owned())),
            None => {
                problems.add(
                    item.span(),
                    format!(
                        "`{key}` must be a list of strings; this item is {}",
                        type_name(item.get_ref())
                    ),
                );
                None
            }
        })
        .collect()
}

//! What is wrong with a task file, and where: every [`Problem`] of a file is
//! collected into one [`TaskFileError`], so the user fixes them all in one go.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

/// One mistake in a task file, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// 1-based line of the offending key or value.
    pub line: usize,
    /// 1-based column, counted in characters (not bytes) so editors agree with it.
    pub column: usize,
    /// What is wrong, as a sentence fragment: "unknown key `task_nme`".
    pub message: String,
    /// How to fix it, when we can tell: "did you mean `task_name`?".
    pub hint: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// A task file that cannot become a task: every problem found in it, in file order.
///
/// Displayed as one line per problem, `file:line:column: message (hint)`, the
/// format compilers use, so editors and terminals can jump to each one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct TaskFileError {
    /// The file's name as the user knows it (a path on the client).
    pub file: String,
    /// Never empty; sorted by position.
    pub problems: Vec<Problem>,
}

impl fmt::Display for TaskFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{problem}", self.file)?;
        }
        Ok(())
    }
}

/// The candidate closest to `word`, if one is close enough to be a likely typo.
///
/// Jaro-Winkler favours a shared prefix, which is how keys like `on_sucess`
/// or `docker_setings` go wrong; the comparison ignores case so `Daemon`
/// suggests `daemon`. Failing that, a word that is one whole part of exactly
/// one candidate (`name` of `task_name`) suggests that candidate.
pub fn did_you_mean<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    // Below this, suggestions start pairing unrelated words such as `time` and `type`.
    const THRESHOLD: f64 = 0.85;
    let word = word.to_lowercase();
    let closest = candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&word, c), *c))
        .filter(|(score, _)| *score >= THRESHOLD)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c);
    closest.or_else(|| {
        let mut containing = candidates
            .iter()
            .filter(|c| word.len() >= 3 && c.split('_').any(|part| part == word));
        match (containing.next(), containing.next()) {
            (Some(only), None) => Some(*only),
            _ => None,
        }
    })
}

/// " (did you mean `best`?)" for a name that is not one of `candidates`, or
/// nothing when none is close: the tail of a "no such task/host/service" error.
pub fn did_you_mean_hint(word: &str, candidates: &[&str]) -> String {
    did_you_mean(word, candidates)
        .map(|best| format!(" (did you mean `{best}`?)"))
        .unwrap_or_default()
}

/// The hint for a word that is not one of `candidates`: the closest one, or the full list.
pub(crate) fn suggestion(word: &str, candidates: &[&str]) -> String {
    match did_you_mean(word, candidates) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("expected one of: {}", candidates.join(", ")),
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
///
/// Never panics: an offset past the end or inside a character is moved back
/// to the nearest character boundary.
pub(crate) fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Gathers the problems of one file while it is being read.
pub(crate) struct Problems<'t> {
    text: &'t str,
    found: Vec<Problem>,
}

impl<'t> Problems<'t> {
    /// An empty list for the file whose contents are `text`.
    pub(crate) fn new(text: &'t str) -> Self {
        Problems {
            text,
            found: Vec::new(),
        }
    }

    /// Records a problem at the start of `span`.
    pub(crate) fn add(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.push(span, message.into(), None);
    }

    /// Records a problem at the start of `span`, with a way to fix it.
    pub(crate) fn add_hint(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.push(span, message.into(), Some(hint.into()));
    }

    fn push(&mut self, span: Range<usize>, message: String, hint: Option<String>) {
        let (line, column) = position(self.text, span.start);
        self.found.push(Problem {
            line,
            column,
            message,
            hint,
        });
    }

    /// The line of byte `offset`, for messages that refer to another place.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        position(self.text, offset).0
    }

    /// `Ok(value)` if nothing was found, else every problem in file order.
    ///
    /// `value` may hold placeholders where a field was bad: it is dropped
    /// whenever a problem was recorded, so they never escape.
    pub(crate) fn finish<T>(self, file: &str, value: T) -> Result<T, TaskFileError> {
        if self.found.is_empty() {
            Ok(value)
        } else {
            Err(self.into_error(file))
        }
    }

    /// Every problem found so far, in file order.
    pub(crate) fn into_error(mut self, file: &str) -> TaskFileError {
        // A stable sort keeps two problems at one place in the order they were found.
        self.found.sort_by_key(|p| (p.line, p.column));
        TaskFileError {
            file: file.to_owned(),
            problems: self.found,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        let keys = ["task_name", "task_type", "commands"];
        assert_eq!(did_you_mean("task_nme", &keys), Some("task_name"));
        assert_eq!(did_you_mean("TASK_TYPE", &keys), Some("task_type"));
        assert_eq!(
            did_you_mean("emial", &["none", "email", "qmail"]),
            Some("email")
        );
        assert_eq!(did_you_mean("banana", &keys), None);
        assert_eq!(did_you_mean("name", &keys), Some("task_name"));
        let two = ["restart_on_fail", "notify_on_fail"];
        assert_eq!(
            did_you_mean("fail", &two),
            None,
            "two candidates contain it"
        );
        assert_eq!(did_you_mean("", &keys), None);
        assert_eq!(did_you_mean("x", &[]), None);
    }

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "ab\nçé = 1\n";
        assert_eq!(position(text, 0), (1, 1));
        assert_eq!(position(text, 3), (2, 1));
        // `=` is byte 8 but the fourth character of its line.
        assert_eq!(position(text, 8), (2, 4));
        // Inside `ç` and past the end: clamped, not a panic.
        assert_eq!(position(text, 4), (2, 1));
        assert_eq!(position(text, 999), (3, 1));
    }

    #[test]
    fn displays_one_line_per_problem() {
        let mut problems = Problems::new("a = 1\nb = 2\n");
        problems.add_hint(6..7, "unknown key `b`", "did you mean `a`?");
        problems.add(0..1, "bad `a`");
        let err = problems.finish("t.toml", ()).expect_err("two problems");
        assert_eq!(
            err.to_string(),
            "t.toml:1:1: bad `a`\nt.toml:2:1: unknown key `b` (did you mean `a`?)"
        );
    }
}

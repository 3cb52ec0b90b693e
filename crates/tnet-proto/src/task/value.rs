//! The number a habit's run printed (`[habit_details] value_pattern`): what
//! each run's metadata carries as `value` and what `tnet ui` plots.
//!
//! Without a pattern the rule is fixed: the whole output when it is a number
//! (`42`, ` 9.99\n`, `-1e3`), else the last word of its last line when that is
//! one (`price at 10:00:05: 42.99`). A pattern picks the number out of any
//! output: its last match in the output, the first capture group if it has
//! one, else the whole match.

use std::fmt;

use serde::{Serialize, Serializer};

/// The longest pattern accepted: a pattern is a line of a task file, and the
/// host matches it against every run's output.
pub const MAX_PATTERN_CHARS: usize = 1_000;

/// How much compiled pattern the host will hold for one habit.
const MAX_COMPILED_BYTES: usize = 1 << 20;

/// A validated `value_pattern`. Matching takes time linear in the output
/// (the `regex` crate has no backtracking), so a pattern from a task file
/// cannot stall the host.
#[derive(Clone)]
pub struct ValuePattern {
    regex: regex::Regex,
}

impl ValuePattern {
    /// `text` as a pattern, or what is wrong with it and what to write instead.
    pub fn parse(text: &str) -> Result<Self, (String, String)> {
        let hint = || {
            "for example: value_pattern = 'price: ([0-9.]+)' \
             (the first group, or the whole match, is the number)"
                .to_owned()
        };
        if text.trim().is_empty() {
            return Err(("`value_pattern` is empty".to_owned(), hint()));
        }
        if text.chars().count() > MAX_PATTERN_CHARS {
            return Err((
                format!("`value_pattern` is longer than {MAX_PATTERN_CHARS} characters"),
                hint(),
            ));
        }
        let regex = regex::RegexBuilder::new(text)
            .size_limit(MAX_COMPILED_BYTES)
            .build()
            .map_err(|err| {
                // The regex crate's message spans several lines with a caret
                // under the fault; the last line says what it is.
                let why = err.to_string();
                let why = why
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                let why = why.trim().trim_start_matches("error: ");
                (
                    format!("`value_pattern` is not a regular expression: {why}"),
                    hint(),
                )
            })?;
        Ok(ValuePattern { regex })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }

    /// The number the pattern picks out of `output`: from its last match.
    fn pick(&self, output: &str) -> Option<f64> {
        let found = self.regex.captures_iter(output).last()?;
        let text = found.get(1).or_else(|| found.get(0))?.as_str();
        number(text)
    }
}

impl PartialEq for ValuePattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ValuePattern {}

impl fmt::Debug for ValuePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValuePattern({:?})", self.as_str())
    }
}

impl Serialize for ValuePattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The number a run printed, by `pattern` when the habit has one, else by the
/// fixed rule (module docs); `None` when there is none.
pub fn value_of(output: &str, pattern: Option<&ValuePattern>) -> Option<f64> {
    if let Some(pattern) = pattern {
        return pattern.pick(output);
    }
    number(output).or_else(|| {
        let last = output.lines().rev().find(|l| !l.trim().is_empty())?;
        number(last.split_whitespace().last()?)
    })
}

/// `text` as a finite number.
fn number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_pattern_the_whole_output_or_the_last_word_is_the_number() {
        assert_eq!(value_of(" 9.99\n", None), Some(9.99));
        assert_eq!(value_of("-1e3", None), Some(-1000.0));
        assert_eq!(
            value_of("checked\nprice at 10:00:05: 42.99\n", None),
            Some(42.99)
        );
        assert_eq!(
            value_of("fetching...\nprice:\n-1e3\n\n", None),
            Some(-1000.0)
        );
        assert_eq!(value_of("price: 42 usd", None), None);
        assert_eq!(value_of("3 files", None), None);
        assert_eq!(value_of("price:", None), None);
        assert_eq!(value_of("inf", None), None);
        assert_eq!(value_of("NaN", None), None);
        assert_eq!(value_of("", None), None);
    }

    #[test]
    fn a_pattern_picks_its_first_group_or_whole_match_from_the_last_match() {
        let group = ValuePattern::parse(r"price: ([0-9.]+) usd").expect("valid");
        let out = "price: 41.5 usd\nprice: 42 usd (checked 3 shops)\n";
        assert_eq!(value_of(out, Some(&group)), Some(42.0));
        let whole = ValuePattern::parse(r"-?[0-9]+ ms").expect("valid");
        assert_eq!(
            value_of("took 17 ms", Some(&whole)),
            None,
            "`17 ms` is no number"
        );
        let whole = ValuePattern::parse(r"-?[0-9]+(?:\.[0-9]+)?").expect("valid");
        assert_eq!(value_of("took 17.5 ms", Some(&whole)), Some(17.5));
        // The pattern decides: a number the fixed rule would take is not plotted.
        assert_eq!(value_of("7", Some(&group)), None);
    }

    #[test]
    fn a_bad_pattern_says_what_is_wrong_and_shows_a_good_one() {
        let (message, hint) = ValuePattern::parse("price: ([0-9.]+").expect_err("unclosed");
        assert!(message.contains("not a regular expression"), "{message}");
        assert!(message.contains("unclosed"), "{message}");
        assert!(hint.contains("value_pattern = '"), "{hint}");
        assert!(ValuePattern::parse("  ").is_err());
        assert!(ValuePattern::parse(&"a".repeat(MAX_PATTERN_CHARS + 1)).is_err());
        // A pattern whose compiled form would be huge is refused, not built.
        assert!(ValuePattern::parse(r"\w{1000}\w{1000}\w{1000}").is_err());
    }
}

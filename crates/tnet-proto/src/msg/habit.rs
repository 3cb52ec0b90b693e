//! What travels with each habit run's output (SPEC 7.2).
//!
//! A run's stdout is published on [`crate::keys::habit_output`] as raw bytes,
//! so `tnet sub price | grep` and any Zenoh client see exactly what the
//! command printed. Its metadata rides beside it as the sample's
//! **attachment**, a JSON [`HabitRun`], readable from any language. The host
//! also answers queries on the same key with its stored recent runs, one
//! reply per run, each with the same payload and attachment
//! ([`crate::keys::HISTORY_LAST`] picks how many).

use serde::{Deserialize, Serialize};

/// Metadata of one habit run: the JSON attachment of its output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HabitRun {
    /// The host that ran it.
    pub host: String,
    /// The habit's `task_name` as written.
    pub task: String,
    /// The run's number, as in `tnet status` (counts up per task).
    pub number: u64,
    /// When the schedule said it was due, RFC 3339 (UTC).
    pub scheduled: String,
    /// When it started, RFC 3339 (UTC).
    pub started: String,
    /// How long it ran.
    pub duration_ms: u64,
    /// Its exit code; `None` when killed by a signal.
    pub exit_code: Option<i32>,
    /// `succeeded` or `failed` (a non-zero exit with `ignore_nonzero_exits = true` is `succeeded`).
    pub outcome: String,
    /// The payload holds only the first part of stdout: the run printed more than the host keeps.
    pub truncated: bool,
    /// The number the run printed (`[habit_details] value_pattern`, or the
    /// whole output, or the last word of its last line); `null` when none.
    /// Absent from runs recorded before hosts computed it.
    #[serde(default)]
    pub value: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attachment_is_plain_json_with_stable_names() {
        let run = HabitRun {
            host: "h1".into(),
            task: "price".into(),
            number: 7,
            scheduled: "2026-01-01T10:00:00.000Z".into(),
            started: "2026-01-01T10:00:00.002Z".into(),
            duration_ms: 12,
            exit_code: Some(0),
            outcome: "succeeded".into(),
            truncated: false,
            value: Some(9.5),
        };
        let json: serde_json::Value =
            serde_json::from_slice(&crate::msg::encode(&run)).expect("JSON");
        for field in [
            "host",
            "task",
            "number",
            "scheduled",
            "started",
            "duration_ms",
            "exit_code",
            "outcome",
            "truncated",
            "value",
        ] {
            assert!(json.get(field).is_some(), "missing {field}: {json}");
        }
        assert_eq!(
            crate::msg::decode::<HabitRun>(&crate::msg::encode(&run)).ok(),
            Some(run)
        );
    }
}

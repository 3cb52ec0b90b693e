//! `/habits`: every habit with its latest outputs, read as `tnet sub --last`
//! reads them, and a plot of the runs whose output is a number; a new run
//! redraws the list.

use std::fmt::Write;

use axum::response::Response;
use tnet_proto::msg::{HabitRun, TaskSummary};
use tnet_proto::task::TaskType;

use super::html::{esc, seg, Nav, Page};
use super::plot::{self, Point};
use super::server::{html, when, Shared, Ui};
use super::tasks::{list, state_cell, task_href};

/// Runs read per habit: the plot's span.
const HISTORY: usize = 100;
/// Runs shown as rows per habit, newest first.
const ROWS: usize = 10;
/// Characters of a run's output shown in its row.
const OUTPUT_CHARS: usize = 300;

/// `GET /habits`.
pub async fn page(axum::extract::State(ui): Shared) -> Response {
    let body = match read(&ui).await {
        Ok(habits) => render(&habits),
        Err(err) => format!(r#"<p class="error">{}</p>"#, esc(&format!("{err:#}"))),
    };
    html(
        Page {
            title: "Habits",
            nav: Nav::Habits,
            who: &ui.acting.who,
            live: "habits",
            task: None,
            body,
        }
        .render(),
    )
}

/// A habit and its kept runs, oldest first (or why they could not be read).
type Habit = (TaskSummary, Result<Vec<(HabitRun, Vec<u8>)>, String>);

/// Every habit and its latest runs, every host's read at once.
async fn read(ui: &Ui) -> anyhow::Result<Vec<Habit>> {
    let (tasks, _) = list(ui).await?;
    let habits: Vec<TaskSummary> = tasks
        .into_iter()
        .filter(|t| t.task_type == TaskType::Habit.as_str())
        .collect();
    let reads = habits
        .iter()
        .map(|t| super::super::sub::read_history(&ui.client, &t.host, &t.name, HISTORY));
    let runs = futures::future::join_all(reads).await;
    Ok(habits
        .into_iter()
        .zip(runs)
        .map(|(t, r)| (t, r.map_err(|e| format!("{e:#}"))))
        .collect())
}

/// One card per habit.
fn render(habits: &[Habit]) -> String {
    let mut out = String::from(r#"<section id="list" data-refresh>"#);
    if habits.is_empty() {
        out.push_str(r#"<p class="empty">No habits. A task with <code>task_type = "habit"</code> runs on a schedule and publishes each run's output.</p>"#);
    }
    for (t, runs) in habits {
        let key = format!("{}/{}", t.host, t.name);
        let _ = write!(
            out,
            r#"<article class="habit" id="habit-{}-{}" data-habit="{}"><h2><a href="{}">{}</a></h2><table class="facts"><tbody><tr><th>State</th>{}</tr><tr><th>Next run</th><td>{}</td></tr></tbody></table>"#,
            seg(&t.host),
            seg(&t.name),
            esc(&key),
            task_href(&t.host, &t.name),
            esc(&key),
            state_cell(t.state.as_str()),
            when(t.next_run.as_deref()),
        );
        match runs {
            Err(why) => {
                let _ = write!(out, r#"<p class="error">{}</p>"#, esc(why));
            }
            Ok(runs) if runs.is_empty() => out.push_str(r#"<p class="empty">No runs yet.</p>"#),
            Ok(runs) => {
                out.push_str(&draw(&key, runs));
                out.push_str(&table(runs));
            }
        }
        out.push_str("</article>");
    }
    out.push_str("</section>");
    out
}

/// The plot of the runs that printed a number; nothing when none did.
fn draw(title: &str, runs: &[(HabitRun, Vec<u8>)]) -> String {
    let points: Vec<Point> = runs
        .iter()
        .filter_map(|(meta, _)| {
            let value = meta.value?;
            let at = chrono::DateTime::parse_from_rfc3339(&meta.started).ok()?;
            Some(Point {
                at_ms: at.timestamp_millis(),
                value,
            })
        })
        .collect();
    plot::svg(title, &points).unwrap_or_default()
}

/// The newest runs, newest first.
fn table(runs: &[(HabitRun, Vec<u8>)]) -> String {
    let mut out = String::from(
        r#"<table class="cards runs"><thead><tr><th>Run</th><th>Started</th><th>Duration</th><th>Exit</th><th>Outcome</th><th>Output</th></tr></thead><tbody>"#,
    );
    for (meta, bytes) in runs.iter().rev().take(ROWS) {
        let text = String::from_utf8_lossy(bytes);
        let mut shown: String = text.chars().take(OUTPUT_CHARS).collect();
        if shown.len() < text.len() || meta.truncated {
            shown.push('…');
        }
        let _ = write!(
            out,
            r#"<tr data-run="{n}"><td data-label="Run">{n}</td><td data-label="Started">{}</td><td data-label="Duration">{:.1} s</td><td data-label="Exit">{}</td><td data-label="Outcome"><span class="badge" data-outcome="{o}">{o}</span></td><td data-label="Output"><pre class="output">{}</pre></td></tr>"#,
            when(Some(&meta.started)),
            meta.duration_ms as f64 / 1000.0,
            meta.exit_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into()),
            esc(&shown),
            n = meta.number,
            o = esc(&meta.outcome),
        );
    }
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(number: u64, second: u32, output: &str) -> (HabitRun, Vec<u8>) {
        (
            HabitRun {
                host: "h1".into(),
                task: "price".into(),
                number,
                scheduled: String::new(),
                started: format!("2026-01-01T10:00:{second:02}.000Z"),
                duration_ms: 12,
                exit_code: Some(0),
                outcome: "succeeded".into(),
                truncated: false,
                value: tnet_proto::task::value::value_of(output, None),
            },
            output.as_bytes().to_vec(),
        )
    }

    #[test]
    fn numbers_are_plotted_and_other_outputs_only_listed() {
        let runs = vec![run(1, 1, "3.5\n"), run(2, 2, "oops"), run(3, 3, "4\n")];
        let drawn = draw("h1/price", &runs);
        assert_eq!(drawn.matches("<circle").count(), 2, "{drawn}");
        let rows = table(&runs);
        assert!(rows.find(r#"data-run="3""#) < rows.find(r#"data-run="1""#));
        assert!(rows.contains("oops"));
        assert_eq!(draw("x", &[run(1, 1, "no number")]), "");
    }
}

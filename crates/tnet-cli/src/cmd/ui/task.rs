//! `/task/HOST/NAME`: one task as `tnet status` shows it, with its run
//! history and its log as `tnet logs -f` follows it; and the admin's
//! actions on it (`POST /task/HOST/NAME/stop|start|restart|remove`).

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tnet_proto::msg::{LogsRequest, Request, Response as Answer, TaskRef, TaskStatus};

use super::html::{esc, Nav, Page};
use super::live::LOG_TAIL;
use super::server::{host_refused, html, refuse, when, Shared, Ui};
use super::tasks::{actions_for, state_cell};
use crate::target::{self, Target};

/// `GET /task/{host}/{name}`.
pub async fn page(State(ui): Shared, Path((host, name)): Path<(String, String)>) -> Response {
    let t = Target {
        host: host.clone(),
        name: name.clone(),
    };
    let key = format!("{host}/{name}");
    let body = match target::status(&ui.client, &t).await {
        Ok(status) => {
            let log = match ui
                .client
                .ask_host(
                    &host,
                    Request::Logs(LogsRequest {
                        name: name.clone(),
                        tail_bytes: Some(LOG_TAIL),
                    }),
                )
                .await
            {
                Ok(Answer::Logs(chunk)) => chunk.text,
                Ok(_) => String::new(),
                Err(err) => format!("(cannot read the log: {err:#})"),
            };
            render(&ui, &status, &log)
        }
        Err(err) => format!(r#"<p class="error">{}</p>"#, esc(&format!("{err:#}"))),
    };
    html(
        Page {
            title: &key,
            nav: Nav::Tasks,
            who: &ui.acting.who,
            live: "task",
            task: Some(&key),
            body,
        }
        .render(),
    )
}

/// The task's state and runs (redrawn on its events) and its log (followed).
fn render(ui: &Ui, status: &TaskStatus, log: &str) -> String {
    let s = &status.summary;
    let mut out = format!(
        r#"<section id="task-state" data-refresh><table class="facts" data-task="{}"><tbody>"#,
        esc(&format!("{}/{}", s.host, s.name))
    );
    let rows = [
        ("Type", esc(&s.task_type)),
        (
            "PID",
            s.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
        ),
        ("Restarts", s.restarts.to_string()),
        ("Last run", when(s.last_run.as_deref())),
        ("Next run", when(s.next_run.as_deref())),
        (
            "Workspace",
            format!("<code>{}</code>", esc(&status.workspace)),
        ),
    ];
    let _ = write!(
        out,
        "<tr><th>State</th>{}</tr>",
        state_cell(s.state.as_str())
    );
    for (label, value) in rows {
        let _ = write!(out, "<tr><th>{label}</th><td>{value}</td></tr>");
    }
    if let Some(reason) = &status.reason {
        let _ = write!(
            out,
            r#"<tr><th>Why</th><td class="bad">{}</td></tr>"#,
            esc(reason)
        );
    }
    if let Some(t) = &status.totals {
        let _ = write!(
            out,
            "<tr><th>Runs</th><td>{} ({} failed; the newest {} kept)</td></tr>",
            t.runs, t.failures, t.kept
        );
    }
    out.push_str("</tbody></table>");
    let actions = actions_for(ui, &s.host, &s.name);
    if !actions.is_empty() {
        let _ = write!(out, r#"<p class="actions">{actions}</p>"#);
    }
    out.push_str("<h2>Runs</h2>");
    if status.runs.is_empty() {
        out.push_str(r#"<p class="empty">No runs yet.</p>"#);
    } else {
        out.push_str(r#"<table class="cards" id="runs"><thead><tr><th>Run</th><th>Phase</th><th>Started</th><th>Duration</th><th>Exit</th><th>Outcome</th></tr></thead><tbody>"#);
        for r in status.runs.iter().rev() {
            let reason = r
                .reason
                .as_deref()
                .map(|why| format!(r#"<div class="why">{}</div>"#, esc(why)))
                .unwrap_or_default();
            let _ = write!(
                out,
                r#"<tr data-run="{n}"><td data-label="Run">{n}</td><td data-label="Phase">{}</td><td data-label="Started">{}</td><td data-label="Duration">{}</td><td data-label="Exit">{}</td><td data-label="Outcome"><span class="badge" data-outcome="{o}">{o}</span>{reason}</td></tr>"#,
                esc(&r.phase),
                when(Some(&r.started)),
                r.duration_ms
                    .map(|ms| format!("{:.1} s", ms as f64 / 1000.0))
                    .unwrap_or_else(|| "-".into()),
                r.exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into()),
                n = r.number,
                o = esc(&r.outcome),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
    let _ = write!(
        out,
        r#"<h2>Log</h2><pre id="log" class="log">{}</pre>"#,
        esc(&strip_stamps(log))
    );
    out
}

/// The log without the host's time stamps (the page shows lines as `tnet logs` does).
pub fn strip_stamps(log: &str) -> String {
    const STAMP: usize = "2026-11-26T08:00:00.123Z ".len();
    log.split_inclusive('\n')
        .map(|line| {
            let b = line.as_bytes();
            if b.len() >= STAMP && b[4] == b'-' && b[10] == b'T' && b[STAMP - 2] == b'Z' {
                &line[STAMP..]
            } else {
                line
            }
        })
        .collect()
}

/// `POST /task/{host}/{name}/{action}`: what `tnet stop/start/restart/rm`
/// does, through the same request; the host decides whether this identity
/// may. Answers with the task's page (or the task list after a removal),
/// or the host's refusal.
pub async fn act(
    State(ui): Shared,
    Path((host, name, action)): Path<(String, String, String)>,
) -> Response {
    let r = TaskRef { name: name.clone() };
    let request = match action.as_str() {
        "stop" => Request::Stop(r),
        "start" => Request::Start(r),
        "restart" => Request::Restart(r),
        "remove" => Request::Remove(r),
        other => {
            return refuse(
                StatusCode::NOT_FOUND,
                &format!("no action `{other}`: stop, start, restart or remove"),
            )
        }
    };
    match ui.client.ask_host(&host, request).await {
        Ok(Answer::Removed { .. }) => see_other("/tasks"),
        Ok(_) => see_other(&super::tasks::task_href(&host, &name)),
        Err(err) => host_refused(&err),
    }
}

/// A redirect after a form's POST, so a reload does not send it again.
fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_loses_its_stamps_only_at_line_starts() {
        let log = "2026-11-26T08:00:00.123Z hello\n2026-11-26T08:00:01.000Z world\nplain\n";
        assert_eq!(strip_stamps(log), "hello\nworld\nplain\n");
    }
}

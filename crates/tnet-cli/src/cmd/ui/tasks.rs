//! `/tasks`: every task on every host, as `tnet ls` lists them; each
//! event a host publishes changes its task's row in place.

use std::fmt::Write;

use axum::response::Response;
use tnet_proto::msg::{Request, Response as Answer, TaskSummary};

use super::html::{esc, seg, Nav, Page};
use super::server::{html, when, Shared, Ui};

/// `GET /tasks`.
pub async fn page(axum::extract::State(ui): Shared) -> Response {
    let body = match list(&ui).await {
        Ok((tasks, problems)) => {
            let mut body = String::new();
            for p in problems {
                let _ = write!(body, r#"<p class="error">{}</p>"#, esc(&p));
            }
            body.push_str(&render(&ui, &tasks));
            body
        }
        Err(err) => format!(r#"<p class="error">{}</p>"#, esc(&format!("{err:#}"))),
    };
    html(
        Page {
            title: "Tasks",
            nav: Nav::Tasks,
            who: &ui.acting.who,
            live: "tasks",
            task: None,
            body,
        }
        .render(),
    )
}

/// Every task of every host that answered, sorted; and what went wrong with the others.
pub async fn list(ui: &Ui) -> anyhow::Result<(Vec<TaskSummary>, Vec<String>)> {
    let answers = ui.client.ask(None, Request::List).await?;
    let (mut tasks, mut problems) = (Vec::new(), Vec::new());
    for env in answers {
        match env.response {
            Answer::Tasks { tasks: t } => tasks.extend(t),
            Answer::Error(err) => problems.push(format!("host `{}`: {err}", env.host)),
            _ => problems.push(format!("host `{}` gave an unexpected answer", env.host)),
        }
    }
    tasks.sort_by(|a, b| (&a.host, &a.name).cmp(&(&b.host, &b.name)));
    Ok((tasks, problems))
}

/// The link to a task's page.
pub fn task_href(host: &str, name: &str) -> String {
    format!("/task/{}/{}", seg(host), seg(name))
}

/// The tasks as a table (cards on a phone), one row per task, marked with
/// `host/name` so live events find it.
fn render(ui: &Ui, tasks: &[TaskSummary]) -> String {
    let mut out = String::from(r#"<section id="list" data-refresh>"#);
    if tasks.is_empty() {
        out.push_str(r#"<p class="empty">No tasks. <code>tnet run TASK.toml</code> sends one.</p></section>"#);
        return out;
    }
    let actions = if ui.acting.admin {
        "<th>Actions</th>"
    } else {
        ""
    };
    let _ = write!(
        out,
        "<table class=\"cards\" id=\"tasks\"><thead><tr><th>Host</th><th>Task</th><th>Type</th><th>State</th><th>Restarts</th><th>Last run</th><th>Next run</th><th>Exit</th><th>Last event</th>{actions}</tr></thead><tbody>"
    );
    let mut host = None;
    for t in tasks {
        // The first row of each host is where `/tasks#host-NAME` lands.
        let anchor = if host != Some(&t.host) {
            host = Some(&t.host);
            format!(r#" id="host-{}""#, seg(&t.host))
        } else {
            String::new()
        };
        let _ = write!(
            out,
            r#"<tr data-task="{key}"{anchor}><td data-label="Host">{h}</td><td data-label="Task"><a href="{href}">{n}</a></td><td data-label="Type">{}</td>{}<td data-label="Restarts">{}</td><td data-label="Last run">{}</td><td data-label="Next run">{}</td><td data-label="Exit" class="exit">{}</td><td data-label="Last event" class="event">-</td>{}</tr>"#,
            esc(&t.task_type),
            state_cell(t.state.as_str()),
            t.restarts,
            when(t.last_run.as_deref()),
            when(t.next_run.as_deref()),
            t.exit_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into()),
            if ui.acting.admin {
                format!(
                    r#"<td data-label="Actions">{}</td>"#,
                    actions_for(ui, &t.host, &t.name)
                )
            } else {
                String::new()
            },
            key = esc(&format!("{}/{}", t.host, t.name)),
            h = esc(&t.host),
            n = esc(&t.name),
            href = task_href(&t.host, &t.name),
        );
    }
    out.push_str("</tbody></table></section>");
    out
}

/// A task's state, coloured by what it means.
pub fn state_cell(state: &str) -> String {
    format!(
        r#"<td data-label="State" class="state" data-state="{s}"><span class="badge">{s}</span></td>"#,
        s = esc(state)
    )
}

/// The buttons of an admin for one task (a user sees none; the host refuses them anyway).
pub fn actions_for(ui: &Ui, host: &str, name: &str) -> String {
    if !ui.acting.admin {
        return String::new();
    }
    let base = task_href(host, name);
    let mut out = String::new();
    for (verb, label, class, confirm) in [
        ("stop", "Stop", "stop", None),
        ("start", "Start", "start", None),
        ("restart", "Restart", "restart", None),
        (
            "remove",
            "Remove",
            "remove danger",
            Some(format!(
                "Remove {host}/{name} with its workspace and history?"
            )),
        ),
    ] {
        out.push_str(&super::html::button(
            &ui.action(&format!("{base}/{verb}")),
            label,
            class,
            confirm.as_deref(),
        ));
    }
    out
}

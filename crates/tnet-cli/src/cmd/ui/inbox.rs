//! `/inbox`: every host's unread notifications (`tnet inbox`), each with an
//! acknowledge button for an admin (`POST /inbox/HOST/ID/ack`); a new entry
//! redraws the list.

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tnet_proto::msg::{InboxEntry, InboxRequest, Request, Response as Answer};

use super::html::{button, esc, seg, Nav, Page};
use super::server::{host_refused, html, when, Shared, Ui};

/// `GET /inbox`.
pub async fn page(State(ui): Shared) -> Response {
    let body = match ui
        .client
        .ask(None, Request::Inbox(InboxRequest::default()))
        .await
    {
        Ok(answers) => {
            let mut entries: Vec<InboxEntry> = answers
                .into_iter()
                .flat_map(|env| match env.response {
                    Answer::Inbox { entries, .. } => entries,
                    _ => Vec::new(),
                })
                .collect();
            // Newest first: what a person opening the inbox wants to see.
            entries.sort_by(|a, b| (&b.created, &b.host, b.id).cmp(&(&a.created, &a.host, a.id)));
            render(&ui, &entries)
        }
        Err(err) => format!(r#"<p class="error">{}</p>"#, esc(&format!("{err:#}"))),
    };
    html(
        Page {
            title: "Inbox",
            nav: Nav::Inbox,
            who: &ui.acting.who,
            live: "inbox",
            task: None,
            body,
        }
        .render(),
    )
}

fn render(ui: &Ui, entries: &[InboxEntry]) -> String {
    let mut out = String::from(r#"<section id="list" data-refresh>"#);
    if entries.is_empty() {
        out.push_str(r#"<p class="empty">The inbox is empty.</p></section>"#);
        return out;
    }
    out.push_str(r#"<ul class="inbox">"#);
    for e in entries {
        let reason = e
            .reason
            .as_deref()
            .map(|r| format!(r#"<div class="why">{}</div>"#, esc(r)))
            .unwrap_or_default();
        let ack = if ui.acting.admin {
            button(
                &ui.action(&format!("/inbox/{}/{}/ack", seg(&e.host), e.id)),
                "Acknowledge",
                "ack",
                None,
            )
        } else {
            String::new()
        };
        let _ = write!(
            out,
            r#"<li data-entry="{}/{}"><div class="head"><b>{}/{}</b> <span class="badge">{}</span> <time>{}</time></div><div>{}</div>{reason}{ack}</li>"#,
            esc(&e.host),
            e.id,
            esc(&e.host),
            e.id,
            esc(&e.channel),
            when(Some(&e.created)),
            esc(&e.summary),
        );
    }
    out.push_str("</ul></section>");
    out
}

/// `POST /inbox/{host}/{id}/ack`: `tnet inbox --ack HOST/ID`.
pub async fn ack(State(ui): Shared, Path((host, id)): Path<(String, u64)>) -> Response {
    let request = Request::Inbox(InboxRequest {
        ack: Some(id),
        ack_all: false,
    });
    match ui.client.ask_host(&host, request).await {
        Ok(_) => (StatusCode::SEE_OTHER, [(header::LOCATION, "/inbox")]).into_response(),
        Err(err) => host_refused(&err),
    }
}

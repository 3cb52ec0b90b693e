//! `/services`: every service with how it is called (`tnet services`), and
//! a form per service that calls it as `tnet call` does and shows the result
//! (text on the page, anything else as a download).

use std::fmt::Write;

use axum::extract::{Multipart, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tnet_proto::msg::{CallEnd, Request, Response as Answer, ServiceInfo};
use tnet_proto::task::InputKind;

use super::html::{esc, seg, Nav, Page};
use super::server::{html, refuse, Shared, Ui};
use crate::call::{CallOutcome, CallSpec, Caller};

/// The largest input a form may send.
pub const MAX_INPUT: usize = 64 * 1024 * 1024;

/// The largest result shown on the page; a longer one is a download.
const MAX_SHOWN: usize = 1024 * 1024;

/// `GET /services`.
pub async fn page(State(ui): Shared) -> Response {
    let body = match read(&ui).await {
        Ok(services) => render(&ui, &services),
        Err(err) => format!(r#"<p class="error">{}</p>"#, esc(&format!("{err:#}"))),
    };
    html(
        Page {
            title: "Services",
            nav: Nav::Services,
            who: &ui.acting.who,
            live: "services",
            task: None,
            body,
        }
        .render(),
    )
}

/// Every service of every host that answered.
async fn read(ui: &Ui) -> anyhow::Result<Vec<ServiceInfo>> {
    let answers = ui.client.ask(None, Request::Services).await?;
    let mut services: Vec<ServiceInfo> = answers
        .into_iter()
        .flat_map(|env| match env.response {
            Answer::Services { services } => services,
            _ => Vec::new(),
        })
        .collect();
    services.sort_by(|a, b| (&a.host, &a.name).cmp(&(&b.host, &b.name)));
    Ok(services)
}

/// The URL a service's form posts to.
fn call_path(host: &str, name: &str) -> String {
    format!("/services/{}/{}/call", seg(host), seg(name))
}

/// One card per service: what it takes, its limits, a call line, a form.
fn render(ui: &Ui, services: &[ServiceInfo]) -> String {
    let mut out = String::from(r#"<section id="list" data-refresh>"#);
    if services.is_empty() {
        out.push_str(r#"<p class="empty">No services. A task with <code>task_type = "service"</code> answers calls.</p>"#);
    }
    for s in services {
        let key = format!("{}/{}", s.host, s.name);
        let _ = write!(
            out,
            r#"<article class="service" data-service="{}"><h2><a href="{}">{}</a> <span class="badge" data-state="{st}">{st}</span></h2>"#,
            esc(&key),
            super::tasks::task_href(&s.host, &s.name),
            esc(&key),
            st = esc(s.state.as_str()),
        );
        if !s.description.is_empty() {
            let _ = write!(out, "<p>{}</p>", esc(&s.description));
        }
        let input = match (&s.input.kind, &s.input.media_type) {
            (InputKind::None, _) => "none".to_owned(),
            (kind, Some(media)) => format!("{} ({media})", kind.as_str()),
            (kind, None) => kind.as_str().to_owned(),
        };
        let _ = write!(
            out,
            r#"<table class="facts"><tbody><tr><th>Input</th><td>{}</td></tr>"#,
            esc(&input)
        );
        for arg in &s.arguments {
            let _ = write!(
                out,
                "<tr><th>Argument</th><td><code>{}</code> {}</td></tr>",
                esc(&arg.name),
                esc(&arg.help)
            );
        }
        let limit = humantime::format_duration(std::time::Duration::from_millis(s.timeout_ms));
        let _ = write!(
            out,
            "<tr><th>Limits</th><td>{} call(s) at once, {limit} each</td></tr><tr><th>Now</th><td>{} running, {} waiting</td></tr><tr><th>Call</th><td><code>{}</code></td></tr></tbody></table>",
            s.max_concurrent_calls,
            s.calls_running,
            s.calls_waiting,
            esc(&s.call)
        );
        let _ = write!(
            out,
            r#"<form class="call" method="post" enctype="multipart/form-data" action="{}">"#,
            esc(&ui.action(&call_path(&s.host, &s.name)))
        );
        match s.input.kind {
            InputKind::None => {}
            InputKind::Text => out.push_str(r#"<label>Input <textarea name="input" rows="3"></textarea></label><label>or a file <input type="file" name="file"></label>"#),
            InputKind::File => out.push_str(r#"<label>Input file <input type="file" name="file"></label>"#),
        }
        if !s.arguments.is_empty() {
            out.push_str(r#"<label>Arguments (separated by spaces) <input name="args" autocomplete="off"></label>"#);
        }
        out.push_str(r#"<label class="check"><input type="checkbox" name="download" value="1"> the result as a download</label><button>Call</button></form><div class="result" aria-live="polite"></div></article>"#);
    }
    out.push_str("</section>");
    out
}

/// What a form sent.
#[derive(Default)]
struct Form {
    input: Vec<u8>,
    args: Vec<String>,
    download: bool,
}

/// Reads the form: a file's bytes win over the text box.
async fn read_form(mut form: Multipart) -> Result<Form, String> {
    let mut out = Form::default();
    let mut file = None;
    while let Some(field) = form.next_field().await.map_err(|e| e.to_string())? {
        let name = field.name().unwrap_or_default().to_owned();
        let has_file_name = field.file_name().is_some_and(|f| !f.is_empty());
        let bytes = field.bytes().await.map_err(|e| e.to_string())?;
        match name.as_str() {
            "input" => out.input = bytes.to_vec(),
            "file" if has_file_name => file = Some(bytes.to_vec()),
            "args" => {
                out.args = String::from_utf8_lossy(&bytes)
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect();
            }
            "download" => out.download = true,
            _ => {}
        }
    }
    if let Some(file) = file {
        out.input = file;
    }
    Ok(out)
}

/// `POST /services/{host}/{name}/call`: calls the service with the form's
/// input and arguments; answers with a page showing the result, or the
/// result itself as a download.
pub async fn call(
    State(ui): Shared,
    Path((host, name)): Path<(String, String)>,
    form: Multipart,
) -> Response {
    let form = match read_form(form).await {
        Ok(form) => form,
        Err(why) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("cannot read the form: {why}"),
            )
        }
    };
    let caller = match Caller::new(&ui.client.session).await {
        Ok(caller) => caller,
        Err(err) => return refuse(StatusCode::BAD_GATEWAY, &format!("{err:#}")),
    };
    let spec = CallSpec {
        service: name.clone(),
        args: form.args,
        timeout: None,
    };
    let mut result = Vec::new();
    let outcome = caller
        .call(&host, &spec, form.input, &mut |bytes| {
            result.extend_from_slice(bytes);
            Ok(())
        })
        .await;
    let key = format!("{host}/{name}");
    let (end, error) = match &outcome {
        Ok(CallOutcome::Done(end)) => (Some(end), None),
        Ok(CallOutcome::Failed(err)) => (err.end.as_ref(), Some(err.message.clone())),
        Err(err) => (None, Some(format!("{err:#}"))),
    };
    let text = std::str::from_utf8(&result)
        .ok()
        .filter(|t| t.len() <= MAX_SHOWN);
    if error.is_none() && (form.download || text.is_none()) {
        let file = format!("{}-result", tnet_proto::task::safe_name(&name));
        return (
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file}\""),
                ),
            ],
            result,
        )
            .into_response();
    }
    let body = result_html(&key, end, error.as_deref(), text.unwrap_or("(not text)"));
    html(
        Page {
            title: &format!("{key}: result"),
            nav: Nav::Services,
            who: &ui.acting.who,
            live: "none",
            task: None,
            body: format!(r#"{body}<p><a href="/services">Back to the services</a></p>"#),
        }
        .render(),
    )
}

/// The result of a call, as the page (and the form's script) shows it.
fn result_html(key: &str, end: Option<&CallEnd>, error: Option<&str>, text: &str) -> String {
    let mut out = format!(r#"<div id="call-result" data-service="{}">"#, esc(key));
    if let Some(why) = error {
        let _ = write!(out, r#"<p class="error">{}</p>"#, esc(why));
    }
    if let Some(end) = end {
        let how = match (end.exit_code, end.signal) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            (None, None) => "no exit code".to_owned(),
        };
        let _ = write!(
            out,
            r#"<p class="meta">{how}, {} byte(s) in {:.2} s</p>"#,
            end.bytes,
            end.duration_ms as f64 / 1000.0
        );
        if !end.stderr_tail.is_empty() {
            let _ = write!(
                out,
                r#"<pre class="stderr">{}</pre>"#,
                esc(&end.stderr_tail)
            );
        }
    }
    if error.is_none() {
        let _ = write!(out, r#"<pre class="output">{}</pre>"#, esc(text));
    }
    out.push_str("</div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_shows_its_text_and_how_the_command_ended() {
        let end = CallEnd {
            exit_code: Some(0),
            signal: None,
            stderr_tail: "warn <x>".into(),
            bytes: 3,
            duration_ms: 1500,
        };
        let shown = result_html("h1/upper", Some(&end), None, "HI<");
        assert!(
            shown.contains(r#"<pre class="output">HI&lt;</pre>"#),
            "{shown}"
        );
        assert!(shown.contains("exit code 0, 3 byte(s) in 1.50 s"));
        assert!(shown.contains("warn &lt;x&gt;"));
        let failed = result_html("h1/upper", None, Some("no such service"), "");
        assert!(failed.contains("no such service") && !failed.contains("output"));
    }
}

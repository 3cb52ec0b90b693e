//! `/`: the hosts that are up, as `tnet hosts` lists them; a host coming or
//! going redraws the list.

use std::fmt::Write;

use axum::response::Response;
use tnet_proto::msg::HostInfo;

use super::html::{esc, seg, Nav, Page};
use super::server::{html, Shared};

/// `GET /`.
pub async fn page(axum::extract::State(ui): Shared) -> Response {
    let body = match super::super::hosts::infos(&ui.client).await {
        Ok(infos) => render(&infos, &ui.client.no_host_hint()),
        Err(err) => format!(r#"<p class="error">{}</p>"#, esc(&format!("{err:#}"))),
    };
    html(
        Page {
            title: "Hosts",
            nav: Nav::Hosts,
            who: &ui.acting.who,
            live: "hosts",
            task: None,
            body,
        }
        .render(),
    )
}

/// The hosts as a table (cards on a phone).
fn render(infos: &[HostInfo], no_host: &str) -> String {
    let mut out = String::from(r#"<section id="list" data-refresh>"#);
    if infos.is_empty() {
        let _ = write!(out, r#"<p class="empty">{}</p></section>"#, esc(no_host));
        return out;
    }
    out.push_str(
        "<table class=\"cards\"><thead><tr><th>Host</th><th>Version</th><th>Address</th><th>Tasks</th><th>Docker</th><th>Security</th></tr></thead><tbody>",
    );
    for i in infos {
        let address = match i.addresses.as_slice() {
            [] => "-".to_owned(),
            [one] => esc(one),
            [first, rest @ ..] => format!(
                r#"{} <span class="more" title="{}">+{}</span>"#,
                esc(first),
                esc(&rest.join(" ")),
                rest.len()
            ),
        };
        let security = if i.insecure {
            r#"<span class="bad">INSECURE</span>"#
        } else {
            "mTLS"
        };
        let _ = write!(
            out,
            r#"<tr data-host="{h}"><td data-label="Host"><b>{h}</b></td><td data-label="Version">{}</td><td data-label="Address">{address}</td><td data-label="Tasks"><a href="/tasks#host-{}">{}</a></td><td data-label="Docker">{}</td><td data-label="Security">{security}</td></tr>"#,
            esc(&i.version),
            seg(&i.host),
            i.tasks,
            if i.docker { "yes" } else { "no" },
            h = esc(&i.host),
        );
    }
    out.push_str("</tbody></table></section>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, insecure: bool) -> HostInfo {
        HostInfo {
            host: name.into(),
            version: "0.1.0".into(),
            tasks: 3,
            bytes_received: 0,
            ssh: None,
            addresses: vec!["quic/10.0.0.7:7449".into(), "quic/127.0.0.1:7449".into()],
            docker: true,
            insecure,
            roster_version: Some(1),
            disk: None,
        }
    }

    #[test]
    fn each_host_is_a_row_with_what_tnet_hosts_shows() {
        let page = render(&[info("lab1", false), info("<lab2>", true)], "none");
        assert!(page.contains(r#"<tr data-host="lab1">"#));
        assert!(page.contains("&lt;lab2&gt;"));
        assert!(page.contains("quic/10.0.0.7:7449"));
        assert!(page.contains("INSECURE"));
        assert!(page.contains("mTLS"));
    }

    #[test]
    fn no_host_says_how_to_start_one() {
        assert!(render(&[], "start one").contains("start one"));
    }
}

//! The frame every page shares (head, navigation, who is looking) and
//! escaping: pages are written as HTML strings, every value through [`esc`].

use std::fmt::Write;

/// `s` safe inside HTML text and quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` as one segment of a URL path (task and host names may hold spaces).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The pages, in the navigation's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// `/`.
    Hosts,
    /// `/tasks` and one task's page.
    Tasks,
    /// `/habits`.
    Habits,
    /// `/services`.
    Services,
    /// `/inbox`.
    Inbox,
}

impl Nav {
    const ALL: [(Nav, &'static str, &'static str); 5] = [
        (Nav::Hosts, "/", "Hosts"),
        (Nav::Tasks, "/tasks", "Tasks"),
        (Nav::Habits, "/habits", "Habits"),
        (Nav::Services, "/services", "Services"),
        (Nav::Inbox, "/inbox", "Inbox"),
    ];
}

/// A whole page.
pub struct Page<'a> {
    /// The `<title>` and heading.
    pub title: &'a str,
    /// Which navigation entry is current.
    pub nav: Nav,
    /// Who the dashboard acts as: `` `alice` (user) ``.
    pub who: &'a str,
    /// What the page's script follows: `tasks`, `hosts`, `habits`,
    /// `services`, `inbox` or `task`.
    pub live: &'a str,
    /// `host/name` for a task's page (its log is followed).
    pub task: Option<&'a str>,
    /// The content of `<main>`.
    pub body: String,
}

impl Page<'_> {
    /// The HTML document.
    pub fn render(&self) -> String {
        let mut nav = String::new();
        for (entry, href, label) in Nav::ALL {
            let current = if entry == self.nav {
                r#" aria-current="page""#
            } else {
                ""
            };
            let _ = write!(nav, r#"<a href="{href}"{current}>{label}</a>"#);
        }
        let task = self
            .task
            .map(|t| format!(r#" data-task="{}""#, esc(t)))
            .unwrap_or_default();
        format!(
            r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · tnet</title><link rel="stylesheet" href="/ui.css"><script src="/ui.js" defer></script></head>
<body data-live="{live}"{task}><header><span class="brand">tnet</span><nav>{nav}</nav><span class="who" title="the identity this dashboard acts as">{who} <span id="conn" class="conn" title="live updates">●</span></span></header>
<main id="main"><h1>{title}</h1>
{body}</main></body></html>"#,
            title = esc(self.title),
            live = esc(self.live),
            who = esc(self.who),
            body = self.body,
        )
    }
}

/// A small form with one button that POSTs to `action` (the CSRF token is
/// put into the action's query by the caller).
pub fn button(action: &str, label: &str, class: &str, confirm: Option<&str>) -> String {
    let confirm = confirm
        .map(|c| format!(r#" data-confirm="{}""#, esc(c)))
        .unwrap_or_default();
    format!(
        r#"<form method="post" action="{}" class="inline"{confirm}><button class="{class}">{}</button></form>"#,
        esc(action),
        esc(label)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_escape_their_place() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(seg("Game Server/1"), "Game%20Server%2F1");
    }

    #[test]
    fn the_frame_marks_the_current_page_and_escapes_its_values() {
        let page = Page {
            title: "Tasks <all>",
            nav: Nav::Tasks,
            who: "`bob` (user)",
            live: "tasks",
            task: Some("h1/a\"b"),
            body: "<p>x</p>".into(),
        }
        .render();
        assert!(page.contains(r#"<a href="/tasks" aria-current="page">Tasks</a>"#));
        assert!(page.contains("Tasks &lt;all&gt;"));
        assert!(page.contains(r#"data-task="h1/a&quot;b""#));
        assert!(page.contains("<p>x</p>"));
    }
}

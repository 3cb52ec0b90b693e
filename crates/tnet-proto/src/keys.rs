//! Every key expression tnet uses, built here and nowhere else.
//!
//! All keys live under `tnet/<host>/...`, where `<host>` and a task's chunk
//! are safe names (only `[A-Za-z0-9._-]`), so they can never contain the
//! Zenoh wildcards `*`, `$` or the separator `/`.

use crate::task::safe_name;

/// The root every tnet key lives under.
pub const ROOT: &str = "tnet";

/// A key expression selecting every host, in place of a host name.
pub const ANY_HOST: &str = "*";

/// Liveliness token each running host declares: `tnet/<host>/alive`.
pub fn host_alive(host: &str) -> String {
    format!("{ROOT}/{host}/alive")
}

/// Queryable of a host's control requests (submit, list, stop...): `tnet/<host>/ctl`.
pub fn host_control(host: &str) -> String {
    format!("{ROOT}/{host}/ctl")
}

/// Queryable of a host's admin-only requests (submit, edit, stop, remove,
/// shell, uploads): `tnet/<host>/admin`. A key of its own so Zenoh's access
/// control can refuse them to users (see `Request::needs_admin`).
pub fn host_admin(host: &str) -> String {
    format!("{ROOT}/{host}/admin")
}

/// Queryable receiving file chunks of uploads: `tnet/<host>/blob`.
pub fn host_blob(host: &str) -> String {
    format!("{ROOT}/{host}/blob")
}

/// Publication of a task's log lines as they are written: `tnet/<host>/log/<task>`.
pub fn task_log(host: &str, task: &str) -> String {
    format!("{ROOT}/{host}/log/{}", safe_name(task))
}

/// Publication of a task's events (state changes, setup done...): `tnet/<host>/event/<task>`.
pub fn task_event(host: &str, task: &str) -> String {
    format!("{ROOT}/{host}/event/{}", safe_name(task))
}

/// Publication of the progress of one request that prepares a docker
/// task's image (an image pull, a package build): `tnet/<host>/progress/<id>`,
/// where `id` is a UUID the client chose and sent with the request.
pub fn progress(host: &str, id: &str) -> String {
    format!("{ROOT}/{host}/progress/{}", safe_name(id))
}

/// Every task's events on every host (`tnet events`): `tnet/*/event/*`.
pub fn all_events() -> String {
    format!("{ROOT}/{ANY_HOST}/event/*")
}

/// Publication of each new `qmail` notification (an `InboxEntry`): `tnet/<host>/inbox`.
pub fn inbox(host: &str) -> String {
    format!("{ROOT}/{host}/inbox")
}

/// Every host's inbox publications (`tnet inbox -f`): `tnet/*/inbox`.
pub fn all_inboxes() -> String {
    format!("{ROOT}/{ANY_HOST}/inbox")
}

/// The keys of one `tnet shell` session `id` (a UUID) on `host`:
/// `tnet/<host>/shell/<id>/{in,size,out,exit,client}`.
pub fn shell(host: &str, id: &str, part: ShellPart) -> String {
    let part = match part {
        ShellPart::Input => "in",
        ShellPart::Size => "size",
        ShellPart::Output => "out",
        ShellPart::Exit => "exit",
        ShellPart::Client => "client",
    };
    format!("{ROOT}/{host}/shell/{id}/{part}")
}

/// The channels of a shell session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellPart {
    /// Client to host: keystrokes (raw bytes).
    Input,
    /// Client to host: the window size, JSON `ShellSize`.
    Size,
    /// Host to client: terminal output (raw bytes).
    Output,
    /// Host to client: the exit code, JSON `ShellExit`.
    Exit,
    /// The client's liveliness token: when it goes, the host ends the shell.
    Client,
}

/// Publication of each habit run's output: `tnet/<host>/habit/<task>` (design card).
pub fn habit_output(host: &str, task: &str) -> String {
    format!("{ROOT}/{host}/habit/{}", safe_name(task))
}

/// Every habit of a host, for the host's history queryable: `tnet/<host>/habit/*`.
pub fn all_habits(host: &str) -> String {
    format!("{ROOT}/{host}/habit/*")
}

/// The selector parameter of a history query on a habit's key: how many of
/// the latest runs to answer with (`tnet/h1/habit/price?last=3`); without it
/// the host answers with every run it keeps.
pub const HISTORY_LAST: &str = "last";

/// The selector parameters asking for the last `n` runs: `last=<n>`.
pub fn history_parameters(n: usize) -> String {
    format!("{HISTORY_LAST}={n}")
}

/// Queryable of a service: `tnet/<host>/service/<task>` (SPEC 6.1).
pub fn service(host: &str, task: &str) -> String {
    format!("{ROOT}/{host}/service/{}", safe_name(task))
}

/// Liveliness token of a service that takes calls.
///
/// Deliberately the same key as its queryable ([`service`]): liveliness tokens
/// and queryables are separate declarations in Zenoh, and one key per service
/// is simpler for callers in any language ("watch the key you call").
pub fn service_token(host: &str, task: &str) -> String {
    service(host, task)
}

/// Every service on every host, for liveliness queries and subscriptions: `tnet/*/service/*`.
pub fn all_services() -> String {
    format!("{ROOT}/{ANY_HOST}/service/*")
}

/// The service `task` on any host that offers it: `tnet/*/service/<task>`.
pub fn service_anywhere(task: &str) -> String {
    service(ANY_HOST, task)
}

/// The host and service of a key built by [`service`].
pub fn service_of(key: &str) -> Option<(&str, &str)> {
    let mut parts = key.split('/');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some(ROOT), Some(host), Some("service"), Some(task), None)
            if !host.is_empty() && !task.is_empty() =>
        {
            Some((host, task))
        }
        _ => None,
    }
}

/// Liveliness token a caller declares so a host can cancel its calls when it
/// goes away: `tnet/@caller/<session id>`.
///
/// `@caller` is a verbatim chunk: the `*` in `tnet/*/...` never matches it,
/// so no pattern over hosts ever sees callers.
pub fn caller(session_id: &str) -> String {
    format!("{ROOT}/@caller/{}", safe_name(session_id))
}

/// Every caller token: `tnet/@caller/*`.
pub fn all_callers() -> String {
    format!("{ROOT}/@caller/*")
}

/// The session id of a key built by [`caller`].
pub fn caller_of(key: &str) -> Option<&str> {
    key.strip_prefix(ROOT)?
        .strip_prefix("/@caller/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

/// The host part of a key built here, if it is one of tnet's.
pub fn host_of(key: &str) -> Option<&str> {
    let mut parts = key.split('/');
    (parts.next() == Some(ROOT)).then_some(())?;
    parts.next().filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_chunks_are_safe_names() {
        assert_eq!(
            habit_output("h1", "Game Server"),
            "tnet/h1/habit/Game_Server"
        );
        assert_eq!(task_log("h1", "a/b*c"), "tnet/h1/log/a_b_c");
        assert_eq!(habit_output(ANY_HOST, "price"), "tnet/*/habit/price");
        assert_eq!(all_habits("h1"), "tnet/h1/habit/*");
        assert_eq!(history_parameters(3), "last=3");
        assert_eq!(progress("h1", "a-b*"), "tnet/h1/progress/a-b_");
    }

    #[test]
    fn service_and_caller_keys_read_back() {
        assert_eq!(service("h1", "Game Server"), "tnet/h1/service/Game_Server");
        assert_eq!(service_of("tnet/h1/service/up"), Some(("h1", "up")));
        assert_eq!(service_of("tnet/h1/service/up/x"), None);
        assert_eq!(service_of("tnet/h1/habit/up"), None);
        assert_eq!(service_anywhere("up"), "tnet/*/service/up");
        assert_eq!(caller("abc123"), "tnet/@caller/abc123");
        assert_eq!(caller_of(&caller("abc123")), Some("abc123"));
        assert_eq!(caller_of("tnet/h1/alive"), None);
    }

    #[test]
    fn host_is_read_back_from_a_key() {
        assert_eq!(host_of(&host_control("box-2")), Some("box-2"));
        assert_eq!(host_of("other/box/ctl"), None);
        assert_eq!(host_of("tnet"), None);
    }
}

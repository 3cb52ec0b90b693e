//! Who may use the dashboard: the secret token of its URL, kept in a cookie
//! after the first visit; requests that change anything also carry the
//! token in their URL (a forged form on another site cannot know it) and,
//! when the browser says where they come from, come from the dashboard itself.
//! Also which listen addresses are refused unless asked for.

use std::net::SocketAddr;

use anyhow::bail;

/// The query parameter that carries the token on the first visit.
pub const TOKEN_PARAM: &str = "token";
/// The query parameter that carries the token of a request that changes
/// something (forms put it in their `action`).
pub const CSRF_PARAM: &str = "csrf";

/// The dashboard's secret: 32 random bytes as hex, new on every start.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    /// A new random token.
    pub fn generate() -> anyhow::Result<Token> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| anyhow::anyhow!("cannot draw a random token: {e}"))?;
        Ok(Token(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// The token as it goes into URLs.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `given` is the token, in time that does not depend on where they differ.
    pub fn matches(&self, given: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), given.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// The cookie that keeps the token: one name per port, since browsers share
/// cookies between the ports of one address.
pub fn cookie_name(port: u16) -> String {
    format!("tnet_ui_{port}")
}

/// The value of the parameter `name` in a query string, decoded.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded_pairs(query?)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The pairs of an `application/x-www-form-urlencoded` string.
pub fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` and `+` (as a space).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie(header: Option<&str>, name: &str) -> Option<String> {
    header?.split(';').find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

/// Whether a request that changes something comes from the dashboard's own
/// pages: its `Origin` (sent by browsers with every POST) names the host the
/// request was sent to. No `Origin` at all is a client that is not a
/// browser (curl): it still needed the token.
pub fn same_origin(origin: Option<&str>, host: Option<&str>) -> bool {
    match (origin, host) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .strip_prefix("http://")
            .is_some_and(|rest| rest == host),
        (Some(_), None) => false,
    }
}

/// Refuses a listen address other machines can reach unless `expose`; for
/// an exposed one, what it exposes, to print.
pub fn check_listen(addr: SocketAddr, expose: bool, who: &str) -> anyhow::Result<Option<String>> {
    if addr.ip().is_loopback() {
        return Ok(None);
    }
    if !expose {
        bail!(
            "--listen {addr} is reachable from other machines; the dashboard shows every host's tasks, logs and habit output and acts as {who}. Add --expose to mean it (then anyone who can reach {addr} and has the URL's token can do that, over plain HTTP), or listen on 127.0.0.1 and use an SSH tunnel"
        );
    }
    Ok(Some(format!(
        "warning: the dashboard listens on {addr}, beyond this machine: anyone who reaches it with the URL's token sees every host's tasks, logs, habit output and inbox, calls services and, as {who}, can do what that identity may. The traffic is plain HTTP: the token crosses the network unencrypted"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_compared_whole() {
        let a = Token::generate().expect("a token");
        let b = Token::generate().expect("a token");
        assert_eq!(a.as_str().len(), 64);
        assert_ne!(a.as_str(), b.as_str());
        assert!(a.matches(a.as_str()));
        assert!(!a.matches(b.as_str()));
        assert!(!a.matches(&a.as_str()[..63]));
        assert!(!a.matches(""));
        assert_eq!(format!("{a:?}"), "Token(..)");
    }

    #[test]
    fn query_and_cookie_values_are_found() {
        assert_eq!(
            query_param(Some("a=1&token=x%2By+z"), "token").as_deref(),
            Some("x+y z")
        );
        assert_eq!(query_param(Some("a=1"), "token"), None);
        assert_eq!(query_param(None, "token"), None);
        assert_eq!(query_param(Some("t=%zz%4"), "t").as_deref(), Some("%zz%4"));
        assert_eq!(
            cookie(Some("a=b; tnet_ui_7450=abc"), "tnet_ui_7450").as_deref(),
            Some("abc")
        );
        assert_eq!(cookie(Some("tnet_ui_7451=abc"), "tnet_ui_7450"), None);
    }

    #[test]
    fn only_the_dashboards_own_origin_may_post() {
        assert!(same_origin(
            Some("http://127.0.0.1:7450"),
            Some("127.0.0.1:7450")
        ));
        assert!(!same_origin(
            Some("http://evil.example"),
            Some("127.0.0.1:7450")
        ));
        assert!(!same_origin(Some("null"), Some("127.0.0.1:7450")));
        assert!(!same_origin(Some("http://127.0.0.1:7450"), None));
        assert!(same_origin(None, Some("127.0.0.1:7450")));
    }

    #[test]
    fn listening_beyond_loopback_needs_expose_and_says_what_it_exposes() {
        let local: SocketAddr = "127.0.0.1:7450".parse().expect("addr");
        assert_eq!(check_listen(local, false, "x").ok(), Some(None));
        let v6: SocketAddr = "[::1]:7450".parse().expect("addr");
        assert_eq!(check_listen(v6, false, "x").ok(), Some(None));
        let any: SocketAddr = "0.0.0.0:7450".parse().expect("addr");
        let refused = check_listen(any, false, "`alice` (user)").expect_err("refused");
        assert!(refused.to_string().contains("--expose"), "{refused}");
        let warning = check_listen(any, true, "`alice` (user)")
            .expect("allowed")
            .expect("a warning");
        assert!(warning.contains("plain HTTP") && warning.contains("`alice` (user)"));
    }
}

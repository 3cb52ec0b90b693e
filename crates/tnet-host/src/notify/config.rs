//! The host's notifier settings: the `[email]`, `[webhook]`, `[command]` and
//! `[notify]` tables of `host.toml` (its `[limits]` are `crate::limits`'s) (`tnet-host --host-config FILE`).
//! Secrets are read from the file, another file or the environment, and
//! never reach `Debug` output or a log.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

/// A value that must never be printed.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain text (a local relay).
    None,
    /// STARTTLS, required (port 587).
    #[default]
    Starttls,
    /// Implicit TLS (port 465).
    Tls,
}

/// `[email]`, validated.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// The SMTP server's name (also the name its certificate must carry).
    pub server: String,
    /// Its port.
    pub port: u16,
    /// How the connection is protected.
    pub tls: TlsMode,
    /// User name for AUTH, if the server needs it.
    pub username: Option<String>,
    /// Password for AUTH.
    pub password: Option<Secret>,
    /// The sender.
    pub from: String,
    /// Default recipients.
    pub to: Vec<String>,
    /// A PEM file of a private CA to trust besides the system's.
    pub ca_file: Option<PathBuf>,
}

/// Everything the notifier needs from the host's configuration.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// `[email]`, if mail can be sent.
    pub email: Option<EmailConfig>,
    /// `[webhook] url`: the default for tasks without `webhook_url`.
    pub webhook_url: Option<String>,
    /// `[command] program`: the default for tasks without `notify_command`.
    pub command: Option<String>,
    /// The shortest time between two notices of one failure streak.
    pub reminder_window: Duration,
    /// Attempts per delivery before it is kept in the inbox.
    pub attempts: u32,
    /// The wait after the first failed attempt; it doubles after each.
    pub retry_delay: Duration,
    /// How long one attempt may take.
    pub send_timeout: Duration,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            email: None,
            webhook_url: None,
            command: None,
            reminder_window: Duration::from_secs(3600),
            attempts: 4,
            retry_delay: Duration::from_secs(2),
            send_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    email: Option<RawEmail>,
    webhook: Option<RawWebhook>,
    command: Option<RawCommand>,
    notify: Option<RawNotify>,
    /// Read by `crate::limits`.
    #[serde(rename = "limits")]
    _limits: Option<serde::de::IgnoredAny>,
    /// Read by `crate::retention`.
    #[serde(rename = "retention")]
    _retention: Option<serde::de::IgnoredAny>,
    /// Read by `crate::docker::config`.
    #[serde(rename = "docker")]
    _docker: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    server: String,
    port: Option<u16>,
    #[serde(default)]
    tls: TlsMode,
    username: Option<String>,
    password: Option<String>,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    from: String,
    #[serde(default)]
    to: Vec<String>,
    ca_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommand {
    program: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    reminder_window: Option<String>,
    attempts: Option<u32>,
    retry_delay: Option<String>,
    send_timeout: Option<String>,
}

impl NotifyConfig {
    /// Reads `path`; a file that does not parse is an error that names it.
    pub fn load(path: &Path) -> anyhow::Result<NotifyConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the host config {}", path.display()))?;
        Self::parse(&text, path.parent().unwrap_or(Path::new(".")))
            .with_context(|| format!("in the host config {}", path.display()))
    }

    /// Parses the text of a host config; relative paths are taken from `dir`.
    pub fn parse(text: &str, dir: &Path) -> anyhow::Result<NotifyConfig> {
        // toml's errors quote the offending line, which could hold a
        // password: keep only the message and the position.
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start].matches('\n').count() + 1;
                    format!(" (line {line})")
                })
                .unwrap_or_default();
            anyhow::anyhow!("{}{at}", e.message())
        })?;
        let mut config = NotifyConfig::default();
        if let Some(n) = raw.notify {
            let duration = |text: Option<String>, key: &str, default: Duration| match text {
                None => Ok(default),
                Some(t) => humantime::parse_duration(t.trim()).with_context(|| {
                    format!("[notify] {key} = \"{t}\" is not a duration like \"1h\"")
                }),
            };
            config.reminder_window =
                duration(n.reminder_window, "reminder_window", config.reminder_window)?;
            config.retry_delay = duration(n.retry_delay, "retry_delay", config.retry_delay)?;
            config.send_timeout = duration(n.send_timeout, "send_timeout", config.send_timeout)?;
            if let Some(a) = n.attempts {
                anyhow::ensure!(a >= 1, "[notify] attempts must be at least 1");
                config.attempts = a;
            }
        }
        config.webhook_url = raw.webhook.map(|w| w.url);
        config.command = raw.command.map(|c| c.program);
        if let Some(e) = raw.email {
            let password = match (e.password, e.password_file, e.password_env) {
                (None, None, None) => None,
                (Some(p), None, None) => Some(Secret(p)),
                (None, Some(file), None) => {
                    let file = dir.join(file);
                    let text = std::fs::read_to_string(&file).with_context(|| {
                        format!("cannot read [email] password_file {}", file.display())
                    })?;
                    Some(Secret(text.trim_end_matches(['\n', '\r']).to_owned()))
                }
                (None, None, Some(var)) => {
                    Some(Secret(std::env::var(&var).with_context(|| {
                        format!("[email] password_env names `{var}`, which is not set")
                    })?))
                }
                _ => anyhow::bail!("[email] takes one of password, password_file, password_env"),
            };
            anyhow::ensure!(
                password.is_none() || e.username.is_some(),
                "[email] has a password but no username"
            );
            let port = e.port.unwrap_or(match e.tls {
                TlsMode::None => 25,
                TlsMode::Starttls => 587,
                TlsMode::Tls => 465,
            });
            config.email = Some(EmailConfig {
                server: e.server,
                port,
                tls: e.tls,
                username: e.username,
                password,
                from: e.from,
                to: e.to,
                ca_file: e.ca_file.map(|f| dir.join(f)),
            });
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_parses_and_its_password_never_prints() {
        let text = r#"
[email]
server = "smtp.example.com"
tls = "starttls"
username = "tnet"
password = "hunter2"
from = "tnet@example.com"
to = ["me@example.com"]
ca_file = "ca.pem"

[webhook]
url = "http://127.0.0.1:8080/hook"

[command]
program = "logger -t tnet"

[notify]
reminder_window = "30m"
"#;
        let c = NotifyConfig::parse(text, Path::new("/etc/tnet")).expect("parses");
        let email = c.email.as_ref().expect("email");
        assert_eq!(email.port, 587);
        assert_eq!(
            email.ca_file.as_deref(),
            Some(Path::new("/etc/tnet/ca.pem"))
        );
        assert_eq!(c.reminder_window, Duration::from_secs(1800));
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn mistakes_are_errors_that_do_not_echo_secrets() {
        let err = NotifyConfig::parse(
            "[email]\nserver = \"s\"\nfrom = \"f\"\npasword = \"hunter2\"\n",
            Path::new("."),
        )
        .expect_err("unknown key");
        let shown = format!("{err:#}");
        assert!(shown.contains("pasword"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let err = NotifyConfig::parse(
            "[email]\nserver = \"s\"\nfrom = \"f\"\nusername = \"u\"\npassword = \"a\"\npassword_env = \"B\"\n",
            Path::new("."),
        )
        .expect_err("two passwords");
        assert!(format!("{err:#}").contains("one of"));
    }
}

//! Mail through SMTP with lettre: the documented default subject and body,
//! a task's own templates, and the transport from `[email]`.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::config::{EmailConfig, TlsMode};
use super::{Failure, Fields};

/// The subject when a task gives no `email_subject`.
pub const DEFAULT_SUBJECT: &str = "[tnet] {task} on {host}: {outcome}";

/// The body when a task gives no `email_body`.
pub const DEFAULT_BODY: &str = "\
{message}

Host:      {host}
Task:      {task}
Type:      {type}
Outcome:   {outcome}
Exit code: {exit_code}
Run:       {run}
Started:   {started}
Duration:  {duration}

Output (last lines):
{output}
";

/// Fills `{placeholders}` of `template` from `fields`; an unknown one stays as written.
pub fn render(template: &str, fields: &Fields) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after
            .find('}')
            .and_then(|close| fields.get(&after[..close]).map(|value| (close, value)))
        {
            Some((close, value)) => {
                out.push_str(&value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Sends one mail. A permanent refusal (a wrong password, an unknown
/// recipient) is not worth retrying; everything else is.
pub async fn send(
    config: &EmailConfig,
    to: &[String],
    subject: &str,
    body: String,
    timeout: Duration,
) -> Result<(), Failure> {
    let permanent = |m: String| Failure {
        message: m,
        permanent: true,
    };
    if to.is_empty() {
        return Err(permanent(
            "no recipients: give `to` in [email] of host.toml or `email_to` in the task".into(),
        ));
    }
    let mut builder = Message::builder()
        .from(
            config
                .from
                .parse()
                .map_err(|e| permanent(format!("bad sender `{}`: {e}", config.from)))?,
        )
        .subject(subject)
        .header(ContentType::TEXT_PLAIN);
    for rcpt in to {
        builder = builder.to(rcpt
            .parse()
            .map_err(|e| permanent(format!("bad recipient `{rcpt}`: {e}")))?);
    }
    let message = builder
        .body(body)
        .map_err(|e| permanent(format!("cannot build the mail: {e}")))?;
    let transport = transport(config, timeout)?;
    match transport.send(message).await {
        Ok(_) => Ok(()),
        Err(e) => Err(Failure {
            permanent: e.is_permanent(),
            message: format!(
                "SMTP {}:{}: {}",
                config.server,
                config.port,
                error_chain(&e)
            ),
        }),
    }
}

/// An error with its sources, on one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn transport(
    config: &EmailConfig,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, Failure> {
    let permanent = |m: String| Failure {
        message: m,
        permanent: true,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.server)
        .port(config.port)
        .timeout(Some(timeout));
    if config.tls != TlsMode::None {
        let mut params = TlsParameters::builder(config.server.clone());
        if let Some(ca) = &config.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| permanent(format!("cannot read ca_file {}: {e}", ca.display())))?;
            let cert = Certificate::from_pem(&pem).map_err(|e| {
                permanent(format!(
                    "ca_file {} is not a PEM certificate: {e}",
                    ca.display()
                ))
            })?;
            params = params.add_root_certificate(cert);
        }
        let params = params
            .build_rustls()
            .map_err(|e| permanent(format!("cannot set up TLS: {e}")))?;
        builder = builder.tls(match config.tls {
            TlsMode::Tls => Tls::Wrapper(params),
            _ => Tls::Required(params),
        });
    }
    if let (Some(user), Some(password)) = (&config.username, &config.password) {
        // PLAIN alone (inside TLS, or on a local relay): after a refused
        // PLAIN, falling back to LOGIN only asks the server the same thing again.
        builder = builder
            .authentication(vec![Mechanism::Plain])
            .credentials(Credentials::new(user.clone(), password.expose().to_owned()));
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_known_placeholders_and_keep_others() {
        let mut fields = Fields::default();
        fields.set("task", "my_binary");
        fields.set("outcome", "succeeded");
        assert_eq!(
            render("{task}: {outcome} {nope} {", &fields),
            "my_binary: succeeded {nope} {"
        );
        let subject = render(DEFAULT_SUBJECT, &fields);
        assert_eq!(subject, "[tnet] my_binary on {host}: succeeded");
    }
}

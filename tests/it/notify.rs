//! Notifications (SPEC 11): mail through a real SMTP server (aiosmtpd, with
//! and without STARTTLS + AUTH), the `qmail` inbox, the failure throttle,
//! a dead SMTP server that never holds up a schedule, webhooks and commands.
//!
//! Habits here run every second or two; every wait is bounded and polls the
//! host or the mailbox, never a fixed sleep.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use tnet_tests::{free_port, wait_until, Host};

const WAIT: Duration = Duration::from_secs(40);

/// A real SMTP server (aiosmtpd) writing each message into `maildir/new/`.
struct Smtp {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl Smtp {
    /// Starts one; fails the test when aiosmtpd is missing (`tnet_tests::require`).
    fn start(dir: &Path, extra: &[&str]) -> Smtp {
        tnet_tests::require_python_module("aiosmtpd", "aiosmtpd==1.4.6");
        let port = free_port();
        let maildir = dir.join("maildir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/smtp_server.py");
        let mut child = Command::new("python3")
            .arg("-u")
            .arg(&script)
            .arg(port.to_string())
            .arg(&maildir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(WAIT).unwrap_or_default();
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        Smtp {
            child,
            port,
            maildir,
        }
    }

    /// The messages received so far, as text, oldest first.
    fn messages(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = dir
            .flatten()
            .map(|e| {
                (
                    e.metadata()
                        .and_then(|m| m.modified())
                        .unwrap_or(std::time::UNIX_EPOCH),
                    e.path(),
                )
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, p)| std::fs::read_to_string(p).ok())
            .collect()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A header's value in a raw message (first occurrence, unfolded).
fn header(message: &str, name: &str) -> Option<String> {
    let head = message
        .split("\r\n\r\n")
        .next()
        .or(message.split("\n\n").next())?;
    let unfolded = head.replace("\r\n ", " ").replace("\n ", " ");
    unfolded.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

/// A message's body, with line endings as `\n`.
fn body(message: &str) -> String {
    let text = message.replace("\r\n", "\n");
    text.split_once("\n\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a file");
    path
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn email_config(smtp_port: u16, extra: &str) -> String {
    format!(
        "[email]\nserver = \"127.0.0.1\"\nport = {smtp_port}\nfrom = \"tnet@lab.test\"\nto = [\"me@lab.test\"]\n{extra}\n\
         [notify]\nretry_delay = \"200ms\"\nattempts = 2\nsend_timeout = \"10s\"\n"
    )
}

/// The seed's example 1 (`my_binary`, `on_success = "email"`) with a short interval.
fn seed_habit(dir: &Path) -> PathBuf {
    write(dir, "my_binary", "#!/bin/sh\necho \"price is 9.99 ($1)\"\n");
    std::fs::set_permissions(
        dir.join("my_binary"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    write(
        dir,
        "habit.toml",
        "[general]\ntask_name = \"my_binary\"\ntask_type = \"habit\"\n\
         commands = [\"./my_binary --timeout=10\"]\nnecessary_files = [\"my_binary\"]\nrun_in_docker = false\n\n\
         [task_details]\non_end = \"none\"\non_fail = \"none\"\non_success = \"email\"\n\n\
         [habit_details]\ntime_between_runs = \"2s\"\nignore_nonzero_exits = false\n",
    )
}

fn inbox(host: &Host) -> Vec<Value> {
    let out = host.tnet(&["inbox", "--json"]).ok();
    serde_json::from_str::<Value>(out.stdout.lines().next().unwrap_or("[]"))
        .expect("inbox JSON")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn notify_email_of_the_seed_habit_has_every_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = Smtp::start(dir.path(), &[]);
    let host = Host::start_with_config("mailer", &email_config(smtp.port, "tls = \"none\""));
    let task = seed_habit(dir.path());
    host.tnet(&["run", path_str(&task)]).ok();
    let message = wait_until(WAIT, "a mail arrives", || {
        smtp.messages().into_iter().next()
    });
    assert_eq!(header(&message, "From").as_deref(), Some("tnet@lab.test"));
    assert_eq!(header(&message, "To").as_deref(), Some("me@lab.test"));
    assert_eq!(
        header(&message, "Subject").as_deref(),
        Some("[tnet] my_binary on mailer: succeeded")
    );
    let body = body(&message);
    let field = |name: &str| {
        body.lines()
            .find_map(|l| {
                l.strip_prefix(&format!("{name}:"))
                    .map(|v| v.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("no `{name}:` in the body:\n{body}"))
    };
    assert_eq!(field("Host"), "mailer");
    assert_eq!(field("Task"), "my_binary");
    assert_eq!(field("Type"), "habit");
    assert_eq!(field("Outcome"), "succeeded");
    assert_eq!(field("Exit code"), "0");
    let run: u64 = field("Run").parse().expect("a run number");
    assert!(run >= 1);
    assert!(
        chrono::DateTime::parse_from_rfc3339(&field("Started")).is_ok(),
        "{body}"
    );
    assert!(!field("Duration").is_empty());
    assert!(body.contains("price is 9.99 (--timeout=10)"), "{body}");
    // The host recorded the delivery as sent.
    wait_until(WAIT, "the delivery is recorded as sent", || {
        let out = host.tnet(&["inbox", "--deliveries", "--json"]).ok().json();
        out.as_array()?
            .iter()
            .any(|d| d["state"] == "sent" && d["channel"] == "email")
            .then_some(())
    });
}

#[test]
fn notify_starttls_auth_and_a_wrong_password_lands_in_the_inbox() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A private CA and a server certificate it signed (rustls refuses a
    // self-signed CA certificate used as the server's own).
    let d = dir.path();
    let (ca, cert, key) = (d.join("ca.pem"), d.join("cert.pem"), d.join("key.pem"));
    let ext = write(
        d,
        "ext.cnf",
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    );
    let openssl = |args: &[&str]| {
        let ok = Command::new("openssl")
            .args(args)
            .current_dir(d)
            .stderr(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(ok.success(), "openssl {args:?}");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=tnet test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "key.pem",
        "-out",
        "srv.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        path_str(&ext),
        "-out",
        "cert.pem",
    ]);
    let smtp = Smtp::start(
        dir.path(),
        &[
            "--tls",
            path_str(&cert),
            path_str(&key),
            "--auth",
            "tnet",
            "s3cret",
        ],
    );
    let tls = |password: &str| {
        format!(
            "tls = \"starttls\"\nusername = \"tnet\"\npassword = \"{password}\"\nca_file = \"{}\"",
            ca.display()
        )
    };
    let good = Host::start_with_config("tlsgood", &email_config(smtp.port, &tls("s3cret")));
    let bad = Host::start_with_config("tlsbad", &email_config(smtp.port, &tls("wrong")));
    let task = seed_habit(dir.path());
    good.tnet(&["run", path_str(&task)]).ok();
    bad.tnet(&["run", path_str(&task)]).ok();
    let message = wait_until(WAIT, "a mail arrives over STARTTLS", || {
        smtp.messages()
            .into_iter()
            .find(|m| m.contains("on tlsgood"))
    });
    assert_eq!(
        header(&message, "Subject").as_deref(),
        Some("[tnet] my_binary on tlsgood: succeeded")
    );
    // The wrong password is reported in the inbox, with the server's refusal.
    let entry = wait_until(WAIT, "the refused mail is in the inbox", || {
        inbox(&bad).into_iter().find(|e| e["channel"] == "email")
    });
    assert_eq!(entry["state"], "failed");
    let reason = entry["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("535"), "{reason}");
    assert!(!reason.contains("wrong"), "the password leaked: {reason}");
    assert!(!std::fs::read_to_string(bad.log_path())
        .unwrap_or_default()
        .contains("wrong\""));
    // The task is unaffected: it keeps running on schedule.
    wait_until(WAIT, "the habit keeps running", || {
        let runs = bad.status("my_binary")["runs"].as_array()?.len();
        (runs >= 3).then_some(())
    });
    assert!(!smtp.messages().iter().any(|m| m.contains("on tlsbad")));
}

#[test]
fn notify_qmail_inbox_ack_and_follow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start("quiet");
    let mut follower = host.follow(&["inbox", "-f", "--json"]);
    // The seed's example 2 shape, as a daemon that ends at once.
    let task = write(
        dir.path(),
        "game.toml",
        "task_name = \"Game Server\"\ntask_type = \"daemon\"\ncommands = [\"echo started\"]\n\n\
         [task_details]\non_end = \"none\"\non_fail = \"none\"\non_success = \"qmail\"\n\n\
         [daemon_details]\nrestart_on_end = false\nrestart_on_fail = false\nrestart_on_success = false\n",
    );
    host.tnet(&["run", path_str(&task)]).ok();
    let entries = wait_until(WAIT, "the qmail is in the inbox", || {
        let e = inbox(&host);
        (!e.is_empty()).then_some(e)
    });
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!(entry["channel"], "qmail");
    assert_eq!(entry["host"], "quiet");
    assert_eq!(entry["event"]["task"], "Game Server");
    assert_eq!(entry["event"]["kind"], "succeeded");
    // The follower saw it live.
    follower.wait_line(WAIT, |l| l.contains("Game Server") && l.contains("qmail"));
    let id = entry["id"].as_u64().expect("an id");
    host.tnet(&["inbox", "--ack", &id.to_string()]).ok();
    assert!(inbox(&host).is_empty());
    let again = host.tnet(&["inbox", "--ack", &format!("quiet/{id}")]);
    assert!(again.success, "acking twice is harmless: {again:?}");
}

#[test]
fn notify_a_failing_habit_notifies_once_then_once_when_it_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start("flaky");
    // Fails ten times, then succeeds.
    let task = write(
        dir.path(),
        "flaky.toml",
        "task_name = \"flaky\"\ntask_type = \"habit\"\n\
         commands = [\"n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; test $n -gt 10\"]\n\n\
         [task_details]\non_fail = \"qmail\"\n\n[habit_details]\ntime_between_runs = \"1s\"\n",
    );
    host.tnet(&["run", path_str(&task)]).ok();
    let entries = wait_until(Duration::from_secs(90), "the recovery notice", || {
        let e = inbox(&host);
        e.iter()
            .any(|e| e["summary"].as_str().unwrap_or("").contains("recovered"))
            .then_some(e)
    });
    let summaries: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["summary"].as_str())
        .collect();
    assert_eq!(
        summaries,
        vec![
            "flaky on flaky: failed",
            "flaky on flaky: recovered after 10 failures"
        ],
        "default reminder window is 1h: no reminders"
    );
}

#[test]
fn notify_smtp_down_never_delays_the_schedule_and_mail_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Nothing listens on this port.
    let dead = free_port();
    let host = Host::start_with_config("nomail", &email_config(dead, "tls = \"none\""));
    let task = seed_habit(dir.path());
    host.tnet(&["run", path_str(&task)]).ok();
    let entries = wait_until(WAIT, "undelivered mails are in the inbox", || {
        let e = inbox(&host);
        (e.len() >= 2).then_some(e)
    });
    assert!(entries
        .iter()
        .all(|e| e["channel"] == "email" && e["state"] == "failed"));
    assert!(
        entries[0]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("2 attempt"),
        "{entries:?}"
    );
    // Runs kept their two-second schedule: starts at least ~2 s apart and
    // never bunched up behind a send.
    let runs = wait_until(WAIT, "three runs", || {
        let runs = host.status("my_binary")["runs"].as_array().cloned()?;
        (runs.len() >= 3).then_some(runs)
    });
    let starts: Vec<chrono::DateTime<chrono::FixedOffset>> = runs
        .iter()
        .filter_map(|r| chrono::DateTime::parse_from_rfc3339(r["started"].as_str()?).ok())
        .collect();
    for pair in starts.windows(2) {
        let gap = (pair[1] - pair[0]).num_milliseconds();
        assert!(gap >= 1500, "runs {gap} ms apart: {runs:?}");
    }
}

/// A one-shot HTTP server: returns the body of the first POST it gets.
fn http_server() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            let body = loop {
                let Ok(n) = stream.read(&mut buf) else {
                    break None;
                };
                if n == 0 {
                    break None;
                }
                data.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&data).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break Some(body[..len].to_owned());
                    }
                }
            };
            let _ = stream.write_all(
                b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            if let Some(body) = body {
                let _ = tx.send(body);
            }
        }
    });
    (port, rx)
}

#[test]
fn notify_webhook_posts_and_command_gets_the_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (port, posts) = http_server();
    let got = dir.path().join("event.json");
    let host = Host::start("hooks");
    let task = write(
        dir.path(),
        "hooked.toml",
        &format!(
            "task_name = \"hooked\"\ntask_type = \"habit\"\ncommands = [\"echo hello; exit 3\"]\n\n\
             [task_details]\non_fail = \"webhook\"\non_end = \"command\"\n\
             webhook_url = \"http://127.0.0.1:{port}/hook\"\nnotify_command = \"cat > '{}'\"\n\n\
             [habit_details]\ntime_between_runs = \"1s\"\n",
            got.display()
        ),
    );
    host.tnet(&["run", path_str(&task)]).ok();
    let posted: Value =
        serde_json::from_str(&posts.recv_timeout(WAIT).expect("a webhook POST")).expect("JSON");
    assert_eq!(posted["task"], "hooked");
    assert_eq!(posted["host"], "hooks");
    assert_eq!(posted["kind"], "failed");
    assert_eq!(posted["exit_code"], 3);
    assert_eq!(posted["outcome"], "failed");
    assert!(
        posted["output"].as_str().unwrap_or("").contains("hello"),
        "{posted}"
    );
    let written: Value = wait_until(WAIT, "the command wrote the event", || {
        serde_json::from_str(&std::fs::read_to_string(&got).ok()?).ok()
    });
    assert_eq!(written["task"], "hooked");
    assert_eq!(written["kind"], "failed");
}

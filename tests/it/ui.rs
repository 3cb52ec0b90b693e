//! `tnet ui` (issue 20) in a real headless Chromium, driven over the
//! DevTools protocol: the pages list real hosts and their tasks, change live
//! as the hosts publish, call a service from a form; the server refuses
//! requests without its token or from another site, and a `user` identity
//! sees no admin actions and cannot forge one.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::Value;
use tnet_fleet::{Fleet, Role, Validity};
use tnet_tests::netns::{Lan, Machine};
use tnet_tests::{
    admin_identity, bin, fleet_dir, require, run_bounded, tnet_command, wait_until, write_file,
    Host, Streaming,
};

/// Waits on a page: long enough for a loaded machine, short enough to fail fast.
const WAIT: Duration = Duration::from_secs(30);

/// Where Debian's `chromium` package puts the browser.
const CHROMIUM: &str = "/usr/bin/chromium";

/// A running `tnet ui` and the URL it printed.
struct Dashboard {
    _process: Streaming,
    /// `http://127.0.0.1:PORT`.
    base: String,
    /// The URL's token.
    token: String,
}

impl Dashboard {
    /// Starts `tnet ui` against `hosts` as `identity`, on a free loopback port.
    fn start(hosts: &[&Host], identity: &Path) -> Dashboard {
        let endpoints: Vec<String> = hosts.iter().map(|h| h.endpoint()).collect();
        let endpoints: Vec<&str> = endpoints.iter().map(String::as_str).collect();
        let mut cmd = tnet_command(&endpoints);
        cmd.env(tnet_fleet::ENV_IDENTITY, identity)
            .args(["ui", "--listen", "127.0.0.1:0"]);
        Dashboard::of(Streaming::start(cmd))
    }

    /// The dashboard a started `tnet ui` serves, once it printed its URL.
    fn of(process: Streaming) -> Dashboard {
        let line = process.lines(1, WAIT, "tnet ui prints its URL").remove(0);
        let url = line
            .strip_prefix("tnet ui: ")
            .unwrap_or_else(|| panic!("not a URL line: {line:?}"));
        let (base, token) = url
            .split_once("/?token=")
            .unwrap_or_else(|| panic!("no token in {url:?}"));
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        assert_eq!(token.len(), 64, "{token}");
        Dashboard {
            base: base.to_owned(),
            token: token.to_owned(),
            _process: process,
        }
    }

    /// The URL `tnet ui` printed.
    fn url(&self) -> String {
        format!("{}/?token={}", self.base, self.token)
    }

    /// A raw HTTP request to the dashboard: its status and body.
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let address = self.base.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).expect("the dashboard listens");
        stream.set_read_timeout(Some(WAIT)).expect("a read timeout");
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: 0\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("an answer");
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not HTTP: {answer:?}"));
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// The cookie a browser holds after its first visit.
    fn cookie(&self) -> String {
        let port = self.base.rsplit(':').next().expect("a port");
        format!("tnet_ui_{port}={}", self.token)
    }
}

/// A headless Chromium of its own (its own profile and DevTools port).
fn browser() -> Browser {
    require(Path::new(CHROMIUM).exists(), "Debian's `chromium` package");
    let options = LaunchOptions::default_builder()
        .path(Some(PathBuf::from(CHROMIUM)))
        .headless(true)
        // Tests run as root, where Chromium's sandbox cannot start.
        .sandbox(false)
        .window_size(Some((1280, 900)))
        .idle_browser_timeout(Duration::from_secs(600))
        .build()
        .expect("launch options");
    Browser::new(options).expect("chromium starts")
}

/// Evaluates `expression` in the page.
fn eval(tab: &Tab, expression: &str) -> Value {
    tab.evaluate(expression, false)
        .unwrap_or_else(|e| panic!("cannot evaluate {expression}: {e}"))
        .value
        .unwrap_or(Value::Null)
}

/// Waits until `expression` is true in the page.
fn wait_js(tab: &Tab, limit: Duration, what: &str, expression: &str) -> Duration {
    let started = Instant::now();
    // A page being replaced (after a form's POST) has no context to ask for a moment.
    wait_until(limit, what, || {
        let value = tab.evaluate(expression, false).ok()?.value;
        (value == Some(Value::Bool(true))).then_some(())
    });
    started.elapsed()
}

/// Opens `path` of the dashboard and waits for its live updates to be connected.
fn open(tab: &Tab, dash: &Dashboard, path: &str) {
    tab.navigate_to(&format!("{}{path}", dash.base))
        .and_then(|t| t.wait_until_navigated())
        .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
    wait_js(
        tab,
        WAIT,
        &format!("{path} follows the hosts live"),
        "document.body.dataset.connected === '1'",
    );
}

/// A task file in `dir`.
fn task(dir: &Path, name: &str, text: &str) -> String {
    write_file(dir, &format!("{name}.toml"), text, 0o644)
        .to_str()
        .expect("a UTF-8 path")
        .to_owned()
}

/// A new identity of the test fleet with `role`, in the fleet's roster.
fn issue(role: Role) -> PathBuf {
    let fleet = Fleet::open(&fleet_dir()).expect("the test fleet");
    let name = format!(
        "ui-{}-{}-{}",
        role.as_str(),
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    );
    let id = fleet
        .add(role, &name, Validity::days(1))
        .expect("an identity");
    id.dir().to_path_buf()
}

#[test]
fn the_dashboard_shows_the_fleet_live_and_calls_a_service() {
    let one = Host::start("ui-one");
    let mut two = Host::start("ui-two");
    let dir = tempfile::tempdir().expect("dir");
    let keeper = task(
        dir.path(),
        "keeper",
        "task_name = \"keeper\"\ntask_type = \"daemon\"\ncommands = ['echo keeping; sleep 1000']\n",
    );
    // A number that changes each run: the plot has points to gain. It is
    // inside a sentence that ends in a time, so only the task's pattern
    // finds it.
    let gauge = task(
        dir.path(),
        "gauge",
        "task_name = \"gauge\"\ntask_type = \"habit\"\ncommands = ['echo \"read $(date +%N) at $(date +%T)\"']\n\n[habit_details]\ntime_between_runs = \"1s\"\nvalue_pattern = 'read ([0-9]+) at'\n",
    );
    let upper = task(
        dir.path(),
        "upper",
        "task_name = \"upper\"\ntask_type = \"service\"\ncommands = ['tr a-z A-Z']\n",
    );
    one.tnet(&["run", &keeper]).ok();
    one.tnet(&["run", &gauge]).ok();
    two.tnet(&["run", &upper]).ok();
    one.wait_state("keeper", "running");
    two.wait_state("upper", "ready");

    let dash = Dashboard::start(&[&one, &two], &admin_identity());
    let browser = browser();
    let tab: Arc<Tab> = browser.new_tab().expect("a tab");

    // The printed URL: the token becomes a cookie, the page lists both hosts.
    tab.navigate_to(&dash.url())
        .and_then(|t| t.wait_until_navigated())
        .expect("the dashboard opens");
    wait_js(
        &tab,
        WAIT,
        "both hosts listed",
        "!!document.querySelector('tr[data-host=\"ui-one\"]') && !!document.querySelector('tr[data-host=\"ui-two\"]')",
    );
    assert_eq!(
        eval(&tab, "location.search"),
        Value::String(String::new()),
        "the token leaves the address bar"
    );

    // Every task of both hosts, with the admin's actions.
    open(&tab, &dash, "/tasks");
    for key in ["ui-one/keeper", "ui-one/gauge", "ui-two/upper"] {
        assert_eq!(
            eval(
                &tab,
                &format!("!!document.querySelector('tr[data-task=\"{key}\"]')")
            ),
            Value::Bool(true),
            "{key} is listed"
        );
    }
    assert_eq!(
        eval(
            &tab,
            "document.querySelector('tr[data-task=\"ui-one/keeper\"] .state').dataset.state"
        ),
        Value::String("running".into())
    );
    assert_eq!(
        eval(&tab, "document.querySelectorAll('button.remove').length"),
        Value::from(3),
        "an admin may remove each task"
    );

    // `tnet stop` elsewhere: the row changes within 2 s, without a reload.
    eval(&tab, "window.notReloaded = true");
    one.tnet(&["stop", "keeper"]).ok();
    let took = wait_js(
        &tab,
        Duration::from_secs(2),
        "the stopped task's row says so within 2 s",
        "document.querySelector('tr[data-task=\"ui-one/keeper\"] .state').dataset.state === 'stopped'",
    );
    assert_eq!(eval(&tab, "window.notReloaded"), Value::Bool(true));
    eprintln!("the page showed the stop {took:?} after `tnet stop` returned");

    // A habit's new run appears, and its plot gains a point.
    open(&tab, &dash, "/habits");
    let card = "document.querySelector('[data-habit=\"ui-one/gauge\"]')";
    wait_js(
        &tab,
        WAIT,
        "the habit's plot has a point",
        &format!("{card}.querySelectorAll('svg.plot circle').length >= 1"),
    );
    let points = eval(
        &tab,
        &format!("{card}.querySelectorAll('svg.plot circle').length"),
    );
    let newest = eval(
        &tab,
        &format!("+{card}.querySelector('tr[data-run]').dataset.run"),
    );
    eval(&tab, "window.notReloaded = true");
    wait_js(
        &tab,
        WAIT,
        "a new run is listed and plotted",
        &format!(
            "(() => {{ const c = {card}; return c.querySelectorAll('svg.plot circle').length > {points} && +c.querySelector('tr[data-run]').dataset.run > {newest}; }})()"
        ),
    );
    assert_eq!(eval(&tab, "window.notReloaded"), Value::Bool(true));

    // A service called from its form shows its result.
    open(&tab, &dash, "/services");
    let form = "[data-service=\"ui-two/upper\"] form.call";
    tab.wait_for_element(&format!("{form} textarea"))
        .expect("the call form")
        .click()
        .expect("focus the input");
    tab.type_str("hello from chromium").expect("typing");
    tab.find_element(&format!("{form} button"))
        .expect("the call button")
        .click()
        .expect("a click");
    wait_js(
        &tab,
        WAIT,
        "the call's result shows",
        "(() => { const r = document.querySelector('[data-service=\"ui-two/upper\"] .result pre.output'); return !!r && r.textContent === 'HELLO FROM CHROMIUM'; })()",
    );

    // One task's page: its runs and its log, followed live.
    open(&tab, &dash, "/task/ui-one/keeper");
    wait_js(
        &tab,
        WAIT,
        "the task's log shows its output",
        "document.getElementById('log').textContent.includes('keeping')",
    );
    assert_eq!(
        eval(
            &tab,
            "document.querySelectorAll('#runs tr[data-run]').length > 0"
        ),
        Value::Bool(true)
    );

    // Without the token, or from another site, nothing is served or changed.
    let (status, body) = dash.request("GET", "/tasks", &[]);
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("keeper"), "{body}");
    let (status, _) = dash.request("GET", "/?token=0000", &[]);
    assert_eq!(status, 403);
    let (status, _) = dash.request("GET", "/live", &[]);
    assert_eq!(status, 401);
    let cookie = dash.cookie();
    let start = "/task/ui-one/keeper/start";
    let (status, body) = dash.request("POST", start, &[("Cookie", &cookie)]);
    assert_eq!(status, 403, "a POST without the token in its URL: {body}");
    let forged = format!("{start}?csrf={}", dash.token);
    let (status, body) = dash.request(
        "POST",
        &forged,
        &[("Cookie", &cookie), ("Origin", "http://evil.example")],
    );
    assert_eq!(status, 403, "a POST from another site: {body}");
    assert_eq!(one.state("keeper").as_deref(), Some("stopped"));
    // The dashboard's own form would have done it.
    let (status, body) = dash.request("POST", &forged, &[("Cookie", &cookie)]);
    assert_eq!(status, 303, "{body}");
    one.wait_state("keeper", "running");

    // A host that leaves goes from the hosts page within seconds, without a reload.
    open(&tab, &dash, "/");
    eval(&tab, "window.notReloaded = true");
    two.signal(nix::sys::signal::Signal::SIGTERM);
    let took = wait_js(
        &tab,
        Duration::from_secs(10),
        "the host that left is no longer listed",
        "!document.querySelector('tr[data-host=\"ui-two\"]') && !!document.querySelector('tr[data-host=\"ui-one\"]')",
    );
    assert_eq!(eval(&tab, "window.notReloaded"), Value::Bool(true));
    eprintln!("the page dropped the host {took:?} after its SIGTERM");
    // And one that comes back is listed again.
    two.wait_exit(WAIT);
    two.start_again();
    let took = wait_js(
        &tab,
        Duration::from_secs(10),
        "the host that came back is listed again",
        "!!document.querySelector('tr[data-host=\"ui-two\"]')",
    );
    assert_eq!(eval(&tab, "window.notReloaded"), Value::Bool(true));
    eprintln!("the page listed the host again {took:?} after it answered");
}

#[test]
fn a_user_sees_no_admin_actions_and_a_forged_one_is_refused() {
    let user = issue(Role::User);
    // Started after the user was issued: the host reads the fleet's roster.
    let host = Host::start("ui-library");
    let dir = tempfile::tempdir().expect("dir");
    let keeper = task(
        dir.path(),
        "keeper",
        "task_name = \"keeper\"\ntask_type = \"daemon\"\ncommands = ['sleep 1000']\n",
    );
    host.tnet(&["run", &keeper]).ok();
    host.wait_state("keeper", "running");

    let dash = Dashboard::start(&[&host], &user);
    let browser = browser();
    let tab = browser.new_tab().expect("a tab");
    tab.navigate_to(&dash.url())
        .and_then(|t| t.wait_until_navigated())
        .expect("the dashboard opens");
    open(&tab, &dash, "/tasks");
    wait_js(
        &tab,
        WAIT,
        "the task is listed",
        "!!document.querySelector('tr[data-task=\"ui-library/keeper\"]')",
    );
    assert!(
        eval(&tab, "document.querySelector('header .who').textContent")
            .as_str()
            .is_some_and(|who| who.contains("(user)")),
        "the page says who it acts as"
    );
    for path in ["/tasks", "/task/ui-library/keeper"] {
        open(&tab, &dash, path);
        assert_eq!(
            eval(&tab, "document.querySelectorAll('button.remove, button.stop, form[action*=\"/remove\"]').length"),
            Value::from(0),
            "a user sees no remove or stop button on {path}"
        );
    }

    // The request the button would send, forged with the token: the host refuses it.
    let forged = format!("/task/ui-library/keeper/remove?csrf={}", dash.token);
    let (status, body) = dash.request("POST", &forged, &[("Cookie", &dash.cookie())]);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("not allowed"), "{body}");
    let tasks = host.tasks();
    assert!(
        tasks
            .iter()
            .any(|t| t["name"] == "keeper" && t["state"] == "running"),
        "the task is still there, running: {tasks:?}"
    );
}

#[test]
fn listening_beyond_this_machine_needs_expose() {
    let mut cmd = tnet_command(&["quic/127.0.0.1:9"]);
    cmd.args(["ui", "--listen", "0.0.0.0:0"]);
    let started = Instant::now();
    let out = run_bounded(cmd, b"", WAIT);
    assert!(!out.success, "{out:?}");
    assert!(out.stderr.contains("--expose"), "{out:?}");
    assert!(out.stdout.is_empty(), "no URL is printed: {out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused before any host is looked for"
    );
}

#[test]
fn a_notification_arrives_in_the_inbox_page_live_and_is_acknowledged_there() {
    let host = Host::start("ui-inbox");
    let dash = Dashboard::start(&[&host], &admin_identity());
    let browser = browser();
    let tab = browser.new_tab().expect("a tab");
    tab.navigate_to(&dash.url())
        .and_then(|t| t.wait_until_navigated())
        .expect("the dashboard opens");
    open(&tab, &dash, "/inbox");
    eval(&tab, "window.notReloaded = true");
    let dir = tempfile::tempdir().expect("dir");
    let once = task(
        dir.path(),
        "once",
        "task_name = \"once\"\ntask_type = \"daemon\"\ncommands = [\"echo done\"]\n\n\
         [task_details]\non_success = \"qmail\"\n\n\
         [daemon_details]\nrestart_on_end = false\nrestart_on_success = false\n",
    );
    host.tnet(&["run", &once]).ok();
    wait_js(
        &tab,
        WAIT,
        "the notification shows on the open inbox page",
        "!!document.querySelector('li[data-entry^=\"ui-inbox/\"] button.ack')",
    );
    assert_eq!(eval(&tab, "window.notReloaded"), Value::Bool(true));
    tab.find_element("li[data-entry^=\"ui-inbox/\"] button.ack")
        .expect("the acknowledge button")
        .click()
        .expect("a click");
    wait_js(
        &tab,
        WAIT,
        "the acknowledged entry leaves the page",
        "location.pathname === '/inbox' && !document.querySelector('li[data-entry]')",
    );
    let unread = host.tnet(&["inbox", "--json"]).ok();
    assert_eq!(unread.stdout.lines().next(), Some("[]"), "{unread:?}");
}

/// The hosts page as seen from `machine`, where `tnet ui` listens on its own
/// loopback: fetched there with the dashboard's cookie.
fn hosts_page_on(machine: &Machine, base: &str, cookie: &str) -> String {
    let mut cmd = machine.command("python3");
    cmd.args([
        "-c",
        "import sys, urllib.request\n\
         r = urllib.request.Request(sys.argv[1], headers={'Cookie': sys.argv[2]})\n\
         print(urllib.request.urlopen(r, timeout=30).read().decode())",
        &format!("{base}/"),
        cookie,
    ]);
    let out = run_bounded(cmd, b"", WAIT + WAIT);
    assert!(out.success, "the hosts page: {out:?}");
    out.stdout
}

#[test]
fn on_a_lan_a_host_that_starts_later_appears_and_one_that_goes_leaves() {
    let lan = Lan::new(3);
    let _first = lan.machine(0).start_host("ui-lan-first");
    let client = lan.machine(2);
    // No address: the dashboard finds the hosts by scouting, as `tnet` does.
    let mut cmd = client.command(bin("tnet"));
    cmd.args(["ui", "--listen", "127.0.0.1:0"]);
    let dash = Dashboard::of(Streaming::start(cmd));
    let (base, cookie) = (dash.base.as_str(), dash.cookie());

    let page = wait_until(WAIT, "the first host is on the hosts page", || {
        let page = hosts_page_on(client, base, &cookie);
        page.contains("ui-lan-first").then_some(page)
    });
    assert!(!page.contains("ui-lan-later"), "{page}");

    // A host that starts after the dashboard: Zenoh's scouting goes on and dials it.
    let mut later = lan.machine(1).start_host("ui-lan-later");
    let took = Instant::now();
    wait_until(WAIT, "the host started later is on the hosts page", || {
        hosts_page_on(client, base, &cookie)
            .contains("ui-lan-later")
            .then_some(())
    });
    eprintln!(
        "a host that started later was listed after {:?}",
        took.elapsed()
    );

    // Killed: its link times out (Zenoh's lease, 10 s) and it leaves the page
    // (meanwhile the page waits for the host that is gone to answer).
    later.kill9();
    wait_until(WAIT, "the host that went is off the hosts page", || {
        (!hosts_page_on(client, base, &cookie).contains("ui-lan-later")).then_some(())
    });
    assert!(hosts_page_on(client, base, &cookie).contains("ui-lan-first"));
}

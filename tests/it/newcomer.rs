//! A newcomer's rough edges (issue 18): a misspelt task, host, service or
//! habit gets the nearest name; an empty listing says it is empty and how
//! many hosts answered; `--help` shows an environment variable's value only
//! when it is set.

use std::path::Path;
use std::process::Command;

use tnet_tests::{bin, run_bounded, write_file, Host, Output, COMMAND_LIMIT};

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Asserts that `out` failed and that its error carries `hint`.
fn fails_with(out: &Output, hint: &str) {
    assert!(!out.success, "must fail: {out:?}");
    assert!(
        out.stderr.contains(hint),
        "expected `{hint}` in the error: {out:?}"
    );
}

#[test]
fn a_misspelt_name_gets_the_nearest_one() {
    let host = Host::start("newcomer");
    let dir = tempfile::tempdir().expect("task dir");
    for (name, toml) in [
        (
            "hello",
            "task_name = \"hello\"\ntask_type = \"daemon\"\ncommands = ['while true; do echo hi; sleep 1; done']\n",
        ),
        (
            "upper",
            "task_name = \"upper\"\ntask_type = \"service\"\ncommands = [\"tr a-z A-Z\"]\n",
        ),
        (
            "price",
            "task_name = \"price\"\ntask_type = \"habit\"\ncommands = [\"echo 42\"]\n\
             [habit_details]\ntime_between_runs = \"1h\"\n",
        ),
    ] {
        let file = write_file(dir.path(), &format!("{name}.toml"), toml, 0o644);
        host.tnet(&["run", path_str(&file)]).ok();
    }
    host.wait_state("upper", "ready");

    // A task, found by asking every host (the command line's error)...
    fails_with(&host.tnet(&["logs", "helo"]), "did you mean `hello`?");
    fails_with(&host.tnet(&["status", "hellp"]), "did you mean `hello`?");
    // ... and named with its host (the host's own error).
    fails_with(
        &host.tnet(&["stop", "newcomer/helo"]),
        "did you mean `hello`?",
    );
    // A host.
    fails_with(
        &host.tnet(&["logs", "newcomr/hello"]),
        "did you mean `newcomer`?",
    );
    fails_with(
        &host.tnet(&[
            "run",
            "--host",
            "newcommer",
            path_str(&dir.path().join("hello.toml")),
        ]),
        "did you mean `newcomer`?",
    );
    // A service.
    fails_with(
        &host.tnet_input(&["call", "uper", "--input", "-"], b"hi"),
        "did you mean `upper`?",
    );
    // A habit.
    let out = host.tnet(&["sub", "prise", "--last", "1"]);
    fails_with(&out, "did you mean `price`?");
    // Nothing close: no guess.
    let out = host.tnet(&["logs", "zzzz"]);
    assert!(!out.success, "{out:?}");
    assert!(!out.stderr.contains("did you mean"), "{out:?}");
    assert!(out.stderr.contains("`tnet ls` lists the tasks"), "{out:?}");
}

#[test]
fn an_empty_listing_says_so_and_how_many_hosts_answered() {
    let one = Host::start("empty1");
    let two = Host::start("empty2");
    let tnet = |args: &[&str]| {
        tnet_tests::tnet(&[&one.endpoint(), &two.endpoint()], args)
            .ok()
            .stdout
    };
    let answered = "on the 2 host(s) that answered";
    for (args, what) in [
        (&["ls"][..], "no tasks"),
        (&["inbox"][..], "the inbox is empty"),
        (&["inbox", "--deliveries"][..], "no deliveries"),
        (&["services"][..], "no services"),
    ] {
        let out = tnet(args);
        assert!(
            out.contains(what) && out.contains(answered),
            "`tnet {}` printed: {out:?}",
            args.join(" ")
        );
    }
    // Scripts get an empty list, not a sentence.
    assert_eq!(tnet(&["ls", "--json"]).trim(), "[]");
    assert_eq!(tnet(&["inbox", "--json"]).trim(), "[]");
}

/// `--help` of `bin` with `TNET_CONNECT` set to `value`, or unset.
fn help(bin_name: &str, value: Option<&str>) -> String {
    let mut cmd = Command::new(bin(bin_name));
    cmd.arg("--help").env_remove("TNET_CONNECT");
    if let Some(value) = value {
        cmd.env("TNET_CONNECT", value);
    }
    run_bounded(cmd, b"", COMMAND_LIMIT).ok().stdout
}

#[test]
fn help_shows_an_environment_variable_s_value_only_when_it_is_set() {
    for bin_name in ["tnet", "tnet-host"] {
        let unset = help(bin_name, None);
        assert!(unset.contains("[env: TNET_CONNECT]"), "{bin_name}: {unset}");
        assert!(!unset.contains("TNET_CONNECT="), "{bin_name}: {unset}");
        let set = help(bin_name, Some("tcp/192.0.2.7:7449"));
        assert!(
            set.contains("[env: TNET_CONNECT=tcp/192.0.2.7:7449]"),
            "{bin_name}: {set}"
        );
    }
}

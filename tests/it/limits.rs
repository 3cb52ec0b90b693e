//! Hostile input has limits (`[limits]` in host.toml, docs/security.md): a
//! task file, files and a task too large, too many files, a service input
//! too large, a fifo and a device, too many uploads and too many shells.
//! Each gets an error that names the limit, its value and its key; nothing
//! is left on the host (no task, no staging, no partial upload, no blob
//! from a refused plan); and the host goes on serving.

use std::path::Path;
use std::time::Duration;

use tnet_proto::keys;
use tnet_proto::msg::{
    self, BlobChunk, FileEntry, MissingBlobsRequest, Request, RequestEnvelope, Response,
    ResponseEnvelope, SubmitRequest, VerifyBlobRequest,
};
use tnet_tests::{tnet, wait_until, write_file, Host, Output};
use zenoh::Wait;

const WAIT: Duration = Duration::from_secs(20);

const LIMITS: &str = "[limits]\nmax_task_file = \"1 KiB\"\nmax_files = 3\nmax_file_size = \"64 KiB\"\nmax_task_size = \"100 KiB\"\nmax_service_input = \"1 KiB\"\nmax_uploads = 4\nmax_shells = 1\nupload_idle = \"2s\"\n";

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Writes `task.toml` for a daemon called `name` with `files` (name, size)
/// in a folder of its own, and runs `tnet run` on it.
fn run_task(host: &Host, name: &str, files: &[(&str, usize)], padding: usize) -> Output {
    let dir = tempfile::tempdir().expect("task dir");
    for (file, size) in files {
        std::fs::write(dir.path().join(file), vec![b'x'; *size]).expect("write a file");
    }
    let listed: Vec<String> = files.iter().map(|(f, _)| format!("\"{f}\"")).collect();
    let toml = format!(
        "task_name = \"{name}\"\ntask_type = \"daemon\"\nnecessary_files = [{}]\n# {}\n",
        listed.join(", "),
        "-".repeat(padding)
    );
    let task = write_file(dir.path(), "task.toml", &toml, 0o644);
    host.tnet(&["run", path_str(&task)])
}

/// Asserts that `out` failed with a message that names `key` and `value`,
/// and says where to change it.
fn assert_refused(out: &Output, key: &str, value: &str) {
    assert!(!out.success, "accepted: {out:?}");
    assert!(
        out.stderr.contains(&format!("[limits] {key} = "))
            && out.stderr.contains(value)
            && out.stderr.contains("host.toml"),
        "the message does not say which limit ({key}, {value}) or how to change it: {out:?}"
    );
}

/// Names of the entries of `dir` (none when it does not exist).
fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Nothing is half-written: no task `name`, no workspace, nothing staged,
/// no partial upload; and the host still answers.
fn assert_nothing_left(host: &Host, name: &str) {
    assert!(
        !host.tasks().iter().any(|t| t["name"] == name),
        "task `{name}` exists"
    );
    assert!(
        !host.home.join(name).exists(),
        "a workspace of `{name}` exists"
    );
    let records = host.home.join(".tnet");
    assert_eq!(entries(&records.join("staging")), Vec::<String>::new());
    // Verified uploads wait there for the disk a moment (the host writes
    // them once uploads pause); nothing else stays.
    wait_until(
        Duration::from_secs(10),
        "the partial uploads folder is empty",
        || entries(&records.join("partial")).is_empty().then_some(()),
    );
    host.tnet(&["hosts"]).ok();
}

/// File bytes the host received since it started.
fn bytes_received(host: &Host) -> u64 {
    host.tnet(&["hosts", "--json"]).ok().json()[0]["bytes_received"]
        .as_u64()
        .expect("bytes_received")
}

#[test]
fn tasks_over_a_limit_are_refused_before_anything_is_sent() {
    let host = Host::start_with_config("limtask", LIMITS);

    let out = run_task(&host, "long", &[], 2000);
    assert_refused(&out, "max_task_file", "1 KiB");
    assert_nothing_left(&host, "long");

    let out = run_task(&host, "many", &[("a", 1), ("b", 2), ("c", 3), ("d", 4)], 0);
    assert_refused(&out, "max_files", "3 files per task");
    assert_nothing_left(&host, "many");

    let out = run_task(&host, "fat", &[("big.bin", 65 * 1024)], 0);
    assert_refused(&out, "max_file_size", "64 KiB");
    assert!(out.stderr.contains("`big.bin` is 65 KiB"), "{out:?}");
    assert_nothing_left(&host, "fat");

    let out = run_task(
        &host,
        "heavy",
        &[("a.bin", 60 * 1024), ("b.bin", 60 * 1024)],
        0,
    );
    assert_refused(&out, "max_task_size", "100 KiB");
    assert!(out.stderr.contains("add up to 120 KiB"), "{out:?}");
    assert_nothing_left(&host, "heavy");

    // Refused on the plan: not one byte of any of those files was sent.
    assert_eq!(bytes_received(&host), 0);

    // Within every limit, the same host takes a task.
    let out = run_task(
        &host,
        "fits",
        &[("a.bin", 60 * 1024), ("b.bin", 30 * 1024)],
        0,
    );
    assert!(out.success, "{out:?}");
    host.wait_state("fits", "waiting");
}

#[test]
fn fifos_and_devices_are_refused_on_the_client() {
    let host = Host::start_with_config("limspecial", LIMITS);
    let dir = tempfile::tempdir().expect("task dir");
    nix::unistd::mkfifo(&dir.path().join("pipe"), nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    for (name, entry, what) in [
        ("piped", "pipe", "is a fifo"),
        ("nulled", "/dev/null", "is a character device"),
    ] {
        let toml = format!(
            "task_name = \"{name}\"\ntask_type = \"daemon\"\nnecessary_files = [\"{entry}\"]\n"
        );
        let task = write_file(dir.path(), &format!("{name}.toml"), &toml, 0o644);
        let out = host.tnet(&["run", path_str(&task)]);
        assert!(!out.success, "{out:?}");
        assert!(
            out.stderr.contains(what) && out.stderr.contains("only regular files"),
            "{out:?}"
        );
        assert_nothing_left(&host, name);
    }
    assert_eq!(bytes_received(&host), 0);
}

/// A plain Zenoh session to a host, as a client that does not use `tnet`
/// (and so skips every check `tnet` makes) would open.
fn raw_session(host: &Host) -> zenoh::Session {
    let config = tnet_tests::zenoh_client_config(&host.endpoint());
    zenoh::open(config).wait().expect("a Zenoh session")
}

/// One query on `key`; the reply's bytes.
fn ask_raw(
    session: &zenoh::Session,
    key: &str,
    payload: Vec<u8>,
    attachment: Option<Vec<u8>>,
) -> Vec<u8> {
    let mut get = session.get(key).payload(payload).timeout(WAIT);
    if let Some(a) = attachment {
        get = get.attachment(a);
    }
    let replies = get.wait().expect("a query");
    let reply = replies.recv().expect("a reply");
    match reply.result() {
        Ok(sample) => sample.payload().to_bytes().into_owned(),
        Err(err) => err.payload().to_bytes().into_owned(),
    }
}

fn ask_control(session: &zenoh::Session, host: &Host, request: Request) -> Response {
    // What changes the host goes to its admin key, as `tnet` sends it.
    let key = if request.needs_admin() {
        keys::host_admin(&host.name)
    } else {
        keys::host_control(&host.name)
    };
    let bytes = ask_raw(
        session,
        &key,
        msg::encode(&RequestEnvelope::new(request)),
        None,
    );
    msg::decode::<ResponseEnvelope>(&bytes)
        .expect("a response")
        .response
}

/// Sends `data` as one chunk of an upload that claims `size` bytes.
fn send_chunk(
    session: &zenoh::Session,
    host: &Host,
    hash: &str,
    size: u64,
    data: &[u8],
) -> Vec<u8> {
    let meta = BlobChunk {
        hash: hash.to_owned(),
        offset: 0,
        size,
    };
    ask_raw(
        session,
        &keys::host_blob(&host.name),
        data.to_vec(),
        Some(msg::encode(&meta)),
    )
}

/// The files of a task as its host recorded them.
fn files_of(host: &Host, task: &str) -> Vec<FileEntry> {
    serde_json::from_value(host.status(task)["files"].clone()).expect("file entries")
}

#[test]
fn the_host_enforces_its_limits_on_a_client_that_skips_them() {
    let host = Host::start_with_config("limraw", LIMITS);
    // Two tasks that fit put three blobs on the host: 60, 30 and 60 KiB.
    assert!(
        run_task(
            &host,
            "one",
            &[("a.bin", 60 * 1024), ("b.bin", 30 * 1024)],
            0
        )
        .success
    );
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("c.bin"), vec![b'y'; 60 * 1024]).expect("write");
    let task = write_file(
        dir.path(),
        "two.toml",
        "task_name = \"two\"\ntask_type = \"daemon\"\nnecessary_files = [\"c.bin\"]\n",
        0o644,
    );
    host.tnet(&["run", path_str(&task)]).ok();
    let mut files = files_of(&host, "one");
    files.extend(files_of(&host, "two"));
    files.retain(|f| f.path != "b.bin");
    assert_eq!(files.len(), 2);

    let session = raw_session(&host);
    // A plan that lies about sizes passes, but the submission is checked on
    // the blobs the host holds: 120 KiB, over the 100 KiB a task may have.
    let lying: Vec<FileEntry> = files
        .iter()
        .map(|f| FileEntry {
            size: 1,
            ..f.clone()
        })
        .collect();
    let submit = Request::Submit(SubmitRequest {
        file_name: "liar.toml".into(),
        task_toml: "task_name = \"liar\"\ntask_type = \"daemon\"\n".into(),
        files: lying,
        progress: None,
    });
    match ask_control(&session, &host, submit) {
        Response::Error(err) => {
            assert_eq!(err.kind, msg::ErrorKind::LimitExceeded, "{err:?}");
            assert!(err.message.contains("[limits] max_task_size"), "{err:?}");
        }
        other => panic!("accepted: {other:?}"),
    }
    assert_nothing_left(&host, "liar");

    // A file over max_file_size is refused at its first chunk: nothing is written.
    let reply = send_chunk(&session, &host, &"cd".repeat(32), 65 * 1024, b"abcd");
    let Ok(Response::Error(err)) = msg::decode::<Response>(&reply) else {
        panic!("a chunk of a file too large was taken");
    };
    assert!(err.message.contains("[limits] max_file_size"), "{err:?}");
    assert_nothing_left(&host, "liar");

    // A task file over the limit, and more files than allowed, sent without a plan.
    let too_long = Request::Submit(SubmitRequest {
        file_name: "long.toml".into(),
        task_toml: format!(
            "task_name = \"long\"\ntask_type = \"daemon\"\n# {}\n",
            "-".repeat(2000)
        ),
        files: vec![],
        progress: None,
    });
    let Response::Error(err) = ask_control(&session, &host, too_long) else {
        panic!("a long task file was taken");
    };
    assert!(err.message.contains("[limits] max_task_file"), "{err:?}");
    let hashes = (0..4).map(|i| format!("{i:0>64}")).collect();
    let ask = Request::MissingBlobs(MissingBlobsRequest { hashes, plan: None });
    let Response::Error(err) = ask_control(&session, &host, ask) else {
        panic!("more hashes than files a task may have were taken");
    };
    assert!(err.message.contains("[limits] max_files"), "{err:?}");
    assert_nothing_left(&host, "long");

    // A verification of an upload that never came leaves nothing either.
    let verify = Request::VerifyBlob(VerifyBlobRequest {
        hash: "ef".repeat(32),
        size: 10,
    });
    assert!(matches!(
        ask_control(&session, &host, verify),
        Response::Error(_)
    ));
    assert_nothing_left(&host, "liar");
}

#[test]
fn uploads_over_the_limit_are_refused_until_one_is_abandoned() {
    // Long enough for a `tnet run` to start and be refused, short for a test.
    let limits = LIMITS
        .replace("upload_idle = \"2s\"", "upload_idle = \"6s\"")
        .replace("max_uploads = 4", "max_uploads = 1");
    let host = Host::start_with_config("limupload", &limits);
    let session = raw_session(&host);
    // An upload that starts and never ends holds the host's only place.
    let abandoned = "ab".repeat(32);
    let chunk = || {
        let reply = send_chunk(&session, &host, &abandoned, 32 * 1024, &[7u8; 1024]);
        assert!(
            !matches!(msg::decode::<Response>(&reply), Ok(Response::Error(_))),
            "a chunk of the first upload was refused"
        );
    };
    chunk();
    let partial = host.home.join(".tnet/partial").join(&abandoned);
    assert!(
        partial.exists(),
        "the partial upload is kept while it may go on"
    );

    chunk(); // still going
    let out = run_task(&host, "blocked", &[("a.bin", 1024)], 0);
    assert_refused(&out, "max_uploads", "1 uploads at once");
    assert!(!host.tasks().iter().any(|t| t["name"] == "blocked"));

    // After `upload_idle` (6 s) without a chunk, the abandoned upload goes
    // with its partial file, and the next upload takes the place.
    let out = wait_until(WAIT, "an upload is taken again", || {
        let out = run_task(&host, "after", &[("a.bin", 1024)], 0);
        out.success.then_some(out)
    });
    assert!(out.stderr.contains("1 sent"), "{out:?}");
    assert!(
        !partial.exists(),
        "the abandoned upload's partial file is still there"
    );
    assert_nothing_left(&host, "blocked");
}

#[test]
fn a_service_input_over_the_limit_is_refused() {
    let host = Host::start_with_config("limcall", LIMITS);
    let dir = tempfile::tempdir().expect("dir");
    let task = write_file(
        dir.path(),
        "echo.toml",
        "task_name = \"echo\"\ntask_type = \"service\"\ncommands = [\"cat\"]\n",
        0o644,
    );
    host.tnet(&["run", path_str(&task)]).ok();
    host.wait_state("echo", "ready");

    let out = host.tnet_input(&["call", "echo", "--input", "-"], &[b'z'; 2048]);
    assert_refused(&out, "max_service_input", "1 KiB for a service input");
    assert!(out.stderr.contains("2 KiB"), "{out:?}");
    // Refused before anything was written for it: the call folders are
    // only the spares the service makes ahead of calls, with an empty input.
    let calls = host.home.join(".tnet/calls");
    for folder in entries(&calls) {
        let folder = calls.join(folder);
        // (One being made may not have its input yet.)
        let inside = entries(&folder);
        assert!(inside.is_empty() || inside == ["input"], "{inside:?}");
        let len = std::fs::metadata(folder.join("input")).map_or(0, |m| m.len());
        assert_eq!(len, 0, "{}", folder.display());
    }

    let out = host
        .tnet_input(&["call", "echo", "--input", "-"], b"small")
        .ok();
    assert_eq!(out.stdout, "small");
    assert_eq!(host.state("echo").as_deref(), Some("ready"));
}

#[test]
fn shells_over_the_limit_are_refused_until_one_ends() {
    let host = Host::start_with_config("limshell", LIMITS);
    let dir = tempfile::tempdir().expect("dir");
    let task = write_file(
        dir.path(),
        "box.toml",
        "task_name = \"box\"\ntask_type = \"daemon\"\n",
        0o644,
    );
    host.tnet(&["run", path_str(&task)]).ok();
    host.wait_state("box", "waiting");
    let ws = host.home.join("box");

    let first = host.tnet_streaming(&[
        "shell",
        "box",
        "--",
        "sh",
        "-c",
        "touch in-shell; exec sleep 600",
    ]);
    wait_until(WAIT, "the first shell runs", || {
        ws.join("in-shell").exists().then_some(())
    });

    let out = host.tnet(&["shell", "box", "--", "true"]);
    assert_refused(&out, "max_shells", "1 shells at once");
    assert_eq!(host.state("box").as_deref(), Some("waiting"));

    // The first client goes; the host hangs up its shell and frees its place.
    drop(first);
    wait_until(WAIT, "a shell opens again", || {
        host.tnet(&["shell", "box", "--", "true"])
            .success
            .then_some(())
    });
    // And other commands were served all along.
    tnet(&[&host.endpoint()], &["ls"]).ok();
}

//! Pulls from a real registry: Debian's `docker-registry` (the reference
//! implementation) on a loopback port of the test's own, its storage in a
//! temporary folder. Each test pushes an image of its own (a busybox root
//! filesystem with a file of random bytes, so no layer of it is on the
//! engine already), removes it locally, and submits a task that names it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tnet_tests::{free_port, wait_until, Host};

use super::{busybox_rootfs, docker, import, p, require_engine, Containers, MARKER};

const WAIT: Duration = Duration::from_secs(60);

/// A `docker-registry serve` of the test's own; killed when dropped.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let bin = Path::new("/usr/bin/docker-registry");
        tnet_tests::require(
            bin.exists(),
            "a registry, /usr/bin/docker-registry (Debian's docker-registry, scripts/test-deps.sh)",
        );
        let dir = tempfile::tempdir().expect("dir");
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: tnet-test\n",
                dir.path().join("storage").display()
            ),
        )
        .expect("config");
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry starts");
        wait_until(WAIT, "the registry listens", || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Registry {
            child,
            port,
            _dir: dir,
        }
    }

    /// Makes an image no engine layer holds (`bytes` of random data beside
    /// busybox), pushes it as `127.0.0.1:PORT/NAME`, and removes it locally.
    fn push_unique(&self, name: &str, bytes: usize) -> String {
        let root = tempfile::tempdir().expect("rootfs");
        busybox_rootfs(root.path());
        let mut noise = vec![0u8; bytes];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut noise))
            .expect("random bytes");
        std::fs::write(root.path().join("noise"), noise).expect("noise");
        let reference = format!("127.0.0.1:{}/{name}", self.port);
        import(root.path(), &reference);
        let pushed = docker(&["push", &reference]);
        let _ = docker(&["image", "rm", &reference]);
        assert!(pushed.is_some(), "docker push {reference} failed");
        reference
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes an image from the engine when dropped (pulled by a test).
struct PulledImage(String);

impl Drop for PulledImage {
    fn drop(&mut self) {
        let _ = docker(&["image", "rm", "-f", &self.0]);
    }
}

fn service_file(dir: &Path, name: &str, image: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "task_name = \"{name}\"\ntask_type = \"service\"\nrun_in_docker = true\n\
             commands = [\"cat /tnet-image-marker; wc -c < /noise\"]\n\n\
             [docker_settings]\ndocker_img_id = \"{image}\"\n"
        ),
    )
    .expect("task file");
    path
}

#[test]
fn docker_pull_from_a_registry_shows_its_progress_to_the_submitter() {
    require_engine();
    let registry = Registry::start();
    let image = registry.push_unique("tnet-test/pulled:1", 6 << 20);
    let _pulled = PulledImage(image.clone());
    assert!(docker(&["image", "inspect", &image]).is_none());
    let host = Host::start("dk-pull");
    let _containers = Containers::of("dk-pull");
    let dir = tempfile::tempdir().expect("dir");
    let file = service_file(dir.path(), "pulled", &image);

    let out = host.tnet(&["run", p(&file)]);
    // What the user sees, as it came (the test's output shows it when run with --nocapture).
    eprintln!("`tnet run` printed on stderr:\n{}", out.stderr);
    assert!(out.success, "{out:?}\nhost log:\n{}", host.log());
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines.iter().any(|l| *l == format!("pulling {image}")),
        "{lines:#?}"
    );
    let layer_line = |status: &str| {
        lines
            .iter()
            .position(|l| {
                l.split_once(": ")
                    .is_some_and(|(_, s)| s.starts_with(status))
            })
            .unwrap_or_else(|| panic!("no `{status}` line: {lines:#?}"))
    };
    let first = layer_line("Pulling fs layer");
    let downloading = layer_line("Downloading");
    let complete = layer_line("Pull complete");
    assert!(first < downloading && downloading < complete, "{lines:#?}");
    assert!(
        lines[downloading].ends_with(" bytes") && lines[downloading].contains('/'),
        "byte counts: {}",
        lines[downloading]
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Status: Downloaded newer image")),
        "{lines:#?}"
    );
    // Then the task runs in the pulled image.
    host.wait_state("pulled", "ready");
    let call = host.tnet(&["call", "pulled"]).ok();
    assert_eq!(call.stdout, format!("{MARKER}\n{}\n", 6 << 20), "{call:?}");

    // A second task on the same image pulls nothing.
    let again = service_file(dir.path(), "again", &image);
    let out = host.tnet(&["run", p(&again)]).ok();
    assert!(!out.stderr.contains("pulling"), "{out:?}");
}

/// A TCP relay that sends the registry's answers slowly, and can vanish
/// (every connection cut, nothing listening): the registry gone mid-pull.
struct SlowLink {
    port: u16,
    gone: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl SlowLink {
    fn to(target: u16, bytes_per_second: usize) -> SlowLink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let gone = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (g, o) = (gone.clone(), open.clone());
        std::thread::spawn(move || {
            // Dropping the listener when gone: connections are then refused.
            while !g.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let _ = client.set_nonblocking(false);
                let mut all = o.lock().unwrap_or_else(|p| p.into_inner());
                for s in [&client, &server] {
                    if let Ok(c) = s.try_clone() {
                        all.push(c);
                    }
                }
                drop(all);
                let (c2, s2) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                std::thread::spawn(move || relay(client, server, usize::MAX));
                std::thread::spawn(move || relay(s2, c2, bytes_per_second));
            }
        });
        SlowLink { port, gone, open }
    }

    fn vanish(&self) {
        self.gone.store(true, Ordering::SeqCst);
        for s in self
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        self.vanish();
    }
}

/// Copies `from` to `to` at about `rate` bytes a second.
fn relay(mut from: TcpStream, mut to: TcpStream, rate: usize) {
    let mut buf = vec![0u8; 16 * 1024];
    let started = Instant::now();
    let mut sent = 0usize;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        sent += n;
        if rate != usize::MAX {
            let due = Duration::from_secs_f64(sent as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[test]
fn docker_registry_gone_mid_pull_is_a_clear_error_at_submit_and_no_task() {
    require_engine();
    let registry = Registry::start();
    let pushed = registry.push_unique("tnet-test/vanishing:1", 16 << 20);
    // The same repository through the slow link, which then vanishes.
    let link = SlowLink::to(registry.port, 2 << 20);
    let image = pushed.replace(
        &format!("127.0.0.1:{}/", registry.port),
        &format!("127.0.0.1:{}/", link.port),
    );
    let _pulled = PulledImage(image.clone());
    let host = Host::start_with_config("dk-vanish", "[docker]\npull_stall_timeout = \"2s\"\n");
    let containers = Containers::of("dk-vanish");
    let dir = tempfile::tempdir().expect("dir");
    let file = service_file(dir.path(), "vanishing", &image);

    let run = host.tnet_streaming(&["run", p(&file)]);
    // Live: bytes are arriving while `tnet run` still waits for its answer.
    wait_until(WAIT, "the pull's bytes shown by `tnet run`", || {
        let seen = run.stderr();
        seen.lines()
            .any(|l| l.contains(": Downloading ") && l.ends_with(" bytes"))
            .then_some(())
    });
    link.vanish();
    drop(registry);
    // `tnet: ...` starts the error line of tnet.
    let stderr = wait_until(WAIT, "`tnet run` to fail", || {
        let seen = run.stderr();
        seen.lines()
            .any(|l| l.starts_with("tnet: "))
            .then_some(seen)
    });
    eprintln!("`tnet run` printed on stderr:\n{stderr}");
    assert!(!run.wait(WAIT).success(), "{stderr}");
    assert!(
        stderr.contains(&format!("the pull of `{image}` stopped"))
            && stderr.contains("registry stopped answering")
            && stderr.contains("nothing was kept"),
        "{stderr}"
    );
    // No half task: nothing recorded, no workspace, no container, no image.
    assert!(host.tasks().is_empty(), "{:?}", host.tasks());
    assert!(!host.home.join("vanishing").exists(), "no workspace left");
    assert!(containers.ids(None).is_empty());
    assert!(docker(&["image", "inspect", &image]).is_none());
}

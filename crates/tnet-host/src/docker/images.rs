//! The image a docker task runs: its reference resolved, present or pulled,
//! and, when the task lists packages, a derived image built once.
//!
//! A derived image is named `tnet-derived:<hash>`, the hash covering the base
//! image's id, the package lists in order, and the content of every package
//! given as a file of the workspace (`./tool.deb`, `./pkg.whl`). Two tasks
//! with the same base and packages share one image; a second task finds it
//! with `inspect_image` and builds nothing.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use bollard::models::{ContainerConfig, ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CommitContainerOptionsBuilder, CreateImageOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures::StreamExt;
use tnet_proto::task::DockerSettings;

use super::{engine, not_found, DockerError, Engine};

/// Repository of derived images.
pub const DERIVED_REPO: &str = "tnet-derived";

/// Where pull progress goes (the host log always; a caller may add its own).
pub type Progress<'a> = Option<&'a (dyn Fn(&tnet_proto::msg::Progress) + Send + Sync)>;

/// The `PATH` Docker gives a container whose image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `PATH=...` for a container of `image` when the image sets no `PATH` (one
/// made by `docker import` without `--change`): set on the container itself,
/// so its commands are found by name whatever the engine adds by itself.
pub async fn missing_path(engine_: &Engine, image: &str) -> Option<String> {
    let found = engine_.docker.inspect_image(image).await.ok()?;
    let env = found.config.and_then(|c| c.env).unwrap_or_default();
    (!env.iter().any(|e| e.starts_with("PATH="))).then(|| format!("PATH={DEFAULT_PATH}"))
}

/// A reference with an explicit tag: a name without one gets `:latest`
/// (a pull without a tag would fetch every tag).
pub fn with_tag(reference: &str) -> String {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    if reference.contains('@') || last.contains(':') {
        reference.to_owned()
    } else {
        format!("{reference}:latest")
    }
}

/// The image to run for `settings`, ready on the engine: the base (pulled if
/// missing), or the derived image with the packages (built if missing).
pub async fn prepare(
    engine_: &Engine,
    settings: &DockerSettings,
    workspace: &Path,
    progress: Progress<'_>,
) -> Result<String, DockerError> {
    let base = with_tag(&settings.image_reference());
    let base_id = match engine_.docker.inspect_image(&base).await {
        Ok(found) => found.id.unwrap_or_default(),
        Err(err) if not_found(&err) => {
            pull(engine_, &base, progress).await?;
            engine_
                .docker
                .inspect_image(&base)
                .await
                .map_err(engine(format!("inspect image {base}")))?
                .id
                .unwrap_or_default()
        }
        Err(err) => return Err(engine(format!("inspect image {base}"))(err)),
    };
    if settings.apt_packages.is_empty() && settings.pip_packages.is_empty() {
        return Ok(base);
    }
    let derived = format!(
        "{DERIVED_REPO}:{}",
        derived_hash(&base_id, settings, workspace)?
    );
    let _one_build = engine_.build_lock.lock().await;
    match engine_.docker.inspect_image(&derived).await {
        Ok(_) => return Ok(derived),
        Err(err) if not_found(&err) => {}
        Err(err) => return Err(engine(format!("inspect image {derived}"))(err)),
    }
    if let Some(f) = progress {
        f(&tnet_proto::msg::Progress::note(format!(
            "installing the task's packages into {derived} (from {base})"
        )));
    }
    build(engine_, &base, &derived, settings, workspace).await?;
    Ok(derived)
}

/// Pulls `reference`, reporting progress (each layer's new status at once,
/// its byte counts a few times a second); errors before or inside the
/// stream are both a failed pull, and a pull that moves nothing for the
/// engine's `pull_stall` is given up (dropping the stream cancels it).
async fn pull(
    engine_: &Engine,
    reference: &str,
    progress: Progress<'_>,
) -> Result<(), DockerError> {
    tracing::info!(image = %reference, "image not present; pulling it");
    let report = |p: &tnet_proto::msg::Progress| {
        tracing::info!(image = %reference, "pull: {}", p.line());
        if let Some(f) = progress {
            f(p);
        }
    };
    report(&tnet_proto::msg::Progress::note(format!(
        "pulling {reference}"
    )));
    let options = CreateImageOptionsBuilder::new()
        .from_image(reference)
        .build();
    let mut stream = engine_.docker.create_image(Some(options), None, None);
    let failed = |reason: String| DockerError::Pull {
        reference: reference.to_owned(),
        reason,
    };
    // Per layer: its last status and when its bytes were last reported.
    let mut layers: HashMap<String, (String, Instant)> = HashMap::new();
    let mut moved = Instant::now();
    let mut last_word = String::new();
    loop {
        let left = engine_.pull_stall.saturating_sub(moved.elapsed());
        let item = match tokio::time::timeout(left, stream.next()).await {
            Err(_) => {
                return Err(DockerError::PullStalled {
                    reference: reference.to_owned(),
                    stall: engine_.pull_stall,
                    last: last_word,
                })
            }
            Ok(None) => break,
            Ok(Some(item)) => item,
        };
        let info = item.map_err(|e| failed(e.to_string()))?;
        if let Some(message) = info.error_detail.and_then(|e| e.message) {
            return Err(failed(message));
        }
        let Some(status) = info.status else { continue };
        let detail = info.progress_detail.unwrap_or_default();
        let bytes = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok());
        let (current, total) = (bytes(detail.current), bytes(detail.total));
        let p = tnet_proto::msg::Progress {
            layer: info.id.clone(),
            status: status.clone(),
            current: current.filter(|_| total.is_some()),
            total,
        };
        // The engine counts down before it retries a layer it lost: that is
        // no progress, and a vanished registry only ever says that.
        if !status.starts_with("Retrying") {
            moved = Instant::now();
        }
        last_word = p.line();
        let Some(layer) = info.id else {
            report(&p);
            continue;
        };
        let now = Instant::now();
        let fresh = match layers.get(&layer) {
            Some((seen, at)) => {
                *seen != status || now.duration_since(*at) >= Duration::from_millis(250)
            }
            None => true,
        };
        if fresh {
            report(&p);
            layers.insert(layer, (status, now));
        }
    }
    Ok(())
}

fn derived_hash(
    base_id: &str,
    settings: &DockerSettings,
    workspace: &Path,
) -> Result<String, DockerError> {
    let mut hasher = blake3::Hasher::new();
    hasher.update(base_id.as_bytes());
    for (kind, list) in [
        ("apt", &settings.apt_packages),
        ("pip", &settings.pip_packages),
    ] {
        hasher.update(format!("\n{kind}:").as_bytes());
        for package in list {
            hasher.update(package.as_bytes());
            hasher.update(b"\0");
            if is_file_package(package) {
                let path = workspace.join(package);
                let bytes = std::fs::read(&path).map_err(|source| DockerError::Io {
                    path: path.clone(),
                    source,
                })?;
                hasher.update(blake3::hash(&bytes).as_bytes());
            }
        }
    }
    Ok(hasher.finalize().to_hex()[..16].to_owned())
}

/// A package given as a file of the task (`./x.deb`, `dir/y.whl`) rather than a name.
fn is_file_package(package: &str) -> bool {
    package.starts_with("./") || package.contains('/')
}

/// Whether every package is a file of the task: then the build needs no network.
fn offline(settings: &DockerSettings) -> bool {
    settings
        .apt_packages
        .iter()
        .chain(&settings.pip_packages)
        .all(|p| is_file_package(p))
}

/// The install script: apt packages, then pip packages (the seed's order;
/// setup commands run later, in the task's container).
fn install_script(settings: &DockerSettings) -> String {
    let quote = |p: &String| shell_escape::unix::escape(p.as_str().into()).into_owned();
    let mut script = String::from("set -e\nexport DEBIAN_FRONTEND=noninteractive\n");
    if !settings.apt_packages.is_empty() {
        // Package files install with no network; names need the index first.
        if settings.apt_packages.iter().any(|p| !is_file_package(p)) {
            script.push_str("apt-get update\n");
        }
        let list: Vec<String> = settings.apt_packages.iter().map(quote).collect();
        script.push_str(&format!(
            "apt-get install -y --no-install-recommends {}\nrm -rf /var/lib/apt/lists/*\n",
            list.join(" ")
        ));
    }
    if !settings.pip_packages.is_empty() {
        let list: Vec<String> = settings.pip_packages.iter().map(quote).collect();
        // Wheels given as files need no index (and the build has no network then).
        let no_index = if settings.pip_packages.iter().all(|p| is_file_package(p)) {
            "--no-index "
        } else {
            ""
        };
        script.push_str(&format!(
            "PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --no-cache-dir --disable-pip-version-check {no_index}{}\n",
            list.join(" ")
        ));
    }
    script
}

/// Builds `derived` from `base` by running the install script in a
/// throw-away container (the workspace mounted, for package files) and
/// committing it.
async fn build(
    engine_: &Engine,
    base: &str,
    derived: &str,
    settings: &DockerSettings,
    workspace: &Path,
) -> Result<(), DockerError> {
    let network = if offline(settings) { "none" } else { "default" };
    tracing::info!(base = %base, image = %derived, network = %network, "building a derived image with the task's packages");
    let dir = workspace.to_string_lossy().into_owned();
    let body = ContainerCreateBody {
        image: Some(base.to_owned()),
        env: missing_path(engine_, base).await.map(|p| vec![p]),
        cmd: Some(vec!["sh".into(), "-c".into(), install_script(settings)]),
        user: Some("0:0".into()),
        working_dir: Some(dir.clone()),
        labels: Some(HashMap::from([(
            "tnet.build".to_owned(),
            derived.to_owned(),
        )])),
        host_config: Some(HostConfig {
            mounts: Some(vec![Mount {
                target: Some(dir.clone()),
                source: Some(dir),
                typ: Some(MountType::BIND),
                read_only: Some(true),
                ..Default::default()
            }]),
            // Packages given as files install with no network at all.
            network_mode: offline(settings).then(|| "none".to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = engine_
        .docker
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            body,
        )
        .await
        .map_err(engine(format!("create a build container from {base}")))?;
    let id = created.id;
    let result = build_in(engine_, &id, base, derived).await;
    let options = RemoveContainerOptionsBuilder::new().force(true).build();
    let _ = engine_.docker.remove_container(&id, Some(options)).await;
    result
}

async fn build_in(
    engine_: &Engine,
    id: &str,
    base: &str,
    derived: &str,
) -> Result<(), DockerError> {
    engine_
        .docker
        .start_container(id, None)
        .await
        .map_err(engine("start a build container"))?;
    let mut wait = engine_
        .docker
        .wait_container(id, Some(WaitContainerOptionsBuilder::new().build()));
    let code = match wait.next().await {
        Some(Ok(r)) => r.status_code,
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
        Some(Err(err)) => return Err(engine("wait for a build container")(err)),
        None => -1,
    };
    if code != 0 {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail("20")
            .build();
        let mut logs = engine_.docker.logs(id, Some(options));
        let mut output = String::new();
        while let Some(Ok(chunk)) = logs.next().await {
            output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        return Err(DockerError::Build {
            base: base.to_owned(),
            code,
            output: output.trim().to_owned(),
        });
    }
    let (repo, tag) = derived.split_once(':').unwrap_or((derived, "latest"));
    let options = CommitContainerOptionsBuilder::new()
        .container(id)
        .repo(repo)
        .tag(tag)
        .build();
    // The install script must not stay the image's command.
    let config = ContainerConfig {
        cmd: Some(vec!["sh".into()]),
        labels: Some(HashMap::from([
            ("tnet.derived".to_owned(), "1".to_owned()),
            ("tnet.base".to_owned(), base.to_owned()),
        ])),
        ..Default::default()
    };
    engine_
        .docker
        .commit_container(options, config)
        .await
        .map_err(engine(format!("commit {derived}")))?;
    tracing::info!(image = %derived, "derived image built");
    Ok(())
}

/// Removes a derived image that no container uses any more (the engine
/// refuses while one does, which is the check).
pub async fn remove_if_unused(engine_: &Engine, image: &str) {
    let options = RemoveImageOptionsBuilder::new().build();
    match engine_
        .docker
        .remove_image(image, Some(options), None)
        .await
    {
        Ok(_) => tracing::info!(image = %image, "removed a derived image no task uses"),
        Err(err) => tracing::debug!(image = %image, "derived image kept: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_get_an_explicit_tag() {
        assert_eq!(with_tag("ubuntu:22.04"), "ubuntu:22.04");
        assert_eq!(with_tag("busybox"), "busybox:latest");
        assert_eq!(with_tag("localhost:5000/x"), "localhost:5000/x:latest");
        assert_eq!(with_tag("ghcr.io/o/i@sha256:ab"), "ghcr.io/o/i@sha256:ab");
    }

    #[test]
    fn apt_comes_before_pip_and_files_need_no_index() {
        let settings = DockerSettings {
            apt_packages: vec!["./hello.deb".into()],
            pip_packages: vec!["./w.whl".into()],
            ..Default::default()
        };
        let script = install_script(&settings);
        assert!(!script.contains("apt-get update"));
        let apt = script.find("apt-get install").expect("apt");
        let pip = script.find("pip install").expect("pip");
        assert!(apt < pip);
        assert!(script.contains("--no-index ./w.whl"), "{script}");
        assert!(offline(&settings));
        let named = DockerSettings {
            pip_packages: vec!["requests".into()],
            ..Default::default()
        };
        assert!(!install_script(&named).contains("--no-index"));
        assert!(!offline(&named));
    }
}

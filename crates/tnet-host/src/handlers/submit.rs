//! `tnet run`: create a task from its file and its uploaded files, and start it.
//!
//! Atomic by construction: the workspace is assembled in a staging folder and
//! renamed into place in one step, and only then is the task recorded. A
//! crash before the record leaves no task (at most an orphan folder, cleared
//! the next time that name is submitted); nothing is half-applied.

use std::path::Path;
use std::time::Duration;

use tnet_proto::keys;
use tnet_proto::msg::{self, ErrorKind, ErrorReply, Progress, Response, SubmitRequest};
use tnet_proto::task::parse_task;

use crate::host::Host;
use crate::store::{Desired, StoredTask};
use crate::supervisor::Initial;
use crate::workspace::{check_files, write_files};

/// Creates and starts a task.
pub async fn handle(host: &Host, req: SubmitRequest) -> Result<Response, ErrorReply> {
    check_limits(host, &req.file_name, &req.task_toml, &req.files)?;
    let spec = parse_task(&req.file_name, &req.task_toml)
        .map_err(|e| ErrorReply::new(ErrorKind::InvalidTask, e.to_string()))?;
    check_supported(host, &spec)?;
    // Held until the task is recorded: the cache's sweep cannot take a file
    // between its check here and the record that makes the task refer to it.
    let _pin = host
        .shared
        .blobs
        .pin(req.files.iter().map(|f| f.hash.as_str()));
    let rels = check_files(&req.files, &host.shared.blobs)?;
    let safe = spec.safe_name();
    // The name is checked and held under the change lock; the files and the
    // record follow outside it, so many submissions proceed at once.
    let _reservation = {
        let _guard = host.change_lock.lock().await;
        if let Some(existing) = host.find(&spec.name).or_else(|| host.find(&safe)) {
            let message = if existing.info.name == spec.name {
                format!(
                    "host `{}` already has a task named `{}`; change it with `tnet edit`, or remove it first with `tnet rm`",
                    host.shared.name, spec.name
                )
            } else {
                format!(
                    "task `{}` would share the folder `{safe}` with task `{}` on host `{}`; choose another name",
                    spec.name, existing.info.name, host.shared.name
                )
            };
            return Err(ErrorReply::new(ErrorKind::NameTaken, message));
        }
        host.reserve(&spec.name, &safe).ok_or_else(|| {
            ErrorReply::new(
                ErrorKind::NameTaken,
                format!(
                    "host `{}` is taking another submission of a task named `{}` (or sharing its folder `{safe}`) right now; see it with `tnet ls`, then remove it or choose another name",
                    host.shared.name, spec.name
                ),
            )
        })?
    };

    let shared = host.shared.clone();
    let files = req.files.clone();
    let staging = shared
        .paths
        .staging()
        .join(uuid::Uuid::new_v4().to_string());
    let workspace = shared.paths.workspace(&safe);
    let blobs_shared = shared.clone();
    tokio::task::spawn_blocking(move || {
        install(&staging, &workspace, &files, &rels, &blobs_shared.blobs)
    })
    .await
    .map_err(super::host_failure)??;
    let prepared = {
        let _image = host.image_lock.lock().await;
        prepare_image(host, &spec, req.progress.as_deref()).await
    };
    if let Err(err) = prepared {
        // No half task: the workspace goes, nothing was recorded.
        let _ = std::fs::remove_dir_all(shared.paths.workspace(&safe));
        return Err(err);
    }

    let stored = StoredTask {
        safe_name: safe.clone(),
        name: spec.name.clone(),
        file_name: req.file_name.clone(),
        task_toml: req.task_toml.clone(),
        files_json: serde_json::to_string(&req.files).map_err(super::host_failure)?,
        desired: Desired::Running,
        setup_done: false,
        restarts: 0,
    };
    if let Err(err) = shared.store.ledger().insert_task(stored.clone()).await {
        let _ = std::fs::remove_dir_all(shared.paths.workspace(&safe));
        return Err(super::host_failure(err));
    }
    let handle = host
        .launch(&stored, Initial::Start)
        .map_err(super::host_failure)?;
    tracing::info!(task = %spec.name, "task submitted with {} files", req.files.len());
    Ok(Response::Task(host.summary(&handle)))
}

/// Checks a task against the host's `[limits]` before anything else is done
/// with it (a task file over the limit is not even parsed). Sizes are those
/// of the files the host holds, never the client's word; a file the host
/// does not have counts as claimed, and `check_files` refuses it next.
pub(super) fn check_limits(
    host: &Host,
    file_name: &str,
    task_toml: &str,
    files: &[tnet_proto::msg::FileEntry],
) -> Result<(), ErrorReply> {
    let blobs = &host.shared.blobs;
    host.shared.guards.limits.check_task(
        file_name,
        task_toml.len() as u64,
        files
            .iter()
            .map(|f| (f.path.as_str(), blobs.size(&f.hash).unwrap_or(f.size))),
    )
}

/// Refuses a task this host cannot run: a docker task on a host without an engine.
pub(super) fn check_supported(
    host: &Host,
    spec: &tnet_proto::task::TaskSpec,
) -> Result<(), ErrorReply> {
    if spec.run_in_docker {
        if let Err(why) = &host.shared.docker {
            return Err(ErrorReply::new(
                ErrorKind::Unsupported,
                format!(
                    "host `{}` has no Docker engine ({why}), so it cannot run `{}` with `run_in_docker = true`; install Docker on it, choose another host with --host, or set `run_in_docker = false`",
                    host.shared.name, spec.name
                ),
            ));
        }
    }
    Ok(())
}

/// How often a host preparing an image says it is still at it, so the
/// submitting client can tell a long pull or build from a host that went away.
pub const PREPARE_HEARTBEAT: Duration = Duration::from_secs(2);

/// The longest a submission's progress waits for its client's subscriber
/// to be known before reporting anyway (a client gone meanwhile, one that
/// asked without subscribing).
const PROGRESS_SUBSCRIBER_WAIT: Duration = Duration::from_secs(2);

/// Makes a docker task's image ready before the task is recorded: present,
/// pulled, or derived with its packages. Progress goes to the host's log and,
/// when the client gave a progress id, to [`keys::progress`] for it to show
/// (with a sign of life every [`PREPARE_HEARTBEAT`]). A failure is the
/// submitter's error, with nothing left behind.
pub(super) async fn prepare_image(
    host: &Host,
    spec: &tnet_proto::task::TaskSpec,
    progress: Option<&str>,
) -> Result<(), ErrorReply> {
    let (true, Ok(engine)) = (spec.run_in_docker, &host.shared.docker) else {
        return Ok(());
    };
    let workspace = host.shared.paths.workspace(&spec.safe_name());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
    // Published in order by one task, off the pull's own loop.
    let publisher = progress.map(|id| {
        // On the session whose queryable takes the request: the progress
        // crosses the client's link ahead of the answer.
        let session = host.shared.front_session();
        let key = keys::progress(&host.shared.name, id);
        tokio::spawn(async move {
            // A put before the client's subscriber is known here is lost (the
            // first line, `pulling ...`, was, once): the reports wait for it,
            // briefly (`subscribers`).
            let Ok(publisher) = session.declare_publisher(key).await else {
                while rx.recv().await.is_some() {}
                return;
            };
            let deadline = tokio::time::Instant::now() + PROGRESS_SUBSCRIBER_WAIT;
            crate::subscribers::known(&publisher, deadline).await;
            while let Some(p) = rx.recv().await {
                let _ = publisher.put(msg::encode(&p)).await;
            }
        })
    });
    let result = {
        let sink = tx.clone();
        let report = move |p: &Progress| {
            let _ = sink.send(p.clone());
        };
        let prepare =
            crate::docker::images::prepare(engine, &spec.docker, &workspace, Some(&report));
        tokio::pin!(prepare);
        let mut beat = tokio::time::interval(PREPARE_HEARTBEAT);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                done = &mut prepare => break done,
                _ = beat.tick() => { let _ = tx.send(Progress::alive()); }
            }
        }
    };
    drop(tx);
    if let Some(publisher) = publisher {
        // Every report is out before the answer.
        let _ = publisher.await;
    }
    result.map(drop).map_err(|e| {
        ErrorReply::new(
            ErrorKind::Unsupported,
            format!("cannot prepare the image of `{}`: {e}", spec.name),
        )
    })
}

/// Assembles the workspace in `staging` and moves it to `workspace`.
fn install(
    staging: &Path,
    workspace: &Path,
    files: &[tnet_proto::msg::FileEntry],
    rels: &[std::path::PathBuf],
    blobs: &crate::blobs::BlobStore,
) -> Result<(), ErrorReply> {
    let fail = |what: &str, e: std::io::Error| crate::disk::write_failure(what, &e);
    std::fs::create_dir_all(staging).map_err(|e| fail("create a workspace", e))?;
    let result = write_files(staging, files, rels, blobs).and_then(|()| {
        if workspace.exists() {
            // No task owns it (the name was free): the remains of a removal or
            // submission a crash interrupted.
            let orphan = staging.with_extension("orphan");
            std::fs::rename(workspace, &orphan).map_err(|e| fail("clear an old workspace", e))?;
            let _ = std::fs::remove_dir_all(&orphan);
        }
        std::fs::rename(staging, workspace).map_err(|e| fail("move the workspace into place", e))
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(staging);
    }
    result
}

//! `tnet edit`: replace a task's definition, keeping its workspace (the
//! seed's "edit-task message").
//!
//! Only files whose content or mode changed since the last submission are
//! written, so what a user changed by hand in the workspace stays. The old
//! actor is stopped and a new one starts on the new definition: a running
//! daemon restarts, a waiting one starts; a task a user stopped stays stopped.

use tnet_proto::msg::{EditRequest, ErrorKind, ErrorReply, FileEntry, Response};
use tnet_proto::task::parse_task;

use crate::host::Host;
use crate::store::Desired;
use crate::supervisor::Initial;
use crate::workspace::{check_files, write_files};

/// Applies an edit.
pub async fn handle(host: &Host, req: EditRequest) -> Result<Response, ErrorReply> {
    super::submit::check_limits(host, &req.file_name, &req.task_toml, &req.files)?;
    let spec = parse_task(&req.file_name, &req.task_toml)
        .map_err(|e| ErrorReply::new(ErrorKind::InvalidTask, e.to_string()))?;
    super::submit::check_supported(host, &spec)?;
    // As in `submit`: the files stay until the new definition is recorded.
    let _pin = host
        .shared
        .blobs
        .pin(req.files.iter().map(|f| f.hash.as_str()));
    check_files(&req.files, &host.shared.blobs)?;
    let _guard = host.change_lock.lock().await;
    let old = super::find_task(host, &req.name)?;
    if spec.name != old.info.name {
        return Err(ErrorReply::new(
            ErrorKind::BadRequest,
            format!(
                "an edit keeps the task's name `{}` (the new file says `{}`); to rename it, `tnet rm` it and `tnet run` the new file",
                old.info.name, spec.name
            ),
        ));
    }
    let safe = old.info.safe_name.clone();
    let previous = super::status::stored_files(host, &safe)?;
    let changed: Vec<FileEntry> = req
        .files
        .iter()
        .filter(|f| {
            !previous
                .iter()
                .any(|p| p.path == f.path && p.hash == f.hash && p.mode == f.mode)
        })
        .cloned()
        .collect();
    let rels = check_files(&changed, &host.shared.blobs)?;
    let shared = host.shared.clone();
    let workspace = shared.paths.workspace(&safe);
    let to_write = changed.clone();
    tokio::task::spawn_blocking(move || write_files(&workspace, &to_write, &rels, &shared.blobs))
        .await
        .map_err(super::host_failure)??;
    super::submit::prepare_image(host, &spec, req.progress.as_deref()).await?;

    let files_json = serde_json::to_string(&req.files).map_err(super::host_failure)?;
    let store = &host.shared.store;
    store
        .update_definition(
            &safe,
            &req.file_name,
            &req.task_toml,
            &files_json,
            req.rerun_setup,
        )
        .map_err(super::host_failure)?;
    // Files the task no longer uses get the cache's grace from now.
    host.shared
        .blobs
        .touch(previous.iter().map(|f| f.hash.as_str()));
    let stored = store
        .task(&safe)
        .map_err(super::host_failure)?
        .ok_or_else(|| {
            super::host_failure(format!("task `{}` vanished during the edit", spec.name))
        })?;
    old.shutdown().await;
    let initial = match stored.desired {
        Desired::Stopped => Initial::Idle(tnet_proto::msg::TaskState::Stopped),
        Desired::Running => Initial::Start,
    };
    let handle = host.launch(&stored, initial).map_err(super::host_failure)?;
    tracing::info!(task = %spec.name, changed = changed.len(), rerun_setup = req.rerun_setup, "task edited");
    Ok(Response::Task(host.summary(&handle)))
}

//! `tnet rm`: stop a task and delete it, its workspace, log and history.

use tnet_proto::msg::{ErrorReply, Response, TaskRef};

use crate::host::Host;

/// Removes a task.
pub async fn handle(host: &Host, req: TaskRef) -> Result<Response, ErrorReply> {
    let _guard = host.change_lock.lock().await;
    let task = super::find_task(host, &req.name)?;
    task.shutdown().await;
    task.info.runner.removed().await;
    // Its files stay in the upload cache for the grace from now, so a quick
    // `tnet run` of it again sends nothing.
    let files = super::status::stored_files(host, &task.info.safe_name)?;
    host.shared
        .blobs
        .touch(files.iter().map(|f| f.hash.as_str()));
    // The record goes first: a crash after it leaves at most an orphan folder,
    // which the next submission of that name clears; never a task without files.
    host.shared
        .store
        .remove_task(&task.info.safe_name)
        .map_err(super::host_failure)?;
    host.forget(&task.info.safe_name);
    host.shared
        .store
        .keep_runs()
        .set_task(&task.info.safe_name, None);
    task.info.log.delete();
    let workspace = host.shared.paths.workspace(&task.info.safe_name);
    tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&workspace))
        .await
        .map_err(super::host_failure)?
        .or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Ok(())
            } else {
                Err(e)
            }
        })
        .map_err(|e| {
            super::host_failure(format!(
                "the task is removed but its workspace could not be deleted: {e}"
            ))
        })?;
    Ok(Response::Removed {
        name: task.info.name.clone(),
    })
}

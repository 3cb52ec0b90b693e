//! `tnet stop`, `start`, `restart`: what a task should be doing, recorded so
//! it holds across host restarts.

use tnet_proto::msg::{ErrorReply, Response, TaskRef};

use crate::host::Host;
use crate::store::Desired;

/// Stops a task and waits until its processes are gone.
pub async fn stop(host: &Host, req: TaskRef) -> Result<Response, ErrorReply> {
    let task = super::find_task(host, &req.name)?;
    host.shared
        .store
        .set_desired(&task.info.safe_name, Desired::Stopped)
        .map_err(super::host_failure)?;
    task.stop().await;
    Ok(Response::Task(host.summary(&task)))
}

/// Starts a stopped or finished task.
pub async fn start(host: &Host, req: TaskRef) -> Result<Response, ErrorReply> {
    let task = super::find_task(host, &req.name)?;
    host.shared
        .store
        .set_desired(&task.info.safe_name, Desired::Running)
        .map_err(super::host_failure)?;
    task.start().await;
    Ok(Response::Task(host.summary(&task)))
}

/// Stops and starts a task.
pub async fn restart(host: &Host, req: TaskRef) -> Result<Response, ErrorReply> {
    let task = super::find_task(host, &req.name)?;
    host.shared
        .store
        .set_desired(&task.info.safe_name, Desired::Running)
        .map_err(super::host_failure)?;
    task.restart().await;
    Ok(Response::Task(host.summary(&task)))
}

//! One file per control request, dispatched from one `match`.

mod blobs;
mod control;
mod edit;
mod host_info;
mod inbox;
mod list;
mod logs;
mod remove;
mod roster;
mod services;
mod shell;
mod status;
mod submit;

pub use blobs::chunk;

use tnet_proto::msg::{
    ErrorKind, ErrorReply, Request, RequestEnvelope, Response, PROTOCOL_VERSION,
};
use tnet_proto::task::problems::did_you_mean_hint;

use crate::host::Host;
use crate::supervisor::SupervisorHandle;

/// Answers one control request.
pub async fn dispatch(host: &Host, envelope: RequestEnvelope) -> Response {
    if envelope.version != PROTOCOL_VERSION {
        return error(
            ErrorKind::BadRequest,
            format!(
                "this host speaks tnet protocol {PROTOCOL_VERSION} and the client speaks {}; use matching versions of tnet and tnet-host",
                envelope.version
            ),
        );
    }
    let result = match envelope.request {
        Request::MissingBlobs(r) => blobs::missing(host, r),
        Request::VerifyBlob(r) => blobs::verify(host, r).await,
        Request::Submit(r) => submit::handle(host, r).await,
        Request::Edit(r) => edit::handle(host, r).await,
        Request::List => list::handle(host),
        Request::OpenShell(r) => shell::handle(host, r).await,
        Request::Services => services::handle(host),
        Request::HostInfo => host_info::handle(host),
        Request::Status(r) => status::handle(host, r).await,
        Request::Logs(r) => logs::handle(host, r),
        Request::Stop(r) => control::stop(host, r).await,
        Request::Start(r) => control::start(host, r).await,
        Request::Restart(r) => control::restart(host, r).await,
        Request::Remove(r) => remove::handle(host, r).await,
        Request::Inbox(r) => inbox::handle(host, r),
        Request::Roster(r) => roster::handle(host, r),
    };
    result.unwrap_or_else(Response::Error)
}

/// An error response.
pub fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
    Response::Error(ErrorReply::new(kind, message))
}

/// The task called `name`, or the error a user sees when there is none.
fn find_task(host: &Host, name: &str) -> Result<SupervisorHandle, ErrorReply> {
    host.find(name).ok_or_else(|| {
        let names: Vec<String> = host.all().iter().map(|h| h.info.name.clone()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        ErrorReply::new(
            ErrorKind::UnknownTask,
            format!(
                "host `{}` has no task `{name}`{}; `tnet ls` lists the tasks",
                host.shared.name,
                did_you_mean_hint(name, &names)
            ),
        )
    })
}

/// Turns a store or I/O failure into a reply that says what the host was doing.
fn host_failure(err: impl std::fmt::Display) -> ErrorReply {
    ErrorReply::new(ErrorKind::HostFailure, format!("{err:#}"))
}

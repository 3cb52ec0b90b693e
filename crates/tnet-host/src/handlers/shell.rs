//! `tnet shell`: check the request, then hand it to [`crate::shell`].

use tnet_proto::msg::{ErrorKind, ErrorReply, Response, ShellRequest};

use crate::host::Host;
use crate::shell::{self, ShellPlan};

/// Opens a shell in a task's workspace.
pub async fn handle(host: &Host, req: ShellRequest) -> Result<Response, ErrorReply> {
    let task = super::find_task(host, &req.name)?;
    if uuid::Uuid::parse_str(&req.session).is_err() {
        return Err(ErrorReply::new(
            ErrorKind::BadRequest,
            "a shell session id must be a UUID",
        ));
    }
    // Held by the session until its shell ends.
    let slot = host.shared.guards.shell()?;
    let workdir = host.shared.paths.workspace(&task.info.safe_name);
    if !workdir.is_dir() {
        return Err(ErrorReply::new(
            ErrorKind::HostFailure,
            format!(
                "the workspace of `{}` ({}) is missing",
                task.info.name,
                workdir.display()
            ),
        ));
    }
    let term = req
        .term
        .filter(|t| !t.is_empty() && t.len() < 64 && t.chars().all(|c| c.is_ascii_graphic()));
    let env = vec![
        (
            "TERM".to_owned(),
            term.unwrap_or_else(|| "xterm-256color".to_owned()),
        ),
        ("TNET_HOST".to_owned(), host.shared.name.clone()),
        ("TNET_TASK".to_owned(), task.info.name.clone()),
        (
            "TNET_WORKSPACE".to_owned(),
            workdir.to_string_lossy().into_owned(),
        ),
    ];
    let plan = ShellPlan {
        host: host.shared.name.clone(),
        session: req.session.clone(),
        workdir,
        argv: req.command.unwrap_or_default(),
        env,
        size: req.size,
        slot,
    };
    let started = match task.info.runner.container() {
        // A docker task's shell is inside its container, in the same workspace path.
        Some((engine, container)) => {
            shell::start_in_container(host.shared.front_session(), plan, engine, container).await
        }
        None => shell::start(host.shared.front_session(), plan).await,
    };
    started.map_err(|e| ErrorReply::new(ErrorKind::HostFailure, e.to_string()))?;
    tracing::info!(task = %task.info.name, session = %req.session, "shell opened");
    Ok(Response::ShellOpened {
        session: req.session,
    })
}

//! `tnet ls`: every task of this host.

use tnet_proto::msg::{ErrorReply, Response};

use crate::host::Host;

/// Lists the tasks.
pub fn handle(host: &Host) -> Result<Response, ErrorReply> {
    Ok(Response::Tasks {
        tasks: host.all().iter().map(|h| host.summary(h)).collect(),
    })
}

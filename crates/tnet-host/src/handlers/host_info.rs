//! `tnet hosts`: what this host is.

use tnet_proto::msg::{ErrorReply, HostInfo, Response};

use crate::host::Host;

/// Describes the host.
pub fn handle(host: &Host) -> Result<Response, ErrorReply> {
    Ok(Response::HostInfo(HostInfo {
        host: host.shared.name.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        tasks: host.all().len(),
        bytes_received: host.shared.blobs.bytes_received(),
        ssh: Some(host.shared.ssh.clone()),
        addresses: crate::addresses::reachable(&host.shared.listen),
        docker: host.shared.docker.is_ok(),
        insecure: host.shared.trust.is_none(),
        roster_version: host.shared.trust.as_ref().map(|t| t.version()),
        disk: Some(host.shared.upkeep.disk_use(&host.shared)),
    }))
}

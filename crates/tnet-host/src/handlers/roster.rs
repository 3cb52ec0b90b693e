//! `Request::Roster`: the fleet roster this host enforces, after taking a
//! newer one offered with the request.
//!
//! Anyone may bring a roster (it is checked against the fleet's authority,
//! and only a newer version is taken), so this needs no admin role: a
//! revocation reaches a host whoever carries it.

use tnet_proto::msg::{ErrorKind, ErrorReply, Response, RosterRequest};

use crate::host::Host;

/// Answers a roster request.
pub fn handle(host: &Host, request: RosterRequest) -> Result<Response, ErrorReply> {
    let Some(trust) = &host.shared.trust else {
        return Ok(Response::Roster {
            version: 0,
            roster: None,
            taken: false,
        });
    };
    let taken = match request.offer {
        Some(text) => tnet_fleet::SignedRoster::from_bytes(text.as_bytes())
            .and_then(|offer| trust.offer(offer))
            .map_err(|e| {
                ErrorReply::new(
                    ErrorKind::BadRequest,
                    format!("host `{}`: {e}", host.shared.name),
                )
            })?,
        None => false,
    };
    let signed = trust.signed();
    Ok(Response::Roster {
        version: trust.version(),
        roster: Some(String::from_utf8_lossy(&signed.to_bytes()).into_owned()),
        taken,
    })
}

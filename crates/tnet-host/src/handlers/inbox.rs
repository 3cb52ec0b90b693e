//! `inbox`: acknowledge what the request names, then list the unread
//! entries and the recent deliveries.

use tnet_proto::msg::{ErrorKind, ErrorReply, InboxRequest, Response};

use super::host_failure;
use crate::host::Host;
use crate::notify::inbox::RECENT_DELIVERIES;

/// Answers an `inbox` request.
pub fn handle(host: &Host, r: InboxRequest) -> Result<Response, ErrorReply> {
    let store = &host.shared.store;
    let mut acked = 0;
    if r.ack_all {
        acked += store.ack_inbox(None).map_err(host_failure)?;
    } else if let Some(id) = r.ack {
        if !store.inbox_entry_exists(id).map_err(host_failure)? {
            return Err(ErrorReply::new(
                ErrorKind::BadRequest,
                format!(
                    "host `{}` has no inbox entry {id}; `tnet inbox` lists them",
                    host.shared.name
                ),
            ));
        }
        acked += store.ack_inbox(Some(id)).map_err(host_failure)?;
    }
    Ok(Response::Inbox {
        entries: store
            .unread_inbox(&host.shared.name)
            .map_err(host_failure)?,
        deliveries: store
            .recent_deliveries(RECENT_DELIVERIES)
            .map_err(host_failure)?,
        acked,
    })
}

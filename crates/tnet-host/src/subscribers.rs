//! Waiting for a client's subscriber before publishing to it.
//!
//! A client declares its subscriber before it sends the request that makes
//! the host publish (a shell's output and exit, an image's progress), but
//! Zenoh carries declarations and requests apart (over QUIC on streams of
//! their own), so the request can come first; a put made before the
//! subscriber is known here reaches no one.

use zenoh::pubsub::Publisher;

/// Whether some subscriber matches `publisher` (an error reading it counts
/// as yes: there is nothing to wait for).
async fn matched(publisher: &Publisher<'_>) -> bool {
    publisher
        .matching_status()
        .await
        .map_or(true, |status| status.matching())
}

/// Waits until some subscriber matches `publisher`, or `until` passes;
/// whether one does.
pub async fn known(publisher: &Publisher<'_>, until: tokio::time::Instant) -> bool {
    if matched(publisher).await {
        return true;
    }
    let Ok(listener) = publisher.matching_listener().await else {
        return matched(publisher).await;
    };
    // Asked again now that the listener exists, so a match in between is not missed.
    if matched(publisher).await {
        return true;
    }
    tokio::time::timeout_at(until, async {
        while let Ok(status) = listener.recv_async().await {
            if status.matching() {
                return;
            }
        }
    })
    .await
    .is_ok()
}

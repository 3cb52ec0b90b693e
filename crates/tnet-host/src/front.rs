//! A queryable on the session clients reach (`Shared::front`): declared on
//! the gate's session while it is open, declared again on each new one.
//!
//! A request or a call then crosses one Zenoh session, not two (the gate
//! and the host's own, `gate.rs`). The host's control, admin, upload and
//! history queryables (`server.rs`) and each service's (`supervisor/service/`)
//! are all one of these.

use tokio::sync::watch;
use zenoh::handlers::FifoChannelHandler;
use zenoh::query::{Query, Queryable};
use zenoh::Session;

/// The session clients reach: `None` for the moment a gate opens again.
pub type Front = watch::Receiver<Option<Session>>;

/// A queryable on `key` that follows the session clients reach.
pub struct FrontQueryable {
    key: String,
    front: Front,
    queryable: Option<Queryable<FifoChannelHandler<Query>>>,
    /// A new session was seen and its queryable is not declared yet (a
    /// `recv` dropped while declaring it leaves this for the next one).
    stale: bool,
}

impl FrontQueryable {
    /// Declares `key` on the session `front` holds now.
    pub async fn declare(front: Front, key: String) -> zenoh::Result<FrontQueryable> {
        let mut this = FrontQueryable {
            key,
            front,
            queryable: None,
            stale: true,
        };
        this.declare_again().await?;
        Ok(this)
    }

    /// The next query; `None` once there will be none (the host closed its
    /// network side for good). Cancel-safe: a `select!` may drop it.
    pub async fn recv(&mut self) -> Option<Query> {
        loop {
            if self.stale {
                if let Err(err) = self.declare_again().await {
                    // Waits for the next session rather than spinning on this one.
                    tracing::error!(key = %self.key, "cannot take queries on the network side: {err}");
                }
            }
            tokio::select! {
                query = next(self.queryable.as_ref()) => match query {
                    Some(query) => return Some(query),
                    // Its session closed: a new one follows, or the host stops.
                    None => self.queryable = None,
                },
                changed = self.front.changed() => match changed {
                    Ok(()) => self.stale = true,
                    Err(_) => return None,
                },
            }
        }
    }

    /// Withdraws it (nothing to do when its session closed already).
    pub async fn undeclare(self) {
        if let Some(queryable) = self.queryable {
            if let Err(err) = queryable.undeclare().await {
                tracing::debug!(key = %self.key, "withdrawing a queryable: {err}");
            }
        }
    }

    async fn declare_again(&mut self) -> zenoh::Result<()> {
        if let Some(old) = self.queryable.take() {
            // Its session is closed or closing: nothing to withdraw from.
            let _ = old.undeclare().await;
        }
        let session = self.front.borrow_and_update().clone();
        if let Some(session) = session {
            self.queryable = Some(session.declare_queryable(self.key.clone()).await?);
        }
        // Only now: dropped or failed before this, the next `recv` declares it.
        self.stale = false;
        Ok(())
    }
}

/// The next query of `queryable`; `None` once its session closed. Never
/// ready without one.
async fn next(queryable: Option<&Queryable<FifoChannelHandler<Query>>>) -> Option<Query> {
    match queryable {
        Some(q) => q.recv_async().await.ok(),
        None => std::future::pending().await,
    }
}

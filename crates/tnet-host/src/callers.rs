//! Who is calling services, followed through liveliness, so that a call
//! whose caller went away is cancelled and its processes killed.
//!
//! Zenoh does not tell a queryable that the client behind a query left. A
//! caller therefore declares the liveliness token [`keys::caller`] of its
//! session id and names that id in its call ([`CallRequest::caller`]). The
//! host follows every caller token with one subscriber; when one goes (the
//! caller exited, crashed or lost the network), each call that named it is
//! told through its [`CallerWatch`].
//!
//! The token is declared before the query on the same connection, so the host
//! hears of it first; a caller that is already gone when its call is read
//! (kept in a short list of recent departures) is cancelled at once. A caller
//! that names no id (a plain Zenoh `get`) is never cancelled this way; its
//! call still ends at its time limit.
//!
//! [`keys::caller`]: tnet_proto::keys::caller
//! [`CallRequest::caller`]: tnet_proto::msg::CallRequest::caller

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// How many departed callers are remembered, for calls read after their caller left.
const RECENTLY_GONE: usize = 1024;

/// Every caller some call is waiting on, and those that recently left.
#[derive(Default)]
pub struct Callers {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// One sender per caller that calls are watching; `true` once it is gone.
    watched: HashMap<String, watch::Sender<bool>>,
    /// Callers whose token went away, newest last.
    gone: VecDeque<String>,
}

impl Callers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing can be left half-changed by a panic here (plain inserts and removes).
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Watches `caller`; `None` (a call that named no caller) is never gone.
    pub fn watch(self: &Arc<Self>, caller: Option<&str>) -> CallerWatch {
        let Some(caller) = caller else {
            return CallerWatch {
                callers: self.clone(),
                caller: None,
                rx: None,
            };
        };
        let mut inner = self.lock();
        let already_gone = inner.gone.iter().any(|g| g == caller);
        let rx = inner
            .watched
            .entry(caller.to_owned())
            .or_insert_with(|| watch::channel(false).0)
            .subscribe();
        if already_gone {
            inner.watched.remove(caller).map(|tx| tx.send(true));
        }
        CallerWatch {
            callers: self.clone(),
            caller: Some(caller.to_owned()),
            rx: Some(rx),
        }
    }

    /// The token of `caller` went away: cancel its calls.
    pub fn departed(&self, caller: &str) {
        let mut inner = self.lock();
        if let Some(tx) = inner.watched.remove(caller) {
            let _ = tx.send(true);
        }
        if inner.gone.len() == RECENTLY_GONE {
            inner.gone.pop_front();
        }
        inner.gone.push_back(caller.to_owned());
    }

    /// How many callers are being watched (for tests).
    pub fn watched(&self) -> usize {
        self.lock().watched.len()
    }
}

/// One call's view of its caller.
pub struct CallerWatch {
    callers: Arc<Callers>,
    caller: Option<String>,
    rx: Option<watch::Receiver<bool>>,
}

impl CallerWatch {
    /// Resolves when the caller has gone; never, for a call with no known caller.
    pub async fn gone(&mut self) {
        if let Some(rx) = &mut self.rx {
            if rx.wait_for(|gone| *gone).await.is_ok() {
                return;
            }
        }
        std::future::pending::<()>().await
    }
}

impl Drop for CallerWatch {
    fn drop(&mut self) {
        let Some(caller) = &self.caller else { return };
        drop(self.rx.take());
        let mut inner = self.callers.lock();
        // The last call of a caller that is still there stops watching it.
        if inner
            .watched
            .get(caller)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            inner.watched.remove(caller);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn is_gone(w: &mut CallerWatch) -> bool {
        tokio::time::timeout(Duration::from_millis(50), w.gone())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_departure_reaches_every_call_of_that_caller_only() {
        let callers = Arc::new(Callers::default());
        let mut a1 = callers.watch(Some("a"));
        let mut a2 = callers.watch(Some("a"));
        let mut b = callers.watch(Some("b"));
        let mut anonymous = callers.watch(None);
        callers.departed("a");
        assert!(is_gone(&mut a1).await && is_gone(&mut a2).await);
        assert!(!is_gone(&mut b).await);
        assert!(!is_gone(&mut anonymous).await);
        // A call read after its caller left is cancelled at once.
        assert!(is_gone(&mut callers.watch(Some("a"))).await);
    }

    #[tokio::test]
    async fn finished_calls_stop_watching() {
        let callers = Arc::new(Callers::default());
        let first = callers.watch(Some("c"));
        let second = callers.watch(Some("c"));
        drop(first);
        assert_eq!(callers.watched(), 1);
        drop(second);
        assert_eq!(callers.watched(), 0);
    }
}

//! The inbox and the delivery log in the host's SQLite store: `qmail`
//! notifications, notifications that could not be delivered (with why), and
//! every delivery's attempts, for `tnet inbox`.

use rusqlite::{params, OptionalExtension};
use tnet_proto::msg::{Delivery, Event, InboxEntry};

use crate::store::{ctx, now_rfc3339, Store, StoreError};

type Result<T> = std::result::Result<T, StoreError>;

/// Deliveries `tnet inbox --deliveries` shows at most.
pub const RECENT_DELIVERIES: usize = 50;

/// A notification about to be kept in the inbox.
pub struct NewEntry<'a> {
    /// `qmail`, or the channel that failed.
    pub channel: &'a str,
    /// `queued` or `failed`.
    pub state: &'a str,
    /// A sentence for people.
    pub summary: &'a str,
    /// Why delivery failed.
    pub reason: Option<&'a str>,
    /// Attempts made.
    pub attempts: u32,
    /// What it is about.
    pub event: &'a Event,
}

impl Store {
    /// Keeps a notification in the inbox and returns it as stored.
    pub fn add_inbox_entry(&self, host: &str, e: &NewEntry) -> Result<InboxEntry> {
        let created = now_rfc3339();
        let event_json = serde_json::to_string(e.event).expect("an Event always serializes");
        let conn = self.lock();
        conn.execute(
            "INSERT INTO inbox (channel, state, summary, reason, attempts, event_json, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![e.channel, e.state, e.summary, e.reason, e.attempts, event_json, created],
        )
        .map_err(ctx("keep a notification in the inbox"))?;
        Ok(InboxEntry {
            id: conn.last_insert_rowid() as u64,
            host: host.to_owned(),
            channel: e.channel.to_owned(),
            state: e.state.to_owned(),
            summary: e.summary.to_owned(),
            reason: e.reason.map(str::to_owned),
            attempts: e.attempts,
            event: e.event.clone(),
            created,
        })
    }

    /// Unread inbox entries, oldest first.
    pub fn unread_inbox(&self, host: &str) -> Result<Vec<InboxEntry>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT id, channel, state, summary, reason, attempts, event_json, created_at
                 FROM inbox WHERE state != 'acked' ORDER BY id",
            )
            .map_err(ctx("read the inbox"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, u32>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                ))
            })
            .map_err(ctx("read the inbox"))?;
        let mut entries = Vec::new();
        for row in rows {
            let (id, channel, state, summary, reason, attempts, event_json, created) =
                row.map_err(ctx("read the inbox"))?;
            // An entry whose event this build cannot read is skipped, not fatal.
            let Ok(event) = serde_json::from_str(&event_json) else {
                continue;
            };
            entries.push(InboxEntry {
                id: id as u64,
                host: host.to_owned(),
                channel,
                state,
                summary,
                reason,
                attempts,
                event,
                created,
            });
        }
        Ok(entries)
    }

    /// Marks one entry (or, with `None`, every entry) read; returns how many changed.
    pub fn ack_inbox(&self, id: Option<u64>) -> Result<u64> {
        let conn = self.lock();
        let n = match id {
            Some(id) => conn.execute(
                "UPDATE inbox SET state = 'acked' WHERE id = ?1 AND state != 'acked'",
                [id as i64],
            ),
            None => conn.execute(
                "UPDATE inbox SET state = 'acked' WHERE state != 'acked'",
                [],
            ),
        }
        .map_err(ctx("acknowledge inbox entries"))?;
        Ok(n as u64)
    }

    /// Whether inbox entry `id` exists (read or not).
    pub fn inbox_entry_exists(&self, id: u64) -> Result<bool> {
        self.lock()
            .query_row("SELECT 1 FROM inbox WHERE id = ?1", [id as i64], |_| Ok(()))
            .optional()
            .map(|found| found.is_some())
            .map_err(ctx("find an inbox entry"))
    }

    /// Records a delivery about to be attempted; returns its id.
    pub fn start_delivery(&self, task: &str, channel: &str, event: &str) -> Result<u64> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO deliveries (task, channel, state, event, created_at)
             VALUES (?1, ?2, 'pending', ?3, ?4)",
            params![task, channel, event, now_rfc3339()],
        )
        .map_err(ctx("record a delivery"))?;
        Ok(conn.last_insert_rowid() as u64)
    }

    /// Records an attempt's result: `state` is `retrying`, `sent`, `failed` or `queued`.
    pub fn update_delivery(
        &self,
        id: u64,
        state: &str,
        attempts: u32,
        error: Option<&str>,
    ) -> Result<()> {
        self.lock()
            .execute(
                "UPDATE deliveries SET state = ?2, attempts = ?3, last_error = ?4 WHERE id = ?1",
                params![id as i64, state, attempts, error],
            )
            .map_err(ctx("record a delivery attempt"))?;
        Ok(())
    }

    /// The most recent deliveries, oldest first.
    pub fn recent_deliveries(&self, limit: usize) -> Result<Vec<Delivery>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT id, task, channel, state, attempts, last_error, event, created_at
                 FROM deliveries ORDER BY id DESC LIMIT ?1",
            )
            .map_err(ctx("read deliveries"))?;
        let mut out: Vec<Delivery> = stmt
            .query_map([limit as i64], |r| {
                Ok(Delivery {
                    id: r.get::<_, i64>(0)? as u64,
                    task: r.get(1)?,
                    channel: r.get(2)?,
                    state: r.get(3)?,
                    attempts: r.get(4)?,
                    last_error: r.get(5)?,
                    event: r.get(6)?,
                    created: r.get(7)?,
                })
            })
            .map_err(ctx("read deliveries"))?
            .collect::<std::result::Result<_, _>>()
            .map_err(ctx("read deliveries"))?;
        out.reverse();
        Ok(out)
    }

    /// Deliveries a host that died left unfinished are failed: they are not
    /// sent late (the news is old), they are kept in the inbox instead.
    pub fn abandon_deliveries(&self) -> Result<usize> {
        self.lock()
            .execute(
                "UPDATE deliveries SET state = 'failed', last_error = 'the host stopped before it was sent'
                 WHERE state IN ('pending', 'retrying')",
                [],
            )
            .map_err(ctx("close unfinished deliveries"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tnet_proto::msg::{EventKind, TaskState};

    #[test]
    fn entries_are_kept_listed_and_acked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.sqlite3")).expect("open");
        let event = Event {
            host: "h".into(),
            task: "t".into(),
            task_type: "habit".into(),
            kind: EventKind::Succeeded,
            state: TaskState::Scheduled,
            run: Some(3),
            exit_code: Some(0),
            message: "run 3 of `t` succeeded".into(),
            reason: None,
            time: now_rfc3339(),
        };
        for _ in 0..2 {
            let e = NewEntry {
                channel: "qmail",
                state: "queued",
                summary: "t succeeded",
                reason: None,
                attempts: 0,
                event: &event,
            };
            store.add_inbox_entry("h", &e).expect("add");
        }
        let unread = store.unread_inbox("h").expect("list");
        assert_eq!(unread.len(), 2);
        assert_eq!(unread[0].event.run, Some(3));
        assert_eq!(store.ack_inbox(Some(unread[0].id)).expect("ack"), 1);
        assert_eq!(store.ack_inbox(Some(unread[0].id)).expect("ack again"), 0);
        assert_eq!(store.unread_inbox("h").expect("list").len(), 1);
        assert_eq!(store.ack_inbox(None).expect("ack all"), 1);
        assert!(store.unread_inbox("h").expect("list").is_empty());
        assert!(store.inbox_entry_exists(unread[0].id).expect("exists"));
    }
}

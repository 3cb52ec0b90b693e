//! Late subscribers: the host answers queries on its habits' keys with their
//! recent runs, the way a Zenoh storage does (SPEC 7.2).
//!
//! One queryable, `tnet/<host>/habit/*`, serves every habit of the host, so
//! it exists from the host's start and a query with wildcards
//! (`tnet/*/habit/**`) reaches it. Each kept run is one reply, oldest first,
//! on the habit's own key, with the run's stdout as payload and its
//! `HabitRun` JSON as attachment: exactly what was published. The selector
//! parameter `last=N` keeps only the newest N runs of each habit.

use std::sync::Arc;

use tnet_proto::keys;
use tnet_proto::msg::{self, ErrorKind, ErrorReply};
use tnet_proto::task::TaskType;
use zenoh::key_expr::KeyExpr;
use zenoh::query::Query;

use crate::host::Host;

/// Answers one history query.
pub async fn answer(host: Arc<Host>, query: Query) {
    let last = match query.parameters().get(keys::HISTORY_LAST) {
        None => None,
        Some(text) => match text.parse::<usize>() {
            Ok(n) => Some(n),
            Err(_) => {
                let err = ErrorReply::new(
                    ErrorKind::BadRequest,
                    format!(
                        "`{}={text}` is not a number of runs; ask for example `?{}`",
                        keys::HISTORY_LAST,
                        keys::history_parameters(3)
                    ),
                );
                if let Err(e) = query.reply_err(msg::encode(&err)).await {
                    tracing::debug!("cannot answer a history query: {e}");
                }
                return;
            }
        },
    };
    let asked = query.key_expr().clone();
    let habits = host
        .all()
        .into_iter()
        .filter(|h| h.info.spec.task_type == TaskType::Habit);
    for habit in habits {
        let key = keys::habit_output(&host.shared.name, &habit.info.name);
        let Ok(habit_key) = KeyExpr::try_from(key.as_str()) else {
            continue;
        };
        if !habit_key.intersects(&asked) {
            continue;
        }
        let outputs = match host.shared.store.habit_outputs(&habit.info.safe_name, last) {
            Ok(outputs) => outputs,
            Err(err) => {
                tracing::warn!(task = %habit.info.name, "{err}");
                continue;
            }
        };
        for (meta_json, bytes) in outputs {
            // Replies carry the habit's own key, never the query's: two habits
            // answering one wildcard query must stay apart.
            if let Err(err) = query.reply(&habit_key, bytes).attachment(meta_json).await {
                tracing::debug!(task = %habit.info.name, "cannot answer a history query: {err}");
                return;
            }
        }
    }
}

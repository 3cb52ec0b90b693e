//! `tnet status`: one task in detail, with its recent runs.

use tnet_proto::msg::{
    ErrorReply, FileEntry, Response, RunMark, RunRecord, RunTotals, TaskRef, TaskStatus,
};

use tnet_proto::task::TaskType;

use crate::host::Host;

/// How many runs a status shows.
const RECENT_RUNS: usize = 20;

/// Describes one task.
pub async fn handle(host: &Host, req: TaskRef) -> Result<Response, ErrorReply> {
    let task = super::find_task(host, &req.name)?;
    // A habit is on to its next slot before its run's end is written (the
    // ledger gathers ends for a moment): written now, so that the runs shown
    // agree with the state shown. A write that fails (a full disk) still
    // leaves what is stored to show.
    if task.info.spec.task_type == TaskType::Habit {
        if let Err(err) = host.shared.store.ledger().ends_written().await {
            tracing::debug!(task = %task.info.name, "runs not yet stored: {err}");
        }
    }
    let stored = host
        .shared
        .store
        .recent_runs(&task.info.safe_name, RECENT_RUNS)
        .map_err(super::host_failure)?;
    let first = stored.first().map_or(0, |r| r.number);
    let mut reasons = host
        .shared
        .store
        .run_reasons(&task.info.safe_name, first)
        .map_err(super::host_failure)?;
    let runs: Vec<RunRecord> = stored
        .into_iter()
        .map(|r| RunRecord {
            reason: reasons.remove(&r.number),
            number: r.number,
            phase: r.phase,
            started: r.started_at,
            duration_ms: r.duration_ms,
            exit_code: r.exit_code,
            outcome: r.outcome,
        })
        .collect();
    // The newest run that ended tells why the task is where it is.
    let reason = runs
        .iter()
        .rev()
        .find(|r| !matches!(r.outcome.as_str(), "running" | "skipped"))
        .filter(|r| r.outcome != "succeeded")
        .and_then(|r| r.reason.clone());
    Ok(Response::Status(TaskStatus {
        summary: host.summary(&task),
        workspace: host
            .shared
            .paths
            .workspace(&task.info.safe_name)
            .to_string_lossy()
            .into_owned(),
        runs,
        reason,
        task_toml: task.info.task_toml.clone(),
        files: stored_files(host, &task.info.safe_name)?,
        totals: Some(totals(host, &task.info.safe_name)?),
    }))
}

/// The task's whole history from its counters (they outlive pruned records).
fn totals(host: &Host, safe_name: &str) -> Result<RunTotals, ErrorReply> {
    let store = &host.shared.store;
    let t = store.totals(safe_name).map_err(super::host_failure)?;
    let mark = |m: Option<(u64, String)>| m.map(|(number, started)| RunMark { number, started });
    Ok(RunTotals {
        runs: t.runs,
        kept: t.kept,
        keep: store.keep_runs().of(safe_name),
        failures: t
            .outcomes
            .iter()
            .filter(|(o, _)| crate::store::retention::FAILURE_OUTCOMES.contains(&o.as_str()))
            .map(|(_, n)| n)
            .sum(),
        outcomes: t.outcomes.into_iter().collect(),
        last_success: mark(t.last_success),
        last_failure: mark(t.last_failure),
    })
}

/// The files a task was last submitted with.
pub(super) fn stored_files(host: &Host, safe_name: &str) -> Result<Vec<FileEntry>, ErrorReply> {
    let stored = host
        .shared
        .store
        .task(safe_name)
        .map_err(super::host_failure)?;
    Ok(stored
        .and_then(|t| serde_json::from_str(&t.files_json).ok())
        .unwrap_or_default())
}

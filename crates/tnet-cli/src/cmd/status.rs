//! `tnet status <task>`: one task in detail.

use crate::args::TaskJsonArgs;
use crate::client::Client;
use crate::output::{self, or_dash, when};
use crate::target;

/// Shows a task.
pub async fn run(client: &Client, args: TaskJsonArgs) -> anyhow::Result<u8> {
    let t = target::resolve(client, &args.task).await?;
    let status = target::status(client, &t).await?;
    if args.json {
        output::json(&status)?;
        return Ok(0);
    }
    let s = &status.summary;
    println!("task:      {}/{}", s.host, s.name);
    println!("type:      {}", s.task_type);
    println!("state:     {}", s.state);
    println!("pid:       {}", or_dash(s.pid));
    println!("restarts:  {}", s.restarts);
    println!("last run:  {}", when(s.last_run.as_deref()));
    println!("next run:  {}", when(s.next_run.as_deref()));
    println!("workspace: {}", status.workspace);
    if let Some(reason) = &status.reason {
        println!("why:       {reason}");
    }
    if let Some(t) = &status.totals {
        print_totals(t);
    }
    println!();
    if status.runs.is_empty() {
        println!("no runs yet");
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = status
        .runs
        .iter()
        .map(|r| {
            vec![
                r.number.to_string(),
                r.phase.clone(),
                when(Some(&r.started)),
                r.duration_ms
                    .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
                    .unwrap_or_else(|| "-".into()),
                or_dash(r.exit_code),
                r.outcome.clone(),
            ]
        })
        .collect();
    output::table(
        &["RUN", "PHASE", "STARTED", "DURATION", "EXIT", "OUTCOME"],
        &rows,
    )?;
    Ok(0)
}

/// The task's whole history, from counters the host keeps past pruning.
fn print_totals(t: &tnet_proto::msg::RunTotals) {
    let outcomes: Vec<String> = t
        .outcomes
        .iter()
        .map(|(outcome, n)| format!("{n} {outcome}"))
        .collect();
    let outcomes = if outcomes.is_empty() {
        String::new()
    } else {
        format!(" ({})", outcomes.join(", "))
    };
    println!("runs:      {}{outcomes}", t.runs);
    println!("failures:  {}", t.failures);
    let mark = |m: &Option<tnet_proto::msg::RunMark>| {
        m.as_ref()
            .map(|m| format!("run {} at {}", m.number, when(Some(&m.started))))
            .unwrap_or_else(|| "-".into())
    };
    println!("last ok:   {}", mark(&t.last_success));
    println!("last fail: {}", mark(&t.last_failure));
    println!(
        "kept:      the newest {} of {} run records (keeps {})",
        t.kept, t.runs, t.keep
    );
}

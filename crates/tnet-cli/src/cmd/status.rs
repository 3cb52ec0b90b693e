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

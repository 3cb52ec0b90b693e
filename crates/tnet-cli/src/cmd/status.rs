//! `tnet status <task>`: one task in detail.

use anyhow::bail;
use tnet_proto::msg::{Request, Response, TaskRef};

use crate::args::TaskJsonArgs;
use crate::client::Client;
use crate::output::{self, or_dash, when};
use crate::target;

/// Shows a task.
pub async fn run(client: &Client, args: TaskJsonArgs) -> anyhow::Result<u8> {
    let t = target::resolve(client, &args.task).await?;
    let status = match client
        .ask_host(
            &t.host,
            Request::Status(TaskRef {
                name: t.name.clone(),
            }),
        )
        .await?
    {
        Response::Status(s) => s,
        other => bail!("host `{}` gave an unexpected answer: {other:?}", t.host),
    };
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

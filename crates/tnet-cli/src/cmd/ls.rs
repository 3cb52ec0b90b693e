//! `tnet ls`: every task on every host.

use anyhow::bail;
use tnet_proto::msg::{Response, TaskSummary};

use crate::args::JsonArgs;
use crate::client::Client;
use crate::output::{self, or_dash, when};

/// Lists tasks.
pub async fn run(client: &Client, args: JsonArgs) -> anyhow::Result<u8> {
    let answers = client.ask(None, tnet_proto::msg::Request::List).await?;
    if answers.is_empty() {
        bail!("{}", client.no_host_hint());
    }
    let hosts = answers.len();
    let mut tasks: Vec<TaskSummary> = Vec::new();
    for env in answers {
        match env.response {
            Response::Tasks { tasks: t } => tasks.extend(t),
            Response::Error(err) => eprintln!("tnet: host `{}`: {err}", env.host),
            _ => eprintln!("tnet: host `{}` gave an unexpected answer", env.host),
        }
    }
    tasks.sort_by(|a, b| (&a.host, &a.name).cmp(&(&b.host, &b.name)));
    if args.json {
        output::json(&tasks)?;
        return Ok(0);
    }
    if tasks.is_empty() {
        println!("no tasks on the {hosts} host(s) that answered; `tnet run TASK.toml` sends one");
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            vec![
                t.host.clone(),
                t.name.clone(),
                t.task_type.clone(),
                t.state.to_string(),
                t.restarts.to_string(),
                when(t.last_run.as_deref()),
                when(t.next_run.as_deref()),
                or_dash(t.exit_code),
            ]
        })
        .collect();
    output::table(
        &[
            "HOST", "NAME", "TYPE", "STATE", "RESTARTS", "LAST RUN", "NEXT RUN", "EXIT",
        ],
        &rows,
    )?;
    Ok(0)
}

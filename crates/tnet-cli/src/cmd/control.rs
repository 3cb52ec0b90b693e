//! `tnet stop / start / restart / rm <task>`.

use anyhow::bail;
use tnet_proto::msg::{Request, Response, TaskRef};

use crate::args::TaskArgs;
use crate::client::Client;
use crate::target;

/// Which of the four.
#[derive(Debug, Clone, Copy)]
pub enum Verb {
    /// `tnet stop`.
    Stop,
    /// `tnet start`.
    Start,
    /// `tnet restart`.
    Restart,
    /// `tnet rm`.
    Remove,
}

/// Changes what a task is doing.
pub async fn run(client: &Client, verb: Verb, args: TaskArgs) -> anyhow::Result<u8> {
    let t = target::resolve(client, &args.task).await?;
    let r = TaskRef {
        name: t.name.clone(),
    };
    let request = match verb {
        Verb::Stop => Request::Stop(r),
        Verb::Start => Request::Start(r),
        Verb::Restart => Request::Restart(r),
        Verb::Remove => Request::Remove(r),
    };
    match client.ask_host(&t.host, request).await? {
        Response::Task(task) => println!("{}/{}: {}", task.host, task.name, task.state),
        Response::Removed { name } => println!("{}/{name}: removed", t.host),
        other => bail!("host `{}` gave an unexpected answer: {other:?}", t.host),
    }
    Ok(0)
}

//! Naming a task: `name` when one host has it, `host/name` otherwise.

use anyhow::bail;
use tnet_proto::msg::{Request, Response, TaskRef, TaskStatus};
use tnet_proto::task::problems::did_you_mean_hint;
use tnet_proto::task::safe_name;

use crate::client::Client;

/// A task and the host that has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host.
    pub host: String,
    /// The task's name as the user gave it.
    pub name: String,
}

/// Splits `host/name`; a plain `name` has no host.
pub fn split(spec: &str) -> (Option<&str>, &str) {
    match spec.split_once('/') {
        Some((host, name)) if !host.is_empty() && !name.is_empty() => (Some(host), name),
        _ => (None, spec),
    }
}

/// Finds which host has the task `spec`.
pub async fn resolve(client: &Client, spec: &str) -> anyhow::Result<Target> {
    if let (Some(host), name) = split(spec) {
        return Ok(Target {
            host: host.to_owned(),
            name: name.to_owned(),
        });
    }
    let answers = client.ask(None, Request::List).await?;
    if answers.is_empty() {
        bail!("{}", client.no_host_hint());
    }
    let mut hosts = Vec::new();
    for env in &answers {
        if let Response::Tasks { tasks } = &env.response {
            if tasks
                .iter()
                .any(|t| t.name == spec || safe_name(&t.name) == spec)
            {
                hosts.push(env.host.clone());
            }
        }
    }
    match hosts.as_slice() {
        [] => {
            let names: Vec<&str> = answers
                .iter()
                .filter_map(|env| match &env.response {
                    Response::Tasks { tasks } => Some(tasks.iter().map(|t| t.name.as_str())),
                    _ => None,
                })
                .flatten()
                .collect();
            bail!(
                "no task named `{spec}` on any of the {} host(s) that answered{}; `tnet ls` lists the tasks",
                answers.len(),
                did_you_mean_hint(spec, &names)
            )
        }
        [host] => Ok(Target {
            host: host.clone(),
            name: spec.to_owned(),
        }),
        many => bail!(
            "task `{spec}` exists on several hosts ({}); name one as HOST/{spec}, like `{}/{spec}`",
            many.join(", "),
            many[0]
        ),
    }
}

/// `tnet status` of a task whose host is known.
pub async fn status(client: &Client, t: &Target) -> anyhow::Result<TaskStatus> {
    let request = Request::Status(TaskRef {
        name: t.name.clone(),
    });
    match client.ask_host(&t.host, request).await? {
        Response::Status(s) => Ok(s),
        other => bail!("host `{}` gave an unexpected answer: {other:?}", t.host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_name_split_at_the_first_slash() {
        assert_eq!(split("lab1/hello"), (Some("lab1"), "hello"));
        assert_eq!(split("hello"), (None, "hello"));
        assert_eq!(split("/hello"), (None, "/hello"));
    }
}

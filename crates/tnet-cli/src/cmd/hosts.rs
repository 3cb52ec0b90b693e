//! `tnet hosts`: the hosts that are up, found with no configuration.

use anyhow::bail;
use tnet_proto::msg::{Request, Response};

use crate::args::JsonArgs;
use crate::client::Client;
use crate::output;

/// Lists hosts.
pub async fn run(client: &Client, args: JsonArgs) -> anyhow::Result<u8> {
    let answers = client.ask(None, Request::HostInfo).await?;
    let mut infos: Vec<_> = answers
        .into_iter()
        .filter_map(|env| match env.response {
            Response::HostInfo(info) => Some(info),
            _ => None,
        })
        .collect();
    infos.sort_by(|a, b| a.host.cmp(&b.host));
    if args.json {
        output::json(&infos)?;
        return Ok(0);
    }
    if infos.is_empty() {
        bail!("{}", client.no_host_hint());
    }
    let rows: Vec<Vec<String>> = infos
        .iter()
        .map(|i| vec![i.host.clone(), i.version.clone(), i.tasks.to_string()])
        .collect();
    output::table(&["HOST", "VERSION", "TASKS"], &rows)?;
    Ok(0)
}

//! `tnet hosts`: the hosts that are up, found with no configuration: name,
//! version, where to reach each, how many tasks it has, whether it runs docker tasks.

use anyhow::bail;
use tnet_proto::msg::{Request, Response};

use crate::args::JsonArgs;
use crate::client::Client;
use crate::output;

/// What every host that answered says of itself, by name.
pub async fn infos(client: &Client) -> anyhow::Result<Vec<tnet_proto::msg::HostInfo>> {
    let answers = client.ask(None, Request::HostInfo).await?;
    let mut infos: Vec<_> = answers
        .into_iter()
        .filter_map(|env| match env.response {
            Response::HostInfo(info) => Some(info),
            _ => None,
        })
        .collect();
    infos.sort_by(|a, b| a.host.cmp(&b.host));
    Ok(infos)
}

/// Lists hosts.
pub async fn run(client: &Client, args: JsonArgs) -> anyhow::Result<u8> {
    let infos = infos(client).await?;
    if args.json {
        output::json(&infos)?;
        return Ok(0);
    }
    if infos.is_empty() {
        bail!("{}", client.no_host_hint());
    }
    let rows: Vec<Vec<String>> = infos
        .iter()
        .map(|i| {
            vec![
                i.host.clone(),
                i.version.clone(),
                address(&i.addresses),
                i.tasks.to_string(),
                if i.docker { "yes" } else { "no" }.to_owned(),
                if i.insecure { "INSECURE" } else { "mTLS" }.to_owned(),
            ]
        })
        .collect();
    output::table(
        &["HOST", "VERSION", "ADDRESS", "TASKS", "DOCKER", "SECURITY"],
        &rows,
    )?;
    if infos.iter().any(|i| i.insecure) {
        eprintln!(
            "warning: hosts marked INSECURE run any command anyone on their network sends them (plain TCP, no certificates)"
        );
    }
    Ok(0)
}

/// The address to show in the table: the first (the host puts the ones other
/// machines can dial first) and how many more `--json` lists.
fn address(addresses: &[String]) -> String {
    match addresses {
        [] => "-".to_owned(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (+{})", rest.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_the_first_address_and_how_many_more() {
        assert_eq!(address(&[]), "-");
        assert_eq!(address(&["tcp/10.0.0.7:7449".into()]), "tcp/10.0.0.7:7449");
        assert_eq!(
            address(&["tcp/10.0.0.7:7449".into(), "tcp/127.0.0.1:7449".into()]),
            "tcp/10.0.0.7:7449 (+1)"
        );
    }
}

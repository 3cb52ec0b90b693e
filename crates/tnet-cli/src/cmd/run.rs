//! `tnet run <task.toml>`: validate here, send the files the host lacks, submit.

use anyhow::{bail, Context};
use tnet_proto::msg::{Request, Response, SubmitRequest};
use tnet_proto::task::parse_task;

use crate::args::RunArgs;
use crate::client::Client;
use crate::{files, output, upload};

/// Submits a task.
pub async fn run(client: &Client, args: RunArgs) -> anyhow::Result<u8> {
    submit(client, &args.file, args.host.as_deref(), args.json).await
}

/// Submits the task file at `file` to `host` (or the only host that is up);
/// prints the created task, as JSON with `json`.
pub async fn submit(
    client: &Client,
    file: &std::path::Path,
    host: Option<&str>,
    json: bool,
) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the task file {}", file.display()))?;
    let file_name = file.to_string_lossy().into_owned();
    // Every problem of the file is shown before anything is sent.
    let spec = parse_task(&file_name, &text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let task_dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let local = files::collect(task_dir, &spec.necessary_files)?;
    let host = pick_host(client, host).await?;
    let task = upload::TaskFile {
        name: &file_name,
        size: text.len() as u64,
    };
    let mut resent = false;
    let answer = loop {
        let (entries, stats) = upload::upload(client, &host, task, &local).await?;
        eprintln!(
            "{} file(s): {} sent ({} bytes), {} already on `{host}`",
            local.len(),
            stats.sent,
            stats.bytes,
            stats.reused
        );
        let request = SubmitRequest {
            file_name: file_name.clone(),
            task_toml: text.clone(),
            files: entries,
            progress: None,
        };
        match send(client, &host, request, spec.run_in_docker).await {
            // A file the host had when asked is gone (a task wrote to its
            // copy, or the cache let it go): asked again, the host says so.
            Err(err) if !resent && upload::is_missing_file(&err) => {
                eprintln!("{err:#}; sending the files the host lacks again");
                resent = true;
            }
            answer => break answer?,
        }
    };
    match answer {
        Response::Task(task) if json => output::json(&task)?,
        Response::Task(task) => println!(
            "{}/{}: {} ({})",
            task.host, task.name, task.state, task.task_type
        ),
        other => bail!("host `{host}` gave an unexpected answer: {other:?}"),
    }
    Ok(0)
}

/// Sends a submission, showing an image's progress for a task run in Docker.
async fn send(
    client: &Client,
    host: &str,
    mut request: SubmitRequest,
    in_docker: bool,
) -> anyhow::Result<Response> {
    if !in_docker {
        return client.ask_host(host, Request::Submit(request)).await;
    }
    // The host may pull an image or build one first: show its progress,
    // and wait as long as it keeps reporting.
    let watch = crate::pull::Watch::start(client, host).await?;
    request.progress = Some(watch.id());
    let answer = client
        .ask_host_reporting(host, Request::Submit(request), watch.alive())
        .await;
    watch.finish().await;
    answer
}

/// The host to submit to: the one named, or the only one that is up.
async fn pick_host(client: &Client, named: Option<&str>) -> anyhow::Result<String> {
    // A named host is asked straight away, not looked up in a list first:
    // if it does not answer, `Client::ask_host` says so with the nearest name.
    if let Some(host) = named {
        return Ok(host.to_owned());
    }
    let hosts = client.hosts().await?;
    match hosts.as_slice() {
        [] => bail!("{}", client.no_host_hint()),
        [one] => Ok(one.clone()),
        many => bail!(
            "several hosts are up ({}); pick one with --host or TNET_HOST",
            many.join(", ")
        ),
    }
}

//! `tnet edit <task> --file new.toml [--rerun-setup]`: change a task,
//! keeping its workspace (the seed's "edit-task message").
//!
//! The CLI shows what changes (a diff of the task file and the files added,
//! changed and removed) before anything is sent, and sends only the files the
//! host does not have.

use std::io::IsTerminal;

use anyhow::{bail, Context};
use tnet_proto::msg::{EditRequest, FileEntry, Request, Response};
use tnet_proto::task::parse_task;

use crate::args::EditArgs;
use crate::client::Client;
use crate::{editor, files, target, upload};

/// Changes a task.
pub async fn run(client: &Client, args: EditArgs) -> anyhow::Result<u8> {
    let t = target::resolve(client, &args.task).await?;
    let status = target::status(client, &t).await?;
    let (file_name, text, local, entries) = match &args.file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the task file {}", path.display()))?;
            let file_name = path.to_string_lossy().into_owned();
            let spec = parse_task(&file_name, &text).map_err(|e| anyhow::anyhow!("{e}"))?;
            let task_dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let local = files::collect(task_dir, &spec.necessary_files)?;
            let entries = upload::hash_all(&local).await?;
            (file_name, text, local, entries)
        }
        None => {
            let Some(text) = edit_hosts_copy(&status.summary.name, &status.task_toml)? else {
                eprintln!("nothing changed");
                return Ok(1);
            };
            // The host's copy names the files as they were sent; they are not
            // sent again from here (they may not exist on this machine).
            (
                format!("{}.toml", tnet_proto::task::safe_name(&status.summary.name)),
                text,
                Vec::new(),
                status.files.clone(),
            )
        }
    };

    let changes = describe_changes(&status.task_toml, &text, &status.files, &entries);
    if changes.is_empty() && !args.rerun_setup {
        eprintln!("{}/{}: nothing changed", t.host, status.summary.name);
        return Ok(0);
    }
    eprint!("{changes}");
    if args.rerun_setup {
        eprintln!("setup commands will run again");
    }
    if !args.yes
        && std::io::stdin().is_terminal()
        && !confirm(&format!("Apply to {}/{}?", t.host, status.summary.name))?
    {
        eprintln!("nothing changed");
        return Ok(1);
    }
    let task = upload::TaskFile {
        name: &file_name,
        size: text.len() as u64,
    };
    let in_docker = spec_in_docker(&file_name, &text);
    let mut resent = false;
    let answer = loop {
        upload::send_missing(client, &t.host, task, &local, &entries).await?;
        let request = EditRequest {
            name: status.summary.name.clone(),
            file_name: file_name.clone(),
            task_toml: text.clone(),
            files: entries.clone(),
            rerun_setup: args.rerun_setup,
            progress: None,
        };
        match send(client, &t.host, request, in_docker).await {
            // As `tnet run`: a file the host had when asked is gone; asked
            // again, the host says so, and it is sent (from here, if the
            // files are here).
            Err(err) if !resent && !local.is_empty() && upload::is_missing_file(&err) => {
                eprintln!("{err:#}; sending the files the host lacks again");
                resent = true;
            }
            answer => break answer?,
        }
    };
    match answer {
        Response::Task(task) => println!("{}/{}: {} (edited)", task.host, task.name, task.state),
        other => bail!("host `{}` gave an unexpected answer: {other:?}", t.host),
    }
    Ok(0)
}

/// Sends an edit, showing an image's progress for a task run in Docker.
async fn send(
    client: &Client,
    host: &str,
    request: EditRequest,
    in_docker: bool,
) -> anyhow::Result<Response> {
    if !in_docker {
        return client.ask_host(host, Request::Edit(request)).await;
    }
    // A new image may be pulled or built first: as `tnet run` shows it.
    let watch = crate::pull::Watch::start(client, host).await?;
    let request = EditRequest {
        progress: Some(watch.id()),
        ..request
    };
    let answer = client
        .ask_host_reporting(host, Request::Edit(request), watch.alive())
        .await;
    watch.finish().await;
    answer
}

/// Whether a task file (already checked) runs in Docker.
fn spec_in_docker(file_name: &str, text: &str) -> bool {
    parse_task(file_name, text).is_ok_and(|s| s.run_in_docker)
}

/// Opens the host's copy of a task file in `$VISUAL`/`$EDITOR` until it is
/// valid (like `crontab -e`). `None` when the user gave up on an invalid file.
fn edit_hosts_copy(name: &str, task_toml: &str) -> anyhow::Result<Option<String>> {
    let dir = tempfile::Builder::new().prefix("tnet-edit-").tempdir()?;
    let path = dir
        .path()
        .join(format!("{}.toml", tnet_proto::task::safe_name(name)));
    std::fs::write(&path, task_toml)?;
    let file_name = path.to_string_lossy().into_owned();
    let old_files = parse_task(&file_name, task_toml)
        .map(|s| s.necessary_files)
        .unwrap_or_default();
    match editor::edit_until_valid(&path, |text| {
        parse_task(&file_name, text).map(|s| (text.to_owned(), s))
    })? {
        editor::Edited::GaveUp => Ok(None),
        editor::Edited::Valid((text, spec)) => {
            if spec.necessary_files != old_files {
                eprintln!(
                    "note: necessary_files changed, but editing the host's copy sends no files; to send them, run `tnet edit {name} --file FILE` from their folder"
                );
            }
            Ok(Some(text))
        }
    }
}

/// A unified diff of the task file and a list of files added, changed and
/// removed; empty when nothing differs.
pub fn describe_changes(
    old_toml: &str,
    new_toml: &str,
    old: &[FileEntry],
    new: &[FileEntry],
) -> String {
    let mut out = String::new();
    if old_toml != new_toml {
        let diff = similar::TextDiff::from_lines(old_toml, new_toml);
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(2)
                .header("task file on the host", "new task file")
                .to_string(),
        );
    }
    for f in new {
        match old.iter().find(|o| o.path == f.path) {
            None => out.push_str(&format!("file added:   {} ({} bytes)\n", f.path, f.size)),
            Some(o) if o.hash != f.hash => {
                out.push_str(&format!("file changed: {} ({} bytes)\n", f.path, f.size))
            }
            Some(o) if o.mode != f.mode => out.push_str(&format!(
                "file mode:    {} {:o} -> {:o}\n",
                f.path, o.mode, f.mode
            )),
            Some(_) => {}
        }
    }
    for o in old.iter().filter(|o| !new.iter().any(|f| f.path == o.path)) {
        out.push_str(&format!(
            "file removed: {} (no longer sent; the copy in the workspace stays)\n",
            o.path
        ));
    }
    out
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, hash: &str, mode: u32) -> FileEntry {
        FileEntry {
            path: path.into(),
            hash: hash.into(),
            size: 1,
            mode,
        }
    }

    #[test]
    fn changes_list_the_diff_and_the_files() {
        let old = [
            entry("a", "1", 0o644),
            entry("b", "2", 0o644),
            entry("c", "3", 0o644),
        ];
        let new = [
            entry("a", "1", 0o755),
            entry("b", "9", 0o644),
            entry("d", "4", 0o644),
        ];
        let text = describe_changes("commands = [\"x\"]\n", "commands = [\"y\"]\n", &old, &new);
        for needle in [
            "-commands = [\"x\"]",
            "+commands = [\"y\"]",
            "file mode:    a 644 -> 755",
            "file changed: b",
            "file added:   d",
            "file removed: c",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert!(describe_changes("x", "x", &old, &old).is_empty());
    }
}

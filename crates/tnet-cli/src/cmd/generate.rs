//! `tnet` without a subcommand: write a task file from the flags, the editor
//! or the menu, then submit it like `tnet run` unless `--generate-only`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::CommandFactory;
use tnet_proto::fabric::FabricArgs;
use tnet_proto::task::{parse_task, Placeholder};

use crate::args::{Cli, GenerateArgs};
use crate::editor::{edit_until_valid, Edited};
use crate::generate::{file_base, menu, render, target_path, write_file, Draft, Missing};

/// Generates (and submits) a task file; returns the exit code.
pub async fn run(args: GenerateArgs, fabric: &FabricArgs, timeout: Duration) -> anyhow::Result<u8> {
    if !args.any() {
        // Plain `tnet`: say what it does rather than guess.
        eprintln!("{}", Cli::command().render_help());
        return Ok(2);
    }
    tokio::spawn(on_ctrl_c());
    // The menu and the editor own the terminal until they are done.
    let written = tokio::task::block_in_place(|| write(&args))?;
    let Some(path) = written else {
        return Ok(0);
    };
    if args.generate_only {
        return Ok(0);
    }
    let host = args
        .host
        .clone()
        .or_else(|| std::env::var("TNET_HOST").ok());
    let client = super::connect(fabric, timeout).await?;
    super::run::submit(&client, &path, host.as_deref(), false).await
}

/// Ctrl-C: ignored while the editor runs (it is the editor's key), else it
/// ends tnet with the terminal's cursor back (the menu hides it).
async fn on_ctrl_c() {
    while tokio::signal::ctrl_c().await.is_ok() {
        if !crate::editor::is_editing() {
            let _ = dialoguer::console::Term::stderr().show_cursor();
            eprintln!();
            std::process::exit(130);
        }
    }
}

/// Writes the task file as the flags say; returns where, or `None` when
/// the user left the menu without writing.
fn write(args: &GenerateArgs) -> anyhow::Result<Option<PathBuf>> {
    if args.menu {
        let task_type = args.task_type.unwrap_or(tnet_proto::task::TaskType::Daemon);
        let base = file_base(&target_path(args.output.as_deref(), task_type))?;
        let draft = Draft::from_args(args, &base)?;
        return menu::run(draft, args.output.clone(), args.force);
    }
    let Some(task_type) = args.task_type else {
        bail!("say which task: --type daemon, habit or service (or --menu to be asked)");
    };
    let foreign = args.foreign_flags(task_type);
    if !foreign.is_empty() {
        let verb = if foreign.len() == 1 { "does" } else { "do" };
        bail!("{} {verb} not apply to a {task_type}", foreign.join(", "));
    }
    let path = target_path(args.output.as_deref(), task_type);
    if path.exists() && !args.force {
        bail!(crate::generate::refuse_overwrite(&path));
    }
    let base = file_base(&path)?;
    let draft = Draft::from_args(args, &base)?;
    // A file for a person to finish may hold marked placeholders; one about
    // to be submitted as it is must not.
    let missing = if args.generate_only || args.edit {
        Missing::Fill
    } else {
        Missing::Refuse
    };
    let shown = path.display().to_string();
    let (text, placeholders) = render(&draft, missing, &shown)?;
    write_file(&path, &text, args.force)?;
    eprintln!("wrote {shown}");
    for placeholder in placeholders {
        let what = match placeholder {
            Placeholder::Commands => "no --run was given: `commands` holds a placeholder",
            Placeholder::Schedule => {
                "no --every was given: `time_between_runs` is a placeholder (5m)"
            }
        };
        eprintln!("note: {what}; change it in {shown}");
    }
    if args.edit {
        match edit_until_valid(&path, |text| parse_task(&shown, text))? {
            Edited::Valid(_) => {}
            Edited::GaveUp => bail!("{shown} still has problems; it is left as it is"),
        }
    }
    Ok(Some(path))
}

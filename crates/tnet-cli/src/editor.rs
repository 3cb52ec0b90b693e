//! Editing a file in the user's editor until it is valid, like `crontab -e`.
//!
//! The editor is `$VISUAL`, else `$EDITOR`, else `vi`, run through `sh` so
//! that a value with arguments (`code --wait`) works, as git does. When the
//! editor closes, the file is checked; on a problem the user sees every one of
//! them and is asked "edit again? [Y/n]". Declining leaves the file as it is.
//!
//! Used by `tnet --edit` on a generated file, and meant for any verb that lets
//! a person edit a task file (a host's copy in a temporary file, for one).

use std::fmt::Display;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Context};

/// Whether an editor is running: Ctrl-C then belongs to it (see [`is_editing`]).
static EDITING: AtomicBool = AtomicBool::new(false);

/// Whether the user's editor has the terminal now. A Ctrl-C handler should
/// then let the editor have the key rather than end tnet, as git does.
pub fn is_editing() -> bool {
    EDITING.load(Ordering::SeqCst)
}

/// How an editing session ended.
#[derive(Debug)]
pub enum Edited<T> {
    /// The file is valid; `T` is what the check made of it.
    Valid(T),
    /// The file still has problems and the user chose not to edit again.
    GaveUp,
}

/// The editor command line: `$VISUAL`, else `$EDITOR`, else `vi`.
pub fn editor_command() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(|value| !value.trim().is_empty())
        .unwrap_or_else(|| "vi".to_owned())
}

/// Opens `path` in the editor until `check` accepts its text or the user gives up.
///
/// `check` gets the file's text and returns what it made of it, or the
/// problems to show (one per line, `file:line:column: message`). The answer
/// to "edit again?" is read as a line from standard input; an empty line is
/// yes, and the end of input is no.
pub fn edit_until_valid<T, E: Display>(
    path: &Path,
    mut check: impl FnMut(&str) -> Result<T, E>,
) -> anyhow::Result<Edited<T>> {
    let editor = editor_command();
    loop {
        run_editor(&editor, path)?;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {} after editing", path.display()))?;
        let problems = match check(&text) {
            Ok(valid) => return Ok(Edited::Valid(valid)),
            Err(problems) => problems,
        };
        eprintln!("{problems}");
        if !ask_again()? {
            return Ok(Edited::GaveUp);
        }
    }
}

/// Runs the editor on `path` and waits for it to close.
fn run_editor(editor: &str, path: &Path) -> anyhow::Result<()> {
    // `"$@"` passes the path as one word whatever it contains.
    EDITING.store(true, Ordering::SeqCst);
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$@\""))
        .arg("sh")
        .arg(path)
        .status();
    EDITING.store(false, Ordering::SeqCst);
    let status = status.with_context(|| format!("cannot start the editor `{editor}`"))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(127) => bail!(
            "the editor `{editor}` was not found; set VISUAL or EDITOR (the file {} is kept)",
            path.display()
        ),
        _ => bail!(
            "the editor `{editor}` failed ({status}); the file {} is kept as it is",
            path.display()
        ),
    }
}

/// Asks "edit again? [Y/n]" and reads the answer from standard input.
fn ask_again() -> anyhow::Result<bool> {
    let stdin = std::io::stdin();
    loop {
        eprint!("edit again? [Y/n] ");
        std::io::stderr().flush().ok();
        let mut answer = String::new();
        if stdin.lock().read_line(&mut answer)? == 0 {
            eprintln!();
            return Ok(false);
        }
        match answer.trim().to_lowercase().as_str() {
            "" | "y" | "yes" => return Ok(true),
            "n" | "no" => return Ok(false),
            _ => eprintln!("please answer y or n"),
        }
    }
}

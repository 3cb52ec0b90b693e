//! `--files` (and the menu's Files) as they are written into `necessary_files`.
//!
//! Globs are expanded here, when the file is generated, the way a shell would
//! (`*` skips dot files, matches are sorted), so the file lists what will be
//! sent and a later stray file in the folder is not sent by surprise. Paths
//! are relative to the current folder as typed, and are rewritten to stay
//! right when the task file goes to another folder (`-o elsewhere/t.toml`).

use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context};

/// Where files are named from, and where the task file goes.
#[derive(Debug, Clone)]
pub struct FileBase {
    /// The folder relative entries are typed in (the current folder).
    pub cwd: PathBuf,
    /// The folder of the task file: `necessary_files` are relative to it.
    pub task_dir: PathBuf,
    /// The task file itself, never listed in its own `necessary_files`.
    pub task_file: PathBuf,
}

impl FileBase {
    /// The `necessary_files` entries for `entries`: globs expanded, each
    /// rebased onto the task file's folder. A glob that matches nothing is an
    /// error; a plain path that does not exist yet is kept (it must exist
    /// when the task is submitted), and returned in the second list.
    pub fn expand(&self, entries: &[String]) -> anyhow::Result<(Vec<String>, Vec<String>)> {
        let mut out = Vec::new();
        let mut missing = Vec::new();
        for entry in entries {
            if entry.trim().is_empty() {
                bail!("an empty path in --files");
            }
            if !is_glob(entry) {
                if !self.cwd.join(entry).exists() {
                    missing.push(entry.clone());
                }
                push_new(&mut out, self.rebase(Path::new(entry)));
                continue;
            }
            let pattern = self.cwd.join(entry);
            let options = glob::MatchOptions {
                require_literal_leading_dot: true,
                ..glob::MatchOptions::new()
            };
            let matches = glob::glob_with(&pattern.to_string_lossy(), options)
                .with_context(|| format!("`{entry}` is not a valid glob"))?;
            let mut any = false;
            for found in matches {
                let found = found.with_context(|| format!("cannot read a match of `{entry}`"))?;
                if same_file(&found, &self.task_file) {
                    continue;
                }
                any = true;
                let typed = found.strip_prefix(&self.cwd).unwrap_or(&found);
                let typed = if Path::new(entry).is_absolute() {
                    found.clone()
                } else if entry.starts_with("./") {
                    Path::new(".").join(typed)
                } else {
                    typed.to_path_buf()
                };
                push_new(&mut out, self.rebase(&typed));
            }
            if !any {
                bail!("`{entry}` matches no file in {}", self.cwd.display());
            }
        }
        Ok((out, missing))
    }

    /// `path`, typed relative to the current folder, as seen from the task
    /// file's folder: unchanged when they are the same folder, else relative
    /// when it is inside that folder, else absolute.
    fn rebase(&self, path: &Path) -> String {
        if path.is_absolute() || self.cwd == self.task_dir {
            return path.to_string_lossy().into_owned();
        }
        let absolute = normalize(&self.cwd.join(path));
        match absolute.strip_prefix(&self.task_dir) {
            Ok(inside) if !inside.as_os_str().is_empty() => {
                Path::new(".").join(inside).to_string_lossy().into_owned()
            }
            _ => absolute.to_string_lossy().into_owned(),
        }
    }
}

fn is_glob(entry: &str) -> bool {
    entry.contains(['*', '?', '['])
}

fn push_new(list: &mut Vec<String>, entry: String) {
    if !list.contains(&entry) {
        list.push(entry);
    }
}

/// Whether two paths name one file (false when either does not exist).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// `path` without `.` and with `..` applied, by its text alone.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for file in [
            "b.py",
            "a.py",
            ".hidden",
            "sub/c.txt",
            "out/servicetask.toml",
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "x").expect("write");
        }
        dir
    }

    #[test]
    fn globs_expand_like_a_shell_and_skip_the_task_file() {
        let dir = tree();
        let cwd = dir.path().canonicalize().expect("canonical");
        let base = FileBase {
            cwd: cwd.clone(),
            task_dir: cwd.clone(),
            task_file: cwd.join("a.py"),
        };
        let (files, missing) = base
            .expand(&["./*".to_owned(), "later.sh".to_owned()])
            .expect("expands");
        assert_eq!(files, ["./b.py", "./out", "./sub", "later.sh"]);
        assert_eq!(missing, ["later.sh"]);
        let err = base.expand(&["*.rs".to_owned()]).expect_err("no match");
        assert!(err.to_string().contains("matches no file"), "{err}");
    }

    #[test]
    fn paths_follow_the_task_file_to_another_folder() {
        let dir = tree();
        let cwd = dir.path().canonicalize().expect("canonical");
        let base = FileBase {
            cwd: cwd.clone(),
            task_dir: cwd.join("sub"),
            task_file: cwd.join("sub/t.toml"),
        };
        let (files, _) = base
            .expand(&["sub/*.txt".to_owned(), "a.py".to_owned()])
            .expect("expands");
        let outside = cwd.join("a.py").to_string_lossy().into_owned();
        assert_eq!(files, vec!["./c.txt".to_owned(), outside]);
    }
}

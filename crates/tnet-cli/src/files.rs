//! Which local files a task sends, and where each lands in the workspace (SPEC 3.4).
//!
//! - an absolute path lands at the top of the workspace under its base name;
//! - a relative path (to the task file's folder) keeps its relative place, and
//!   one that climbs out of that folder (`../x`) is refused;
//! - a glob is expanded here, on the client, by the same rules;
//! - a folder is sent whole, with every file's mode;
//! - only regular files travel: a device, fifo or socket (named, or in a
//!   named folder) is refused before anything is read or sent (reading a
//!   fifo or `/dev/zero` would never end).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context};

/// A local file to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// Where it is here.
    pub source: PathBuf,
    /// Where it lands in the workspace, `/`-separated.
    pub dest: String,
    /// Its permission bits.
    pub mode: u32,
    /// Its size.
    pub size: u64,
}

fn is_glob(entry: &str) -> bool {
    entry.contains(['*', '?', '['])
}

/// The workspace path of a relative entry, refusing any that climbs out.
fn relative_dest(entry: &str, rel: &Path) -> anyhow::Result<PathBuf> {
    let mut out = PathBuf::new();
    for comp in rel.components() {
        match comp {
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            _ => bail!(
                "necessary file `{entry}` climbs out of the task file's folder; move it under that folder or give its absolute path"
            ),
        }
    }
    Ok(out)
}

/// Every file `entries` name, relative to `task_dir`, with its place in the workspace.
pub fn collect(task_dir: &Path, entries: &[String]) -> anyhow::Result<Vec<LocalFile>> {
    let mut by_dest: BTreeMap<String, LocalFile> = BTreeMap::new();
    for entry in entries {
        let path = Path::new(entry);
        // (source, dest-in-workspace) pairs this entry names.
        let mut roots: Vec<(PathBuf, PathBuf)> = Vec::new();
        if is_glob(entry) {
            let pattern = if path.is_absolute() {
                path.to_path_buf()
            } else {
                task_dir.join(path)
            };
            let pattern = pattern.to_string_lossy().into_owned();
            let matches = glob::glob(&pattern)
                .with_context(|| format!("necessary file `{entry}` is not a valid glob"))?;
            for m in matches {
                let m = m.with_context(|| format!("cannot read a match of `{entry}`"))?;
                let dest = if path.is_absolute() {
                    PathBuf::from(m.file_name().unwrap_or_default())
                } else {
                    relative_dest(entry, m.strip_prefix(task_dir).unwrap_or(&m))?
                };
                roots.push((m, dest));
            }
            if roots.is_empty() {
                bail!(
                    "necessary file `{entry}` matches no file in {}",
                    task_dir.display()
                );
            }
        } else if path.is_absolute() {
            let Some(base) = path.file_name() else {
                bail!("necessary file `{entry}` has no file name")
            };
            roots.push((path.to_path_buf(), PathBuf::from(base)));
        } else {
            roots.push((task_dir.join(path), relative_dest(entry, path)?));
        }
        for (source, dest) in roots {
            add_tree(entry, &source, &dest, &mut by_dest)?;
        }
    }
    Ok(by_dest.into_values().collect())
}

/// Adds a file, or every file of a folder, to the set.
fn add_tree(
    entry: &str,
    source: &Path,
    dest: &Path,
    out: &mut BTreeMap<String, LocalFile>,
) -> anyhow::Result<()> {
    let meta = std::fs::metadata(source).with_context(|| {
        format!(
            "necessary file `{entry}` not found (looked at {})",
            source.display()
        )
    })?;
    refuse_special(entry, source, &meta)?;
    let files: Vec<(PathBuf, PathBuf)> = if meta.is_dir() {
        let mut v = Vec::new();
        for item in walkdir::WalkDir::new(source)
            .follow_links(true)
            .sort_by_file_name()
        {
            let item =
                item.with_context(|| format!("cannot read the folder {}", source.display()))?;
            if !item.file_type().is_dir() {
                let meta = item
                    .metadata()
                    .with_context(|| format!("cannot read {}", item.path().display()))?;
                refuse_special(entry, item.path(), &meta)?;
                let rel = item.path().strip_prefix(source).unwrap_or(item.path());
                v.push((item.path().to_path_buf(), dest.join(rel)));
            }
        }
        v
    } else {
        vec![(source.to_path_buf(), dest.to_path_buf())]
    };
    for (src, dst) in files {
        let meta =
            std::fs::metadata(&src).with_context(|| format!("cannot read {}", src.display()))?;
        if dest.as_os_str().is_empty() {
            bail!("necessary file `{entry}` names the task file's folder itself; list the files in it instead");
        }
        let dest = dst.to_string_lossy().into_owned();
        let file = LocalFile {
            source: src,
            dest: dest.clone(),
            mode: meta.permissions().mode() & 0o777,
            size: meta.len(),
        };
        if let Some(prev) = out.get(&dest) {
            if prev.source != file.source {
                bail!(
                    "`{}` and `{}` would both land at `{dest}` in the workspace",
                    prev.source.display(),
                    file.source.display()
                );
            }
        }
        out.insert(dest, file);
    }
    Ok(())
}

/// Refuses anything but a regular file or a folder, naming what it is.
fn refuse_special(entry: &str, path: &Path, meta: &std::fs::Metadata) -> anyhow::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let what = if t.is_file() || t.is_dir() {
        return Ok(());
    } else if t.is_fifo() {
        "a fifo (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    };
    bail!(
        "necessary file `{entry}`: {} is {what}; only regular files and folders can be sent, so remove it from necessary_files (or from the folder), or copy what it holds into a file",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_land_where_the_spec_says() {
        let dir = tempfile::tempdir().expect("tempdir");
        let other = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("bin/sub")).expect("mkdir");
        std::fs::write(dir.path().join("bin/run.sh"), "x").expect("write");
        std::fs::write(dir.path().join("bin/sub/deep"), "y").expect("write");
        std::fs::write(dir.path().join("a.txt"), "a").expect("write");
        let abs = other.path().join("my_binary");
        std::fs::write(&abs, "b").expect("write");
        let entries = vec![
            "bin".to_owned(),
            "./*.txt".to_owned(),
            abs.to_string_lossy().into_owned(),
        ];
        let files = collect(dir.path(), &entries).expect("collect");
        let dests: Vec<_> = files.iter().map(|f| f.dest.as_str()).collect();
        assert_eq!(dests, ["a.txt", "bin/run.sh", "bin/sub/deep", "my_binary"]);
    }

    #[test]
    fn climbing_out_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = collect(dir.path(), &["../x".to_owned()]).expect_err("refused");
        assert!(err.to_string().contains("climbs out"), "{err}");
        let err = collect(dir.path(), &["missing".to_owned()]).expect_err("missing");
        assert!(err.to_string().contains("not found"), "{err}");
    }

    #[test]
    fn devices_fifos_and_sockets_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let made = std::process::Command::new("mkfifo")
            .arg(dir.path().join("pipe"))
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        let err = collect(dir.path(), &["pipe".to_owned()]).expect_err("fifo");
        assert!(err.to_string().contains("is a fifo"), "{err}");
        let err = collect(dir.path(), &["/dev/null".to_owned()]).expect_err("device");
        assert!(err.to_string().contains("character device"), "{err}");
        // Inside a folder that is sent whole, too.
        std::fs::create_dir(dir.path().join("d")).expect("mkdir");
        std::fs::write(dir.path().join("d/ok"), "x").expect("write");
        let _socket =
            std::os::unix::net::UnixListener::bind(dir.path().join("d/sock")).expect("bind");
        let err = collect(dir.path(), &["d".to_owned()]).expect_err("socket");
        assert!(err.to_string().contains("is a socket"), "{err}");
    }
}

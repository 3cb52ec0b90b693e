//! Call folders made ahead of the calls that use them.
//!
//! Every call gets a folder of its own with its input in a file. Making a
//! folder and a file is a few metadata writes: on a disk kept busy by other
//! work it took a quarter of a millisecond or more (measured on the
//! benchmark machine, `docs/benchmarks.md`), while writing into a file that
//! exists took microseconds. So a service keeps a few spare folders, each
//! with an empty `input` file, made while no call waits: a call takes one,
//! and the end of a call makes the next one after its answer has gone.
//!
//! Spares are held (`retention::calls::hold`) like the folders of calls in
//! progress, so the sweep leaves them alone; a host killed with spares left
//! leaves empty folders that the sweep clears like any other left behind.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::retention::calls::{hold, Held};

/// The name of a call's input file in its folder.
pub(crate) const INPUT: &str = "input";

/// A service's spare call folders.
pub(crate) struct Spares {
    /// Where call folders are made (`Paths::calls`).
    calls: PathBuf,
    /// Folders made, with an empty input file, that no call uses yet.
    ready: Mutex<Vec<(PathBuf, Held)>>,
    /// How many to keep ready: one more than the calls that run at once.
    keep: usize,
}

impl Spares {
    pub(crate) fn new(calls: PathBuf, keep: usize) -> Spares {
        Spares {
            calls,
            ready: Mutex::new(Vec::new()),
            keep,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(PathBuf, Held)>> {
        // Pushes and pops only: nothing is left half-changed by a panic.
        self.ready.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A folder for a new call, held: a spare if one is ready, otherwise a
    /// new name, which the call makes when it stores its input.
    pub(crate) fn take(&self) -> (PathBuf, Held) {
        if let Some(spare) = self.lock().pop() {
            return spare;
        }
        let dir = self.calls.join(uuid::Uuid::new_v4().to_string());
        let held = hold(&dir);
        (dir, held)
    }

    /// Makes spares until enough are ready. It writes to the disk: call it
    /// off the runtime's threads (`spawn_blocking`).
    pub(crate) fn fill(&self) {
        let wanted = self.keep.saturating_sub(self.lock().len());
        for _ in 0..wanted {
            let dir = self.calls.join(uuid::Uuid::new_v4().to_string());
            let held = hold(&dir);
            if let Err(err) = make(&dir) {
                // Calls make their own folders meanwhile, as they can.
                tracing::debug!("cannot make a spare call folder {}: {err}", dir.display());
                let _ = std::fs::remove_dir_all(&dir);
                return;
            }
            self.lock().push((dir, held));
        }
    }

    /// Takes back the folder of a call that has been answered. When the
    /// call left nothing in it but its input, the input is emptied and the
    /// folder is a spare again: a few system calls, where removing it and
    /// making another took a quarter of a millisecond of metadata writes on
    /// a busy disk, and ran while the next call was arriving. Otherwise it
    /// is removed. Writes to the disk, as [`Spares::fill`].
    pub(crate) fn give_back(&self, dir: PathBuf, held: Held) {
        if self.lock().len() < self.keep && empty_but_input(&dir) {
            self.lock().push((dir, held));
            return;
        }
        let _ = std::fs::remove_dir_all(&dir);
        drop(held);
    }

    /// Removes the spares (the service stops). Writes to the disk, as [`Spares::fill`].
    pub(crate) fn clear(&self) {
        let spares = std::mem::take(&mut *self.lock());
        for (dir, held) in spares {
            let _ = std::fs::remove_dir_all(&dir);
            drop(held);
        }
    }
}

/// Whether `dir` holds only its input file, now emptied. The file is
/// emptied only if it is a plain file of its own: the call's commands may
/// have put a link or a pipe in its place, which is never followed.
fn empty_but_input(dir: &Path) -> bool {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut names = entries.map(|e| e.map(|e| e.file_name()));
    match (names.next(), names.next()) {
        (Some(Ok(name)), None) if name == INPUT => {}
        _ => return false,
    }
    let Ok(file) = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(dir.join(INPUT))
    else {
        return false;
    };
    match file.metadata() {
        Ok(m) if m.is_file() && m.nlink() == 1 => file.set_len(0).is_ok(),
        _ => false,
    }
}

/// Makes a call folder with an empty input file.
fn make(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::File::create(dir.join(INPUT))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spares_are_taken_made_again_and_cleared() {
        let calls = tempfile::tempdir().expect("dir");
        let spares = Spares::new(calls.path().to_path_buf(), 2);
        // None made yet: a new name, for the call to make.
        let (fresh, _held) = spares.take();
        assert!(!fresh.exists());
        spares.fill();
        let (first, held) = spares.take();
        assert!(first.join(INPUT).is_file(), "a spare has its empty input");
        assert!(crate::retention::calls::is_held(&first));
        drop(held);
        assert!(!crate::retention::calls::is_held(&first));
        spares.fill();
        assert_eq!(std::fs::read_dir(calls.path()).expect("list").count(), 3);
        spares.clear();
        assert_eq!(std::fs::read_dir(calls.path()).expect("list").count(), 1);
    }

    #[test]
    fn a_folder_with_only_its_input_is_a_spare_again_and_any_other_goes() {
        let calls = tempfile::tempdir().expect("dir");
        let spares = Spares::new(calls.path().to_path_buf(), 4);
        spares.fill();
        let give = |write: &dyn Fn(&Path)| {
            let (dir, held) = spares.take();
            std::fs::write(dir.join(INPUT), b"the call's input").expect("input");
            write(&dir);
            spares.give_back(dir.clone(), held);
            dir
        };
        let kept = give(&|_| {});
        assert!(crate::retention::calls::is_held(&kept), "held as a spare");
        assert_eq!(std::fs::read(kept.join(INPUT)).expect("input"), b"");
        let other = tempfile::NamedTempFile::new().expect("file");
        std::fs::write(other.path(), b"not the host's").expect("write");
        let cases: [&dyn Fn(&Path); 3] = [
            &|d| std::fs::write(d.join("result.txt"), b"left").expect("file"),
            &|d| {
                std::fs::remove_file(d.join(INPUT)).expect("rm");
                std::os::unix::fs::symlink(other.path(), d.join(INPUT)).expect("link");
            },
            &|d| {
                std::fs::remove_file(d.join(INPUT)).expect("rm");
                std::fs::hard_link(other.path(), d.join(INPUT)).expect("link");
            },
        ];
        for case in cases {
            let gone = give(case);
            assert!(!gone.exists(), "{} was removed", gone.display());
        }
        assert_eq!(
            std::fs::read(other.path()).expect("read"),
            b"not the host's"
        );
    }
}

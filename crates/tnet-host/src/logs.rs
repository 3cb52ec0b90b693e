//! Each task's output: appended to a capped log file and published live.
//!
//! The log is `<records>/logs/<task>.log`; when it passes the cap it becomes
//! `<task>.log.1` (replacing the older one) and a new file starts, so a task
//! never holds more than twice the cap on disk. Every append gets a sequence
//! number under the same lock as the write, which lets `tnet logs -f` join
//! the tail it read with the chunks published after it without gaps or repeats.
//!
//! The file is opened for each append, not held open: every descriptor the
//! host holds is copied into each command it starts (`posix_spawn` clones
//! the descriptor table, and the command's `exec` closes them again), so a
//! thousand habits holding their logs open made each of their starts copy
//! and close a thousand descriptors (docs/benchmarks.md, "Habits").

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Mutex;

/// The default size at which a task's log is rotated.
pub const DEFAULT_CAP: u64 = 8 << 20;

/// The most a single `tnet logs` reply carries.
pub const MAX_TAIL: u64 = 4 << 20;

/// One task's log.
pub struct TaskLog {
    path: PathBuf,
    rotated: PathBuf,
    cap: u64,
    state: Mutex<LogState>,
}

struct LogState {
    /// How long the current file is.
    size: u64,
    seq: u64,
    /// The last byte written ended a line, so the next byte starts one.
    at_line_start: bool,
    /// The task was removed: its files are gone and stay gone. (Output
    /// still on its way, from a child that outlived the task, would
    /// otherwise make the file again, for the next task of that name.)
    deleted: bool,
}

/// Prefixes every line that starts in `bytes` with `stamp` and a space.
/// A line split across chunks is stamped once, where it started.
fn stamp_lines(bytes: &[u8], stamp: &str, at_line_start: &mut bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 32);
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if *at_line_start {
            out.extend_from_slice(stamp.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(line);
        *at_line_start = line.ends_with(b"\n");
    }
    out
}

/// The log file at `path`, created if it is not there, for appending.
fn open_for_append(path: &std::path::Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl TaskLog {
    /// Opens (creating) the log of the task with this safe name.
    pub fn open(dir: &std::path::Path, safe_name: &str, cap: u64) -> io::Result<TaskLog> {
        let path = dir.join(format!("{safe_name}.log"));
        let rotated = dir.join(format!("{safe_name}.log.1"));
        let size = open_for_append(&path)?.metadata()?.len();
        Ok(TaskLog {
            path,
            rotated,
            cap,
            state: Mutex::new(LogState {
                size,
                seq: 0,
                at_line_start: true,
                deleted: false,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends output, each line stamped with the time it started, and
    /// returns its sequence number with the bytes as written; `None` once
    /// the task was removed (nothing is written).
    pub fn append(&self, bytes: &[u8]) -> io::Result<Option<(u64, Vec<u8>)>> {
        let mut st = self.lock();
        if st.deleted {
            return Ok(None);
        }
        let stamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let bytes = stamp_lines(bytes, &stamp, &mut st.at_line_start);
        let bytes = bytes.as_slice();
        if st.size > 0 && st.size + bytes.len() as u64 > self.cap {
            std::fs::rename(&self.path, &self.rotated)?;
            st.size = 0;
        }
        // A single chunk bigger than the cap keeps only its end.
        let keep = &bytes[bytes.len().saturating_sub(self.cap as usize)..];
        open_for_append(&self.path)?.write_all(keep)?;
        st.size += keep.len() as u64;
        st.seq += 1;
        Ok(Some((st.seq, keep.to_vec())))
    }

    /// The last `max` bytes of the log (both files), and the sequence number
    /// of the last append they include.
    pub fn tail(&self, max: u64) -> io::Result<(Vec<u8>, u64)> {
        let st = self.lock();
        let mut out = Vec::new();
        let from_current = max.min(st.size);
        if from_current < max {
            if let Ok(mut old) = File::open(&self.rotated) {
                let len = old.metadata()?.len();
                let want = (max - from_current).min(len);
                old.seek(SeekFrom::Start(len - want))?;
                old.take(want).read_to_end(&mut out)?;
            }
        }
        let mut cur = File::open(&self.path)?;
        cur.seek(SeekFrom::Start(st.size - from_current))?;
        cur.take(from_current).read_to_end(&mut out)?;
        Ok((out, st.seq))
    }

    /// Deletes the log files (the task is removed).
    pub fn delete(&self) {
        self.lock().deleted = true;
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_file(&self.rotated);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loud_task_stays_under_twice_the_cap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = TaskLog::open(dir.path(), "loud", 1000).expect("open");
        for i in 0..500 {
            log.append(format!("line {i:04}\n").as_bytes())
                .expect("append");
        }
        let total: u64 = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("e").metadata().expect("m").len())
            .sum();
        assert!(total <= 2000, "{total} bytes on disk");
        // Each line is a 25-byte stamp and 10 bytes of output.
        let (tail, seq) = log.tail(70).expect("tail");
        assert_eq!(seq, 500);
        let text = String::from_utf8(tail).expect("utf8");
        let lines: Vec<_> = text.lines().map(|l| &l[25..]).collect();
        assert_eq!(lines, ["line 0498", "line 0499"]);
    }

    #[test]
    fn the_tail_spans_the_rotated_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = TaskLog::open(dir.path(), "t", 40).expect("open");
        log.append(b"abcdefgh").expect("append");
        log.append(b"ijk\n").expect("append");
        let text = String::from_utf8(log.tail(100).expect("tail").0).expect("utf8");
        assert!(text.ends_with(" abcdefghijk\n"), "{text:?}");
    }

    #[test]
    fn a_log_holds_no_descriptor_between_appends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = TaskLog::open(dir.path(), "quiet", 1000).expect("open");
        log.append(b"one line\n").expect("append");
        // Every command the host starts gets a copy of each descriptor it
        // holds: a thousand habits held a thousand logs open.
        let held: Vec<PathBuf> = std::fs::read_dir("/proc/self/fd")
            .expect("/proc/self/fd")
            .flatten()
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .filter(|target| target.starts_with(dir.path()))
            .collect();
        assert_eq!(held, Vec::<PathBuf>::new());
        let text = String::from_utf8(log.tail(100).expect("tail").0).expect("utf8");
        assert!(text.ends_with(" one line\n"), "{text:?}");
    }

    #[test]
    fn a_removed_tasks_log_is_not_made_again_by_late_output() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = TaskLog::open(dir.path(), "gone", 1000).expect("open");
        log.append(b"before\n").expect("append");
        log.delete();
        assert_eq!(log.append(b"a child's last words\n").expect("append"), None);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("read_dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn lines_are_stamped_where_they_start() {
        let mut start = true;
        let out = stamp_lines(b"a\nb", "T", &mut start);
        assert_eq!(out, b"T a\nT b");
        assert!(!start);
        assert_eq!(stamp_lines(b"c\nd\n", "U", &mut start), b"c\nU d\n");
        assert!(start);
    }
}

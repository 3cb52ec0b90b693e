//! Each task's output: appended to a capped log file and published live.
//!
//! The log is `<records>/logs/<task>.log`; when it passes the cap it becomes
//! `<task>.log.1` (replacing the older one) and a new file starts, so a task
//! never holds more than twice the cap on disk. Every append gets a sequence
//! number under the same lock as the write, which lets `tnet logs -f` join
//! the tail it read with the chunks published after it without gaps or repeats.

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
    file: File,
    size: u64,
    seq: u64,
}

impl TaskLog {
    /// Opens (creating) the log of the task with this safe name.
    pub fn open(dir: &std::path::Path, safe_name: &str, cap: u64) -> io::Result<TaskLog> {
        let path = dir.join(format!("{safe_name}.log"));
        let rotated = dir.join(format!("{safe_name}.log.1"));
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(TaskLog {
            path,
            rotated,
            cap,
            state: Mutex::new(LogState { file, size, seq: 0 }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends output and returns its sequence number.
    pub fn append(&self, bytes: &[u8]) -> io::Result<u64> {
        let mut st = self.lock();
        if st.size > 0 && st.size + bytes.len() as u64 > self.cap {
            std::fs::rename(&self.path, &self.rotated)?;
            st.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            st.size = 0;
        }
        // A single chunk bigger than the cap keeps only its end.
        let keep = &bytes[bytes.len().saturating_sub(self.cap as usize)..];
        st.file.write_all(keep)?;
        st.size += keep.len() as u64;
        st.seq += 1;
        Ok(st.seq)
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
        let (tail, seq) = log.tail(20).expect("tail");
        assert_eq!(seq, 500);
        assert_eq!(
            String::from_utf8(tail).expect("utf8"),
            "line 0498\nline 0499\n"
        );
    }

    #[test]
    fn the_tail_spans_the_rotated_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = TaskLog::open(dir.path(), "t", 10).expect("open");
        log.append(b"abcdefgh").expect("append");
        log.append(b"ijk").expect("append");
        assert_eq!(log.tail(100).expect("tail").0, b"abcdefghijk");
    }
}

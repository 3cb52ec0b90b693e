//! What the host reads about processes from `/proc`: the few fields of
//! `/proc/<pid>/stat` it needs (whether a group still runs, who a process's
//! parent is, when a group leader started) and the list of processes.

/// Fields of `/proc/<pid>/stat` (proc(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// The state letter (`R`, `S`, `Z` for a zombie...).
    pub state: char,
    /// The parent's pid.
    pub ppid: u32,
    /// The process group.
    pub pgrp: u32,
    /// The start time in clock ticks since boot.
    pub start_ticks: u64,
}

/// The stat of `pid`, or `None` when it is gone (or unreadable).
pub fn stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: skip past its last ')'.
    let fields: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    // Field 3 of proc(5) is fields[0] here.
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

/// Every pid in `/proc` now.
pub fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_read_and_listed() {
        let me = std::process::id();
        let s = stat(me).expect("own stat");
        assert_eq!(s.ppid, nix::unistd::getppid().as_raw() as u32);
        assert_eq!(s.pgrp, nix::unistd::getpgrp().as_raw() as u32);
        assert!(s.start_ticks > 0);
        assert!(pids().any(|p| p == me));
    }
}

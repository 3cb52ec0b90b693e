//! Signalling a command that runs in a container: through the host's own
//! `kill` when the host can see the command's process, else through the
//! engine API alone (an exec that signals it from inside the container).
//!
//! The engine reports an exec's pid as its own machine sees it. The host
//! uses that pid only when `/proc/<pid>` is there and in another pid
//! namespace than the host's (a process of the container, not some process
//! of the host that happens to have that number), and only while `kill`
//! works (a rootless engine's processes may belong to other uids). A
//! remote engine (`DOCKER_HOST=tcp://...`) or a host in a pid namespace of
//! its own sees none of them: each command then says its pid *inside* the
//! container as the first line of its standard error ([`PID_LINE`], taken off
//! before its output is kept), and the host signals it, and everything it
//! started, with an exec of [`KILL_TREE`] as root in the container.

use nix::sys::signal::Signal;

use super::{DockerError, Engine};

/// What a wrapped command writes first on its standard error: this, its pid
/// in the container, and a newline.
pub const PID_LINE: &str = "tnet-exec-pid ";

/// A shell prologue that writes [`PID_LINE`] (the shell's own pid, which
/// the command's `exec` keeps).
pub const PID_PROLOGUE: &str = "printf 'tnet-exec-pid %s\\n' \"$$\" >&2";

/// Signals `$2` and every process under it, in the container, with `$1`;
/// only the shell's builtins and `/proc`, so any image with `sh` will do.
const KILL_TREE: &str = r#"sig=$1; tree=" $2 "; grew=1
while [ $grew = 1 ]; do
  grew=0
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    case "$tree" in *" $p "*) continue ;; esac
    pp=
    while read -r k v; do
      if [ "$k" = PPid: ]; then pp=$v; break; fi
    done 2>/dev/null <"$d/status"
    case "$tree" in *" $pp "*) tree="$tree$p "; grew=1 ;; esac
  done
done
kill -s "$sig" $tree 2>/dev/null
exit 0"#;

/// Where a command in a container runs, as far as the host knows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecPids {
    /// Its pid on the host, when the engine gave one the host can see.
    pub host: Option<u32>,
    /// Its pid inside the container, from its [`PID_LINE`].
    pub inner: Option<u32>,
}

impl ExecPids {
    /// Whether there is any way to signal it.
    pub fn known(&self) -> bool {
        self.host.is_some() || self.inner.is_some()
    }
}

/// `pid`, when it names a process of a container that this host can see:
/// present in this host's `/proc`, in another pid namespace than the host's.
pub fn visible(pid: u32) -> Option<u32> {
    let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok();
    let theirs = ns(&pid.to_string())?;
    (Some(theirs) != ns("self")).then_some(pid)
}

/// Reads a [`PID_LINE`] (without its newline).
pub fn parse_pid_line(line: &[u8]) -> Option<u32> {
    std::str::from_utf8(line)
        .ok()?
        .trim_end_matches('\r')
        .strip_prefix(PID_LINE)?
        .trim()
        .parse()
        .ok()
}

/// Takes a [`PID_LINE`] off the start of a stream: feed it chunks until it
/// has the line, then it hands every byte on untouched.
#[derive(Debug, Default)]
pub struct PidLine {
    head: Vec<u8>,
    done: bool,
}

impl PidLine {
    /// The bytes of `chunk` that belong to the command's output, and the pid
    /// once the line is complete (`Some` once, on the chunk that ends it).
    pub fn feed(&mut self, chunk: &[u8]) -> (Vec<u8>, Option<u32>) {
        if self.done {
            return (chunk.to_vec(), None);
        }
        self.head.extend_from_slice(chunk);
        let Some(end) = self.head.iter().position(|b| *b == b'\n') else {
            if self.head.len() > 64 {
                // Not ours (a command that is not wrapped): pass it all on.
                self.done = true;
                return (std::mem::take(&mut self.head), None);
            }
            return (Vec::new(), None);
        };
        self.done = true;
        let rest = self.head.split_off(end + 1);
        let pid = parse_pid_line(&self.head[..end]);
        if pid.is_none() {
            let mut all = std::mem::take(&mut self.head);
            all.extend(rest);
            return (all, None);
        }
        (rest, pid)
    }
}

impl Engine {
    /// Signals a command in `container` and everything it started: by the
    /// host's own `kill` when it can see the command, else by an exec in the
    /// container. `false` when neither could be done.
    pub async fn signal_exec(&self, container: &str, pids: ExecPids, signal: Signal) -> bool {
        if let Some(pid) = pids.host.and_then(visible) {
            if super::runner::signal_tree(pid, signal) {
                return true;
            }
        }
        let Some(inner) = pids.inner else {
            return false;
        };
        match self.signal_inside(container, inner, signal).await {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(container = %container, "cannot signal a command through the engine: {err}");
                false
            }
        }
    }

    /// Signals `pid` (a pid in the container) and its descendants, as root
    /// in the container, through the engine.
    async fn signal_inside(
        &self,
        container: &str,
        pid: u32,
        signal: Signal,
    ) -> Result<(), DockerError> {
        let name = signal.as_str().trim_start_matches("SIG");
        let pid = pid.to_string();
        self.exec_as(container, "0:0", &["sh", "-c", KILL_TREE, "sh", name, &pid])
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pid_line_is_taken_off_however_it_arrives() {
        let mut line = PidLine::default();
        assert_eq!(line.feed(b"tnet-exec"), (Vec::new(), None));
        assert_eq!(line.feed(b"-pid 42\nerr"), (b"err".to_vec(), Some(42)));
        assert_eq!(line.feed(b"more\n"), (b"more\n".to_vec(), None));
        // A terminal's line ending.
        let mut tty = PidLine::default();
        assert_eq!(
            tty.feed(b"tnet-exec-pid 7\r\n$ "),
            (b"$ ".to_vec(), Some(7))
        );
        // Not a pid line: nothing is lost.
        let mut other = PidLine::default();
        assert_eq!(
            other.feed(b"hello\nworld"),
            (b"hello\nworld".to_vec(), None)
        );
    }

    #[test]
    fn this_process_is_not_a_containers() {
        assert_eq!(visible(std::process::id()), None);
        assert_eq!(visible(u32::MAX), None);
    }
}

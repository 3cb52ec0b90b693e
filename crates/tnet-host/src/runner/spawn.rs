//! Starting `sh -c` for a task (by `tnet-spawn`'s `posix_spawnp`), and
//! waiting for it to end.
//!
//! std's `Command` copies the host's whole environment into a map at every
//! spawn that changes it, and every task command does (`TNET_TASK`,
//! `TNET_SCHEDULED`...): at a hundred habit runs a second that copy was a
//! tenth of all the host did (docs/benchmarks.md). The host's environment
//! does not change once it runs, so it is read once here ([`base_env`]) and
//! each spawn lays only its own variables over it.
//!
//! The child's end is read from a pidfd registered with the runtime; on a
//! kernel without pidfds (before Linux 5.3) a thread waits for it instead.

use std::ffi::{CStr, CString, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::OnceLock;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tnet_spawn::{ExitWatch, Program, Stdin};
use tokio::sync::oneshot;

use super::{CommandSpec, Exit};

/// What the command reads as its standard input.
pub enum Input {
    /// `/dev/null`, opened by the child itself.
    Null,
    /// A file the host opened (a service call's input).
    File(std::fs::File),
    /// A pipe whose writing end the caller gets.
    Piped,
}

/// A started command: the child and the host's ends of its pipes, which
/// are non-blocking (the runtime reads and writes them).
pub struct Spawned {
    pub child: Child,
    /// The writing end of its standard input, for [`Input::Piped`].
    pub stdin: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// The host's environment as its commands inherit it, read once: each entry
/// `KEY=VALUE` with its key. The variable the host set for itself
/// (`zenoh_pools`) is left out.
fn base_env() -> &'static [(OsString, CString)] {
    static BASE: OnceLock<Vec<(OsString, CString)>> = OnceLock::new();
    BASE.get_or_init(|| {
        let hidden = crate::zenoh_pools::hidden_from_children();
        std::env::vars_os()
            .filter(|(key, _)| hidden.is_none_or(|h| key.as_bytes() != h.as_bytes()))
            .filter_map(|(key, value)| {
                let mut entry = key.clone().into_vec();
                entry.push(b'=');
                entry.extend_from_slice(value.as_bytes());
                Some((key, CString::new(entry).ok()?))
            })
            .collect()
    })
}

/// `text` for a program, which takes no NUL byte.
fn nul_free(text: impl Into<Vec<u8>>, what: &str) -> io::Result<CString> {
    CString::new(text).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the command's {what} holds a NUL byte, which no program can be given"),
        )
    })
}

/// `sh -c <spec.command> sh <spec.args>...` in `spec.workdir`, in a process
/// group of its own, with the host's environment and `spec.env` over it.
pub fn spawn_sh(spec: &CommandSpec, input: Input) -> io::Result<Spawned> {
    // `sh -c CMD NAME ARGS...`: NAME becomes `$0` and ARGS `$1`... (`"$@"`).
    let command = nul_free(spec.command.as_str(), "command line")?;
    let args = spec
        .args
        .iter()
        .map(|arg| nul_free(arg.as_str(), "arguments"))
        .collect::<io::Result<Vec<_>>>()?;
    let mut argv = Vec::with_capacity(4 + args.len());
    argv.extend([c"sh", c"-c", command.as_c_str(), c"sh"]);
    argv.extend(args.iter().map(|a| a.as_c_str()));
    let own = spec
        .env
        .iter()
        .map(|(key, value)| nul_free(format!("{key}={value}"), "environment"))
        .collect::<io::Result<Vec<_>>>()?;
    let base = base_env();
    let mut envp: Vec<&CStr> = Vec::with_capacity(base.len() + own.len());
    envp.extend(
        base.iter()
            .filter(|(key, _)| !spec.env.iter().any(|(k, _)| k.as_bytes() == key.as_bytes()))
            .map(|(_, entry)| entry.as_c_str()),
    );
    envp.extend(own.iter().map(|e| e.as_c_str()));
    let workdir = nul_free(spec.workdir.as_os_str().as_bytes(), "working folder")?;

    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (stdin_child, stdin_ours): (Option<OwnedFd>, _) = match input {
        Input::Null => (None, None),
        Input::File(file) => (Some(file.into()), None),
        Input::Piped => {
            let (r, w) = pipe()?;
            (Some(r), Some(w))
        }
    };
    // Ours only: the child's ends stay blocking, as a program expects.
    for fd in [Some(&out_r), Some(&err_r), stdin_ours.as_ref()]
        .into_iter()
        .flatten()
    {
        nix::fcntl::fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    }
    let pid = tnet_spawn::spawn(&Program {
        argv: &argv,
        envp: &envp,
        workdir: &workdir,
        stdin: stdin_child
            .as_ref()
            .map_or(Stdin::Null, |fd| Stdin::Fd(fd.as_fd())),
        stdout: out_w.as_fd(),
        stderr: err_w.as_fd(),
    })?;
    // The child's ends are its own now; the host's copies close here.
    drop((out_w, err_w, stdin_child));
    Ok(Spawned {
        child: Child::new(Pid::from_raw(pid)),
        stdin: stdin_ours,
        stdout: out_r,
        stderr: err_r,
    })
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC)?)
}

/// A child process this host started, reaped once: by [`Child::wait`] or
/// [`Child::try_wait`], or, when it is dropped first, once it exits.
pub struct Child {
    pid: Pid,
    watch: Watch,
    exit: Option<Exit>,
}

/// How the child's end is noticed.
enum Watch {
    /// Its pidfd turns readable; the exit is then read with `waitpid`.
    Pidfd(ExitWatch),
    /// A thread of its own waits for it and reaps it (no pidfds here).
    Thread(oneshot::Receiver<io::Result<Exit>>),
}

impl Child {
    fn new(pid: Pid) -> Child {
        let watch = match ExitWatch::new(pid.as_raw()) {
            Ok(watch) => Watch::Pidfd(watch),
            Err(_) => reaping_thread(pid),
        };
        Child {
            pid,
            watch,
            exit: None,
        }
    }

    /// The child's process id (and its group's).
    pub fn id(&self) -> u32 {
        self.pid.as_raw().unsigned_abs()
    }

    /// Its exit, if it has exited.
    pub fn try_wait(&mut self) -> io::Result<Option<Exit>> {
        if self.exit.is_none() {
            self.exit = match &mut self.watch {
                Watch::Pidfd(_) => reap(self.pid, WaitPidFlag::WNOHANG)?,
                Watch::Thread(rx) => match rx.try_recv() {
                    Ok(exit) => Some(exit?),
                    Err(oneshot::error::TryRecvError::Empty) => None,
                    Err(oneshot::error::TryRecvError::Closed) => return Err(reaper_gone()),
                },
            };
        }
        Ok(self.exit)
    }

    /// Waits for it to exit.
    pub async fn wait(&mut self) -> io::Result<Exit> {
        if let Some(exit) = self.exit {
            return Ok(exit);
        }
        let exit = match &mut self.watch {
            Watch::Pidfd(watch) => loop {
                watch.exited().await?;
                if let Some(exit) = reap(self.pid, WaitPidFlag::WNOHANG)? {
                    break exit;
                }
            },
            Watch::Thread(rx) => rx.await.map_err(|_| reaper_gone())??,
        };
        self.exit = Some(exit);
        Ok(exit)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.exit.is_some() || matches!(self.watch, Watch::Thread(_)) {
            return; // reaped, or its thread reaps it
        }
        if let Ok(Some(_)) = reap(self.pid, WaitPidFlag::WNOHANG) {
            return;
        }
        // Still running: reaped when it ends, so that it leaves no zombie.
        let pid = self.pid;
        let watch = std::mem::replace(&mut self.watch, Watch::Thread(oneshot::channel().1));
        match (watch, tokio::runtime::Handle::try_current()) {
            (Watch::Pidfd(watch), Ok(runtime)) => {
                runtime.spawn(async move {
                    while watch.exited().await.is_ok() {
                        if !matches!(reap(pid, WaitPidFlag::WNOHANG), Ok(None)) {
                            break;
                        }
                    }
                });
            }
            _ => drop(reaping_thread(pid)),
        }
    }
}

fn reaper_gone() -> io::Error {
    io::Error::other("the thread that waited for the command is gone")
}

/// A thread that waits for `pid` to exit and reaps it.
fn reaping_thread(pid: Pid) -> Watch {
    let (tx, rx) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("tnet-reaper".into())
        .spawn(move || {
            let exit = reap(pid, WaitPidFlag::empty()).and_then(|exit| {
                exit.ok_or_else(|| io::Error::other("the command was not reaped"))
            });
            let _ = tx.send(exit);
        });
    if let Err(err) = spawned {
        tracing::warn!("cannot start a thread to wait for process {pid}: {err}");
    }
    Watch::Thread(rx)
}

/// Reaps `pid` if it has exited (with `WNOHANG`), or once it exits.
fn reap(pid: Pid, flags: WaitPidFlag) -> io::Result<Option<Exit>> {
    loop {
        return match waitpid(pid, Some(flags)) {
            Ok(WaitStatus::Exited(_, code)) => Ok(Some(Exit::Code(code))),
            Ok(WaitStatus::Signaled(_, signal, _)) => Ok(Some(Exit::Signal(signal as i32))),
            Ok(_) => Ok(None),
            Err(Errno::EINTR) => continue,
            Err(err) => Err(err.into()),
        };
    }
}

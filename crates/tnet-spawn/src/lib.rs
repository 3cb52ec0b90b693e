//! Starting a program with `posix_spawnp`, for a host that starts many.
//!
//! std's `Command` copies the whole environment of the process into a map
//! at every spawn that changes it. A host starts every task command with
//! variables of its own (`TNET_TASK`, `TNET_SCHEDULED`...), and at a hundred
//! habit runs a second that copy was a tenth of everything the host did
//! (docs/benchmarks.md, "Habits"). Here the caller hands in the environment
//! ready made (the host builds its part once) and the child is set up as
//! std sets it up: a process group of its own, no signal blocked, `SIGPIPE`
//! at its default (Rust ignores it in the parent), its working folder,
//! and only the three descriptors it is given (the rest of a Rust
//! process's descriptors are close-on-exec).
//!
//! This is tnet's only unsafe code: a crate of its own so that the rest of
//! the workspace keeps `forbid(unsafe_code)`.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// What the program reads as its standard input.
#[derive(Debug, Clone, Copy)]
pub enum Stdin<'a> {
    /// `/dev/null`, opened by the child (the parent pays no open for it).
    Null,
    /// A descriptor of the parent's (a file, a pipe's reading end).
    Fd(BorrowedFd<'a>),
}

/// A program to start.
#[derive(Debug)]
pub struct Program<'a> {
    /// Its arguments; the first names the program, looked up in the
    /// parent's `PATH` when it holds no `/`.
    pub argv: &'a [&'a CStr],
    /// Its whole environment, each entry `KEY=VALUE`.
    pub envp: &'a [&'a CStr],
    /// The folder it starts in.
    pub workdir: &'a CStr,
    pub stdin: Stdin<'a>,
    pub stdout: BorrowedFd<'a>,
    pub stderr: BorrowedFd<'a>,
}

/// Starts `program` in a new process group of its own (its process id is
/// the group's) and returns its process id. The caller reaps it.
///
/// An error is the system's: a folder or program that does not exist
/// (`NotFound`), one that may not be entered or run (`PermissionDenied`).
pub fn spawn(program: &Program<'_>) -> io::Result<libc::pid_t> {
    let Some(file) = program.argv.first() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a program needs at least its name as an argument",
        ));
    };
    let mut argv: Vec<*mut libc::c_char> =
        program.argv.iter().map(|a| a.as_ptr().cast_mut()).collect();
    argv.push(std::ptr::null_mut());
    let mut envp: Vec<*mut libc::c_char> =
        program.envp.iter().map(|e| e.as_ptr().cast_mut()).collect();
    envp.push(std::ptr::null_mut());

    let mut actions = FileActions::new()?;
    match program.stdin {
        Stdin::Null => actions.open_null(0)?,
        Stdin::Fd(fd) => actions.dup2(fd.as_raw_fd(), 0)?,
    }
    actions.dup2(program.stdout.as_raw_fd(), 1)?;
    actions.dup2(program.stderr.as_raw_fd(), 2)?;
    actions.chdir(program.workdir)?;
    let attr = Attr::new()?;

    let mut pid: libc::pid_t = 0;
    // SAFETY: `file` and every entry of `argv` and `envp` point to
    // NUL-terminated strings borrowed from `program`, which outlives the
    // call; both arrays end with a null pointer; `actions` and `attr` were
    // initialised by their constructors and are dropped after the call.
    // posix_spawnp reads its arguments only for the length of the call.
    let rc = unsafe {
        libc::posix_spawnp(
            &mut pid,
            file.as_ptr(),
            &actions.0,
            &attr.0,
            argv.as_ptr(),
            envp.as_ptr(),
        )
    };
    check(rc)?;
    Ok(pid)
}

/// The end of a child of this process, told by its pidfd (Linux 5.3 and
/// later) through the Tokio runtime it was made in.
#[derive(Debug)]
pub struct ExitWatch(tokio::io::unix::AsyncFd<OwnedFd>);

impl ExitWatch {
    /// Watches `pid`, a child of this process not yet reaped. Fails where
    /// the kernel has no pidfds, or outside a Tokio runtime.
    pub fn new(pid: libc::pid_t) -> io::Result<ExitWatch> {
        // Registering outside a runtime would panic; this is an error instead.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other("no Tokio runtime to watch the child in"));
        }
        let fd = pidfd_open(pid)?;
        // SAFETY: the `AsyncFd` owns `fd`, so the descriptor it registers
        // stays open and the same until the registration is dropped with it.
        let fd = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)
        }
        .map_err(|err| err.into_parts().1)?;
        Ok(ExitWatch(fd))
    }

    /// Waits until the child may have exited (its pidfd is readable); the
    /// caller reaps it, and waits again if it had not.
    pub async fn exited(&self) -> io::Result<()> {
        self.0.readable().await?.clear_ready();
        Ok(())
    }
}

/// A descriptor that turns readable when process `pid` (a child of this
/// process, not yet reaped) exits; Linux 5.3 and later.
fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: a system call that takes two integers and returns a new
    // descriptor or -1; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(fd).map_err(|_| io::Error::other("pidfd_open gave no descriptor"))?;
    // SAFETY: the kernel just returned `fd`, open and owned by nobody else;
    // the `OwnedFd` closes it once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The posix_spawn family returns an error number rather than set errno.
fn check(rc: libc::c_int) -> io::Result<()> {
    match rc {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// An initialised `posix_spawn_file_actions_t`, destroyed when dropped.
struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new() -> io::Result<FileActions> {
        // SAFETY: all zeroes is a valid bit pattern for this plain C struct,
        // and init overwrites it.
        let mut actions = FileActions(unsafe { std::mem::zeroed() });
        // SAFETY: a pointer to memory we own, for init to fill.
        check(unsafe { libc::posix_spawn_file_actions_init(&mut actions.0) })?;
        Ok(actions)
    }

    fn dup2(&mut self, fd: RawFd, to: RawFd) -> io::Result<()> {
        // SAFETY: initialised actions; integers only.
        check(unsafe { libc::posix_spawn_file_actions_adddup2(&mut self.0, fd, to) })
    }

    fn open_null(&mut self, to: RawFd) -> io::Result<()> {
        // SAFETY: initialised actions; a NUL-terminated static path, which
        // glibc copies.
        check(unsafe {
            libc::posix_spawn_file_actions_addopen(
                &mut self.0,
                to,
                c"/dev/null".as_ptr(),
                libc::O_RDONLY,
                0,
            )
        })
    }

    fn chdir(&mut self, dir: &CStr) -> io::Result<()> {
        // SAFETY: initialised actions; a NUL-terminated path, which glibc
        // copies.
        check(unsafe { libc::posix_spawn_file_actions_addchdir_np(&mut self.0, dir.as_ptr()) })
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised in `new` and destroyed only here.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

/// An initialised `posix_spawnattr_t` for a command of a task: a process
/// group of its own, no signal blocked, `SIGPIPE` at its default.
struct Attr(libc::posix_spawnattr_t);

impl Attr {
    fn new() -> io::Result<Attr> {
        // SAFETY: all zeroes is a valid bit pattern for this plain C struct,
        // and init overwrites it.
        let mut attr = Attr(unsafe { std::mem::zeroed() });
        // SAFETY: a pointer to memory we own, for init to fill.
        check(unsafe { libc::posix_spawnattr_init(&mut attr.0) })?;
        let none = sigset(&[]);
        let pipe = sigset(&[libc::SIGPIPE]);
        let flags = libc::POSIX_SPAWN_SETPGROUP
            | libc::POSIX_SPAWN_SETSIGMASK
            | libc::POSIX_SPAWN_SETSIGDEF;
        let flags = libc::c_short::try_from(flags)
            .map_err(|_| io::Error::other("posix_spawn's flags do not fit a short"))?;
        // SAFETY: initialised attributes; the sets are initialised values
        // that glibc copies; the rest are integers.
        unsafe {
            check(libc::posix_spawnattr_setsigmask(&mut attr.0, &none))?;
            check(libc::posix_spawnattr_setsigdefault(&mut attr.0, &pipe))?;
            check(libc::posix_spawnattr_setpgroup(&mut attr.0, 0))?;
            check(libc::posix_spawnattr_setflags(&mut attr.0, flags))?;
        }
        Ok(attr)
    }
}

impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: initialised in `new` and destroyed only here.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

/// A signal set holding `signals`.
fn sigset(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: all zeroes is a valid bit pattern for a sigset_t, and
    // sigemptyset initialises it whatever it held.
    let mut set = unsafe { std::mem::zeroed() };
    // SAFETY: a pointer to a set we own; valid signal numbers.
    unsafe {
        libc::sigemptyset(&mut set);
        for &signal in signals {
            libc::sigaddset(&mut set, signal);
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::io::Read;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    /// A reading end, and a writing end for the child.
    fn pipe() -> (UnixStream, UnixStream) {
        UnixStream::pair().expect("a socket pair")
    }

    fn wait(pid: libc::pid_t) -> libc::c_int {
        let mut status = 0;
        // SAFETY: our own child, reaped once; a pointer to a local.
        let got = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(got, pid);
        status
    }

    #[test]
    fn the_child_gets_its_arguments_environment_folder_group_and_a_default_sigpipe() {
        let dir = std::env::temp_dir();
        let (mut out, out_w) = pipe();
        let (_err, err_w) = pipe();
        let script = CString::new(
            r#"printf '%s|%s|%s|' "$1" "$ONLY" "$(pwd -P)"; ps -o pgid= -p $$ | tr -d ' '; grep -E '^Sig(Blk|Ign)' /proc/$$/status"#,
        )
        .expect("no NUL");
        let argv = [c"sh", c"-c", script.as_c_str(), c"sh", c"first"];
        let env = [c"ONLY=this", c"PATH=/usr/bin:/bin"];
        let workdir = dir.canonicalize().expect("the temporary folder");
        let workdir = CString::new(workdir.into_os_string().into_encoded_bytes()).expect("no NUL");
        let pid = spawn(&Program {
            argv: &argv,
            envp: &env,
            workdir: &workdir,
            stdin: Stdin::Null,
            stdout: out_w.as_fd(),
            stderr: err_w.as_fd(),
        })
        .expect("spawns");
        drop((out_w, err_w));
        let mut text = String::new();
        out.read_to_string(&mut text).expect("reads");
        assert_eq!(wait(pid), 0, "{text}");
        let expected = format!("first|this|{}|{pid}\n", workdir.to_str().expect("utf8"));
        assert!(
            text.starts_with(&expected),
            "{text:?} should start with {expected:?}"
        );
        // Nothing blocked and SIGPIPE (bit 13) not ignored, where this test
        // process (Rust) ignores it.
        assert!(text.contains("SigBlk:\t0000000000000000"), "{text}");
        let ignored = text
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:\t"))
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .expect("SigIgn line");
        assert_eq!(ignored & (1 << (libc::SIGPIPE - 1)), 0, "{text}");
    }

    #[test]
    fn a_missing_folder_is_not_found_and_starts_nothing() {
        let (_out, out_w) = pipe();
        let argv = [c"true"];
        let err = spawn(&Program {
            argv: &argv,
            envp: &[],
            workdir: c"/nonexistent/tnet-spawn-test",
            stdin: Stdin::Null,
            stdout: out_w.as_fd(),
            stderr: out_w.as_fd(),
        })
        .expect_err("no such folder");
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    }

    #[test]
    fn the_watch_tells_when_the_child_exits() {
        let (_out, out_w) = pipe();
        let argv = [c"true"];
        let env = [c"PATH=/usr/bin:/bin"];
        let pid = spawn(&Program {
            argv: &argv,
            envp: &env,
            workdir: c"/",
            stdin: Stdin::Null,
            stdout: out_w.as_fd(),
            stderr: out_w.as_fd(),
        })
        .expect("spawns");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let watch = ExitWatch::new(pid).expect("a pidfd");
            tokio::time::timeout(std::time::Duration::from_secs(10), watch.exited())
                .await
                .expect("the child's exit is told")
                .expect("no error");
        });
        assert_eq!(wait(pid), 0);
    }
}

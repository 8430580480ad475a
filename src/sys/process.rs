//! Process-level calls: exit, fork, exec, wait, signals to processes, sessions, ids.

use core::ffi::CStr;

use super::{Errno, syscall, uapi};

/// `exit_group(2)`
pub fn exit(code: i32) -> ! {
    // SAFETY: exit_group takes no pointer and ends the process; nothing runs after it.
    let _ = unsafe { syscall!(__NR_exit_group, code as isize) };
    // exit_group does not return; should it ever, do not run on.
    loop {
        core::hint::spin_loop();
    }
}

/// `getpid(2)`
pub fn getpid() -> i32 {
    // SAFETY: getpid takes no argument.
    unsafe { syscall!(__NR_getpid) }.unwrap_or(0) as i32
}

/// `clone(SIGCHLD)`, i.e. fork(2) (aarch64 and riscv64 have no fork system call).
/// Returns 0 in the child and the child's pid in the parent.
pub fn fork() -> Result<i32, Errno> {
    // s390x takes (stack, flags, ...) where the others take (flags, stack, ...); with a
    // null stack the child runs on a copy of ours, as fork does.
    // SAFETY: with no CLONE_VM and a null stack the child gets a private copy of our whole
    // address space, its own stack included, exactly as with fork(2): no memory is shared,
    // so neither process can disturb what the other's references point to. No pointer
    // arguments (parent/child tid and tls are unused without their flags).
    #[cfg(target_arch = "s390x")]
    let pid = unsafe { syscall!(__NR_clone, 0usize, uapi::SIGCHLD) }?;
    // SAFETY: as above.
    #[cfg(not(target_arch = "s390x"))]
    let pid = unsafe { syscall!(__NR_clone, uapi::SIGCHLD, 0usize, 0usize, 0usize, 0usize) }?;
    Ok(pid as i32)
}

/// `clone(CLONE_VM | CLONE_VFORK | SIGCHLD)`, as posix_spawn starts a program: the child
/// shares our memory and runs `child(arg)` on `stack`, and we are suspended until it has
/// exec'd or exited. Returns the child's pid. (No page tables are copied, as a fork copies
/// them, and none are torn down at the exec: a third of the time a fork and exec take.)
///
/// # Safety
/// `stack` is large enough for `child`. `child` never returns. It writes no memory but
/// `stack` and what `arg` lends it (the caller's frame is asleep, but it is still the
/// caller's), and reads nothing the caller does not hold still.
pub unsafe fn clone_vfork(
    stack: &mut [u8],
    child: extern "C" fn(usize) -> !,
    arg: usize,
) -> Result<i32, Errno> {
    // The end of `stack`, rounded down to the 16 bytes every ABI here wants of a stack.
    let end = stack.as_mut_ptr_range().end;
    let top = end.wrapping_sub(end as usize % 16);
    // SAFETY: `top` is 16-byte aligned and ends (within) `stack`, which is the child's
    // alone: we lend it for the call, and the call does not return before the child
    // execs or exits. The caller vouches for `child`, `arg` and the size (see above).
    let ret = unsafe { super::arch::clone_vfork(top, child, arg) };
    Errno::result(ret).map(|pid| pid as i32)
}

/// `setsid(2)`
pub fn setsid() -> Result<(), Errno> {
    // SAFETY: setsid takes no argument.
    unsafe { syscall!(__NR_setsid) }.map(drop)
}

/// `getuid(2)`
pub fn getuid() -> u32 {
    // SAFETY: getuid takes no argument.
    unsafe { syscall!(__NR_getuid) }.unwrap_or(0) as u32
}

/// `kill(2)`: sends `signal` to process `pid` (0: our process group, -1: every process we
/// may signal, below -1: the process group -pid).
pub fn kill(pid: i32, signal: u32) -> Result<(), Errno> {
    // SAFETY: kill takes no pointer; a signal to another process (or to ourselves: the
    // agent blocks the signals it handles and reads them from a signalfd) touches none of
    // our memory.
    unsafe { syscall!(__NR_kill, pid, signal) }.map(drop)
}

/// A NULL-terminated array of pointers to NUL-terminated strings, as `execve(2)` reads
/// `argv` and `envp`. It is built from `&CStr`s into pointer storage the caller provides
/// and borrows both, so it cannot outlive the strings it points to; that makes
/// [`execve`] safe to call.
pub struct CStrArray<'a> {
    /// `strings.len()` pointers, then a null pointer.
    ptrs: &'a [*const u8],
}

impl<'a> CStrArray<'a> {
    /// Points `storage` at `strings`, followed by the terminating null pointer; fails with
    /// E2BIG when `storage` cannot hold them all and the null pointer.
    pub fn new<'s: 'a>(
        strings: impl IntoIterator<Item = &'s CStr>,
        storage: &'a mut [*const u8],
    ) -> Result<CStrArray<'a>, Errno> {
        let mut len = 0;
        for string in strings {
            // The last slot is kept for the null pointer.
            let slot = storage.get_mut(len..storage.len().saturating_sub(1));
            *slot.and_then(|s| s.first_mut()).ok_or(Errno::TOOBIG)? = string.as_ptr().cast();
            len += 1;
        }
        let slots = storage.get_mut(..len + 1).ok_or(Errno::TOOBIG)?;
        slots[len] = core::ptr::null();
        Ok(CStrArray { ptrs: slots })
    }
}

/// `execve(2)`: replaces this process's program with `path`, run with `argv` and `envp`.
/// Returns only if that failed, with the reason. (In a forked child, the caller should
/// `exit` after a failure rather than run on as a copy of the agent.)
pub fn execve(path: &CStr, argv: &CStrArray<'_>, envp: &CStrArray<'_>) -> Errno {
    // SAFETY: path is NUL-terminated; argv and envp are NULL-terminated arrays of pointers
    // to NUL-terminated strings (CStrArray's invariant), all borrowed for the call. On
    // success the kernel replaces the whole address space, so no reference of ours is used
    // again; on failure nothing of ours was written.
    let result = unsafe {
        syscall!(
            __NR_execve,
            path.as_ptr(),
            argv.ptrs.as_ptr(),
            envp.ptrs.as_ptr()
        )
    };
    // execve returns only on failure; Ok cannot happen.
    result.err().unwrap_or(Errno::NOEXEC)
}

/// Which children [`wait4`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    /// Any child (pid -1, as waitid's P_ALL).
    Any,
    /// The child with this pid (as waitid's P_PID).
    Pid(i32),
}

/// How a child ended (or changed state), decoded from wait4's status word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code (`WIFEXITED`, `WEXITSTATUS`).
    Exited(u8),
    /// A signal killed it (`WIFSIGNALED`, `WTERMSIG`, `WCOREDUMP`).
    Signaled { signal: u32, core_dumped: bool },
    /// A signal stopped it (`WIFSTOPPED`, `WSTOPSIG`; only reported for traced children
    /// here, since `wait4` is not asked for WUNTRACED).
    Stopped(u32),
    /// SIGCONT resumed it (`WIFCONTINUED`; not reported without WCONTINUED).
    Continued,
}

impl ExitStatus {
    /// Decodes a status word as the `W*` macros of `<sys/wait.h>` do.
    pub fn decode(status: i32) -> ExitStatus {
        let low = status & 0x7f;
        if low == 0 {
            ExitStatus::Exited(((status >> 8) & 0xff) as u8)
        } else if status == 0xffff {
            ExitStatus::Continued
        } else if status & 0xff == 0x7f {
            ExitStatus::Stopped(((status >> 8) & 0xff) as u32)
        } else {
            ExitStatus::Signaled {
                signal: low as u32,
                core_dumped: status & 0x80 != 0,
            }
        }
    }
}

/// `wait4(pid, &status, nohang ? WNOHANG : 0, NULL)`: reaps a child that ended, as (pid,
/// how it ended). With `nohang`, `Ok(None)` when no such child has ended yet (without it,
/// waits). ECHILD when there is no such child at all.
pub fn wait4(which: WaitFor, nohang: bool) -> Result<Option<(i32, ExitStatus)>, Errno> {
    let pid = match which {
        WaitFor::Any => -1,
        WaitFor::Pid(pid) => pid,
    };
    let options = if nohang { uapi::WNOHANG } else { 0 };
    let mut status: i32 = 0;
    // SAFETY: the kernel writes one int at &mut status, a local that outlives the call;
    // the rusage pointer is null (not wanted).
    let reaped = unsafe { syscall!(__NR_wait4, pid, &mut status as *mut i32, options, 0usize) }?;
    Ok((reaped != 0).then(|| (reaped as i32, ExitStatus::decode(status))))
}

/// What `reboot(2)` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reboot {
    PowerOff,
    Halt,
    Restart,
}

/// `sync(2)` then `reboot(2)`: ends the system at once (needs CAP_SYS_BOOT); returns only
/// on failure.
pub fn reboot(how: Reboot) -> Errno {
    super::fs::sync();
    let cmd = match how {
        Reboot::PowerOff => uapi::LINUX_REBOOT_CMD_POWER_OFF,
        Reboot::Halt => uapi::LINUX_REBOOT_CMD_HALT,
        Reboot::Restart => uapi::LINUX_REBOOT_CMD_RESTART,
    };
    // SAFETY: reboot takes the two magic numbers and a command; the argument pointer is
    // unused for these commands (null).
    let result = unsafe {
        syscall!(
            __NR_reboot,
            uapi::LINUX_REBOOT_MAGIC1,
            uapi::LINUX_REBOOT_MAGIC2,
            cmd,
            0usize
        )
    };
    result.err().unwrap_or(Errno::INVAL)
}

/// `reboot(LINUX_REBOOT_CMD_CAD_OFF)`: Ctrl-Alt-Del no longer restarts the machine at
/// once; the kernel sends SIGINT to PID 1 instead (needs CAP_SYS_BOOT).
pub fn ctrl_alt_del_to_init() -> Result<(), Errno> {
    // SAFETY: reboot takes the two magic numbers and a command; the argument pointer is
    // unused for CAD_OFF (null).
    unsafe {
        syscall!(
            __NR_reboot,
            uapi::LINUX_REBOOT_MAGIC1,
            uapi::LINUX_REBOOT_MAGIC2,
            uapi::LINUX_REBOOT_CMD_CAD_OFF,
            0usize
        )
    }
    .map(drop)
}

/// `prctl(PR_SET_CHILD_SUBREAPER, 1)`: orphaned descendants become our children (as they
/// would be PID 1's), so we reap them.
pub fn become_subreaper() -> Result<(), Errno> {
    /// linux/prctl.h
    const PR_SET_CHILD_SUBREAPER: u32 = 36;
    // SAFETY: this prctl option takes a plain integer and no pointer.
    unsafe {
        syscall!(
            __NR_prctl,
            PR_SET_CHILD_SUBREAPER,
            1usize,
            0usize,
            0usize,
            0usize
        )
    }
    .map(drop)
}

/// The environment the kernel gave the process: `NAME=value` C strings, read in place
/// (what `guest-exec` children inherit).
#[derive(Clone, Copy)]
pub struct Environ {
    envp: *const *const u8,
}

impl Environ {
    /// No environment at all.
    pub const EMPTY: Environ = Environ {
        envp: core::ptr::null(),
    };

    /// # Safety
    /// `envp` is null or a NULL-terminated array of NUL-terminated strings that stay valid
    /// and unchanged for the rest of the process (the array the kernel passes to `_start`).
    pub const unsafe fn from_raw(envp: *const *const u8) -> Environ {
        Environ { envp }
    }

    /// The entries, in order.
    pub fn iter(self) -> impl Iterator<Item = &'static CStr> {
        let mut at = self.envp;
        core::iter::from_fn(move || {
            if at.is_null() {
                return None;
            }
            // SAFETY: `at` points into the NULL-terminated array (constructor contract)
            // and has not passed its NULL: reading the slot is in bounds.
            let entry = unsafe { *at };
            if entry.is_null() {
                return None;
            }
            // SAFETY: a non-null slot is a NUL-terminated string that lives for the rest
            // of the process (constructor contract); the next slot is still in the array.
            unsafe {
                at = at.add(1);
                Some(CStr::from_ptr(entry.cast()))
            }
        })
    }
}

impl Default for Environ {
    fn default() -> Self {
        Environ::EMPTY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Forks a child that runs `child` (raw system calls only: the test harness is
    /// multi-threaded) and returns its pid.
    fn spawn(child: impl FnOnce()) -> i32 {
        match fork().unwrap() {
            0 => {
                child();
                exit(126)
            }
            pid => pid,
        }
    }

    #[test]
    fn wait4_reports_the_exit_code() {
        let pid = spawn(|| exit(3));
        assert_eq!(
            wait4(WaitFor::Pid(pid), false),
            Ok(Some((pid, ExitStatus::Exited(3))))
        );
        assert_eq!(
            wait4(WaitFor::Pid(pid), true),
            Err(Errno::CHILD),
            "reaped once"
        );
    }

    /// A child of `clone_vfork`: exits with the code it is given, from a frame on its own
    /// stack (a deep enough call to use it).
    extern "C" fn exit_with(code: usize) -> ! {
        let mut on_stack = [0u8; 1024];
        on_stack[code % 1024] = code as u8;
        exit(core::hint::black_box(&on_stack)[code % 1024] as i32)
    }

    #[test]
    fn clone_vfork_runs_the_child_on_its_stack_with_its_argument() {
        let mut stack = [0u8; 16 * 1024];
        // SAFETY: `exit_with` never returns and writes only its own stack, which 16 KiB
        // holds.
        let pid = unsafe { clone_vfork(&mut stack[3..], exit_with, 42) }.unwrap();
        assert_eq!(
            wait4(WaitFor::Pid(pid), false),
            Ok(Some((pid, ExitStatus::Exited(42))))
        );
        assert!(
            stack[..8 * 1024].iter().all(|&b| b == 0),
            "the child kept to the top"
        );
        assert!(
            stack.iter().any(|&b| b != 0),
            "the child ran on the stack it was given"
        );
    }

    #[test]
    fn wait4_nohang_then_kill_reports_the_signal() {
        let pid = spawn(|| {
            loop {
                // SAFETY: ppoll of no descriptors without a timeout or mask (all null) reads
                // and writes nothing; it waits for a signal, as pause(2) does.
                let _ = unsafe { syscall!(__NR_ppoll, 0usize, 0usize, 0usize, 0usize, 8usize) };
            }
        });
        assert_eq!(wait4(WaitFor::Pid(pid), true), Ok(None), "still running");
        kill(pid, uapi::SIGKILL).unwrap();
        assert_eq!(
            wait4(WaitFor::Pid(pid), false),
            Ok(Some((
                pid,
                ExitStatus::Signaled {
                    signal: uapi::SIGKILL,
                    core_dumped: false
                }
            )))
        );
    }

    #[test]
    fn execve_runs_a_program_with_arguments_and_environment() {
        let argv: [&CStr; 3] = [c"sh", c"-c", c"exit $CODE"];
        let envp: [&CStr; 1] = [c"CODE=7"];
        let (mut argv_ptrs, mut envp_ptrs) = ([core::ptr::null(); 4], [core::ptr::null(); 2]);
        let argv = CStrArray::new(argv, &mut argv_ptrs).unwrap();
        let envp = CStrArray::new(envp, &mut envp_ptrs).unwrap();
        let pid = spawn(|| {
            let _ = execve(c"/bin/sh", &argv, &envp);
            exit(127);
        });
        assert_eq!(
            wait4(WaitFor::Pid(pid), false),
            Ok(Some((pid, ExitStatus::Exited(7))))
        );
        assert_eq!(execve(c"/nonexistent", &argv, &envp), Errno::NOENT);
    }

    #[test]
    fn cstr_array_needs_room_for_the_null() {
        let mut storage = [core::ptr::null(); 2];
        assert!(CStrArray::new([c"a", c"b"], &mut storage).is_err());
        let array = CStrArray::new([c"a"], &mut storage).unwrap();
        assert_eq!(array.ptrs.len(), 2);
        assert!(array.ptrs[1].is_null());
    }

    #[test]
    fn status_words_decode_as_the_wait_macros() {
        assert_eq!(ExitStatus::decode(0), ExitStatus::Exited(0));
        assert_eq!(ExitStatus::decode(3 << 8), ExitStatus::Exited(3));
        assert_eq!(ExitStatus::decode(255 << 8), ExitStatus::Exited(255));
        assert_eq!(
            ExitStatus::decode(9),
            ExitStatus::Signaled {
                signal: 9,
                core_dumped: false
            }
        );
        assert_eq!(
            ExitStatus::decode(0x80 | 11),
            ExitStatus::Signaled {
                signal: 11,
                core_dumped: true
            }
        );
        assert_eq!(
            ExitStatus::decode((19 << 8) | 0x7f),
            ExitStatus::Stopped(19)
        );
        assert_eq!(ExitStatus::decode(0xffff), ExitStatus::Continued);
    }

    #[test]
    fn ids_match_libc() {
        // SAFETY: getuid takes no argument.
        assert_eq!(getuid(), unsafe { libc::getuid() });
        assert_eq!(getpid() as u32, std::process::id());
    }
}

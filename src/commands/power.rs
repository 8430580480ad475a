//! Power: `guest-shutdown` and `guest-suspend-disk`, `-ram`, `-hybrid`. None of them
//! answers when it succeeds (the guest is going away).
//!
//! Shutdown takes the first way this guest offers, as current qemu-ga does and then
//! further, so that it also works in a guest with no shutdown program:
//! 1. `/sbin/poweroff`, `/sbin/halt` or `/sbin/reboot` (per mode), if executable;
//! 2. `/sbin/shutdown -P|-H|-r +0 "hypervisor initiated shutdown"`;
//! 3. the signal PID 1 takes for it: busybox init (SIGUSR2, SIGUSR1, SIGTERM) or systemd
//!    (SIGRTMIN+4, SIGRTMIN+3, SIGINT);
//! 4. `sync` and `reboot(2)` (when the agent is PID 1, or PID 1 is neither of those).
//!
//! When the agent is the guest's init (`agent::init`) it skips all of that and sends
//! itself the busybox init signal of the mode: its event loop then ends the system the way
//! an init does (every process stopped, file systems unmounted, then `reboot(2)`).

use super::run::{self, Finished, RunError, SpawnFailure};
use super::{Call, Environment};
use crate::arguments;
use crate::protocol::QmpError;
use crate::qmp_error;
use crate::sys::process::{self, ExitStatus, Reboot};
use crate::sys::spawn::SpawnError;
use crate::sys::{fs, uapi};

/// How long a shutdown or suspend helper may take before it is killed.
const HELPER_TIMEOUT_MS: u64 = 60_000;

arguments! {
    /// `guest-shutdown`
    pub struct Shutdown<'d> {
        "mode" => mode: Option<&'d str>,
    }
}

/// `guest-shutdown {mode?}` (`powerdown` by default, `halt`, `reboot`).
pub fn guest_shutdown(call: &mut Call, args: Shutdown<'_>) -> Result<(), QmpError> {
    let (program, flag, busybox, systemd, how) = match args.mode.unwrap_or("powerdown") {
        "powerdown" => (
            "/sbin/poweroff",
            "-P",
            uapi::SIGUSR2,
            uapi::SIGRTMIN + 4,
            Reboot::PowerOff,
        ),
        "halt" => (
            "/sbin/halt",
            "-H",
            uapi::SIGUSR1,
            uapi::SIGRTMIN + 3,
            Reboot::Halt,
        ),
        "reboot" => (
            "/sbin/reboot",
            "-r",
            uapi::SIGTERM,
            uapi::SIGINT,
            Reboot::Restart,
        ),
        // sic: qemu-ga's text has no closing parenthesis.
        _ => {
            return Err(qmp_error!(
                "mode is invalid (valid values are: halt|powerdown|reboot"
            ));
        }
    };
    if call.state.env.init {
        // Read from the signalfd by the event loop once this request is done.
        return process::kill(process::getpid(), busybox)
            .map_err(|e| qmp_error!("child process has failed to shutdown: kill: {e}"));
    }
    let scratch = call.scratch.take(run::ROOM)?;
    let env = &call.state.env;
    if executable(program) {
        let result = run::run(&[program.as_bytes()], scratch, env, HELPER_TIMEOUT_MS);
        return run::check(result, "shutdown", program.as_bytes());
    }
    const SHUTDOWN: &str = "/sbin/shutdown";
    if executable(SHUTDOWN) {
        let argv: [&[u8]; 4] = [
            SHUTDOWN.as_bytes(),
            flag.as_bytes(),
            b"+0",
            b"hypervisor initiated shutdown",
        ];
        let result = run::run(&argv, scratch, env, HELPER_TIMEOUT_MS);
        return run::check(result, "shutdown", SHUTDOWN.as_bytes());
    }
    if process::getpid() != 1 {
        let mut comm = [0u8; 32];
        let signal = match fs::read_file(b"/proc/1/comm", &mut comm) {
            Ok(b"systemd\n") => Some(systemd),
            Ok(b"init\n") => Some(busybox),
            _ => None,
        };
        if let Some(signal) = signal {
            return process::kill(1, signal)
                .map_err(|e| qmp_error!("child process has failed to shutdown: kill(1): {e}"));
        }
    }
    let e = process::reboot(how);
    Err(qmp_error!(
        "child process has failed to shutdown: reboot(2): {e}"
    ))
}

fn executable(path: &str) -> bool {
    fs::access(path.as_bytes(), uapi::X_OK).is_ok()
}

/// A suspend mode, with the names each way of suspending knows it by.
#[derive(Clone, Copy)]
struct Mode {
    systemd_unit: &'static str,
    systemctl_verb: &'static str,
    pm_option: &'static str,
    pm_program: &'static str,
    /// What /sys/power/state takes (hybrid has no sysfs form).
    sysfs: Option<&'static str>,
}

const DISK: Mode = Mode {
    systemd_unit: "systemd-hibernate",
    systemctl_verb: "hibernate",
    pm_option: "--hibernate",
    pm_program: "pm-hibernate",
    sysfs: Some("disk"),
};
const RAM: Mode = Mode {
    systemd_unit: "systemd-suspend",
    systemctl_verb: "suspend",
    pm_option: "--suspend",
    pm_program: "pm-suspend",
    sysfs: Some("mem"),
};
const HYBRID: Mode = Mode {
    systemd_unit: "systemd-hybrid-sleep",
    systemctl_verb: "hybrid-sleep",
    pm_option: "--suspend-hybrid",
    pm_program: "pm-suspend-hybrid",
    sysfs: None,
};

/// `guest-suspend-disk`
pub fn guest_suspend_disk(call: &mut Call, _: ()) -> Result<(), QmpError> {
    suspend(call, DISK)
}

/// `guest-suspend-ram`
pub fn guest_suspend_ram(call: &mut Call, _: ()) -> Result<(), QmpError> {
    suspend(call, RAM)
}

/// `guest-suspend-hybrid`
pub fn guest_suspend_hybrid(call: &mut Call, _: ()) -> Result<(), QmpError> {
    suspend(call, HYBRID)
}

/// qemu-ga's `guest_suspend`: systemd, then pm-utils, then /sys/power/state, each tried
/// if it says it supports the mode; its quirks kept (a way that claims support but fails
/// hands over to the next without an error).
fn suspend(call: &mut Call, mode: Mode) -> Result<(), QmpError> {
    let scratch = call.scratch.take(run::ROOM)?;
    let env = &call.state.env;
    let mut supported = false;
    // systemd: `systemctl status` exits 1-3 (LSB) for a unit that exists.
    let status = helper(
        &[b"systemctl", b"status", mode.systemd_unit.as_bytes()],
        scratch,
        env,
    )?;
    if matches!(status, Some(1..=3)) {
        supported = true;
        let verb = mode.systemctl_verb.as_bytes();
        if helper(&[b"systemctl", verb], scratch, env)? == Some(0) {
            return Ok(());
        }
    }
    if helper(
        &[b"pm-is-supported", mode.pm_option.as_bytes()],
        scratch,
        env,
    )? == Some(0)
    {
        supported = true;
        if helper(&[mode.pm_program.as_bytes()], scratch, env)? == Some(0) {
            return Ok(());
        }
    }
    let state = b"/sys/power/state";
    if let Some(word) = mode.sysfs {
        let mut buf = [0u8; 64];
        let offered = fs::read_file(state, &mut buf).is_ok_and(|text| {
            text.split(|&b| b == b' ' || b == b'\n')
                .any(|w| w == word.as_bytes())
        });
        if offered {
            return fs::open(state, uapi::O_WRONLY, 0)
                .and_then(|f| crate::sys::AsFd::as_fd(&f).write_all(word.as_bytes()))
                .map_err(|e| qmp_error!("suspend: cannot write to '/sys/power/state': {e}"));
        }
    }
    if supported {
        Ok(())
    } else {
        Err(qmp_error!(
            "the requested suspend mode is not supported by the guest"
        ))
    }
}

/// `run_process_child`: the helper's exit code; `None` if it is not installed.
fn helper(argv: &[&[u8]], scratch: &mut [u8], env: &Environment) -> Result<Option<u8>, QmpError> {
    match run::run(argv, scratch, env, HELPER_TIMEOUT_MS) {
        Ok(Finished {
            status: ExitStatus::Exited(code),
            ..
        }) => Ok(Some(code)),
        Ok(_) => Ok(Some(u8::MAX)),
        Err(RunError::Start(SpawnError::Exec(e))) if e == crate::sys::Errno::NOENT => Ok(None),
        Err(RunError::Start(error)) => {
            let program = argv.first().copied().unwrap_or_default();
            let failure = SpawnFailure { program, error };
            Err(qmp_error!(
                "failed to create child process, error '{failure}'"
            ))
        }
        Err(RunError::TimedOut) => Ok(Some(u8::MAX)),
    }
}

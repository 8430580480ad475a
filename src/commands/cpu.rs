//! vCPUs and CPU time: `guest-get-vcpus`, `guest-set-vcpus`, `guest-get-cpustats`.

use core::fmt::Write as _;

use super::Call;
use crate::arguments;
use crate::capacity::LISTING_BYTES;
use crate::formats::proc_stat::{self, CpuLine};
use crate::protocol::{JsonWriter, List, QmpError};
use crate::qmp_error;
use crate::sys::{AsFd, Errno, fs, uapi};
use crate::text::FmtBuf;

const CPU_DIR: &[u8] = b"/sys/devices/system/cpu";

/// Clock ticks per second in /proc/stat (USER_HZ, fixed at 100 by the kernel ABI of every
/// architecture this agent is built for).
const USER_HZ: u64 = 100;

/// `guest-get-vcpus` → `[{logical-id, online, can-offline}]`, one per `cpuN` directory in
/// sysfs order. A CPU without an `online` file (usually cpu0) cannot be taken offline.
pub fn guest_get_vcpus(call: &mut Call, _: ()) -> Result<(), QmpError> {
    let dir = fs::Dir::open(CPU_DIR)
        .map_err(|e| qmp_error!("failed to list entries: /sys/devices/system/cpu: {e}"))?;
    let entries = call.scratch.take(LISTING_BYTES)?;
    call.reply.write(|w| {
        w.begin_array();
        dir.for_each(entries, |name, _| {
            if let Some(id) = cpu_number(name) {
                write_vcpu(w, id);
            }
        })
        .map_err(|e| qmp_error!("failed to list entries: /sys/devices/system/cpu: {e}"))?;
        w.end_array();
        Ok(())
    })
}

/// `cpu<N>` (as qemu-ga's sscanf("cpu%ld"): digits after "cpu", anything after them).
fn cpu_number(name: &[u8]) -> Option<i64> {
    let digits = name.strip_prefix(b"cpu")?;
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    core::str::from_utf8(&digits[..len]).ok()?.parse().ok()
}

fn write_vcpu(w: &mut JsonWriter<'_>, id: i64) {
    let mut path = crate::text::FmtBuf::<64>::new();
    let _ = core::fmt::Write::write_fmt(
        &mut path,
        format_args!("/sys/devices/system/cpu/cpu{id}/online"),
    );
    let mut status = [0u8; 4];
    let (online, can_offline) = match fs::read_file(path.as_bytes(), &mut status) {
        Ok(s) => (s.first() != Some(&b'0'), true),
        Err(_) => (true, false),
    };
    w.begin_object();
    w.key("logical-id");
    w.int(id);
    w.key("online");
    w.bool(online);
    w.key("can-offline");
    w.bool(can_offline);
    w.end_object();
}

/// `guest-get-cpustats` → `[{type: "linux", cpu, user, nice, system, idle, iowait?, irq?,
/// softirq?, steal?, guest?, guestnice?}]` from the `cpuN` lines of /proc/stat, in
/// milliseconds.
pub fn guest_get_cpustats(call: &mut Call, _: ()) -> Result<(), QmpError> {
    call.reply.write(|w| {
        w.begin_array();
        fs::for_each_line(b"/proc/stat", |line| {
            match proc_stat::parse_cpu_line(line) {
                CpuLine::Cpu(cpu, values, count) => {
                    write_cpustat(w, cpu, &values[..count]);
                    true
                }
                CpuLine::Other => true,
                // qemu-ga stops at a cpu line it cannot read.
                CpuLine::Broken => false,
            }
        })
        .map_err(|e| qmp_error!("open(\"/proc/stat\"): {e}"))?;
        w.end_array();
        Ok(())
    })
}

const CPU_FIELDS: [&str; 10] = [
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "irq",
    "softirq",
    "steal",
    "guest",
    "guestnice",
];

fn write_cpustat(w: &mut JsonWriter<'_>, cpu: i64, values: &[u64]) {
    w.begin_object();
    w.key("type");
    w.str("linux");
    w.key("cpu");
    w.int(cpu);
    for (name, ticks) in CPU_FIELDS.iter().zip(values) {
        w.key(name);
        w.uint(ticks.saturating_mul(1000) / USER_HZ);
    }
    w.end_object();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_names() {
        assert_eq!(cpu_number(b"cpu0"), Some(0));
        assert_eq!(cpu_number(b"cpu4095"), Some(4095));
        assert_eq!(cpu_number(b"cpufreq"), None);
        assert_eq!(cpu_number(b"cpuidle"), None);
        assert_eq!(cpu_number(b"online"), None);
    }
}

arguments! {
    /// `GuestLogicalProcessor`
    pub struct LogicalProcessor {
        "logical-id" => logical_id: i64,
        "online" => online: bool,
        "can-offline" => can_offline: Option<bool>,
    }
}

arguments! {
    /// `guest-set-vcpus`
    pub struct SetVcpus<'d> {
        "vcpus" => vcpus: List<'d, LogicalProcessor>,
    }
}

/// `guest-set-vcpus {vcpus}` → how many were processed. Each CPU's `online` file is written
/// only when its state differs. Processing stops at the first failure; that failure is the
/// command's error only if nothing was processed before it (qemu-ga's partial success).
pub fn guest_set_vcpus(call: &mut Call, args: SetVcpus<'_>) -> Result<(), QmpError> {
    let mut processed = 0i64;
    for vcpu in args.vcpus.iter() {
        match set_vcpu(vcpu.logical_id, vcpu.online) {
            Ok(()) => processed += 1,
            Err(e) if processed == 0 => return Err(e),
            Err(_) => break,
        }
    }
    call.reply.write(|w| {
        w.int(processed);
        Ok(())
    })
}

/// qemu-ga's `transfer_vcpu` towards the system, with its texts (paths as it builds them,
/// `cpuN/` + `/online`).
fn set_vcpu(id: i64, online: bool) -> Result<(), QmpError> {
    let mut dir = FmtBuf::<64>::new();
    let _ = write!(dir, "/sys/devices/system/cpu/cpu{id}/");
    let dir = dir.as_bytes();
    fs::open(dir, uapi::O_RDONLY | uapi::O_DIRECTORY, 0)
        .map_err(|e| qmp_error!("open(\"{}\"): {e}", text(dir)))?;
    let mut path = FmtBuf::<72>::new();
    let _ = write!(path, "/sys/devices/system/cpu/cpu{id}//online");
    let path = path.as_bytes();
    let file = match fs::open(path, uapi::O_RDWR, 0) {
        Ok(file) => file,
        Err(Errno::NOENT) if online => return Ok(()),
        Err(Errno::NOENT) => return Err(qmp_error!("logical processor #{id} can't be offlined")),
        Err(e) => return Err(qmp_error!("open(\"{}\"): {e}", text(path))),
    };
    let mut status = [0u8; 1];
    match file.as_fd().pread(&mut status, 0) {
        Err(e) => return Err(qmp_error!("pread(\"{}\"): {e}", text(path))),
        Ok(0) => return Err(qmp_error!("pread(\"{}\"): unexpected EOF", text(path))),
        Ok(_) => {}
    }
    if online != (status[0] != b'0') {
        let wanted = [b'0' + u8::from(online)];
        file.as_fd()
            .pwrite(&wanted, 0)
            .map_err(|e| qmp_error!("pwrite(\"{}\"): {e}", text(path)))?;
    }
    Ok(())
}

/// A path built from ASCII, as text.
fn text(path: &[u8]) -> &str {
    core::str::from_utf8(path).unwrap_or_default()
}

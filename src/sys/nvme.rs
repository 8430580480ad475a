//! NVMe health: the SMART / Health Information log page (NVMe base specification, log
//! identifier 02h), read with the admin pass-through ioctl.

use super::{Errno, fs, syscall, uapi};

/// Size of the SMART log page.
pub const SMART_LOG: usize = 512;

/// `_IOWR('N', 0x41, struct nvme_passthru_cmd)` (72 bytes), NVME_IOCTL_ADMIN_CMD.
const NVME_IOCTL_ADMIN_CMD: u32 = (3 << 30) | (72 << 16) | ((b'N' as u32) << 8) | 0x41;
const GET_LOG_PAGE: u8 = 0x02;
const LOG_SMART: u32 = 0x02;
const NSID_BROADCAST: u32 = 0xFFFF_FFFF;

/// `struct nvme_passthru_cmd` (linux/nvme_ioctl.h).
#[repr(C)]
#[derive(Default)]
struct PassthruCmd {
    opcode: u8,
    flags: u8,
    rsvd1: u16,
    nsid: u32,
    cdw2: u32,
    cdw3: u32,
    metadata: u64,
    addr: u64,
    metadata_len: u32,
    data_len: u32,
    cdw10: u32,
    cdw11: u32,
    cdw12: u32,
    cdw13: u32,
    cdw14: u32,
    cdw15: u32,
    timeout_ms: u32,
    result: u32,
}

static_assertions::assert_eq_size!(PassthruCmd, [u8; 72]);

/// Reads the controller's SMART log through the namespace device `dev` (`/dev/nvme0n1`):
/// `openat` + `ioctl(NVME_IOCTL_ADMIN_CMD, Get Log Page 02h)`.
pub fn read_smart_log(dev: &[u8]) -> Result<[u8; SMART_LOG], Errno> {
    let fd = fs::open(dev, uapi::O_RDONLY, 0)?;
    let mut log = [0u8; SMART_LOG];
    let mut cmd = PassthruCmd {
        opcode: GET_LOG_PAGE,
        nsid: NSID_BROADCAST,
        addr: log.as_mut_ptr() as u64,
        data_len: SMART_LOG as u32,
        // Log identifier, and the number of dwords to read minus one in bits 16..31.
        cdw10: LOG_SMART | (((SMART_LOG as u32 >> 2) - 1) << 16),
        ..PassthruCmd::default()
    };
    // SAFETY: the kernel reads and writes one struct nvme_passthru_cmd (PassthruCmd is its
    // 72-byte repr(C) layout) at &mut cmd, and the device writes at most data_len
    // (SMART_LOG) bytes at cmd.addr, which points to `log`, a local of that size; both
    // outlive the call, which returns only when the command is done.
    unsafe {
        syscall!(
            __NR_ioctl,
            fd.as_raw_fd(),
            NVME_IOCTL_ADMIN_CMD,
            &mut cmd as *mut PassthruCmd
        )
    }?;
    Ok(log)
}

/// The log page's fields, as qemu-ga reports them (little-endian on the wire).
#[derive(Debug, PartialEq, Eq)]
pub struct Smart {
    pub critical_warning: u8,
    /// Composite temperature, in kelvins.
    pub temperature: u16,
    pub available_spare: u8,
    pub available_spare_threshold: u8,
    pub percentage_used: u8,
    /// The 128-bit counters as (low, high) halves: data units read, data units written,
    /// host read commands, host write commands, controller busy time, power cycles,
    /// power-on hours, unsafe shutdowns, media errors, error log entries.
    pub counters: [(u64, u64); 10],
}

pub fn parse_smart(log: &[u8; SMART_LOG]) -> Smart {
    let u64_at = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&log[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let mut counters = [(0, 0); 10];
    for (i, c) in counters.iter_mut().enumerate() {
        let at = 32 + 16 * i;
        *c = (u64_at(at), u64_at(at + 8));
    }
    Smart {
        critical_warning: log[0],
        temperature: u16::from_le_bytes([log[1], log[2]]),
        available_spare: log[3],
        available_spare_threshold: log[4],
        percentage_used: log[5],
        counters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ioctl_number_is_the_kernels() {
        // NVME_IOCTL_ADMIN_CMD as C computes it on Linux.
        assert_eq!(NVME_IOCTL_ADMIN_CMD, 0xC048_4E41);
    }

    #[test]
    fn log_page_fields() {
        let mut log = [0u8; SMART_LOG];
        log[0] = 0x04;
        log[1..3].copy_from_slice(&310u16.to_le_bytes());
        log[3] = 100;
        log[4] = 10;
        log[5] = 3;
        log[32..40].copy_from_slice(&12345u64.to_le_bytes()); // data units read, low
        log[40..48].copy_from_slice(&1u64.to_le_bytes()); // ... high
        log[176..184].copy_from_slice(&7u64.to_le_bytes()); // error log entries, low
        let smart = parse_smart(&log);
        assert_eq!(smart.critical_warning, 4);
        assert_eq!(smart.temperature, 310);
        assert_eq!(
            (
                smart.available_spare,
                smart.available_spare_threshold,
                smart.percentage_used
            ),
            (100, 10, 3)
        );
        assert_eq!(smart.counters[0], (12345, 1));
        assert_eq!(smart.counters[9], (7, 0));
    }
}

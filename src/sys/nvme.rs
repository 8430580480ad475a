//! NVMe health: the SMART / Health Information log page (NVMe base specification, log
//! identifier 02h), read with the admin pass-through ioctl; its fields are read by
//! [`crate::formats::nvme_smart`].

use super::{Errno, fs, syscall, uapi};
use crate::formats::nvme_smart::SMART_LOG;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ioctl_number_is_the_kernels() {
        // NVME_IOCTL_ADMIN_CMD as C computes it on Linux.
        assert_eq!(NVME_IOCTL_ADMIN_CMD, 0xC048_4E41);
    }
}

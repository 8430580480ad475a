//! The NVMe SMART / Health Information log page (NVMe base specification, log identifier
//! 02h): the fields qemu-ga reports for `guest-get-disks`. Little-endian whatever the host
//! (the controller writes it so). The ioctl that reads it is `sys::nvme`.

/// Size of the SMART log page.
pub const SMART_LOG: usize = 512;

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

/// The fields of a whole log page (a fixed size, so every field is there).
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

//! Memory blocks: `guest-get-memory-blocks`, `guest-set-memory-blocks`,
//! `guest-get-memory-block-info`.

use super::Call;
use crate::capacity::LISTING_BYTES;
use crate::protocol::{JsonWriter, List, QmpError};
use crate::sys::{AsFd, Errno, fs, uapi};
use crate::text::FmtBuf;
use crate::{arguments, qapi_enum, qmp_error};

const MEMORY_DIR: &[u8] = b"/sys/devices/system/memory/";

/// `guest-get-memory-blocks` → `[{phys-index, online, can-offline}]` for every
/// `memoryN` directory in sysfs order; `[]` when the kernel has no memory hotplug.
pub fn guest_get_memory_blocks(call: &mut Call, _: ()) -> Result<(), QmpError> {
    let dir = match fs::Dir::open(MEMORY_DIR) {
        Ok(dir) => Some(dir),
        Err(Errno::NOENT) => None,
        Err(e) => {
            return Err(qmp_error!(
                "Can't open directory \"/sys/devices/system/memory/\": {e}"
            ));
        }
    };
    let entries = call.scratch.take(LISTING_BYTES)?;
    call.reply.write(|w| {
        w.begin_array();
        if let Some(dir) = &dir {
            let mut any = false;
            dir.for_each(entries, |name, kind| {
                if let Some(index) = block_index(name, kind) {
                    write_block(w, index);
                    any = true;
                }
            })
            .map_err(|e| qmp_error!("Can't open directory \"/sys/devices/system/memory/\": {e}"))?;
            // The answer cannot be empty when the directory exists (qemu-ga's rule).
            if !any {
                return Err(qmp_error!("guest reported zero memory blocks!"));
            }
        }
        w.end_array();
        Ok(())
    })
}

/// `memory<N>` directories (as qemu-ga: the name starts with "memory", strtoul of the rest).
fn block_index(name: &[u8], kind: u8) -> Option<u64> {
    let rest = name
        .strip_prefix(b"memory")
        .filter(|_| kind == fs::DT_DIR)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    Some(
        core::str::from_utf8(&rest[..digits])
            .ok()?
            .parse()
            .unwrap_or(0),
    )
}

fn write_block(w: &mut JsonWriter<'_>, index: u64) {
    let read = |file: &str, buf: &mut [u8]| -> Result<usize, Errno> {
        let mut path = FmtBuf::<96>::new();
        let _ = core::fmt::Write::write_fmt(
            &mut path,
            format_args!("/sys/devices/system/memory/memory{index}/{file}"),
        );
        fs::read_file(path.as_bytes(), buf).map(|b| b.len())
    };
    let mut state = [0u8; 16];
    let (online, can_offline) = match read("state", &mut state) {
        // An old kernel without the file: always online.
        Err(_) => (true, false),
        Ok(len) => {
            let mut removable = [0u8; 4];
            let can_offline =
                matches!(read("removable", &mut removable), Ok(n) if n > 0 && removable[0] != b'0');
            (state[..len].starts_with(b"online"), can_offline)
        }
    };
    w.begin_object();
    w.key("phys-index");
    w.uint(index);
    w.key("online");
    w.bool(online);
    w.key("can-offline");
    w.bool(can_offline);
    w.end_object();
}

/// `guest-get-memory-block-info` → `{size}`: `block_size_bytes` (hexadecimal) in bytes.
pub fn guest_get_memory_block_info(call: &mut Call, _: ()) -> Result<(), QmpError> {
    fs::Dir::open(MEMORY_DIR)
        .map_err(|e| qmp_error!("open(\"/sys/devices/system/memory/\"): {e}"))?;
    let mut buf = [0u8; 32];
    let text = fs::read_file(b"/sys/devices/system/memory/block_size_bytes", &mut buf)
        .map_err(|e| qmp_error!("openat(\"block_size_bytes\"): {e}"))?;
    let size = parse_hex(text);
    call.reply.write(|w| {
        w.begin_object();
        w.key("size");
        w.uint(size);
        w.end_object();
        Ok(())
    })
}

/// strtoul(text, NULL, 16): leading hex digits (an optional 0x), else 0.
fn parse_hex(text: &[u8]) -> u64 {
    let text = text.trim_ascii();
    let text = text
        .strip_prefix(b"0x")
        .or_else(|| text.strip_prefix(b"0X"))
        .unwrap_or(text);
    let digits = text.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    core::str::from_utf8(&text[..digits])
        .ok()
        .and_then(|d| u64::from_str_radix(d, 16).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_sizes_and_block_names() {
        assert_eq!(parse_hex(b"8000000\n"), 134217728);
        assert_eq!(parse_hex(b"0x1000"), 4096);
        assert_eq!(parse_hex(b"zz"), 0);
        assert_eq!(block_index(b"memory12", fs::DT_DIR), Some(12));
        assert_eq!(block_index(b"memory12", 8), None, "a file, not a directory");
        assert_eq!(block_index(b"block_size_bytes", 8), None);
    }
}

arguments! {
    /// `GuestMemoryBlock`
    pub struct MemoryBlock {
        "phys-index" => phys_index: u64,
        "online" => online: bool,
        "can-offline" => can_offline: Option<bool>,
    }
}

arguments! {
    /// `guest-set-memory-blocks`
    pub struct SetMemoryBlocks<'d> {
        "mem-blks" => blocks: List<'d, MemoryBlock>,
    }
}

/// `guest-set-memory-blocks {mem-blks}` → `[{phys-index, response, error-code?}]`: each
/// block's `state` is written when it differs, and each gets its own answer, as in
/// qemu-ga's `transfer_memory_block` (whose quirks the responses keep: a block already in
/// the wanted state is a `success`, and `error-code` is the errno of the step that failed).
pub fn guest_set_memory_blocks(call: &mut Call, args: SetMemoryBlocks<'_>) -> Result<(), QmpError> {
    call.reply.write(|w| {
        w.begin_array();
        for block in args.blocks.iter() {
            let (response, errno) = set_block(block.phys_index, block.online);
            w.begin_object();
            w.key("phys-index");
            w.uint(block.phys_index);
            w.key("response");
            w.str(response.name());
            if let Some(errno) = errno {
                w.key("error-code");
                w.int(i64::from(errno.0));
            }
            w.end_object();
        }
        w.end_array();
        Ok(())
    })
}

qapi_enum! {
    /// `GuestMemoryBlockResponseType`
    pub enum BlockResponse {
        Success = "success",
        NotFound = "not-found",
        NotSupported = "operation-not-supported",
        Failed = "operation-failed",
    }
}

fn set_block(index: u64, online: bool) -> (BlockResponse, Option<Errno>) {
    use BlockResponse::*;
    if let Err(e) = fs::Dir::open(MEMORY_DIR) {
        return (
            if e == Errno::NOENT {
                NotSupported
            } else {
                Success
            },
            Some(e),
        );
    }
    let mut path = FmtBuf::<96>::new();
    let _ = core::fmt::Write::write_fmt(
        &mut path,
        format_args!("/sys/devices/system/memory/memory{index}/"),
    );
    match fs::open(path.as_bytes(), uapi::O_RDONLY | uapi::O_DIRECTORY, 0) {
        Ok(_) => {}
        Err(e) if e == Errno::NOENT => return (NotFound, Some(e)),
        Err(e) => return (Failed, Some(e)),
    }
    let _ = core::fmt::Write::write_str(&mut path, "state");
    let mut state = [0u8; 10];
    let current = match fs::read_file(path.as_bytes(), &mut state) {
        Ok(text) => text.starts_with(b"online"),
        // An old kernel without the file: only "online" can be honoured.
        Err(e) if e == Errno::NOENT => {
            return (if online { Success } else { NotSupported }, Some(e));
        }
        Err(e) => return (Failed, Some(e)),
    };
    if current == online {
        return (Success, None);
    }
    let wanted: &[u8] = if online { b"online" } else { b"offline" };
    let written = fs::open(path.as_bytes(), uapi::O_WRONLY, 0)
        .and_then(|file| file.as_fd().pwrite(wanted, 0));
    match written {
        Ok(_) => (Success, None),
        Err(e) => (Failed, Some(e)),
    }
}

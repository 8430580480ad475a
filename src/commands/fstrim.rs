//! `guest-fstrim`: discards the unused blocks of every mounted block-device file system.

use super::{Call, mounts};
use crate::arguments;
use crate::protocol::QmpError;
use crate::sys::{AsFd, Errno, fs, uapi};

arguments! {
    /// `guest-fstrim`
    pub struct Fstrim {
        "minimum" => minimum: Option<i64>,
    }
}

/// `guest-fstrim {minimum?}` → `{paths: [{path, trimmed?, minimum?, error?}]}`, one entry
/// per mount (last mount first, as qemu-ga lists them), each with its own result: the
/// command fails only when the mount list cannot be read.
pub fn guest_fstrim(call: &mut Call, args: Fstrim) -> Result<(), QmpError> {
    let text = mounts::read(&mut call.scratch)?;
    let minimum = args.minimum.unwrap_or(0) as u64;
    call.reply.write(|w| {
        w.begin_object();
        w.key("paths");
        w.begin_array();
        let _ = mounts::each_reversed(text, |mount, _| {
            w.begin_object();
            w.key("path");
            w.bytes_as_str(mount.mountpoint);
            match trim(mount.mountpoint, minimum) {
                Ok((trimmed, minimum)) => {
                    w.key("trimmed");
                    w.uint(trimmed);
                    w.key("minimum");
                    w.uint(minimum);
                }
                Err(error) => {
                    w.key("error");
                    w.str(&error);
                }
            }
            w.end_object();
            Ok::<(), ()>(())
        });
        w.end_array();
        w.end_object();
        Ok(())
    })
}

/// FITRIM on one mount point; the error as qemu-ga words it.
fn trim(mountpoint: &[u8], minimum: u64) -> Result<(u64, u64), heapless::String<128>> {
    use core::fmt::Write as _;
    let mut error = heapless::String::new();
    let fd = match fs::open(mountpoint, uapi::O_RDONLY, 0) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = write!(error, "failed to open: {e}");
            return Err(error);
        }
    };
    fd.as_fd().trim_fs(minimum).map_err(|e| {
        let _ = match e {
            Errno::NOTTY | Errno::OPNOTSUPP => write!(error, "trim not supported"),
            e => write!(error, "failed to trim: {e}"),
        };
        error
    })
}

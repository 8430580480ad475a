//! Error numbers and the glibc `strerror` texts that qemu-ga's messages embed
//! (clients match on some of them, e.g. "No such file or directory").

use linux_raw_sys::errno as e;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Errno(pub u16);

macro_rules! errnos {
    ($($name:ident = $c:ident, $text:literal;)*) => {
        impl Errno {
            $(pub const $name: Errno = Errno(e::$c as u16);)*

            /// The glibc `strerror` text for this error.
            pub fn message(self) -> &'static str {
                match self.0 as u32 {
                    $(e::$c => $text,)*
                    _ => "Unknown error",
                }
            }
        }
    };
}

errnos! {
    PERM = EPERM, "Operation not permitted";
    NOENT = ENOENT, "No such file or directory";
    SRCH = ESRCH, "No such process";
    INTR = EINTR, "Interrupted system call";
    IO = EIO, "Input/output error";
    NXIO = ENXIO, "No such device or address";
    TOOBIG = E2BIG, "Argument list too long";
    NOEXEC = ENOEXEC, "Exec format error";
    BADF = EBADF, "Bad file descriptor";
    CHILD = ECHILD, "No child processes";
    AGAIN = EAGAIN, "Resource temporarily unavailable";
    NOMEM = ENOMEM, "Cannot allocate memory";
    ACCES = EACCES, "Permission denied";
    FAULT = EFAULT, "Bad address";
    BUSY = EBUSY, "Device or resource busy";
    EXIST = EEXIST, "File exists";
    XDEV = EXDEV, "Invalid cross-device link";
    NODEV = ENODEV, "No such device";
    NOTDIR = ENOTDIR, "Not a directory";
    ISDIR = EISDIR, "Is a directory";
    INVAL = EINVAL, "Invalid argument";
    NFILE = ENFILE, "Too many open files in system";
    MFILE = EMFILE, "Too many open files";
    NOTTY = ENOTTY, "Inappropriate ioctl for device";
    TXTBSY = ETXTBSY, "Text file busy";
    FBIG = EFBIG, "File too large";
    NOSPC = ENOSPC, "No space left on device";
    SPIPE = ESPIPE, "Illegal seek";
    ROFS = EROFS, "Read-only file system";
    MLINK = EMLINK, "Too many links";
    PIPE = EPIPE, "Broken pipe";
    RANGE = ERANGE, "Numerical result out of range";
    NAMETOOLONG = ENAMETOOLONG, "File name too long";
    NOSYS = ENOSYS, "Function not implemented";
    NOTEMPTY = ENOTEMPTY, "Directory not empty";
    LOOP = ELOOP, "Too many levels of symbolic links";
    NODATA = ENODATA, "No data available";
    OVERFLOW = EOVERFLOW, "Value too large for defined data type";
    NOTSOCK = ENOTSOCK, "Socket operation on non-socket";
    OPNOTSUPP = EOPNOTSUPP, "Operation not supported";
    AFNOSUPPORT = EAFNOSUPPORT, "Address family not supported by protocol";
    ADDRINUSE = EADDRINUSE, "Address already in use";
    ADDRNOTAVAIL = EADDRNOTAVAIL, "Cannot assign requested address";
    NETDOWN = ENETDOWN, "Network is down";
    CONNABORTED = ECONNABORTED, "Software caused connection abort";
    CONNRESET = ECONNRESET, "Connection reset by peer";
    NOTCONN = ENOTCONN, "Transport endpoint is not connected";
    TIMEDOUT = ETIMEDOUT, "Connection timed out";
    CONNREFUSED = ECONNREFUSED, "Connection refused";
    HOSTDOWN = EHOSTDOWN, "Host is down";
    ALREADY = EALREADY, "Operation already in progress";
    INPROGRESS = EINPROGRESS, "Operation now in progress";
    STALE = ESTALE, "Stale file handle";
    DQUOT = EDQUOT, "Disk quota exceeded";
    CANCELED = ECANCELED, "Operation canceled";
    NOBUFS = ENOBUFS, "No buffer space available";
}

impl Errno {
    /// Converts a raw system-call return value: `-4095..=-1` are errors.
    #[inline]
    pub fn result(ret: isize) -> Result<usize, Errno> {
        if (-4095..0).contains(&ret) {
            Err(Errno((-ret) as u16))
        } else {
            Ok(ret as usize)
        }
    }
}

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

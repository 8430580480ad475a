//! Pure parsers of kernel and system formats: the files under /proc and /sys, the kernel's
//! netlink messages and NVMe log pages, and the system's files (mountinfo, TZif zone files,
//! utmp, passwd and shadow, os-release, GLib key files).
//!
//! Each is a function over bytes that the caller has read: no system call, no file, no
//! `unsafe`. They are built on every target (bare metal included, which proves they need
//! no operating system), unit-tested with captured inputs, and fuzzed
//! (`fuzz/fuzz_targets/`, one target per format). Bytes from the kernel are not trusted
//! more than bytes from the host: a short, garbled or hostile input gives `None`, an error
//! or fewer records, never a panic.
//!
//! `sys` fetches the bytes and the commands turn the values into responses; this layer
//! uses only `text`.

#![forbid(unsafe_code)]

pub mod calendar;
pub mod cmdline;
pub mod diskstats;
pub mod keyfile;
pub mod loadavg;
pub mod modules_dep;
pub mod mountinfo;
pub mod netlink;
pub mod nvme_smart;
pub mod os_release;
pub mod partitions;
pub mod passwd;
pub mod proc_route;
pub mod proc_stat;
pub mod sysfs;
pub mod tzif;
pub mod utmp;

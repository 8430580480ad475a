//! Host name and load average.

use super::Call;
use crate::formats::loadavg;
use crate::protocol::QmpError;
use crate::qmp_error;
use crate::sys::{fs, system};

/// `guest-get-host-name` → `{host-name}`: the kernel's node name, which is what
/// gethostname(2) returns.
pub fn guest_get_host_name(call: &mut Call, _: ()) -> Result<(), QmpError> {
    let uts = system::uname().map_err(|e| qmp_error!("cannot get hostname: {e}"))?;
    call.reply.write(|w| {
        w.begin_object();
        w.key("host-name");
        w.bytes_as_str(uts.nodename());
        w.end_object();
        Ok(())
    })
}

/// `guest-get-load` → `{load1m, load5m, load15m}` from `/proc/loadavg` (what getloadavg(3)
/// reads).
pub fn guest_get_load(call: &mut Call, _: ()) -> Result<(), QmpError> {
    let mut buf = [0u8; 128];
    let text = fs::read_file(b"/proc/loadavg", &mut buf)
        .map_err(|e| qmp_error!("cannot query load average: {e}"))?;
    let [one, five, fifteen] =
        parse_loadavg(text).ok_or_else(|| qmp_error!("cannot query load average"))?;
    call.reply.write(|w| {
        w.begin_object();
        w.key("load1m");
        w.decimal(one);
        w.key("load5m");
        w.decimal(five);
        w.key("load15m");
        w.decimal(fifteen);
        w.end_object();
        Ok(())
    })
}

/// The three load averages of `/proc/loadavg`, when each is a JSON number (they are
/// written into the response as the kernel's decimal text).
pub fn parse_loadavg(text: &[u8]) -> Option<[&str; 3]> {
    let fields = loadavg::averages(text)?;
    fields
        .iter()
        .all(|f| crate::protocol::json::is_number(f.as_bytes()))
        .then_some(fields)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loadavg_fields() {
        let text = std::fs::read("tests/fixtures/proc/loadavg").unwrap();
        assert_eq!(parse_loadavg(&text), Some(["0.52", "0.58", "0.59"]));
        assert_eq!(parse_loadavg(b"0.00 0.01"), None);
        assert_eq!(parse_loadavg(b"x y z"), None);
        assert_eq!(parse_loadavg(b""), None);
    }
}

//! Time zones: TZif files (RFC 8536, versions 1 to 4) and POSIX `TZ` rule strings, enough
//! to answer "what is the UTC offset and abbreviation at this instant", as GLib's
//! `GTimeZone` does for qemu-ga. Pure code: callers read the files.

use super::calendar::{civil_from_days, days_from_civil};

/// Local time at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTime {
    /// Seconds east of UTC.
    pub offset: i32,
    pub abbreviation: heapless::String<16>,
    pub is_dst: bool,
}

impl LocalTime {
    pub fn utc() -> LocalTime {
        LocalTime {
            offset: 0,
            abbreviation: abbreviation(b"UTC"),
            is_dst: false,
        }
    }
}

fn abbreviation(bytes: &[u8]) -> heapless::String<16> {
    let mut s = heapless::String::new();
    for &b in bytes.iter().take(16) {
        let _ = s.push(if b.is_ascii() { b as char } else { '?' });
    }
    s
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The local time at `now` (seconds since the epoch) in the zone described by TZif `data`.
/// `None` if the data is not a valid TZif file.
pub fn lookup_tzif(data: &[u8], now: i64) -> Option<LocalTime> {
    let header = |at: usize| -> Option<[usize; 6]> {
        if data.get(at..at + 4)? != b"TZif" {
            return None;
        }
        let mut counts = [0usize; 6];
        for (i, c) in counts.iter_mut().enumerate() {
            *c = be32(data, at + 20 + 4 * i)? as usize;
        }
        Some(counts)
    };
    // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
    let v1 = header(0)?;
    let version = *data.get(4)?;
    let block_len = |c: [usize; 6], time: usize| {
        c[3] * time + c[3] + c[4] * 6 + c[5] + c[2] * (time + 4) + c[1] + c[0]
    };
    let (counts, start, time_size) = if version >= b'2' {
        let second = 44 + block_len(v1, 4);
        (header(second)?, second + 44, 8)
    } else {
        (v1, 44, 4)
    };
    let [_, _, _, timecnt, typecnt, charcnt] = counts;
    if typecnt == 0 {
        return None;
    }
    let times = start;
    let indices = times + timecnt * time_size;
    let types = indices + timecnt;
    let chars = types + typecnt * 6;
    let footer = start + block_len(counts, time_size);
    let time_at = |i: usize| -> Option<i64> {
        if time_size == 8 {
            be64(data, times + 8 * i)
        } else {
            be32(data, times + 4 * i).map(|t| t as i32 as i64)
        }
    };
    let local_type = |t: usize| -> Option<LocalTime> {
        let at = types + 6 * t;
        let offset = be32(data, at)? as i32;
        let is_dst = *data.get(at + 4)? != 0;
        let name_at = *data.get(at + 5)? as usize;
        let names = data.get(chars..chars + charcnt)?;
        let name = names.get(name_at..)?;
        let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
        Some(LocalTime {
            offset,
            abbreviation: abbreviation(name),
            is_dst,
        })
    };
    // The last transition at or before `now` (binary search over sorted times).
    let (mut lo, mut hi) = (0usize, timecnt);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if time_at(mid)? <= now {
            lo = mid + 1
        } else {
            hi = mid
        }
    }
    if lo == 0 {
        // Before the first transition: the first time type (RFC 8536, 3.2).
        return local_type(0);
    }
    if lo == timecnt && time_size == 8 {
        // After the last transition the footer's POSIX rule, if any, applies.
        let rule = data
            .get(footer..)
            .and_then(|tail| tail.strip_prefix(b"\n"))
            .and_then(|t| t.split(|&b| b == b'\n').next())
            .filter(|rule| !rule.is_empty());
        if let Some(local) = rule.and_then(|rule| lookup_posix(rule, now)) {
            return Some(local);
        }
    }
    let index = *data.get(indices + lo - 1)? as usize;
    if index >= typecnt {
        return None;
    }
    local_type(index)
}

/// A POSIX TZ rule string: `std offset [dst [offset] [,start[/time],end[/time]]]`.
pub fn lookup_posix(rule: &[u8], now: i64) -> Option<LocalTime> {
    let mut p = Cursor { s: rule, at: 0 };
    let std_name = p.name()?;
    let std_offset = -p.offset()?;
    if p.done() {
        return Some(LocalTime {
            offset: std_offset,
            abbreviation: abbreviation(std_name),
            is_dst: false,
        });
    }
    let dst_name = p.name()?;
    let dst_offset = if p.peek().is_some_and(|b| b != b',') {
        -p.offset()?
    } else {
        std_offset + 3600
    };
    // Without rules, POSIX leaves DST to the implementation; the US rules are the usual one.
    let (start, end) = if p.done() {
        (
            Rule::Month {
                month: 3,
                week: 2,
                day: 0,
                time: 7200,
            },
            Rule::Month {
                month: 11,
                week: 1,
                day: 0,
                time: 7200,
            },
        )
    } else {
        p.eat(b',')?;
        let start = p.rule()?;
        p.eat(b',')?;
        let end = p.rule()?;
        if !p.done() {
            return None;
        }
        (start, end)
    };
    let year = civil_from_days((now + std_offset as i64).div_euclid(86400)).0;
    let starts = start.at(year) - std_offset as i64;
    let ends = end.at(year) - dst_offset as i64;
    let in_dst = if starts < ends {
        starts <= now && now < ends
    } else {
        !(ends <= now && now < starts)
    };
    Some(if in_dst {
        LocalTime {
            offset: dst_offset,
            abbreviation: abbreviation(dst_name),
            is_dst: true,
        }
    } else {
        LocalTime {
            offset: std_offset,
            abbreviation: abbreviation(std_name),
            is_dst: false,
        }
    })
}

#[derive(Debug, Clone, Copy)]
enum Rule {
    /// `Jn`: day 1..=365, February 29 never counted.
    Julian { day: i64, time: i64 },
    /// `n`: day 0..=365, February 29 counted.
    Zero { day: i64, time: i64 },
    /// `Mm.w.d`: day `d` (0 = Sunday) of week `w` (5 = last) of month `m`.
    Month {
        month: i64,
        week: i64,
        day: i64,
        time: i64,
    },
}

impl Rule {
    /// Seconds since the epoch of this rule in `year`, in the local time it is given in.
    fn at(self, year: i64) -> i64 {
        let jan1 = days_from_civil(year, 1, 1);
        let (days, time) = match self {
            Rule::Julian { day, time } => {
                let leap_skip = (is_leap(year) && day >= 60) as i64;
                (jan1 + day - 1 + leap_skip, time)
            }
            Rule::Zero { day, time } => (jan1 + day, time),
            Rule::Month {
                month,
                week,
                day,
                time,
            } => {
                let first = days_from_civil(year, month, 1);
                let first_weekday = (first + 4).rem_euclid(7); // 1970-01-01 was a Thursday
                let mut date = 1 + (day - first_weekday).rem_euclid(7) + (week - 1) * 7;
                while date > days_in_month(year, month) {
                    date -= 7;
                }
                (first + date - 1, time)
            }
        };
        days * 86400 + time
    }
}

struct Cursor<'s> {
    s: &'s [u8],
    at: usize,
}

impl<'s> Cursor<'s> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }
    fn done(&self) -> bool {
        self.at >= self.s.len()
    }
    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.at += 1)
    }
    /// A zone name: 3+ letters, or anything in `<...>`.
    fn name(&mut self) -> Option<&'s [u8]> {
        let start = self.at;
        if self.peek()? == b'<' {
            let close = self.s[start..].iter().position(|&b| b == b'>')? + start;
            self.at = close + 1;
            return Some(&self.s[start + 1..close]);
        }
        while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            self.at += 1;
        }
        (self.at - start >= 3).then(|| &self.s[start..self.at])
    }
    fn number(&mut self) -> Option<i64> {
        let start = self.at;
        let mut n: i64 = 0;
        while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            n = n.checked_mul(10)?.checked_add((d - b'0') as i64)?;
            self.at += 1;
        }
        (self.at > start).then_some(n)
    }
    /// `[+-]hh[:mm[:ss]]` in seconds.
    fn offset(&mut self) -> Option<i32> {
        let sign = match self.peek()? {
            b'-' => {
                self.at += 1;
                -1
            }
            b'+' => {
                self.at += 1;
                1
            }
            _ => 1,
        };
        // Checked: the digits are the TZ variable's, any number of them (a huge hour count
        // is refused below, not wrapped into a plausible offset).
        let mut secs = self.number()?.checked_mul(3600)?;
        if self.peek() == Some(b':') {
            self.at += 1;
            secs = secs.checked_add(self.number()?.checked_mul(60)?)?;
            if self.peek() == Some(b':') {
                self.at += 1;
                secs = secs.checked_add(self.number()?)?;
            }
        }
        if secs > 167 * 3600 {
            return None;
        }
        Some((sign * secs) as i32)
    }
    fn rule(&mut self) -> Option<Rule> {
        let rule = match self.peek()? {
            b'J' => {
                self.at += 1;
                let day = self.number().filter(|d| (1..=365).contains(d))?;
                Rule::Julian { day, time: 0 }
            }
            b'M' => {
                self.at += 1;
                let month = self.number().filter(|m| (1..=12).contains(m))?;
                self.eat(b'.')?;
                let week = self.number().filter(|w| (1..=5).contains(w))?;
                self.eat(b'.')?;
                let day = self.number().filter(|d| (0..=6).contains(d))?;
                Rule::Month {
                    month,
                    week,
                    day,
                    time: 0,
                }
            }
            _ => Rule::Zero {
                day: self.number().filter(|d| (0..=365).contains(d))?,
                time: 0,
            },
        };
        let time = if self.peek() == Some(b'/') {
            self.at += 1;
            self.offset()? as i64
        } else {
            7200
        };
        Some(match rule {
            Rule::Julian { day, .. } => Rule::Julian { day, time },
            Rule::Zero { day, .. } => Rule::Zero { day, time },
            Rule::Month {
                month, week, day, ..
            } => Rule::Month {
                month,
                week,
                day,
                time,
            },
        })
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i64, m: i64, d: i64, hh: i64) -> i64 {
        days_from_civil(y, m, d) * 86400 + hh * 3600
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("tests/fixtures/tzif/{name}")).unwrap()
    }

    fn local(offset: i32, name: &str, is_dst: bool) -> Option<LocalTime> {
        Some(LocalTime {
            offset,
            abbreviation: abbreviation(name.as_bytes()),
            is_dst,
        })
    }

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn paris_summer_and_winter_from_transitions_and_footer() {
        let paris = fixture("Europe-Paris");
        assert_eq!(
            lookup_tzif(&paris, at(2026, 1, 15, 12)),
            local(3600, "CET", false)
        );
        assert_eq!(
            lookup_tzif(&paris, at(2026, 7, 15, 12)),
            local(7200, "CEST", true)
        );
        // 2026-03-29 01:00 UTC is the switch; a minute before and after.
        assert_eq!(
            lookup_tzif(&paris, at(2026, 3, 29, 1) - 60),
            local(3600, "CET", false)
        );
        assert_eq!(
            lookup_tzif(&paris, at(2026, 3, 29, 1)),
            local(7200, "CEST", true)
        );
        // Far beyond the table: the footer rule.
        assert_eq!(
            lookup_tzif(&paris, at(2090, 7, 1, 0)),
            local(7200, "CEST", true)
        );
        // Long ago: local mean time.
        assert_eq!(
            lookup_tzif(&paris, at(1850, 1, 1, 0)).map(|l| l.abbreviation),
            Some(abbreviation(b"LMT"))
        );
    }

    #[test]
    fn southern_hemisphere_and_fractional_offsets() {
        let sydney = fixture("Australia-Sydney");
        assert_eq!(
            lookup_tzif(&sydney, at(2026, 1, 15, 0)),
            local(39600, "AEDT", true)
        );
        assert_eq!(
            lookup_tzif(&sydney, at(2026, 7, 15, 0)),
            local(36000, "AEST", false)
        );
        let kolkata = fixture("Asia-Kolkata");
        assert_eq!(
            lookup_tzif(&kolkata, at(2026, 7, 15, 0)),
            local(19800, "IST", false)
        );
        let utc = fixture("Etc-UTC");
        assert_eq!(
            lookup_tzif(&utc, at(2026, 7, 15, 0)),
            local(0, "UTC", false)
        );
    }

    #[test]
    fn posix_rules() {
        let ny = b"EST5EDT,M3.2.0,M11.1.0";
        assert_eq!(
            lookup_posix(ny, at(2026, 7, 1, 0)),
            local(-14400, "EDT", true)
        );
        assert_eq!(
            lookup_posix(ny, at(2026, 12, 1, 0)),
            local(-18000, "EST", false)
        );
        // 2026-03-08 02:00 EST = 07:00 UTC.
        assert_eq!(
            lookup_posix(ny, at(2026, 3, 8, 7) - 1),
            local(-18000, "EST", false)
        );
        assert_eq!(
            lookup_posix(ny, at(2026, 3, 8, 7)),
            local(-14400, "EDT", true)
        );
        assert_eq!(
            lookup_posix(b"<+0530>-5:30", 0),
            local(19800, "+0530", false)
        );
        assert_eq!(lookup_posix(b"UTC0", 0), local(0, "UTC", false));
        assert_eq!(
            lookup_posix(b"NZST-12NZDT,M9.5.0,M4.1.0/3", at(2026, 1, 1, 0)),
            local(46800, "NZDT", true)
        );
        assert_eq!(
            lookup_posix(b"CET-1CEST,J60/2,300", at(2026, 6, 1, 0)),
            local(7200, "CEST", true)
        );
    }

    #[test]
    fn malformed_input_is_refused_not_a_panic() {
        assert_eq!(lookup_posix(b"", 0), None);
        assert_eq!(lookup_posix(b"AB1", 0), None);
        assert_eq!(lookup_posix(b"EST5EDT,M13.1.0,M1.1.0", 0), None);
        assert_eq!(lookup_posix(b"<+05", 0), None);
        // Found by the tzif fuzz target: hours, minutes or seconds that overflow when
        // turned into seconds (a panic in checked builds, a wrapped offset otherwise).
        assert_eq!(lookup_posix(b"AAA9999999999999999", 0), None);
        assert_eq!(lookup_posix(b"AAA0:9999999999999999", 0), None);
        assert_eq!(lookup_posix(b"AAA0:0:9223372036854775807", 0), None);
        assert_eq!(
            lookup_posix(b"AAA1BBB,M3.2.0/9999999999999999,M11.1.0", 0),
            None
        );
        assert_eq!(lookup_tzif(b"TZif2", 0), None);
        assert_eq!(
            lookup_tzif(b"not a tzif file at all, not even close to one....", 0),
            None
        );
        let paris = fixture("Europe-Paris");
        for cut in [10, 44, 60, 200, paris.len() - 5] {
            let _ = lookup_tzif(&paris[..cut], at(2026, 7, 1, 0));
        }
        let mut corrupt = paris.clone();
        for b in corrupt.iter_mut().skip(44).step_by(7) {
            *b = 0xFF;
        }
        let _ = lookup_tzif(&corrupt, at(2026, 7, 1, 0));
    }
}

//! The tables of `make bench`: the figures files of tinyqga, qemu-ga and the two floor agents
//! side by side with the ratio, the goals, and the scaling table.

use crate::client::R;
use std::collections::HashMap;

type Figures = HashMap<String, f64>;

/// The figures of one agent. A key given several times (the same workload run in several
/// rounds) keeps its best value: the highest rate, the lowest time; memory keeps the
/// highest (the conservative figure).
fn load(path: &str) -> Figures {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut figures = Figures::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(' ') else {
            continue;
        };
        let Ok(v) = v.trim().parse::<f64>() else {
            continue;
        };
        let lower_is_better = k.ends_with("_us") || k.ends_with("ms");
        figures
            .entry(k.to_string())
            .and_modify(|old| {
                *old = if lower_is_better {
                    old.min(v)
                } else {
                    old.max(v)
                };
            })
            .or_insert(v);
    }
    figures
}

/// Whether a larger figure is better.
#[derive(Clone, Copy, PartialEq)]
enum Better {
    Higher,
    Lower,
}

fn cell(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v >= 100.0 => group(v.round() as u64),
        Some(v) if v >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// 1234567 -> "1,234,567".
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// How many times better tinyqga is than qemu-ga on this figure (>1: tinyqga better).
fn ratio(tq: Option<f64>, qga: Option<f64>, better: Better) -> Option<f64> {
    let (tq, qga) = (tq?, qga?);
    if tq <= 0.0 || qga <= 0.0 {
        return None;
    }
    Some(if better == Better::Higher {
        tq / qga
    } else {
        qga / tq
    })
}

pub fn report(tq_path: &str, qga_path: &str, floor_path: &str, epoll_path: &str) -> R<()> {
    let (tq, qga) = (load(tq_path), load(qga_path));
    let (floor, epoll_floor) = (load(floor_path), load(epoll_path));
    let get = |f: &Figures, k: &str| f.get(k).copied();
    println!(
        "{:<46} {:>11} {:>11} {:>7} {:>11} {:>11}",
        "figure", "tinyqga", "qemu-ga", "ratio", "floor", "epoll floor"
    );
    println!("{}", "-".repeat(102));
    let row = |label: &str, key: &str, better: Better, with_floor: bool| {
        let (a, b) = (get(&tq, key), get(&qga, key));
        let r = ratio(a, b, better).map_or("-".into(), |r| format!("{r:.2}"));
        let (f, e) = if with_floor {
            (cell(get(&floor, key)), cell(get(&epoll_floor, key)))
        } else {
            (String::new(), String::new())
        };
        println!(
            "{label:<46} {:>11} {:>11} {r:>7} {f:>11} {e:>11}",
            cell(a),
            cell(b)
        );
    };
    use Better::{Higher, Lower};
    for command in crate::RT_COMMANDS {
        let k = format!("rt.{command}");
        let floor = *command == "guest-ping";
        row(
            &format!("{command} round trips/s"),
            &format!("{k}.rps"),
            Higher,
            floor,
        );
        row("  p50 latency (us)", &format!("{k}.p50_us"), Lower, floor);
        row("  p99 latency (us)", &format!("{k}.p99_us"), Lower, floor);
        row("  peak RSS (kB)", &format!("{k}.peak_kB"), Lower, floor);
    }
    for (label, key) in [
        ("guest-file-read 48 MiB, 64 KiB calls", "read.64k"),
        ("guest-file-read 48 MiB, 1 MiB calls", "read.1m"),
        ("guest-file-read 48 MiB in one call", "read.48m"),
        ("guest-file-write 48 MiB, 60 KiB calls", "write.60k"),
        ("guest-file-write 48 MiB, 1 MiB calls", "write.1m"),
    ] {
        row(
            &format!("{label} (MB/s)"),
            &format!("{key}.MBps"),
            Higher,
            false,
        );
        row("  peak RSS (kB)", &format!("{key}.peak_kB"), Lower, false);
    }
    row(
        "guest-exec /bin/true + status, cycles/s",
        "exec.cps",
        Higher,
        false,
    );
    row("  peak RSS (kB)", "exec.peak_kB", Lower, false);
    row(
        "startup to first guest-sync (ms, median of 5)",
        "startup.ms",
        Lower,
        false,
    );
    row("  fastest run (ms)", "startup.min_ms", Lower, false);
    row(
        "idle RSS after start + one sync (kB)",
        "idle.rss_kB",
        Lower,
        true,
    );
    row("binary on disk (bytes)", "size.bytes", Lower, true);
    row(
        "  with its shared libraries (bytes)",
        "size.with_libs",
        Lower,
        true,
    );
    row(
        "system calls per guest-ping (strace -c)",
        "syscalls.ping",
        Lower,
        true,
    );
    println!("ratio: how many times better tinyqga is than qemu-ga (qemu-ga/tinyqga for times,");
    println!("memory, sizes and system calls; tinyqga/qemu-ga for rates): >1 = tinyqga better.");
    if let Some(n) = get(&tq, "soak.requests") {
        println!();
        println!(
            "soak (tinyqga): {} mixed requests on one connection in {:.1} s; after warm-up / at the end: RSS {} / {} kB, open fds {} / {}",
            group(n as u64),
            get(&tq, "soak.seconds").unwrap_or(0.0),
            cell(get(&tq, "soak.rss_before_kB")),
            cell(get(&tq, "soak.rss_after_kB")),
            cell(get(&tq, "soak.fds_before")),
            cell(get(&tq, "soak.fds_after")),
        );
    }

    println!();
    println!("goals");
    let mut misses = 0;
    let mut goal = |ok: Option<bool>, text: String| {
        let mark = match ok {
            Some(true) => "PASS",
            Some(false) => {
                misses += 1;
                "MISS"
            }
            None => {
                misses += 1;
                "MISS (no figure)"
            }
        };
        println!("  {mark:<5} {text}");
    };
    // guest-ping next to a floor: the median of tinyqga's rate over the floor's in rounds
    // of slices served in turn (`paired`); then the best rounds, for the table's figures.
    let next_to = |name: &str, floor: &Figures| {
        let paired = get(&tq, &format!("paired.guest-ping.{name}"));
        let (p, f) = (
            get(&tq, "rt.guest-ping.rps"),
            get(floor, "rt.guest-ping.rps"),
        );
        let percent = |r: f64| format!("{:+.1} %", (r - 1.0) * 100.0);
        let text = format!(
            "paired {} (best rounds: {} vs {} /s, {})",
            paired.map_or("-".into(), percent),
            cell(p),
            cell(f),
            p.zip(f).map_or("-".into(), |(p, f)| percent(p / f))
        );
        (paired, text)
    };
    let (paired, text) = next_to("floor", &floor);
    goal(
        paired.map(|r| r >= 0.9),
        format!("guest-ping round trips within 10 % of the floor: {text}"),
    );
    // Not a goal: the same comparison with a floor that waits as tinyqga waits.
    println!(
        "  info  guest-ping next to the floor that waits in epoll_wait: {}",
        next_to("floor-epoll", &epoll_floor).1
    );
    for command in &crate::RT_COMMANDS[1..] {
        let key = format!("rt.{command}.rps");
        let r = ratio(get(&tq, &key), get(&qga, &key), Higher);
        goal(
            r.map(|r| r >= 2.0),
            format!(
                "{command} >= 2x qemu-ga's round trips: {}x",
                r.map_or("-".into(), |r| format!("{r:.2}"))
            ),
        );
    }
    for (what, key) in [
        ("64 KiB calls", "read.64k"),
        ("1 MiB calls", "read.1m"),
        ("one 48 MiB call", "read.48m"),
    ] {
        let key = format!("{key}.MBps");
        let r = ratio(get(&tq, &key), get(&qga, &key), Higher);
        goal(
            r.map(|r| r >= 3.0),
            format!(
                "guest-file-read ({what}) >= 3x qemu-ga's throughput: {} vs {} MB/s = {}x",
                cell(get(&tq, &key)),
                cell(get(&qga, &key)),
                r.map_or("-".into(), |r| format!("{r:.2}"))
            ),
        );
    }
    let (small, big) = (get(&tq, "read.64k.peak_kB"), get(&tq, "read.48m.peak_kB"));
    goal(
        small.zip(big).map(|(s, b)| b <= s * 1.1),
        format!(
            "tinyqga's peak RSS does not grow with read size (48 MiB call <= 64 KiB calls + 10 %): {} vs {} kB",
            cell(big),
            cell(small)
        ),
    );
    let r = ratio(get(&tq, "exec.cps"), get(&qga, "exec.cps"), Higher);
    goal(
        r.map(|r| r >= 1.5),
        format!(
            "guest-exec cycles >= 1.5x qemu-ga's: {}x",
            r.map_or("-".into(), |r| format!("{r:.2}"))
        ),
    );
    let r = ratio(get(&tq, "idle.rss_kB"), get(&qga, "idle.rss_kB"), Lower);
    goal(
        r.map(|r| r >= 10.0),
        format!(
            "idle RSS <= 1/10 of qemu-ga's: {} vs {} kB ({}x)",
            cell(get(&tq, "idle.rss_kB")),
            cell(get(&qga, "idle.rss_kB")),
            r.map_or("-".into(), |r| format!("{r:.1}"))
        ),
    );
    let r = ratio(get(&tq, "startup.ms"), get(&qga, "startup.ms"), Lower);
    goal(
        r.map(|r| r >= 3.0),
        format!(
            "startup >= 3x faster: {} vs {} ms ({}x)",
            cell(get(&tq, "startup.ms")),
            cell(get(&qga, "startup.ms")),
            r.map_or("-".into(), |r| format!("{r:.1}"))
        ),
    );
    for triple in [
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "s390x-unknown-linux-gnu",
        "riscv64gc-unknown-linux-gnu",
    ] {
        let path = format!("target/{triple}/release/tinyqga");
        match std::fs::metadata(&path) {
            Ok(m) => goal(
                Some(m.len() < 256 << 10),
                format!("binary under 256 KiB ({triple}): {} bytes", group(m.len())),
            ),
            Err(_) => println!("  ----  binary under 256 KiB ({triple}): not built (make cross)"),
        }
    }
    println!("{} goal(s) missed", misses);
    Ok(())
}

/// The scaling table from lines `CASE AGENT N MS ITEMS` (N: what was scaled, per case).
pub fn scaling(path: &str) -> R<()> {
    let text = std::fs::read_to_string(path)?;
    let mut rows: Vec<(String, String, f64, f64, u64)> = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [case, agent, n, ms, items] = f[..] {
            rows.push((
                case.into(),
                agent.into(),
                n.parse()?,
                ms.parse()?,
                items.parse()?,
            ));
        }
    }
    let mut cases: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    cases.dedup();
    for case in cases {
        let mut ns: Vec<f64> = rows.iter().filter(|r| r.0 == case).map(|r| r.2).collect();
        ns.sort_by(f64::total_cmp);
        ns.dedup();
        println!(
            "{:<10} {:>9} {:>9} {:>12} {:>9} {:>12} {:>7}",
            case, "n", "tq items", "tinyqga ms", "qga items", "qemu-ga ms", "ratio"
        );
        // The best (fastest) of the rounds.
        let find = |agent: &str, n: f64| {
            rows.iter()
                .filter(|r| r.0 == case && r.1 == agent && r.2 == n)
                .min_by(|a, b| a.3.total_cmp(&b.3))
        };
        for &n in &ns {
            let (a, b) = (find("tinyqga", n), find("qemu-ga", n));
            let r = a
                .zip(b)
                .map_or("-".into(), |(a, b)| format!("{:.1}", b.3 / a.3));
            println!(
                "{:<10} {:>9} {:>9} {:>12} {:>9} {:>12} {r:>7}",
                "",
                n,
                a.map_or("-".into(), |a| a.4.to_string()),
                a.map_or("-".into(), |a| format!("{:.3}", a.3)),
                b.map_or("-".into(), |b| b.4.to_string()),
                b.map_or("-".into(), |b| format!("{:.3}", b.3)),
            );
        }
        if let Some(kernel) = ns
            .iter()
            .map(|&n| find("kernel", n).map(|r| format!("{:.3}", r.3)))
            .collect::<Option<Vec<_>>>()
        {
            println!(
                "  kernel: {} ms to read the table alone",
                kernel.join(" / ")
            );
        }
        for agent in ["tinyqga", "qemu-ga", "kernel"] {
            let pts: Vec<(f64, f64)> = ns
                .iter()
                .filter_map(|&n| find(agent, n).map(|r| (n, r.3)))
                .collect();
            if pts.len() < 3 {
                continue;
            }
            let slope = |a: (f64, f64), b: (f64, f64)| (b.1 - a.1) / (b.0 - a.0) * 1e3;
            let (s1, s2) = (slope(pts[0], pts[1]), slope(pts[1], pts[2]));
            let verdict = if s2 <= 0.05 || (s1 > 0.0 && s2 / s1 < 2.0) {
                "linear (the per-item cost does not rise)"
            } else {
                "faster than linear (the per-item cost rises)"
            };
            println!(
                "  {agent}: {:.1} us per item from {} to {}, {:.1} us per item from {} to {}: {verdict}",
                s1, pts[0].0, pts[1].0, s2, pts[1].0, pts[2].0
            );
        }
        println!();
    }
    Ok(())
}

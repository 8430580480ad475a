//! The unix-listen channel: one client at a time, fresh sessions, clients that misbehave,
//! and no busy loops.

mod common;

use common::{Agent, lcg_bytes};
use std::io::Write;
use std::net::Shutdown;
use std::time::{Duration, Instant};

const PING: &str = r#"{"execute":"guest-ping"}"#;
const PONG: &str = r#"{"return": {}}"#;

#[test]
fn second_client_is_served_after_first_leaves_with_fresh_session() {
    let agent = Agent::start("handover", &[]);
    let mut c1 = agent.connect();
    assert_eq!(c1.call(PING), PONG);

    // Client 2 connects meanwhile (backlog) and sends its request at once.
    let mut c2 = agent.connect();
    c2.send(r#"{"execute":"guest-sync","arguments":{"id":2}}"#);
    c2.assert_silent(Duration::from_millis(300));

    // Client 1 keeps being served, then leaves half-way through a request.
    assert_eq!(
        c1.call(r#"{"execute":"guest-sync","arguments":{"id":1}}"#),
        r#"{"return": 1}"#
    );
    c1.send(r#"{"execute":"guest-inf"#);
    drop(c1);

    // Client 2's first request is not swallowed by client 1's leftovers.
    assert_eq!(c2.read_line(), r#"{"return": 2}"#);
    assert_eq!(c2.call(PING), PONG);
    assert_eq!(c2.sync_collect(3), Vec::<String>::new());
}

#[test]
fn many_sequential_clients() {
    let agent = Agent::start("sequential", &[]);
    for i in 0..30 {
        let mut c = agent.connect();
        assert_eq!(
            c.call(&format!(
                r#"{{"execute":"guest-sync","arguments":{{"id":{i}}}}}"#
            )),
            format!(r#"{{"return": {i}}}"#)
        );
    }
}

#[test]
fn client_closing_with_unread_replies_does_not_hurt_the_agent() {
    let mut agent = Agent::start("unread", &[]);
    {
        let mut c = agent.connect();
        let batch: String = (0..200).map(|_| r#"{"execute":"guest-info"}"#).collect();
        c.send(&batch);
        // Let some replies pile up unread, then hang up.
        std::thread::sleep(Duration::from_millis(100));
    }
    {
        // Hang up during a reply too, with shutdown of our write side first.
        let mut c = agent.connect();
        c.send(r#"{"execute":"guest-info"}{"execute":"guest-info"}"#);
        c.stream.shutdown(Shutdown::Write).unwrap();
    }
    let mut c = agent.connect();
    assert_eq!(c.call(PING), PONG);
    assert_eq!(c.sync_collect(1), Vec::<String>::new());
    agent.assert_alive();
}

#[test]
fn shutdown_write_still_delivers_reply() {
    let agent = Agent::start("shutwr", &[]);
    let mut c = agent.connect();
    c.send(PING);
    c.stream.shutdown(Shutdown::Write).unwrap();
    assert_eq!(c.read_line(), PONG);
}

#[test]
fn client_that_never_reads_does_not_make_the_agent_spin() {
    let mut agent = Agent::start("nospin", &[]);
    let c = agent.connect();
    let mut writer = c.stream.try_clone().unwrap();
    writer.set_write_timeout(None).unwrap();
    let flood = std::thread::spawn(move || {
        let request = br#"{"execute":"guest-info"}"#;
        let batch: Vec<u8> = request.repeat(1000);
        for _ in 0..20 {
            // Fails (EPIPE/ECONNRESET) once the agent is gone or we shut the socket.
            if writer.write_all(&batch).is_err() {
                return;
            }
        }
    });
    // The main thread never reads. Let the agent fill our receive buffer and block.
    std::thread::sleep(Duration::from_millis(1000));
    agent.assert_alive();
    let before = agent.cpu_time();
    std::thread::sleep(Duration::from_secs(2));
    let used = agent.cpu_time() - before;
    assert!(
        used < Duration::from_millis(200),
        "agent used {used:?} of CPU in 2 s while its client was not reading"
    );

    agent.signal(libc::SIGTERM);
    let status = agent.wait_exit(Duration::from_secs(3));
    // Unblock the writer thread whatever happened.
    let _ = c.stream.shutdown(Shutdown::Both);
    flood.join().unwrap();
    let status = status.expect("agent must exit within 3 s of SIGTERM while blocked");
    assert_eq!(status.code(), Some(0), "{status}");
}

#[test]
fn idle_agent_uses_no_cpu() {
    let mut agent = Agent::start("idle", &[]);
    std::thread::sleep(Duration::from_millis(200));
    let before = agent.cpu_time();
    std::thread::sleep(Duration::from_secs(2));
    let used = agent.cpu_time() - before;
    assert!(
        used < Duration::from_millis(50),
        "idle agent used {used:?} in 2 s"
    );
    agent.assert_alive();
}

#[test]
fn idle_connected_client_costs_no_cpu() {
    let mut agent = Agent::start("idleclient", &[]);
    let mut c = agent.connect();
    assert_eq!(c.call(PING), PONG);
    let before = agent.cpu_time();
    std::thread::sleep(Duration::from_secs(2));
    let used = agent.cpu_time() - before;
    assert!(
        used < Duration::from_millis(50),
        "agent used {used:?} in 2 s"
    );
    assert_eq!(c.call(PING), PONG);
    agent.assert_alive();
}

#[test]
fn random_garbage_then_resync() {
    let mut agent = Agent::start("garbage", &[]);
    let c = agent.connect();
    let mut writer = c.stream.try_clone().unwrap();
    let mut c = c;
    let mut input = lcg_bytes(0x5eed_1234_abcd_0001, 64 * 1024);
    input.push(0xFF);
    input.extend_from_slice(br#"{"execute":"guest-sync","arguments":{"id":99}}"#);
    // Write from a thread: the agent may answer with many errors, which we must read
    // concurrently or both sides would block.
    let sender = std::thread::spawn(move || writer.write_all(&input));

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut lines = 0usize;
    loop {
        assert!(
            Instant::now() < deadline,
            "no {{\"return\": 99}} within 5 s"
        );
        let line = c.read_line_bytes();
        lines += 1;
        if line == br#"{"return": 99}"# {
            break;
        }
        assert!(line.is_ascii(), "non-ASCII reply {line:?}");
    }
    sender.join().unwrap().expect("garbage written");
    assert_eq!(c.call(PING), PONG);
    agent.assert_alive();
    eprintln!("{lines} reply lines for 64 KiB of garbage");
}

#[test]
fn garbage_from_one_client_does_not_reach_the_next() {
    let mut agent = Agent::start("garbage2", &[]);
    {
        let mut c = agent.connect();
        // Unbalanced input, no 0xFF: would swallow the next client's request if the
        // parser state survived the disconnect.
        c.send(b"{\"execute\":[[[{\"a\":\"unterminated");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut c = agent.connect();
    assert_eq!(c.call(PING), PONG);
    agent.assert_alive();
}

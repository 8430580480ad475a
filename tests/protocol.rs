//! Wire behaviour over a unix-listen socket: replies, errors, framing, limits.

mod common;

use common::{Agent, generic_error, not_found_error, parse};
use std::time::Duration;

fn agent(name: &str) -> Agent {
    Agent::start(name, &[])
}

#[test]
fn ping_sync_and_sync_delimited_exact_bytes() {
    let a = agent("basic");
    let mut c = a.connect();
    assert_eq!(c.call(r#"{"execute":"guest-ping"}"#), r#"{"return": {}}"#);
    assert_eq!(
        c.call(r#"{"execute":"guest-sync","arguments":{"id":123456789}}"#),
        r#"{"return": 123456789}"#
    );
    assert_eq!(
        c.call(r#"{"execute":"guest-sync","arguments":{"id":-5}}"#),
        r#"{"return": -5}"#
    );
    c.send(r#"{"execute":"guest-sync-delimited","arguments":{"id":42}}"#);
    assert_eq!(c.read_line_bytes(), b"\xff{\"return\": 42}".to_vec());
    // Only guest-sync-delimited gets the sentinel.
    assert_eq!(c.call(r#"{"execute":"guest-ping"}"#), r#"{"return": {}}"#);
}

#[test]
fn guest_info_lists_exactly_the_implemented_commands() {
    let a = agent("info");
    let mut c = a.connect();
    let reply = c.call(r#"{"execute":"guest-info"}"#);
    let mut expected = String::from(r#"{"return": {"version": "10.0.0", "supported_commands": ["#);
    for (i, name) in common::COMMANDS.iter().enumerate() {
        if i > 0 {
            expected.push_str(", ");
        }
        // qemu-ga's rule: the commands that end or suspend the guest send nothing on success.
        let responds = !(*name == "guest-shutdown" || name.starts_with("guest-suspend-"));
        expected.push_str(&format!(
            r#"{{"name": "{name}", "enabled": true, "success-response": {responds}}}"#
        ));
    }
    expected.push_str("]}}");
    assert_eq!(reply, expected);
    parse(&reply); // and it is valid JSON
}

#[test]
fn unimplemented_and_unknown_commands_are_not_found() {
    let a = agent("notfound");
    let mut c = a.connect();
    for name in ["guest-get-devices", "guest-nope", "GUEST-PING", ""] {
        assert_eq!(
            c.call(&format!(r#"{{"execute":"{name}"}}"#)),
            not_found_error(&format!("The command {name} has not been found")),
        );
    }
}

#[test]
fn id_of_any_type_is_echoed_on_success_and_error() {
    let a = agent("ids");
    let mut c = a.connect();
    let ids = [
        (r#""abc""#, r#""abc""#),
        ("7", "7"),
        ("-1", "-1"),
        (r#"{"a":[1,"x",{}]}"#, r#"{"a": [1, "x", {}]}"#),
        ("[1,2]", "[1, 2]"),
        ("[]", "[]"),
        ("null", "null"),
        ("true", "true"),
        ("false", "false"),
    ];
    for (sent, echoed) in ids {
        assert_eq!(
            c.call(&format!(r#"{{"execute":"guest-ping","id":{sent}}}"#)),
            format!(r#"{{"return": {{}}, "id": {echoed}}}"#)
        );
        assert_eq!(
            c.call(&format!(r#"{{"id":{sent},"execute":"guest-nope"}}"#)),
            format!(
                r#"{{"id": {echoed}, "error": {{"class": "CommandNotFound", "desc": "The command guest-nope has not been found"}}}}"#
            )
        );
    }
    // Floats may be re-printed: compare numerically.
    let reply = parse(&c.call(r#"{"execute":"guest-ping","id":1.5}"#));
    assert_eq!(reply.keys(), ["return", "id"]);
    assert_eq!(reply.at("id").f64(), 1.5);
    let reply = parse(&c.call(r#"{"execute":"guest-sync","arguments":{"id":"x"},"id":2.25}"#));
    assert_eq!(reply.keys(), ["id", "error"]);
    assert_eq!(reply.at("id").f64(), 2.25);
    // The id is echoed even when the envelope is bad.
    assert_eq!(
        c.call(r#"{"id":"q"}"#),
        r#"{"id": "q", "error": {"class": "GenericError", "desc": "QMP input lacks member 'execute'"}}"#
    );
}

#[test]
fn envelope_errors() {
    let a = agent("envelope");
    let mut c = a.connect();
    let cases: &[(&str, &str)] = &[
        ("[1]", "QMP input must be a JSON object"),
        (r#""str""#, "QMP input must be a JSON object"),
        ("5 ", "QMP input must be a JSON object"),
        ("true ", "QMP input must be a JSON object"),
        ("{}", "QMP input lacks member 'execute'"),
        (r#"{"arguments":{}}"#, "QMP input lacks member 'execute'"),
        (
            r#"{"execute":5}"#,
            "QMP input member 'execute' must be a string",
        ),
        (
            r#"{"execute":null}"#,
            "QMP input member 'execute' must be a string",
        ),
        (
            r#"{"execute":{}}"#,
            "QMP input member 'execute' must be a string",
        ),
        (
            r#"{"execute":"guest-ping","arguments":[]}"#,
            "QMP input member 'arguments' must be an object",
        ),
        (
            r#"{"execute":"guest-ping","arguments":null}"#,
            "QMP input member 'arguments' must be an object",
        ),
        (
            r#"{"execute":"guest-ping","exec-oob":"guest-ping"}"#,
            "QMP input member 'exec-oob' is unexpected",
        ),
        (
            r#"{"execute":"guest-ping","foo":1}"#,
            "QMP input member 'foo' is unexpected",
        ),
    ];
    for (request, desc) in cases {
        assert_eq!(c.call(request), generic_error(desc), "request {request}");
    }
}

#[test]
fn argument_errors() {
    let a = agent("args");
    let mut c = a.connect();
    assert_eq!(
        c.call(r#"{"execute":"guest-ping","arguments":{"foo":1}}"#),
        generic_error("Parameter 'foo' is unexpected")
    );
    assert_eq!(
        c.call(r#"{"execute":"guest-ping","arguments":{}}"#),
        r#"{"return": {}}"#
    );
    assert_eq!(
        c.call(r#"{"execute":"guest-sync"}"#),
        generic_error("Parameter 'id' is missing")
    );
    assert_eq!(
        c.call(r#"{"execute":"guest-sync-delimited","arguments":{}}"#),
        generic_error("Parameter 'id' is missing")
    );
    for bad in [
        r#""a""#,
        "1.5",
        "1e3",
        "9223372036854775808",
        "true",
        "null",
        "[]",
        "{}",
    ] {
        assert_eq!(
            c.call(&format!(
                r#"{{"execute":"guest-sync","arguments":{{"id":{bad}}}}}"#
            )),
            generic_error("Invalid parameter type for 'id', expected: integer"),
            "id {bad}"
        );
    }
    // The int64 range is accepted.
    for ok in ["9223372036854775807", "-9223372036854775808", "0"] {
        assert_eq!(
            c.call(&format!(
                r#"{{"execute":"guest-sync","arguments":{{"id":{ok}}}}}"#
            )),
            format!(r#"{{"return": {ok}}}"#)
        );
    }
}

#[test]
fn json_parse_errors() {
    let a = agent("parse");
    let mut c = a.connect();
    let cases: &[(&[u8], &str)] = &[
        (br#"{"a":1,"a":2}"#, "JSON parse error, duplicate key"),
        (
            br#"{"execute":"guest-ping","execute":"guest-ping"}"#,
            "JSON parse error, duplicate key",
        ),
        (
            br#"{"execute":"guest-ping",}"#,
            "JSON parse error, expecting value",
        ),
        (
            br#"{"execute" "guest-ping"}"#,
            "JSON parse error, missing : in object pair",
        ),
        (
            br#"{"execute":tru}"#,
            "JSON parse error, invalid keyword 'tru'",
        ),
        (
            b"{\"execute\":\"gu\xC3\"}",
            "JSON parse error, invalid UTF-8 sequence in string",
        ),
        (b"@\n", "JSON parse error, stray '@'"),
    ];
    for (request, desc) in cases {
        c.send(request);
        assert_eq!(
            c.read_line(),
            generic_error(desc),
            "request {:?}",
            String::from_utf8_lossy(request)
        );
        // Nothing else came of it, and the connection still works.
        assert_eq!(c.sync_collect(1), Vec::<String>::new());
    }
}

#[test]
fn newline_inside_a_string_is_one_error_then_next_line_works() {
    let a = agent("newline");
    let mut c = a.connect();
    c.send("{\"execute\":\"guest-pi\nng\"}\n{\"execute\":\"guest-ping\"}\n");
    let replies = c.sync_collect(3);
    assert_eq!(replies.len(), 2, "replies: {replies:?}");
    let error = parse(&replies[0]);
    assert_eq!(error.at("error.class").str(), "GenericError");
    assert!(
        error
            .at("error.desc")
            .str()
            .starts_with("JSON parse error, stray '"),
        "{replies:?}"
    );
    assert_eq!(replies[1], r#"{"return": {}}"#);
}

#[test]
fn ff_byte_gives_no_reply_and_discards_partial_request() {
    let a = agent("ff");
    let mut c = a.connect();
    // Idle 0xFF: nothing.
    c.send(b"\xff");
    assert_eq!(c.sync_collect(10), Vec::<String>::new());
    // Partial request, 0xFF, full request: exactly one reply.
    c.send(b"{\"execute\":\"guest-in\xff{\"execute\":\"guest-ping\"}");
    assert_eq!(c.read_line(), r#"{"return": {}}"#);
    assert_eq!(c.sync_collect(11), Vec::<String>::new());
    // 0xFF inside a string discards it too; the usual client preamble works.
    c.send(b"{\"execute\":\"gue\xff\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":12}}");
    assert_eq!(c.read_line_bytes(), b"\xff{\"return\": 12}".to_vec());
    assert_eq!(c.sync_collect(13), Vec::<String>::new());
}

#[test]
fn whitespace_alone_gives_no_reply() {
    let a = agent("ws");
    let mut c = a.connect();
    c.send(" \t\r\n\n  \n");
    assert_eq!(c.sync_collect(4), Vec::<String>::new());
}

#[test]
fn single_quotes_byte_at_a_time_and_concatenation() {
    let a = agent("framing");
    let mut c = a.connect();
    assert_eq!(
        c.call("{'execute':'guest-sync','arguments':{'id':7}}"),
        r#"{"return": 7}"#
    );
    for b in br#"{"execute":"guest-sync","arguments":{"id":8}}"# {
        c.send([*b]);
    }
    assert_eq!(c.read_line(), r#"{"return": 8}"#);
    c.send(concat!(
        r#"{"execute":"guest-ping"}{"execute":"guest-sync","arguments":{"id":9}}"#,
        r#"{"execute":"guest-nope"}{"execute":"guest-sync","arguments":{"id":10}}"#
    ));
    assert_eq!(c.read_line(), r#"{"return": {}}"#);
    assert_eq!(c.read_line(), r#"{"return": 9}"#);
    assert_eq!(
        c.read_line(),
        not_found_error("The command guest-nope has not been found")
    );
    assert_eq!(c.read_line(), r#"{"return": 10}"#);
}

#[test]
fn non_ascii_is_escaped_uppercase() {
    let a = agent("unicode");
    let mut c = a.connect();
    assert_eq!(
        c.call(r#"{"execute":"gu\u00e9"}"#),
        not_found_error(r"The command gu\u00E9 has not been found")
    );
    assert_eq!(
        c.call("{\"execute\":\"gu\u{e9}\"}"),
        not_found_error(r"The command gu\u00E9 has not been found")
    );
    // Astral characters come back as a surrogate pair.
    assert_eq!(
        c.call("{\"execute\":\"guest-ping\",\"id\":\"\u{1F600}\"}"),
        r#"{"return": {}, "id": "\uD83D\uDE00"}"#
    );
}

#[test]
fn oversized_request_is_rejected_then_connection_recovers() {
    let a = agent("toolarge");
    let mut c = a.connect();
    let mut request = br#"{"execute":"guest-sync","arguments":{"id":1,"junk":""#.to_vec();
    request.extend(std::iter::repeat_n(b'a', 3 << 20));
    request.extend_from_slice(br#""}}"#);
    c.send(&request);
    assert_eq!(
        c.read_line(),
        generic_error("JSON token size limit exceeded")
    );
    assert_eq!(c.call(r#"{"execute":"guest-ping"}"#), r#"{"return": {}}"#);
    assert_eq!(c.sync_collect(2), Vec::<String>::new());
    // Just under the limit is fine (and reports the unknown argument).
    let mut request = br#"{"execute":"guest-sync","arguments":{"id":1,"junk":""#.to_vec();
    request.extend(std::iter::repeat_n(b'a', (2 << 20) - 100));
    request.extend_from_slice(br#""}}"#);
    c.send(&request);
    assert_eq!(
        c.read_line(),
        generic_error("Parameter 'junk' is unexpected")
    );
}

#[test]
fn nesting_limit() {
    let a = agent("depth");
    let mut c = a.connect();
    // qemu-ga's limit: 1024 levels in all.
    let deep = format!("{}{}", "[".repeat(1025), "]".repeat(1025));
    c.send(&deep);
    assert_eq!(
        c.read_line(),
        generic_error("JSON nesting depth limit exceeded")
    );
    assert_eq!(c.sync_collect(5), Vec::<String>::new());
    // 1023 levels inside "id" (1024 with the request object) are fine and echoed back,
    // as is an id of 100 000 elements (neither costs the parse arena anything).
    let id = format!("{}{}", "[".repeat(1023), "]".repeat(1023));
    let reply = c.call(&format!(
        r#"{{"execute":"guest-sync","arguments":{{"id":6}},"id":{id}}}"#
    ));
    assert_eq!(reply, format!(r#"{{"return": 6, "id": {id}}}"#));
    let elements: Vec<String> = (0..100_000).map(|i| i.to_string()).collect();
    let id = format!("[{}]", elements.join(", "));
    let reply = c.call(&format!(
        r#"{{"execute":"guest-sync","arguments":{{"id":6}},"id":{id}}}"#
    ));
    assert_eq!(reply, format!(r#"{{"return": 6, "id": {id}}}"#));
}

#[test]
fn replies_stay_on_one_connection_in_order_when_pipelined() {
    let a = agent("pipeline");
    let mut c = a.connect();
    let mut batch = String::new();
    for i in 0..500 {
        batch.push_str(&format!(
            "{{\"execute\":\"guest-sync\",\"arguments\":{{\"id\":{i}}}}}\n"
        ));
    }
    c.send(&batch);
    for i in 0..500 {
        assert_eq!(c.read_line(), format!("{{\"return\": {i}}}"));
    }
    c.assert_silent(Duration::from_millis(100));
}

//! Every answer validated against the QGA QAPI schema (tests/fixtures/qga-schema.json):
//! each command this agent implements that takes no arguments is called, and its `return`
//! is checked against the declared type: required members present, members of the right
//! type, enum values from the enum, and no member the schema does not declare.

mod common;

use std::collections::HashMap;

use common::{Agent, Json, parse};

/// The schema's definitions by name (`command`, `struct`, `enum`, `union` ...).
fn schema() -> HashMap<String, Json> {
    let text = std::fs::read_to_string("tests/fixtures/qga-schema.json").unwrap();
    // QAPI is JSON with single quotes and # comments (no quote or # inside strings).
    let text: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
        .replace('\'', "\"");
    let mut definitions = HashMap::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '{' | '[' => {
                if depth == 0 {
                    start = i;
                }
                depth += 1;
            }
            '}' | ']' => {
                depth -= 1;
                if depth == 0 {
                    let expr = parse(&text[start..=i]);
                    for kind in ["command", "struct", "enum", "union", "alternate"] {
                        if let Some(name) = expr.get(kind) {
                            definitions.insert(name.str().to_string(), expr.clone());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    definitions
}

/// Checks `value` against QAPI type `ty` (a name or a one-element array); `at` names the
/// place for messages.
fn check(schema: &HashMap<String, Json>, ty: &Json, value: &Json, at: &str) {
    if let Json::Arr(element) = ty {
        let items = match value {
            Json::Arr(items) => items,
            other => panic!("{at}: expected an array, got {other:?}"),
        };
        for (i, item) in items.iter().enumerate() {
            check(schema, &element[0], item, &format!("{at}[{i}]"));
        }
        return;
    }
    let name = ty.str();
    match (name, value) {
        ("str", Json::Str(_)) | ("bool", Json::Bool(_)) | ("number", Json::Num(_)) | ("any", _) => {
        }
        (
            "int" | "int64" | "uint64" | "int32" | "uint32" | "int16" | "uint16" | "int8" | "uint8",
            Json::Num(n),
        ) => {
            let ok = if name.starts_with('u') {
                n.parse::<u64>().is_ok()
            } else {
                n.parse::<i64>().is_ok()
            };
            assert!(ok, "{at}: {n} is not a {name}");
        }
        _ => {
            let def = schema.get(name).unwrap_or_else(|| {
                panic!("{at}: {name} is not a builtin or a definition (value {value:?})")
            });
            if def.get("enum").is_some() {
                let text = match value {
                    Json::Str(s) => s,
                    other => panic!("{at}: expected enum {name}, got {other:?}"),
                };
                let values: Vec<&str> = def
                    .at("data")
                    .arr()
                    .iter()
                    .map(|v| match v {
                        Json::Str(s) => s.as_str(),
                        other => other.at("name").str(),
                    })
                    .collect();
                assert!(
                    values.contains(&text.as_str()),
                    "{at}: '{text}' is not one of {name} {values:?}"
                );
            } else {
                check_object(schema, def, value, at);
            }
        }
    }
}

/// A struct or a union: every member declared, required ones present.
fn check_object(schema: &HashMap<String, Json>, def: &Json, value: &Json, at: &str) {
    let members = match value {
        Json::Obj(m) => m,
        other => panic!("{at}: expected an object, got {other:?}"),
    };
    let mut declared: Vec<(String, Json)> = Vec::new();
    let mut add = |data: &Json| {
        if let Json::Obj(fields) = data {
            for (k, t) in fields {
                // `{'type': T, 'if': ...}` or plain `T`.
                let t = t.get("type").cloned().unwrap_or_else(|| t.clone());
                declared.push((k.clone(), t));
            }
        }
    };
    if let Some(base) = def.get("base") {
        match base {
            Json::Str(name) => add(schema[name].at("data")),
            other => add(other),
        }
    }
    if def.get("union").is_some() {
        // A flat union: the discriminator's value picks the branch struct.
        let tag = def.at("discriminator").str();
        let branch = members
            .iter()
            .find(|(k, _)| k == tag)
            .map(|(_, v)| v.str().to_string());
        let branch = branch.unwrap_or_else(|| panic!("{at}: no discriminator '{tag}'"));
        let variant = def
            .at("data")
            .get(&branch)
            .unwrap_or_else(|| panic!("{at}: no branch {branch}"));
        let variant = variant.get("type").unwrap_or(variant).str();
        add(schema[variant].at("data"));
    } else {
        add(def.at("data"));
    }
    for (name, ty) in &declared {
        let (key, optional) = match name.strip_prefix('*') {
            Some(k) => (k, true),
            None => (name.as_str(), false),
        };
        match members.iter().find(|(k, _)| k == key) {
            Some((_, v)) => check(schema, ty, v, &format!("{at}.{key}")),
            None => assert!(optional, "{at}: required member '{key}' missing"),
        }
    }
    for (key, _) in members {
        assert!(
            declared
                .iter()
                .any(|(n, _)| n.trim_start_matches('*') == key),
            "{at}: member '{key}' is not in the schema"
        );
    }
}

/// Commands without required arguments that would change this machine if run here.
const CHANGES_THE_SYSTEM: &[&str] = &[
    "guest-set-time",
    "guest-shutdown",
    "guest-suspend-disk",
    "guest-suspend-ram",
    "guest-suspend-hybrid",
    "guest-fstrim",
    "guest-fsfreeze-freeze",
    "guest-fsfreeze-freeze-list",
    "guest-fsfreeze-thaw",
];

#[test]
fn every_answer_validates_against_the_schema() {
    let schema = schema();
    let agent = Agent::start("schema", &[]);
    let mut c = agent.connect();
    let mut checked = 0;
    for &name in common::COMMANDS {
        let def = schema
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in the schema"));
        let needs_arguments = def.get("data").is_some_and(|d| match d {
            Json::Obj(m) => m.iter().any(|(k, _)| !k.starts_with('*')),
            _ => true,
        });
        // Commands that change the machine are never run on the host (they are checked in
        // the throwaway guests of board/).
        if needs_arguments || CHANGES_THE_SYSTEM.contains(&name) {
            continue;
        }
        let reply = parse(&c.call(&format!(r#"{{"execute":"{name}"}}"#)));
        let value = reply
            .get("return")
            .unwrap_or_else(|| panic!("{name}: {reply:?}"));
        match def.get("returns") {
            Some(ty) => check(&schema, ty, value, name),
            None => assert_eq!(value, &Json::Obj(vec![]), "{name} returns nothing"),
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} commands checked");
}

#[test]
fn sync_answers_validate_too() {
    let schema = schema();
    let agent = Agent::start("schema-sync", &[]);
    let reply = parse(
        &agent
            .connect()
            .call(r#"{"execute":"guest-sync","arguments":{"id":12345}}"#),
    );
    check(
        &schema,
        schema["guest-sync"].at("returns"),
        reply.at("return"),
        "guest-sync",
    );
}

#[test]
fn the_checker_rejects_what_the_schema_forbids() {
    let schema = schema();
    let ty = Json::Str("GuestTimezone".into());
    let rejects = |value: &str| {
        let value = parse(value);
        std::panic::catch_unwind(|| check(&schema, &ty, &value, "t")).is_err()
    };
    assert!(!rejects(r#"{"zone": "UTC", "offset": 0}"#));
    assert!(!rejects(r#"{"offset": 3600}"#), "zone is optional");
    assert!(rejects(r#"{"zone": "UTC"}"#), "offset is required");
    assert!(
        rejects(r#"{"zone": "UTC", "offset": 0, "extra": 1}"#),
        "unknown member"
    );
    assert!(rejects(r#"{"zone": 5, "offset": 0}"#), "wrong type");
    assert!(
        rejects(r#"{"zone": "UTC", "offset": 1.5}"#),
        "not an integer"
    );
    let ty = Json::Arr(vec![Json::Str("GuestCpuStats".into())]);
    let value = parse(r#"[{"type": "windows", "cpu": 0}]"#);
    assert!(
        std::panic::catch_unwind(|| check(&schema, &ty, &value, "t")).is_err(),
        "unknown union branch"
    );
}

#[test]
fn nvme_smart_answers_validate() {
    // No NVMe device here: write a SMART answer from a synthetic log page.
    struct Collect(Vec<u8>);
    impl tinyqga::protocol::Output for Collect {
        fn put(&mut self, bytes: &[u8]) {
            self.0.extend_from_slice(bytes);
        }
        fn begin_response(&mut self) {}
        fn withdraw(&mut self) -> bool {
            false
        }
    }
    let mut log = [0u8; tinyqga::formats::nvme_smart::SMART_LOG];
    log[1] = 0x36;
    log[2] = 0x01; // 310 K
    log[32] = 9;
    let mut out = Collect(Vec::new());
    {
        let mut w = tinyqga::protocol::JsonWriter::new(&mut out);
        w.begin_object();
        tinyqga::commands::disks::write_smart(
            &mut w,
            &tinyqga::formats::nvme_smart::parse_smart(&log),
        );
        w.end_object();
    }
    let value = parse(&String::from_utf8(out.0).unwrap());
    let smart = value.at("smart");
    let schema = schema();
    check(&schema, &Json::Str("GuestDiskSmart".into()), smart, "smart");
    assert_eq!(smart.at("temperature").f64(), 310.0);
    assert_eq!(smart.at("data-units-read-lo").f64(), 9.0);
}

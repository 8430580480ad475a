//! The fsfreeze commands on the host, without freezing anything here: the state, the
//! marker a restarted agent finds, the frozen-state policy, the hook and its errors. Real
//! freezing is exercised in the throwaway guests of board/.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Agent, TempDir, generic_error, not_found_error};

fn start(name: &str, statedir: &TempDir, extra: &[&str]) -> Agent {
    let mut args = vec!["-t", statedir.path().to_str().unwrap()];
    args.extend_from_slice(extra);
    Agent::start(name, &args)
}

#[test]
fn freezing_nothing_leaves_the_frozen_state_at_once() {
    let state = TempDir::new("fsfreeze-nothing");
    let agent = start("fsfreeze-nothing", &state, &[]);
    let mut c = agent.connect();
    assert_eq!(
        c.call(r#"{"execute":"guest-fsfreeze-status"}"#),
        r#"{"return": "thawed"}"#
    );
    assert_eq!(
        c.call(r#"{"execute":"guest-fsfreeze-freeze-list","arguments":{"mountpoints":["/no/such/mount"]}}"#),
        r#"{"return": 0}"#
    );
    assert_eq!(
        c.call(r#"{"execute":"guest-fsfreeze-status"}"#),
        r#"{"return": "thawed"}"#
    );
    assert!(!state.join("qga.state.isfrozen").exists());
    // Thawing when nothing is frozen: 0, as qemu-ga.
    assert_eq!(
        c.call(r#"{"execute":"guest-fsfreeze-thaw"}"#),
        r#"{"return": 0}"#
    );
}

#[test]
fn a_marker_left_behind_starts_the_agent_frozen_until_thawed() {
    let state = TempDir::new("fsfreeze-marker");
    std::fs::write(state.join("qga.state.isfrozen"), "").unwrap();
    let agent = start("fsfreeze-marker", &state, &[]);
    let mut c = agent.connect();
    assert_eq!(
        c.call(r#"{"execute":"guest-fsfreeze-status"}"#),
        r#"{"return": "frozen"}"#
    );
    for name in [
        "guest-get-time",
        "guest-file-open",
        "guest-exec",
        "guest-fsfreeze-freeze",
    ] {
        assert_eq!(
            c.call(&format!(r#"{{"execute":"{name}"}}"#)),
            not_found_error(&format!(
                "Command {name} has been disabled: the agent is in frozen state"
            ))
        );
    }
    // The freeze-safe ones answer.
    assert_eq!(c.call(r#"{"execute":"guest-ping"}"#), r#"{"return": {}}"#);
    let thawed = c.call(r#"{"execute":"guest-fsfreeze-thaw"}"#);
    assert!(thawed.starts_with(r#"{"return": "#), "{thawed}");
    assert_eq!(
        c.call(r#"{"execute":"guest-fsfreeze-status"}"#),
        r#"{"return": "thawed"}"#
    );
    assert!(!state.join("qga.state.isfrozen").exists());
    assert!(
        c.call(r#"{"execute":"guest-get-time"}"#)
            .starts_with(r#"{"return": "#)
    );
}

#[test]
fn the_hook_runs_with_freeze_and_thaw_and_its_failure_is_the_error() {
    let state = TempDir::new("fsfreeze-hook");
    let log = state.join("hook.log");
    let hook = state.write(
        "hook",
        &format!(
            "#!/bin/sh\necho \"$1\" >> {}\n[ -e {}/fail ] && {{ echo nope; exit 3; }}\nexit 0\n",
            log.display(),
            state.path().display()
        ),
    );
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let arg = format!("-F{}", hook.display());
    let agent = start("fsfreeze-hook", &state, &[&arg]);
    let mut c = agent.connect();
    let list = r#"{"execute":"guest-fsfreeze-freeze-list","arguments":{"mountpoints":[]}}"#;
    assert_eq!(c.call(list), r#"{"return": 0}"#);
    assert_eq!(
        c.call(r#"{"execute":"guest-fsfreeze-thaw"}"#),
        r#"{"return": 0}"#
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "freeze\nthaw\n");
    // A failing hook: nothing is frozen and its output is the error.
    std::fs::write(state.join("fail"), "").unwrap();
    assert_eq!(
        c.call(list),
        generic_error("child process has failed to execute fsfreeze hook: nope\\n")
    );
    assert_eq!(
        c.call(r#"{"execute":"guest-fsfreeze-status"}"#),
        r#"{"return": "thawed"}"#
    );
}

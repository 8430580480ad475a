//! `guest-info`: the agent's version and every command it has, with whether each is enabled.

use super::{COMMANDS, Call, QEMU_VERSION};
use crate::protocol::QmpError;

/// `guest-info` → `{version, supported_commands: [{name, enabled, success-response}]}`.
pub fn guest_info(call: &mut Call, _: ()) -> Result<(), QmpError> {
    let policy = call.state.policy.clone();
    call.reply.write(|w| {
        w.begin_object();
        w.key("version");
        w.str(QEMU_VERSION);
        w.key("supported_commands");
        w.begin_array();
        for (i, command) in COMMANDS.iter().enumerate() {
            w.begin_object();
            w.key("name");
            w.str(command.name);
            w.key("enabled");
            w.bool(policy.refusal(i).is_none());
            w.key("success-response");
            w.bool(command.success_response);
            w.end_object();
        }
        w.end_array();
        w.end_object();
        Ok(())
    })
}

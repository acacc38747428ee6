//! Device states, which for a PJSIP endpoint follow its contacts' qualify results.

use super::sys;
use super::text::cstring;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    Reachable,
    Unreachable,
    Unknown,
}

pub fn reach(device: &str) -> Reach {
    let device = cstring(device);
    // SAFETY: a valid device name; ast_device_state only reads it.
    let state = unsafe { sys::ast_device_state(device.as_ptr()) };
    match state {
        sys::ast_device_state_AST_DEVICE_UNAVAILABLE => Reach::Unreachable,
        sys::ast_device_state_AST_DEVICE_NOT_INUSE
        | sys::ast_device_state_AST_DEVICE_INUSE
        | sys::ast_device_state_AST_DEVICE_BUSY
        | sys::ast_device_state_AST_DEVICE_RINGING
        | sys::ast_device_state_AST_DEVICE_RINGINUSE
        | sys::ast_device_state_AST_DEVICE_ONHOLD => Reach::Reachable,
        _ => Reach::Unknown,
    }
}

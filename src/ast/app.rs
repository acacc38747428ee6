//! Dialplan applications.

use std::os::raw::{c_char, c_int};

use super::sys;
use super::text::cstring;

pub type Execute = unsafe extern "C" fn(*mut sys::ast_channel, *const c_char) -> c_int;

/// Registers `name`, documented by the module's installed XML.
pub fn register(name: &str, execute: Execute) -> Result<(), String> {
    let c_name = cstring(name);
    // SAFETY: Asterisk copies the name; `execute` is a 'static function.
    let rc = unsafe { sys::res_cluster_register_application(c_name.as_ptr(), Some(execute)) };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!("could not register application {name} (is another module providing it?)"))
    }
}

pub fn unregister(name: &str) {
    let c_name = cstring(name);
    // SAFETY: a valid name; unregistering an unknown name is a no-op.
    unsafe { sys::ast_unregister_application(c_name.as_ptr()) };
}

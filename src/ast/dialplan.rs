//! A dialplan context owned by the module, made at load and removed at unload.

use std::ffi::CStr;

use super::sys;
use super::text::cstring;

/// Asterisk keeps this pointer (it does not copy registrars), so it must be static.
const REGISTRAR: &CStr = c"res_cluster";

/// Creates (or replaces the priorities of) `context`, extension `exten`,
/// with `priorities` numbered from 1.
pub fn install(context: &str, exten: &str, priorities: &[(&str, String)]) -> Result<(), String> {
    let (c_context, c_exten, registrar) = (cstring(context), cstring(exten), REGISTRAR);
    // SAFETY: valid strings; NULL tables ask for the global context table.
    let con = unsafe {
        sys::ast_context_find_or_create(std::ptr::null_mut(), std::ptr::null_mut(), c_context.as_ptr(), registrar.as_ptr())
    };
    if con.is_null() {
        return Err(format!("could not create dialplan context {context}"));
    }
    for (i, (app, data)) in priorities.iter().enumerate() {
        let (c_app, c_data) = (cstring(app), cstring(data));
        // SAFETY: `con` was just found or created under our registrar; the
        // shim duplicates `data` for the dialplan, which frees it; the other
        // strings are copied, but the registrar is kept and is static.
        let rc = unsafe {
            sys::res_cluster_add_priority(con, c_exten.as_ptr(), i as i32 + 1, c_app.as_ptr(), c_data.as_ptr(), registrar.as_ptr())
        };
        if rc != 0 {
            remove(context);
            return Err(format!("could not add {context},{exten},{} ({app})", i + 1));
        }
    }
    Ok(())
}

pub fn remove(context: &str) {
    let (c_context, registrar) = (cstring(context), REGISTRAR);
    // SAFETY: valid strings; only a context under our registrar is removed.
    unsafe { sys::ast_context_destroy_by_name(c_context.as_ptr(), registrar.as_ptr()) };
}

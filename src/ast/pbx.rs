//! The dialplan: functions that exist or not, and the small context the
//! pre-dial handler runs in.

use std::ptr;

use super::sys;
use super::text::cstring;

/// Whether a dialplan function of that name is registered right now.
pub fn function_exists(name: &str) -> bool {
    let name = cstring(name);
    // SAFETY: a valid string; the lookup takes Asterisk's function-list lock
    // and only the returned pointer's nullness is used.
    !unsafe { sys::ast_custom_function_find(name.as_ptr()) }.is_null()
}

/// A dialplan context registered by this module, with one extension;
/// removed (with everything res_cluster registered in it) when dropped.
pub struct Context {
    name: std::ffi::CString,
    registrar: std::ffi::CString,
}

impl Context {
    /// Creates `name` with extension `exten` running `steps` (application,
    /// argument) at priorities 1, 2, ...
    pub fn register(name: &str, exten: &str, steps: &[(&str, &str)], registrar: &str) -> Result<Context, String> {
        let context = Context { name: cstring(name), registrar: cstring(registrar) };
        // SAFETY: valid strings; NULL table and hashtab select the global
        // dialplan; Asterisk copies the name.
        let con = unsafe { sys::ast_context_find_or_create(ptr::null_mut(), ptr::null_mut(), context.name.as_ptr(), context.registrar.as_ptr()) };
        if con.is_null() {
            return Err(format!("could not create dialplan context {name}"));
        }
        let exten = cstring(exten);
        for (i, (app, arg)) in steps.iter().enumerate() {
            let (app, arg) = (cstring(app), cstring(arg));
            // SAFETY: `con` was just returned by Asterisk and is destroyed
            // only by Drop; the application argument is handed over as a
            // heap copy (ast_strdup'd by the shim) with ast_free as its
            // destructor, which Asterisk calls when the extension goes; the
            // other strings are copied.
            let rc = unsafe {
                sys::res_cluster_add_extension(con, exten.as_ptr(), (i + 1) as i32, app.as_ptr(), arg.as_ptr(), context.registrar.as_ptr())
            };
            if rc != 0 {
                return Err(format!("could not add priority {} to dialplan context {name}", i + 1));
            }
        }
        Ok(context)
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: valid strings; destroys only what this registrar added.
        unsafe { sys::ast_context_destroy_by_name(self.name.as_ptr(), self.registrar.as_ptr()) };
    }
}

// SAFETY: the context is addressed by name through Asterisk's locked
// dialplan functions; no thread-bound state is held.
unsafe impl Send for Context {}

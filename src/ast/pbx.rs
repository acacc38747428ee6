//! The dialplan: functions that exist or not, and the small context the
//! pre-dial handler runs in.

use std::ffi::{CStr, CString};
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

/// Whether a dialplan application of that name is registered right now.
pub fn app_exists(name: &str) -> bool {
    let name = cstring(name);
    // SAFETY: a valid string; pbx_findapp looks the name up under the
    // applications' list lock, and only the returned pointer's nullness is
    // used.
    !unsafe { sys::pbx_findapp(name.as_ptr()) }.is_null()
}

/// Reads a dialplan function that needs no channel (`IAXPEER(name,status)`);
/// None when it fails (for IAXPEER: no such peer).
pub fn read_function_without_channel(expression: &str) -> Option<String> {
    let expression = cstring(expression);
    let mut buf = [0 as std::os::raw::c_char; 256];
    // SAFETY: buf is zero-filled and writable for its length, which is
    // passed; a NULL channel is what these functions accept when they read
    // no channel (IAXPEER looks the peer up by name and checks the channel
    // only for CURRENTCHANNEL).
    let rc = unsafe { sys::ast_func_read(ptr::null_mut(), expression.as_ptr(), buf.as_mut_ptr(), buf.len()) };
    // SAFETY: NUL-terminated: the function's copy is, and untouched bytes are zeroes.
    (rc == 0).then(|| unsafe { super::text::borrowed(buf.as_ptr()) }).flatten()
}

/// The registrar of everything res_cluster adds to the dialplan. Asterisk
/// keeps this pointer in each extension (and a dialplan reload copies it into
/// the extensions it rebuilds), so it is a static: valid until the module is
/// unloaded, and `Context`'s Drop removes every extension before that.
const REGISTRAR: &CStr = c"res_cluster";

/// A dialplan context registered by this module, with one extension;
/// removed (with everything res_cluster registered in it) when dropped.
pub struct Context {
    name: CString,
}

impl Context {
    /// Creates `name` with extension `exten` running `steps` (application,
    /// argument) at priorities 1, 2, ...
    pub fn register(name: &str, exten: &str, steps: &[(&str, &str)]) -> Result<Context, String> {
        let context = Context { name: cstring(name) };
        // SAFETY: valid strings; NULL table and hashtab select the global
        // dialplan, under its lock; Asterisk copies the name and the
        // registrar into the context. The returned pointer is not kept: a
        // dialplan reload may replace the context at any moment.
        let con = unsafe { sys::ast_context_find_or_create(ptr::null_mut(), ptr::null_mut(), context.name.as_ptr(), REGISTRAR.as_ptr()) };
        if con.is_null() {
            return Err(format!("could not create dialplan context {name}"));
        }
        let exten = cstring(exten);
        for (i, (app, arg)) in steps.iter().enumerate() {
            let (app, arg) = (cstring(app), cstring(arg));
            // SAFETY: valid strings; the shim finds the context by name under
            // the dialplan's lock, hands the extension a heap copy of the
            // argument (freed by the dialplan with ast_free_ptr) and the
            // static REGISTRAR; the other strings are copied.
            let rc = unsafe {
                sys::res_cluster_add_extension(context.name.as_ptr(), exten.as_ptr(), (i + 1) as i32, app.as_ptr(), arg.as_ptr(), REGISTRAR.as_ptr())
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
        // SAFETY: valid strings; removes what this registrar added, under the
        // dialplan's lock.
        unsafe { sys::ast_context_destroy_by_name(self.name.as_ptr(), REGISTRAR.as_ptr()) };
    }
}

// SAFETY: the context is addressed by name through Asterisk's locked
// dialplan functions; no thread-bound state is held.
unsafe impl Send for Context {}

//! Strings across the boundary.

use std::ffi::{CStr, CString};
use std::os::raw::c_char;

/// Copies a C string Asterisk lent us; None for NULL.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays valid and
/// unchanged for the duration of this call.
pub unsafe fn borrowed(ptr: *const c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-NULL and NUL-terminated by this function's contract.
    Some(unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned())
}

/// A C string for Asterisk. Interior NULs (which no valid input has) are
/// dropped rather than cutting the string short or panicking.
pub fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', "")).expect("NULs were removed")
}

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
    cstring_bytes(s.as_bytes())
}

/// Copies a C string Asterisk lent us, as bytes; None for NULL.
///
/// # Safety
/// As for `borrowed`.
pub unsafe fn bytes(ptr: *const c_char) -> Option<Vec<u8>> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-NULL and NUL-terminated by this function's contract.
    Some(unsafe { CStr::from_ptr(ptr) }.to_bytes().to_vec())
}

/// A C string of any bytes but NUL (dropped, as in `cstring`).
pub fn cstring_bytes(b: &[u8]) -> CString {
    // One copy and a memchr; the slow path only for input that has a NUL.
    CString::new(b).unwrap_or_else(|e| {
        let mut v = e.into_vec();
        v.retain(|&c| c != 0);
        CString::new(v).expect("NULs were removed")
    })
}


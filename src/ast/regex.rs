//! POSIX extended regular expressions, as res_pjsip_publish_asterisk
//! compiles its `@device_state_filter` (regcomp with REG_EXTENDED |
//! REG_NOSUB): a filter is judged here exactly as Asterisk applies it.

use super::text::cstring;

pub struct Regex(Box<libc::regex_t>);

impl Regex {
    /// None when the pattern does not compile (Asterisk then publishes
    /// nothing through that object).
    pub fn new(pattern: &str) -> Option<Regex> {
        let pattern = cstring(pattern);
        // SAFETY: regex_t is a plain C struct, for which all zero bytes are
        // a valid (unused) value; regcomp fills it in.
        let mut raw: Box<libc::regex_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: a regex_t to fill in and a valid pattern string.
        let rc = unsafe { libc::regcomp(&mut *raw, pattern.as_ptr(), libc::REG_EXTENDED | libc::REG_NOSUB) };
        (rc == 0).then(|| Regex(raw))
    }

    pub fn is_match(&self, text: &str) -> bool {
        let text = cstring(text);
        // SAFETY: a compiled regex_t and a valid string; REG_NOSUB, so no
        // match array is written.
        unsafe { libc::regexec(&*self.0, text.as_ptr(), 0, std::ptr::null_mut(), 0) == 0 }
    }
}

impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: compiled by regcomp in `new`, freed once.
        unsafe { libc::regfree(&mut *self.0) }
    }
}

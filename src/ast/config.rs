//! Reading res_cluster.conf with Asterisk's own parser (so #include, templates
//! and inheritance work as in every other module's file).

use std::os::raw::c_char;

use res_cluster_core::config::{RawConfig, RawEntry, RawSection};

use super::sys;
use super::text::{borrowed, cstring};

pub enum Loaded {
    Config(RawConfig),
    Missing,
    /// Asterisk's parser refused it and logged where.
    Invalid,
    /// Reload only: nothing changed since the last load.
    Unchanged,
}

/// An ast_config, destroyed when dropped.
struct Parsed(*mut sys::ast_config);

impl Drop for Parsed {
    fn drop(&mut self) {
        // SAFETY: a real config (never one of the status markers) that we own.
        unsafe { sys::ast_config_destroy(self.0) }
    }
}

// CONFIG_STATUS_FILEMISSING / FILEUNCHANGED / FILEINVALID are pointer casts
// of 0, -1 and -2, which bindgen cannot translate.
const FILE_MISSING: usize = 0;
const FILE_UNCHANGED: usize = usize::MAX;
const FILE_INVALID: usize = usize::MAX - 1;

pub fn load(file: &str, only_if_changed: bool) -> Loaded {
    let (c_file, who) = (cstring(file), c"res_cluster");
    let flags = sys::ast_flags { flags: if only_if_changed { sys::CONFIG_FLAG_FILEUNCHANGED } else { 0 } };
    // SAFETY: valid strings; the result is a status marker or a config we own.
    let cfg = unsafe { sys::ast_config_load2(c_file.as_ptr(), who.as_ptr(), flags) };
    match cfg as usize {
        FILE_MISSING => return Loaded::Missing,
        FILE_UNCHANGED => return Loaded::Unchanged,
        FILE_INVALID => return Loaded::Invalid,
        _ => {}
    }
    let parsed = Parsed(cfg);
    let mut raw = RawConfig { file: file.to_string(), sections: Vec::new() };
    let mut cat = std::ptr::null_mut();
    loop {
        // SAFETY: `cat` is NULL or the previous category of this config;
        // the filtered browser keeps no hidden state, unlike ast_category_browse.
        cat = unsafe { sys::ast_category_browse_filtered(parsed.0, std::ptr::null(), cat, std::ptr::null()) };
        if cat.is_null() {
            break;
        }
        // SAFETY: `cat` belongs to the live config; names are copied at once.
        let (name, template) =
            unsafe { (borrowed(sys::ast_category_get_name(cat)).unwrap_or_default(), sys::ast_category_is_template(cat) != 0) };
        let mut section = RawSection { name, template, entries: Vec::new() };
        // SAFETY: walks the category's own variable list, copying each field.
        unsafe {
            let mut v = sys::ast_category_first(cat);
            while !v.is_null() {
                section.entries.push(RawEntry {
                    key: borrowed((*v).name).unwrap_or_default(),
                    value: borrowed((*v).value).unwrap_or_default(),
                    file: file_name(borrowed((*v).file).as_deref(), file),
                    line: (*v).lineno.max(0) as u32,
                    inherited: (*v).inherited != 0,
                });
                v = (*v).next;
            }
        }
        raw.sections.push(section);
    }
    Loaded::Config(raw)
}

/// Asterisk records the path as opened; errors name the file as written.
fn file_name(recorded: Option<&str>, fallback: &str) -> String {
    match recorded {
        Some(path) if !path.is_empty() => path.rsplit('/').next().unwrap_or(path).to_string(),
        _ => fallback.to_string(),
    }
}

/// asterisk.conf's systemname ("" when unset).
pub fn system_name() -> String {
    // SAFETY: a global string Asterisk sets at start-up and never frees.
    unsafe { borrowed(sys::ast_config_AST_SYSTEM_NAME) }.unwrap_or_default()
}

/// Where Asterisk reads configuration files from.
pub fn config_dir() -> String {
    // SAFETY: as for system_name.
    unsafe { borrowed(sys::ast_config_AST_CONFIG_DIR) }.unwrap_or_default()
}

pub fn host_name() -> String {
    let mut buf = [0 as c_char; 256];
    // SAFETY: buf is writable for its length; gethostname may leave it
    // unterminated on truncation, so the last byte is forced to NUL.
    unsafe {
        if libc::gethostname(buf.as_mut_ptr(), buf.len() - 1) != 0 {
            return String::new();
        }
        buf[buf.len() - 1] = 0;
        borrowed(buf.as_ptr()).unwrap_or_default()
    }
}

/// The running Asterisk's version, as `core show version` names it
/// ("22.10.1"; "GIT-..." for a build from git).
pub fn asterisk_version() -> String {
    // The version the test that forces an older Dial pretends to run.
    #[cfg(feature = "fault-injection")]
    if let Ok(v) = std::env::var("RES_CLUSTER_ASTERISK_VERSION") {
        return v;
    }
    // SAFETY: ast_get_version returns a static string of the core.
    unsafe { borrowed(sys::res_cluster_asterisk_version()) }.unwrap_or_default()
}

/// This process's effective user and group (Debian runs Asterisk as
/// asterisk:asterisk).
pub fn process_ids() -> (u32, u32) {
    // SAFETY: geteuid and getegid cannot fail and touch no memory.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

//! Asterisk's logger, for messages already formatted in Rust.

use super::sys;
use super::text::cstring;

#[derive(Clone, Copy, Debug)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    fn raw(self) -> i32 {
        (match self {
            Level::Error => sys::__LOG_ERROR,
            Level::Warning => sys::__LOG_WARNING,
            Level::Notice => sys::__LOG_NOTICE,
        }) as i32
    }
}

pub fn log(level: Level, file: &str, line: u32, function: &str, message: &str) {
    let (file, function, message) = (cstring(file), cstring(function), cstring(message));
    // SAFETY: all three are valid NUL-terminated strings that outlive the
    // call; the shim passes the message through "%s", so no format string
    // from us is ever interpreted.
    unsafe { sys::res_cluster_log(level.raw(), file.as_ptr(), line as i32, function.as_ptr(), message.as_ptr()) }
}

/// A verbose message, shown at `level` and above (`core set verbose`).
pub fn verbose_at(level: i32, file: &str, line: u32, function: &str, message: &str) {
    let (file, function, message) = (cstring(file), cstring(function), cstring(message));
    // SAFETY: valid NUL-terminated strings that outlive the call, printed through "%s".
    unsafe { sys::res_cluster_verb(level, file.as_ptr(), line as i32, function.as_ptr(), message.as_ptr()) }
}

/// Whether a verbose message of `level` would be shown anywhere; checked
/// before one is formatted.
pub fn verbose_enabled(level: i32) -> bool {
    // SAFETY: reads Asterisk's verbosity settings, no arguments to trust.
    unsafe { sys::res_cluster_verbosity_atleast(level) != 0 }
}

#[macro_export]
macro_rules! ast_verb {
    ($level:expr, $($arg:tt)*) => {
        if $crate::ast::log::verbose_enabled($level) {
            $crate::ast::log::verbose_at($level, file!(), line!(), module_path!(), &format!($($arg)*))
        }
    };
}

#[macro_export]
macro_rules! ast_log {
    ($level:ident, $($arg:tt)*) => {
        $crate::ast::log::log($crate::ast::log::Level::$level, file!(), line!(), module_path!(), &format!($($arg)*))
    };
}

/// Whether `core set debug <level> res_cluster` (or a global debug level)
/// is at least `level`; checked before a debug message is formatted.
pub fn debug_enabled(level: i32) -> bool {
    // SAFETY: reads Asterisk's debug settings, no arguments to trust.
    unsafe { sys::res_cluster_debug_atleast(level) != 0 }
}

pub fn debug_at(file: &str, line: u32, function: &str, message: &str) {
    let (file, function, message) = (cstring(file), cstring(function), cstring(message));
    // SAFETY: valid NUL-terminated strings that outlive the call, printed through "%s".
    unsafe { sys::res_cluster_debug(file.as_ptr(), line as i32, function.as_ptr(), message.as_ptr()) }
}

/// A debug message for `core set debug 1 res_cluster`: one call's decisions.
#[macro_export]
macro_rules! ast_debug {
    ($level:expr, $($arg:tt)*) => {
        if $crate::ast::log::debug_enabled($level) {
            $crate::ast::log::debug_at(file!(), line!(), module_path!(), &format!($($arg)*))
        }
    };
}

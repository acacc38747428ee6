//! CLI commands.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int};

use super::guard;
use super::sys;
use super::text::{borrowed, cstring};

/// One CLI command, implemented in safe Rust.
pub trait Command {
    /// The words, e.g. "cluster show peers".
    const COMMAND: &'static CStr;
    /// The help text `core show help` prints.
    const USAGE: &'static CStr;
    const SUMMARY: &'static CStr;
    /// Words of the command line past COMMAND; Err asks Asterisk to show the usage.
    fn run(args: &[String]) -> Result<String, ()>;
}

const CLI_SUCCESS: *mut c_char = std::ptr::null_mut();
const CLI_SHOWUSAGE: *mut c_char = 1 as *mut c_char;
const CLI_FAILURE: *mut c_char = 2 as *mut c_char;

unsafe extern "C" fn handler<C: Command>(e: *mut sys::ast_cli_entry, cmd: c_int, a: *mut sys::ast_cli_args) -> *mut c_char {
    guard::entry(C::COMMAND.to_str().unwrap_or("CLI"), CLI_FAILURE, || {
        if e.is_null() {
            return CLI_FAILURE;
        }
        match cmd {
            sys::ast_cli_command_CLI_INIT => {
                // SAFETY: Asterisk hands us our own registered entry; the
                // strings are 'static and never written through.
                unsafe {
                    (*e).command = C::COMMAND.as_ptr() as *mut c_char;
                    (*e).usage = C::USAGE.as_ptr();
                }
                CLI_SUCCESS
            }
            sys::ast_cli_command_CLI_GENERATE => std::ptr::null_mut(),
            _ => {
                if a.is_null() {
                    return CLI_FAILURE;
                }
                // SAFETY: for a command run Asterisk passes argc valid strings in argv.
                let (fd, words) = unsafe {
                    let a = &*a;
                    let words: Vec<String> =
                        (0..a.argc as usize).map(|i| borrowed(*a.argv.add(i)).unwrap_or_default()).collect();
                    (a.fd, words)
                };
                let skip = C::COMMAND.to_bytes().split(|b| *b == b' ').count();
                match C::run(words.get(skip..).unwrap_or(&[])) {
                    Ok(text) => {
                        print(fd, &text);
                        CLI_SUCCESS
                    }
                    Err(()) => CLI_SHOWUSAGE,
                }
            }
        }
    })
}

fn print(fd: c_int, text: &str) {
    let text = cstring(text);
    // SAFETY: fd is the CLI's output descriptor for this command; the text
    // is a valid string printed through "%s".
    unsafe { sys::res_cluster_cli_print(fd, text.as_ptr()) }
}

/// An entry for `C`, to be registered in a `Commands` table.
pub fn entry<C: Command>() -> sys::ast_cli_entry {
    // SAFETY: an all-zero ast_cli_entry is Asterisk's "new-style, not yet
    // registered" entry; the loader fills in the rest.
    let mut e: sys::ast_cli_entry = unsafe { std::mem::zeroed() };
    e.summary = C::SUMMARY.as_ptr();
    e.handler = Some(handler::<C>);
    e
}

/// Registered commands; dropping them unregisters them.
pub struct Commands {
    entries: Box<[sys::ast_cli_entry]>,
}

impl Commands {
    pub fn register(entries: Vec<sys::ast_cli_entry>) -> Result<Commands, String> {
        let mut entries = entries.into_boxed_slice();
        // SAFETY: the boxed slice does not move until Drop unregisters it,
        // and Asterisk may write into it meanwhile (it owns it while registered).
        let rc = unsafe { sys::res_cluster_cli_register(entries.as_mut_ptr(), entries.len() as c_int) };
        if rc != 0 {
            return Err("could not register the CLI commands".into());
        }
        Ok(Commands { entries })
    }
}

impl Drop for Commands {
    fn drop(&mut self) {
        // SAFETY: these entries were registered by `register` and are still
        // at the same address.
        unsafe { sys::ast_cli_unregister_multiple(self.entries.as_mut_ptr(), self.entries.len() as c_int) };
    }
}

// SAFETY: after registration the entries are only touched by Asterisk under
// its CLI lock, and by Drop once; the table holds no thread-bound state.
unsafe impl Send for Commands {}

/// An entry as `entry` builds it, for `Commands::register`.
pub type RawEntry = sys::ast_cli_entry;

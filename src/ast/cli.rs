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
    /// Words of the command line past COMMAND: the text to print, or why not.
    fn run(args: &[String]) -> Result<String, CliError>;
}

/// Why a command printed no result.
#[derive(Debug)]
pub enum CliError {
    /// The command line is wrong: Asterisk shows the usage.
    Usage,
    /// The command cannot run now; the text says why.
    Failed(String),
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
                    Err(CliError::Usage) => CLI_SHOWUSAGE,
                    Err(CliError::Failed(why)) => {
                        print(fd, &format!("{why}\n"));
                        CLI_FAILURE
                    }
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
pub fn entry<C: Command>() -> Entry {
    // SAFETY: an all-zero ast_cli_entry is Asterisk's "new-style, not yet
    // registered" entry; the loader fills in the rest.
    let mut e: sys::ast_cli_entry = unsafe { std::mem::zeroed() };
    e.summary = C::SUMMARY.as_ptr();
    e.handler = Some(handler::<C>);
    Entry { command: C::COMMAND, raw: e }
}

/// A command's entry, and its words for messages.
pub struct Entry {
    command: &'static CStr,
    raw: sys::ast_cli_entry,
}

/// Registered commands; dropping them unregisters them.
pub struct Commands {
    entries: Box<[sys::ast_cli_entry]>,
}

impl Commands {
    /// Registers every entry, or none: when one fails, those registered
    /// before it are unregistered again before the table is dropped (Asterisk
    /// links the entries themselves into its list).
    pub fn register(table: Vec<Entry>) -> Result<Commands, String> {
        let names: Vec<&CStr> = table.iter().map(|e| e.command).collect();
        let mut entries: Box<[sys::ast_cli_entry]> = table.into_iter().map(|e| e.raw).collect();
        for i in 0..entries.len() {
            // SAFETY: the boxed slice does not move until it is unregistered
            // (below, or in Drop), and Asterisk may write into the entry
            // meanwhile (it owns it while registered).
            let rc = unsafe { sys::res_cluster_cli_register(entries.as_mut_ptr().add(i)) };
            if rc != 0 {
                // An entry that failed is not linked; 0..i are.
                Self::unregister(&mut entries[..i]);
                let name = names[i].to_string_lossy();
                return Err(format!("could not register the CLI command '{name}' (another module has one of that name)"));
            }
        }
        Ok(Commands { entries })
    }

    fn unregister(entries: &mut [sys::ast_cli_entry]) {
        for e in entries.iter_mut().rev() {
            // SAFETY: each entry was registered by `register` at this address.
            unsafe { sys::ast_cli_unregister(e) };
        }
    }
}

impl Drop for Commands {
    fn drop(&mut self) {
        Self::unregister(&mut self.entries);
    }
}

// SAFETY: after registration the entries are only touched by Asterisk under
// its CLI lock, and by Drop once; the table holds no thread-bound state.
unsafe impl Send for Commands {}



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
    /// Tab completion of the word at `pos` (counted from 0 among the
    /// command line's words) that begins with `word`: every choice.
    fn complete(_pos: usize, _word: &str) -> Vec<String> {
        Vec::new()
    }
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
            sys::ast_cli_command_CLI_GENERATE => {
                if a.is_null() {
                    return std::ptr::null_mut();
                }
                // SAFETY: for CLI_GENERATE Asterisk passes the word being
                // completed, its position and which match it wants.
                let (pos, word, n) = unsafe {
                    let a = &*a;
                    (a.pos.max(0) as usize, borrowed(a.word).unwrap_or_default(), a.n.max(0) as usize)
                };
                match C::complete(pos, &word).get(n) {
                    // SAFETY: a valid string; Asterisk frees the copy.
                    Some(choice) => unsafe { sys::res_cluster_strdup(cstring(choice).as_ptr()) },
                    None => std::ptr::null_mut(),
                }
            }
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
///
/// Asterisk links the entries themselves into its command list and writes
/// into them (their use count, their command words), from other threads:
/// the table is held as a raw pointer and never borrowed once registered.
pub struct Commands {
    entries: *mut [sys::ast_cli_entry],
}

impl Commands {
    /// Registers every entry, or none: when one fails, those registered
    /// before it are unregistered again before the table is given up.
    pub fn register(table: Vec<Entry>) -> Result<Commands, String> {
        let names: Vec<&CStr> = table.iter().map(|e| e.command).collect();
        let entries: Box<[sys::ast_cli_entry]> = table.into_iter().map(|e| e.raw).collect();
        let commands = Commands { entries: Box::into_raw(entries) };
        for (i, name) in names.iter().enumerate() {
            if !commands.link(i) {
                // An entry that failed is not linked; 0..i are.
                commands.release(i);
                std::mem::forget(commands);
                return Err(format!("could not register the CLI command '{}' (another module has one of that name)", name.to_string_lossy()));
            }
        }
        Ok(commands)
    }

    fn entry(&self, i: usize) -> *mut sys::ast_cli_entry {
        debug_assert!(i < self.entries.len());
        // SAFETY: i is within the table, which stays at this address until
        // it is freed (release, unregister), after which it is not used.
        unsafe { (self.entries as *mut sys::ast_cli_entry).add(i) }
    }

    fn link(&self, i: usize) -> bool {
        // SAFETY: an entry of this table, not linked now; Asterisk links it
        // and keeps the pointer until it is unregistered.
        unsafe { sys::res_cluster_cli_register(self.entry(i)) == 0 }
    }

    /// Unlinks entry i; false, and nothing done, when a command uses it.
    fn unlink(&self, i: usize) -> bool {
        // SAFETY: an entry of this table that is linked.
        unsafe { sys::res_cluster_cli_unregister(self.entry(i)) == 0 }
    }

    fn in_use(&self, i: usize) -> bool {
        // SAFETY: an entry of this table; only its use count is read.
        unsafe { sys::res_cluster_cli_in_use(self.entry(i)) != 0 }
    }

    /// Takes every command away, unless one of them is running: then those
    /// already taken away are registered again and the commands are handed
    /// back unchanged, for the caller to refuse its unload. (A running
    /// command counts itself in the entry's use count from the moment it
    /// finds it, under the CLI list's lock, until its handler returns; one
    /// that found an entry just before it was unlinked shows in the count
    /// checked afterwards.)
    pub fn unregister(self) -> Result<(), Commands> {
        let count = self.entries.len();
        let mut unlinked = Vec::with_capacity(count);
        let mut busy = false;
        for i in (0..count).rev() {
            if self.unlink(i) {
                unlinked.push(i);
            } else {
                busy = true;
            }
        }
        busy |= unlinked.iter().any(|&i| self.in_use(i));
        if busy {
            for &i in unlinked.iter().rev() {
                if !self.link(i) {
                    crate::ast_log!(Error, "res_cluster: could not register a CLI command again after a refused unload");
                }
            }
            return Err(self);
        }
        // SAFETY: the table came from Box::into_raw in `register`, no entry
        // of it is linked or in use, and it is freed once: `self` is
        // forgotten so that Drop does not release it again.
        drop(unsafe { Box::from_raw(self.entries) });
        std::mem::forget(self);
        Ok(())
    }

    /// Unregisters the first `count` entries (newest first) and frees the
    /// table, unless a command still uses an entry: then the table is left
    /// to Asterisk for good (a few hundred bytes) rather than freed under it.
    fn release(&self, count: usize) {
        let mut in_use = false;
        for i in (0..count).rev() {
            in_use |= !self.unlink(i) || self.in_use(i);
        }
        if !in_use {
            // SAFETY: the table came from Box::into_raw in `register`, no
            // entry of it is linked or in use any more, and `release` runs
            // once per table (Drop, or register's failure path, which then
            // forgets the value).
            drop(unsafe { Box::from_raw(self.entries) });
        }
    }
}

impl Drop for Commands {
    fn drop(&mut self) {
        self.release(self.entries.len());
    }
}

// SAFETY: the table is only reached through its raw pointer: by Asterisk,
// which synchronises its own access (the CLI list's lock, an atomic use
// count), and by Drop, once; it holds no thread-bound state.
unsafe impl Send for Commands {}



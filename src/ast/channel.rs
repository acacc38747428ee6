//! The calling channel, as an application sees it while it runs.

use std::marker::PhantomData;
use std::ffi::CStr;
use std::os::raw::c_char;
use std::ptr::NonNull;

use super::ao2::Ao2;
use super::sys;
use super::text::{borrowed, cstring};

/// A channel lent to an application for the length of its execution.
pub struct Channel<'a> {
    raw: NonNull<sys::ast_channel>,
    _lent: PhantomData<&'a mut sys::ast_channel>,
}

/// RAII for ast_channel_lock.
struct Locked<'c> {
    raw: *mut sys::ast_channel,
    _chan: PhantomData<&'c ()>,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // SAFETY: created only by `Channel::lock`, which took this lock.
        unsafe { sys::res_cluster_channel_unlock(self.raw) }
    }
}

/// Restores the caller party `Channel::lend_caller_number` replaced.
pub struct LentCallerNumber<'c, 'a> {
    chan: &'c Channel<'a>,
    saved: sys::ast_party_caller,
}

impl Drop for LentCallerNumber<'_, '_> {
    fn drop(&mut self) {
        let _l = self.chan.lock();
        // SAFETY: `saved` holds its own copies (ast_party_caller_copy);
        // setting copies them back into the locked channel, then our copy is
        // freed exactly once.
        unsafe {
            sys::ast_party_caller_set(sys::ast_channel_caller(self.chan.ptr()), &self.saved, std::ptr::null());
            sys::ast_party_caller_free(&mut self.saved);
        }
    }
}

#[derive(Debug)]
pub enum ExecError {
    /// The application is not loaded.
    NoSuchApp(String),
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExecError::NoSuchApp(app) => write!(f, "application {app} is not loaded"),
        }
    }
}

impl<'a> Channel<'a> {
    /// # Safety
    /// `raw` is the channel Asterisk passed to an application's execute
    /// function, which owns a reference to it until that function returns;
    /// the returned value must not outlive that call.
    pub unsafe fn from_app(raw: *mut sys::ast_channel) -> Option<Channel<'a>> {
        NonNull::new(raw).map(|raw| Channel { raw, _lent: PhantomData })
    }

    fn ptr(&self) -> *mut sys::ast_channel {
        self.raw.as_ptr()
    }

    fn lock(&self) -> Locked<'_> {
        // SAFETY: the channel is alive for 'a (see `from_app`).
        unsafe { sys::res_cluster_channel_lock(self.ptr()) };
        Locked { raw: self.ptr(), _chan: PhantomData }
    }

    pub fn name(&self) -> String {
        let _l = self.lock();
        // SAFETY: the name is owned by the locked channel and copied before
        // the lock is released.
        unsafe { borrowed(sys::ast_channel_name(self.ptr())) }.unwrap_or_default()
    }

    /// A channel variable; None when unset.
    pub fn var(&self, name: &str) -> Option<String> {
        let name = cstring(name);
        let _l = self.lock();
        // SAFETY: the value points into the channel's variable list, which the
        // lock keeps unchanged until the copy is made.
        unsafe { borrowed(sys::pbx_builtin_getvar_helper(self.ptr(), name.as_ptr())) }
    }

    pub fn set_var(&self, name: &str, value: &str) {
        let (name, value) = (cstring(name), cstring(value));
        // SAFETY: valid strings; pbx_builtin_setvar_helper locks the channel itself.
        unsafe { sys::pbx_builtin_setvar_helper(self.ptr(), name.as_ptr(), value.as_ptr()) };
    }

    /// Writes a dialplan function such as `PJSIP_INHERITABLE_HEADER(add,X-Name)`.
    pub fn write_function(&self, expression: &str, value: &str) -> bool {
        let (expression, value) = (cstring(expression), cstring(value));
        // SAFETY: valid strings; the function locks the channel as it needs.
        unsafe { sys::ast_func_write(self.ptr(), expression.as_ptr(), value.as_ptr()) == 0 }
    }

    /// Reads a dialplan function such as `PJSIP_HEADER(read,X-Name)`; None
    /// when the function is missing or fails.
    pub fn read_function(&self, expression: &str) -> Option<String> {
        let expression = cstring(expression);
        let mut buf = vec![0 as c_char; 1024];
        // SAFETY: buf is writable for its whole length, which is passed along;
        // ast_func_read NUL-terminates within it.
        let rc = unsafe { sys::ast_func_read(self.ptr(), expression.as_ptr(), buf.as_mut_ptr(), buf.len()) };
        if rc != 0 {
            return None;
        }
        // SAFETY: NUL-terminated by ast_func_read, and buf outlives the copy.
        unsafe { borrowed(buf.as_ptr()) }
    }

    /// The caller-ID number, when one is set.
    pub fn caller_number(&self) -> Option<String> {
        let _l = self.lock();
        // SAFETY: ast_channel_caller returns the locked channel's own party
        // structure; its number string is copied before the lock is released.
        unsafe {
            let caller = sys::ast_channel_caller(self.ptr());
            if caller.is_null() || (*caller).id.number.valid == 0 {
                return None;
            }
            borrowed((*caller).id.number.str_)
        }
    }

    /// A caller update that changes the number only (name, presentation and
    /// the rest stay). It borrows `number`, which must outlive its use.
    ///
    /// # Safety
    /// The channel lock is held.
    unsafe fn number_update(&self, number: &CStr) -> sys::ast_party_caller {
        // SAFETY: set_init makes the update "change nothing" (it copies the
        // presentation and leaves strings NULL) from the locked channel's own
        // caller party; only the number is then pointed at `number`.
        unsafe {
            let mut update: sys::ast_party_caller = std::mem::zeroed();
            sys::ast_party_caller_set_init(&mut update, sys::ast_channel_caller(self.ptr()));
            update.id.number.valid = 1;
            update.id.number.str_ = number.as_ptr() as *mut c_char;
            update
        }
    }

    /// Replaces the caller-ID number, keeping name and presentation; raises
    /// the usual caller-ID change event.
    pub fn set_caller_number(&self, number: &str) {
        let number = cstring(number);
        let _l = self.lock();
        // SAFETY: the lock is held; the update borrows `number`, which
        // outlives the call; ast_channel_set_caller_event copies what it keeps.
        unsafe {
            let update = self.number_update(&number);
            sys::ast_channel_set_caller_event(self.ptr(), &update, std::ptr::null_mut());
        }
    }

    /// Puts `number` in place of the caller number until the returned guard
    /// is dropped, for code that copies the caller's party (Dial, into the
    /// connected line of each new outbound leg, which becomes its From).
    ///
    /// The change is made without invalidating the channel's cached caller
    /// snapshot: CDRs, AMI and other observers keep seeing the real number,
    /// and no caller-ID event is raised. The guard restores the saved party.
    pub fn lend_caller_number(&self, number: &str) -> LentCallerNumber<'_, 'a> {
        let number = cstring(number);
        let _l = self.lock();
        // SAFETY: `saved` is initialised before use and freed by the guard;
        // ast_party_caller_set copies what it keeps and frees what it
        // replaces, so the channel owns its strings throughout; the channel
        // lock is held as these functions require.
        unsafe {
            let mut saved: sys::ast_party_caller = std::mem::zeroed();
            sys::ast_party_caller_init(&mut saved);
            sys::ast_party_caller_copy(&mut saved, sys::ast_channel_caller(self.ptr()));
            let update = self.number_update(&number);
            sys::ast_party_caller_set(sys::ast_channel_caller(self.ptr()), &update, std::ptr::null());
            LentCallerNumber { chan: self, saved }
        }
    }

    pub fn set_hangup_cause(&self, cause: i32) {
        let _l = self.lock();
        // SAFETY: the channel is alive and locked, as the setter expects.
        unsafe { sys::ast_channel_hangupcause_set(self.ptr(), cause) }
    }

    /// Runs a dialplan application on this channel, as the PBX would.
    pub fn exec(&self, app: &str, data: &str) -> Result<i32, ExecError> {
        let (app_name, data) = (cstring(app), cstring(data));
        // SAFETY: pbx_findapp only reads the name.
        let found = unsafe { sys::pbx_findapp(app_name.as_ptr()) };
        if found.is_null() {
            return Err(ExecError::NoSuchApp(app.to_string()));
        }
        // SAFETY: `found` stays registered while its module is loaded, and
        // res_cluster's module info requires app_dial, so the loader keeps
        // it loaded while we are; data is a valid string that pbx_exec
        // copies before use.
        Ok(unsafe { sys::pbx_exec(self.ptr(), found, data.as_ptr()) })
    }

    /// Names of the outbound channels that left a cause in this channel's
    /// dialed-causes table (each got at least one SIP response).
    pub fn dialed_cause_channels(&self) -> Vec<String> {
        let mut buf = vec![0 as c_char; 8192];
        // SAFETY: buf is writable for the length passed; the shim locks the
        // channel and NUL-terminates within buf.
        let n = unsafe { sys::res_cluster_dialed_causes(self.ptr(), buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            return Vec::new();
        }
        // SAFETY: NUL-terminated by the shim.
        let names = unsafe { borrowed(buf.as_ptr()) }.unwrap_or_default();
        names.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
    }

    /// The technology's cause text (e.g. "SIP 404 Not Found") that outbound
    /// channel `leg` left on this channel.
    pub fn dialed_cause(&self, leg: &str) -> Option<String> {
        let leg = cstring(leg);
        // SAFETY: the lookup returns a new reference (or NULL), handed to Ao2.
        let cause = unsafe { Ao2::take(sys::ast_channel_dialed_causes_find(self.ptr(), leg.as_ptr())) }?;
        // SAFETY: `code` is a NUL-terminated string inside the object, which
        // our reference keeps alive during the copy.
        unsafe { borrowed(cause.code.as_ptr()) }
    }
}

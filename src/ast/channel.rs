//! The calling channel, as an application sees it while it runs.

use std::marker::PhantomData;
use std::ffi::CStr;
use std::os::raw::c_char;
use std::ptr::NonNull;

use res_cluster_core::callerid::{self, CallerId};

use super::sys;
use super::text::{borrowed, bytes, cstring, cstring_bytes};

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

/// A header the legs inherit; removed when dropped, and the inheritance of
/// the channel's headers put back as PJSIP_INHERITABLE_HEADER gives it, or
/// taken away when no header is left.
pub struct InheritedHeader<'c, 'a> {
    chan: &'c Channel<'a>,
    name: String,
}

impl Drop for InheritedHeader<'_, '_> {
    fn drop(&mut self) {
        self.chan.write_function(&format!("PJSIP_INHERITABLE_HEADER(remove,{})", self.name), "");
        // SAFETY: the shim locks the channel; it changes only the
        // inheritance count of the headers' datastore, a public field that
        // channel.c reads, with the channel locked, when a channel is made
        // from this one.
        unsafe { sys::res_cluster_inherit_headers_restore(self.chan.ptr()) };
    }
}

/// A leg mark on the calling channel; removed from it when dropped.
pub struct AttachedLegMark<'c, 'a> {
    chan: &'c Channel<'a>,
    raw: NonNull<sys::ast_datastore>,
}

impl Drop for AttachedLegMark<'_, '_> {
    fn drop(&mut self) {
        // SAFETY: the datastore was added to this channel by attach_leg_mark
        // and is freed only here, by the shim, if it is still on the channel
        // (a masquerade moves it to another channel, which then owns it).
        unsafe { sys::res_cluster_leg_mark_detach(self.chan.ptr(), self.raw.as_ptr()) }
    }
}

/// A channel lent to an application, held by another thread for as long as
/// the application's own code says it is still lent (the silence watch).
pub struct ChannelPtr(NonNull<sys::ast_channel>);

// SAFETY: the pointer is only dereferenced through `channel`, whose caller
// vouches that the application the channel was lent to has not returned;
// the channel's own lock guards what is done with it from any thread.
unsafe impl Send for ChannelPtr {}

impl ChannelPtr {
    /// # Safety
    /// The application the channel was lent to (`Channel::from_app`) has
    /// not returned, and does not return until the returned value is gone.
    pub unsafe fn channel(&self) -> Channel<'_> {
        Channel { raw: self.0, _lent: PhantomData }
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

    /// The channel, for another thread to use while this application still
    /// runs (see `ChannelPtr::channel`).
    pub fn as_ptr(&self) -> ChannelPtr {
        ChannelPtr(self.raw)
    }

    /// Hangs up (softly, with `cause`) the legs Dial made from this channel
    /// whose names begin with `prefix`, that are not answered and not named
    /// in `spare`; how many.
    pub fn hang_up_legs(&self, prefix: &str, spare: &[String], cause: i32) -> usize {
        let (prefix, spare) = (cstring(prefix), cstring(&spare.join(",")));
        // SAFETY: valid strings; the shim locks this channel to read its
        // linked ID, then each candidate leg (holding a reference from the
        // channel iterator) while it checks and hangs it up.
        unsafe { sys::res_cluster_hangup_silent_legs(self.ptr(), prefix.as_ptr(), spare.as_ptr(), cause) }.max(0) as usize
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

    /// A variable of the channel's own (globals are not read); None when
    /// unset. Values past 255 bytes are cut: the variables read here
    /// (DIALSTATUS, DIALEDPEERNAME, FROM_CLUSTER) are far shorter.
    pub fn var(&self, name: &str) -> Option<String> {
        let name = cstring(name);
        let mut buf = [0 as c_char; 256];
        // SAFETY: buf is writable for the length passed; the shim copies the
        // value, NUL-terminated within buf, under the channel's lock.
        let found = unsafe { sys::res_cluster_channel_var(self.ptr(), name.as_ptr(), buf.as_mut_ptr(), buf.len()) };
        if found == 0 {
            return None;
        }
        // SAFETY: NUL-terminated by the shim.
        unsafe { borrowed(buf.as_ptr()) }
    }

    pub fn set_var(&self, name: &str, value: &str) {
        let (name, value) = (cstring(name), cstring(value));
        // SAFETY: valid strings; pbx_builtin_setvar_helper locks the channel itself.
        unsafe { sys::pbx_builtin_setvar_helper(self.ptr(), name.as_ptr(), value.as_ptr()) };
    }

    /// Writes a dialplan function such as `PJSIP_INHERITABLE_HEADER(add,X-Name)`.
    /// Never called with the channel lock held: `PJSIP_HEADER` waits for the
    /// channel's SIP serializer, which may be waiting for that lock.
    pub fn write_function(&self, expression: &str, value: &str) -> bool {
        let (expression, value) = (cstring(expression), cstring(value));
        // SAFETY: valid strings that outlive the call; ast_func_write takes
        // no lock itself and each function locks what it touches (the PJSIP
        // ones lock the channel, or run on its serializer); we hold no lock.
        unsafe { sys::ast_func_write(self.ptr(), expression.as_ptr(), value.as_ptr()) == 0 }
    }

    /// Writes a dialplan function that reads or changes the channel's
    /// datastores without locking the channel itself (`IAXVAR`), holding the
    /// channel lock for it: chan_iax2's network thread adds datastores to the
    /// channel under that lock.
    pub fn write_function_locked(&self, expression: &str, value: &str) -> bool {
        let (expression, value) = (cstring(expression), cstring(value));
        let _l = self.lock();
        // SAFETY: valid strings that outlive the call; the channel lock is
        // held, which acf_iaxvar_write needs around ast_channel_datastore_find
        // and ast_channel_datastore_add and does not take itself (it locks
        // only the variable list, after the channel lock as iax2_call does).
        unsafe { sys::ast_func_write(self.ptr(), expression.as_ptr(), value.as_ptr()) == 0 }
    }

    /// Reads a dialplan function as `write_function_locked` writes one.
    pub fn read_function_locked(&self, expression: &str) -> Option<String> {
        let _l = self.lock();
        self.read_function_unlocked(expression)
    }

    /// Reads a dialplan function such as `PJSIP_HEADER(read,X-Name)`; None
    /// when the function is missing or fails.
    pub fn read_function(&self, expression: &str) -> Option<String> {
        self.read_function_unlocked(expression)
    }

    fn read_function_unlocked(&self, expression: &str) -> Option<String> {
        let expression = cstring(expression);
        let mut buf = vec![0 as c_char; 1024];
        // SAFETY: buf is zero-filled and writable for its whole length, which
        // is passed along; a function's read callback writes at most that many
        // bytes (PJSIP_HEADER and IAXVAR through ast_copy_string). The
        // channel lock is held for IAXVAR (read_function_locked), which finds
        // its datastore without taking it, and not for PJSIP_HEADER, which
        // waits for the SIP serializer (see write_function).
        let rc = unsafe { sys::ast_func_read(self.ptr(), expression.as_ptr(), buf.as_mut_ptr(), buf.len()) };
        if rc != 0 {
            return None;
        }
        // SAFETY: NUL-terminated: the callback's copy is, and an untouched
        // buffer is zeroes; buf outlives the copy.
        unsafe { borrowed(buf.as_ptr()) }
    }

    /// The channel driver's name for its technology ("PJSIP", "IAX2", ...).
    pub fn technology(&self) -> String {
        let _l = self.lock();
        // SAFETY: the lock is held, as a masquerade swaps the technology
        // under it. A channel always has one (ast_channel_alloc sets a null
        // technology until its driver sets its own static structure), and
        // Asterisk reads through it for every frame and the hangup of the
        // channel, so it lives as long as the channel; its type string is
        // copied before the lock is released.
        unsafe {
            let tech = sys::ast_channel_tech(self.ptr());
            if tech.is_null() {
                return String::new();
            }
            borrowed((*tech).type_).unwrap_or_default()
        }
    }

    /// The caller party: name, number, combined presentation and tag.
    pub fn caller(&self) -> CallerId {
        let _l = self.lock();
        // SAFETY: ast_channel_caller returns the locked channel's own party
        // structure; its strings are copied before the lock is released.
        unsafe {
            let caller = sys::ast_channel_caller(self.ptr());
            if caller.is_null() {
                return CallerId::default();
            }
            let id = &(*caller).id;
            let text = |valid: u8, s: *const c_char| if valid != 0 { bytes(s).filter(|b| !b.is_empty()) } else { None };
            CallerId {
                name: text(id.name.valid, id.name.str_),
                number: text(id.number.valid, id.number.str_),
                presentation: sys::ast_party_id_presentation(id),
                tag: bytes(id.tag).filter(|b| !b.is_empty()),
            }
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
    pub fn set_caller_number(&self, number: &[u8]) {
        let number = cstring_bytes(number);
        let _l = self.lock();
        // SAFETY: the lock is held; the update borrows `number`, which
        // outlives the call; ast_channel_set_caller_event copies what it keeps.
        unsafe {
            let update = self.number_update(&number);
            sys::ast_channel_set_caller_event(self.ptr(), &update, std::ptr::null_mut());
        }
    }

    /// Puts `prefix` in front of the number this channel presents to the
    /// party it calls (its connected line), keeping name, presentation and
    /// the rest: on an outbound channel not yet called, that number becomes
    /// its caller ID on the wire. Nothing to do without a number.
    pub fn prefix_connected_number(&self, prefix: &str) {
        let _l = self.lock();
        // SAFETY: the lock is held; the connected party belongs to the
        // channel and its number is copied into `number` before the update,
        // which borrows `number` only for the call; set_init makes the
        // update "change nothing" but the number; ast_channel_set_connected_line
        // copies what it keeps.
        unsafe {
            let connected = sys::ast_channel_connected(self.ptr());
            if connected.is_null() || (*connected).id.number.valid == 0 {
                return;
            }
            let Some(old) = bytes((*connected).id.number.str_).filter(|n| !n.is_empty()) else { return };
            let number = cstring_bytes(&callerid::add_prefix(prefix, &old));
            let mut update: sys::ast_party_connected_line = std::mem::zeroed();
            sys::ast_party_connected_line_set_init(&mut update, connected);
            update.id.number.valid = 1;
            update.id.number.str_ = number.as_ptr() as *mut c_char;
            sys::ast_channel_set_connected_line(self.ptr(), &update, std::ptr::null());
        }
    }

    /// Whether the channel has hung up (or been asked to).
    pub fn hung_up(&self) -> bool {
        // SAFETY: the function takes the channel lock itself.
        unsafe { sys::ast_check_hangup_locked(self.ptr()) != 0 }
    }

    pub fn set_hangup_cause(&self, cause: i32) {
        let _l = self.lock();
        // SAFETY: the channel is alive and locked, as the setter expects.
        unsafe { sys::ast_channel_hangupcause_set(self.ptr(), cause) }
    }

    /// Runs a dialplan application on this channel, as the PBX would.
    pub fn exec(&self, app: &str, data: &[u8]) -> Result<i32, ExecError> {
        let (app_name, data) = (cstring(app), cstring_bytes(data));
        // SAFETY: pbx_findapp only reads the name.
        let found = unsafe { sys::pbx_findapp(app_name.as_ptr()) };
        if found.is_null() {
            return Err(ExecError::NoSuchApp(app.to_string()));
        }
        // SAFETY: `found` stays registered while its module is loaded, and
        // res_cluster's module info requires app_dial, so the loader keeps
        // it loaded while we are. pbx_exec does not copy `data`: it stores
        // the pointer as the channel's application data (snapshots and
        // `core show channel` read it while the application runs) and puts
        // the previous pointer back before it returns; `data` lives until
        // after that.
        Ok(unsafe { sys::pbx_exec(self.ptr(), found, data.as_ptr()) })
    }

    /// Adds a header for the new PJSIP legs Dial makes from this channel to
    /// inherit (PJSIP_INHERITABLE_HEADER), until the guard is dropped. When
    /// the channel had no such headers of its own, they reach those legs
    /// only: a channel made from a leg, or from this channel during the call
    /// (an attended transfer's), does not inherit them. None when the header
    /// could not be added.
    pub fn add_inheritable_header(&self, name: &str, value: &str) -> Option<InheritedHeader<'_, 'a>> {
        // SAFETY: the shim locks the channel and only reads its datastore
        // list (the type names of datastores on a live channel).
        let had_own = unsafe { sys::res_cluster_has_inheritable_headers(self.ptr()) } != 0;
        if !self.write_function(&format!("PJSIP_INHERITABLE_HEADER(add,{name})"), value) {
            return None;
        }
        if !had_own {
            // SAFETY: the shim locks the channel; it changes only the
            // inheritance count of the headers' datastore, a public field
            // that channel.c reads, with the channel locked, when a channel
            // is made from this one.
            unsafe { sys::res_cluster_inherit_headers_once(self.ptr()) };
        }
        Some(InheritedHeader { chan: self, name: name.to_string() })
    }

    /// Hangs a mark on this (calling) channel for the legs Dial creates to
    /// inherit, once: the pre-dial handler reads it there. Removed from this
    /// channel when the guard is dropped.
    pub fn attach_leg_mark(&self, mark: &str) -> Option<AttachedLegMark<'_, 'a>> {
        let mark = cstring(mark);
        // SAFETY: the shim locks the channel; the datastore it adds (its type
        // structure and name, and the copy of `mark`, on Asterisk's heap; no
        // callbacks) belongs to the channel until detached, and holds a
        // reference on this module meanwhile.
        let raw = unsafe { sys::res_cluster_leg_mark_attach(self.ptr(), mark.as_ptr()) };
        NonNull::new(raw).map(|raw| AttachedLegMark { chan: self, raw })
    }

    /// Takes the mark this (new outbound) channel inherited, removing it.
    pub fn take_leg_mark(&self) -> Option<String> {
        let mut buf = vec![0 as c_char; 256];
        // SAFETY: buf is writable for its whole length; the shim locks the
        // channel, copies the mark NUL-terminated within buf, and frees the
        // datastore it removed.
        let found = unsafe { sys::res_cluster_leg_mark_take(self.ptr(), buf.as_mut_ptr(), buf.len()) };
        if found == 0 {
            return None;
        }
        // SAFETY: NUL-terminated by the shim.
        unsafe { borrowed(buf.as_ptr()) }
    }

    /// Names of the outbound channels that left a cause in this channel's
    /// dialed-causes table (each got at least one SIP response), however
    /// long the channel has lived and however many it dialled.
    pub fn dialed_cause_channels(&self) -> Vec<String> {
        // SAFETY: the shim locks the channel, and hands out a NUL-terminated
        // copy of the list (or NULL) that is ours to free.
        let names = unsafe { sys::res_cluster_dialed_causes(self.ptr()) };
        if names.is_null() {
            return Vec::new();
        }
        // SAFETY: non-NULL and NUL-terminated; copied before it is freed.
        let text = unsafe { borrowed(names) }.unwrap_or_default();
        // SAFETY: allocated by the shim with ast_strdup, freed once, here.
        unsafe { sys::res_cluster_free(names.cast()) };
        text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
    }

    /// The technology's cause text (e.g. "SIP 404 Not Found") that outbound
    /// channel `leg` left on this channel.
    pub fn dialed_cause(&self, leg: &str) -> Option<String> {
        let leg = cstring(leg);
        let mut buf = vec![0 as c_char; 256];
        // SAFETY: valid strings; buf is writable for the length passed; the
        // shim looks the cause up with the channel locked and copies it,
        // NUL-terminated within buf, while it holds a reference to it.
        let found = unsafe { sys::res_cluster_dialed_cause(self.ptr(), leg.as_ptr(), buf.as_mut_ptr(), buf.len()) };
        if found == 0 {
            return None;
        }
        // SAFETY: NUL-terminated by the shim.
        unsafe { borrowed(buf.as_ptr()) }
    }
}

/// Prepares the leg marks' datastore type; once per load, before any call.
pub fn init_leg_marks() -> Result<(), String> {
    // SAFETY: no arguments; called from load, before ClusterDial exists.
    if unsafe { sys::res_cluster_leg_mark_init() } == 0 {
        Ok(())
    } else {
        Err("out of memory preparing the leg marks".into())
    }
}

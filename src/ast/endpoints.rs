//! Endpoints as Asterisk's channel drivers publish them: their state as it
//! changes, their state now, and (PJSIP) a probe that asks one whether it
//! answers at all.

use std::os::raw::{c_char, c_int, c_void};

use super::guard;
use super::sys;
use super::text::{borrowed, cstring};

/// What changed: the endpoint's own state, or (PJSIP qualify) the status
/// of one of its contacts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Endpoint,
    Contact,
}

/// What a subscriber is told: the endpoint's technology, resource (its
/// name), its state (`enum ast_endpoint_state`) as of the message, and
/// what changed.
pub type OnChange = fn(tech: &str, resource: &str, state: i32, change: Change);

/// A live subscription; dropping it unsubscribes and waits for any callback
/// still running, so nothing calls into an unloaded module.
pub struct Subscription {
    raw: *mut sys::stasis_subscription,
}

// SAFETY: the handle is only used to unsubscribe, once, which Asterisk
// allows from any thread.
unsafe impl Send for Subscription {}

unsafe extern "C" fn on_message(data: *mut c_void, _sub: *mut sys::stasis_subscription, message: *mut sys::stasis_message) {
    guard::entry("endpoint state subscription", (), || {
        let mut tech = [0 as c_char; 64];
        let mut resource = [0 as c_char; 256];
        let (mut state, mut contact): (c_int, c_int) = (0, 0);
        // SAFETY: `message` is the live message stasis is delivering; the
        // shim copies into our buffers within the lengths given, and writes
        // both integers when it returns 1.
        let read = unsafe {
            sys::res_cluster_endpoint_state_read(
                message,
                tech.as_mut_ptr(),
                tech.len(),
                resource.as_mut_ptr(),
                resource.len(),
                &mut state,
                &mut contact,
            )
        };
        if read == 0 {
            return;
        }
        // SAFETY: both buffers were NUL-terminated by the shim.
        let (tech, resource) = unsafe { (borrowed(tech.as_ptr()), borrowed(resource.as_ptr())) };
        // SAFETY: `data` is the OnChange `subscribe` passed in, a plain fn.
        let on_change: OnChange = unsafe { std::mem::transmute::<*mut c_void, OnChange>(data) };
        let change = if contact != 0 { Change::Contact } else { Change::Endpoint };
        on_change(&tech.unwrap_or_default(), &resource.unwrap_or_default(), state, change);
    })
}

pub fn subscribe(on_change: OnChange) -> Result<Subscription, String> {
    // SAFETY: the callback is a 'static function and its data a fn pointer,
    // both outliving the subscription.
    let raw = unsafe { sys::res_cluster_endpoint_state_subscribe(Some(on_message), on_change as *mut c_void) };
    if raw.is_null() {
        Err("could not subscribe to endpoint states".into())
    } else {
        Ok(Subscription { raw })
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // SAFETY: a subscription we made and have not ended; the call blocks
        // until the last callback has returned.
        unsafe { sys::res_cluster_endpoint_state_unsubscribe(self.raw) }
    }
}

/// The endpoint's state now (`enum ast_endpoint_state`), None when Asterisk
/// has no such endpoint.
pub fn state(tech: &str, resource: &str) -> Option<i32> {
    let (tech, resource) = (cstring(tech), cstring(resource));
    // SAFETY: valid strings; the shim reads the latest snapshot and gives
    // its reference back.
    let state = unsafe { sys::res_cluster_endpoint_state(tech.as_ptr(), resource.as_ptr()) };
    (state >= 0).then_some(state)
}

/// Looks res_pjsip's API up for probes; once, at load. Whether probes can
/// be sent (res_pjsip was running when res_cluster started).
pub fn init_probes() -> bool {
    // SAFETY: no arguments; called from load, before the probe thread exists.
    unsafe { sys::res_cluster_pjsip_api_init() != 0 }
}

/// Whether res_pjsip has an endpoint named `name`, as chan_pjsip looks up
/// a dial string's resource (false without res_pjsip).
pub fn pjsip_endpoint_exists(name: &str) -> bool {
    let name = cstring(name);
    // SAFETY: a valid string; the shim looks the endpoint up through the
    // sorcery res_pjsip's API gave at load (res_pjsip stays loaded while
    // res_cluster is, as an optional module it was loaded before) and gives
    // the reference back.
    unsafe { sys::res_cluster_pjsip_endpoint_exists(name.as_ptr()) != 0 }
}

/// Told how a probe went: the endpoint's name, and whether it answered.
pub type ProbeDone = fn(endpoint: &str, answered: bool);

static PROBE_DONE: std::sync::OnceLock<ProbeDone> = std::sync::OnceLock::new();

unsafe extern "C" fn probe_done(endpoint: *const c_char, answered: c_int) {
    guard::entry("probe result", (), || {
        // SAFETY: the shim passes the NUL-terminated name it holds until this returns.
        let endpoint = unsafe { borrowed(endpoint) }.unwrap_or_default();
        if let Some(done) = PROBE_DONE.get() {
            done(&endpoint, answered != 0);
        }
    })
}

/// Sends a SIP OPTIONS to PJSIP endpoint `endpoint`; `done` is told, once,
/// on a PJSIP thread, whether any response came (within `timeout_ms`, or
/// PJSIP's own transaction timeout after an authentication challenge).
/// False, and `done` is not called, when it could not be queued (res_pjsip's
/// API not there).
pub fn probe(endpoint: &str, timeout_ms: u32, done: ProbeDone) -> bool {
    let _ = PROBE_DONE.set(done);
    let endpoint = cstring(endpoint);
    // SAFETY: a valid string, copied by the shim; `probe_done` is a 'static
    // function, and the probe counts as in flight from before it is queued
    // until `probe_done` has returned: unload waits for `probes_settled`.
    unsafe { sys::res_cluster_pjsip_probe(endpoint.as_ptr(), timeout_ms as c_int, Some(probe_done)) == 0 }
}

/// Waits until no probe is in flight, at most `timeout`; whether none is.
/// Called at unload, once no new probe can be sent: a probe's callback runs
/// this module's code.
pub fn probes_settled(timeout: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        // SAFETY: reads an atomic counter.
        if unsafe { sys::res_cluster_probes_in_flight() } == 0 {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

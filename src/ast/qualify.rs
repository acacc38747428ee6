//! Qualify results for PJSIP contacts, followed as they change.

use std::os::raw::{c_char, c_void};

use super::guard;
use super::sys;
use super::text::borrowed;

/// What a subscriber is told: the contact's endpoint and its new status label.
pub type OnChange = fn(endpoint: &str, status: &str);

/// A live subscription; dropping it unsubscribes and waits for any callback
/// still running, so nothing calls into an unloaded module.
pub struct Subscription {
    raw: *mut sys::stasis_subscription,
}

// SAFETY: the handle is only used to unsubscribe, once, which Asterisk
// allows from any thread.
unsafe impl Send for Subscription {}

unsafe extern "C" fn on_message(data: *mut c_void, _sub: *mut sys::stasis_subscription, message: *mut sys::stasis_message) {
    guard::entry("qualify subscription", (), || {
        let mut endpoint = [0 as c_char; 256];
        let mut status = [0 as c_char; 64];
        // SAFETY: `message` is the live message stasis is delivering; the
        // shim copies into our buffers within the lengths given.
        let read = unsafe {
            sys::res_cluster_contact_status_read(message, endpoint.as_mut_ptr(), endpoint.len(), status.as_mut_ptr(), status.len())
        };
        if read == 0 {
            return;
        }
        // SAFETY: both buffers were NUL-terminated by the shim.
        let (endpoint, status) = unsafe { (borrowed(endpoint.as_ptr()), borrowed(status.as_ptr())) };
        // SAFETY: `data` is the OnChange `subscribe` passed in, a plain fn.
        let on_change: OnChange = unsafe { std::mem::transmute::<*mut c_void, OnChange>(data) };
        on_change(&endpoint.unwrap_or_default(), &status.unwrap_or_default());
    })
}

pub fn subscribe(on_change: OnChange) -> Result<Subscription, String> {
    // SAFETY: the callback is a 'static function and its data a fn pointer,
    // both outliving the subscription.
    let raw = unsafe { sys::res_cluster_contact_status_subscribe(Some(on_message), on_change as *mut c_void) };
    if raw.is_null() {
        Err("could not subscribe to qualify results".into())
    } else {
        Ok(Subscription { raw })
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // SAFETY: a subscription we made and have not ended; the call blocks
        // until the last callback has returned.
        unsafe { sys::res_cluster_contact_status_unsubscribe(self.raw) }
    }
}

//! Registrations shared between nodes, on Asterisk's side: res_pjsip's
//! contacts as its registrar changes them (a sorcery observer), bodies of
//! the event res-cluster-contacts received from peers (a publish handler
//! of res_pjsip_pubsub) and sent to them (through an outbound-publish of
//! res_pjsip_outbound_publish). See the shim for what is registered.

use std::os::raw::{c_char, c_int};
use std::sync::OnceLock;

use res_cluster_core::json::Value;

use super::guard;
use super::json::{self, Json};
use super::sorcery::{self, Object};
use super::sys;
use super::text::{borrowed, cstring};

/// What a contact change was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Deleted,
}

/// What the module does with each event, set once.
pub struct Handlers {
    pub changed: fn(Change, Object),
    /// Whether a publication from this endpoint is taken.
    pub accept: fn(&str) -> bool,
    /// A body from this endpoint; Err(why) refuses it.
    pub received: fn(&str, Value) -> Result<(), String>,
    pub refused: fn(&str, &str),
    pub started: fn(&str),
    pub max_body: u32,
}

static HANDLERS: OnceLock<Handlers> = OnceLock::new();

unsafe extern "C" fn changed(op: c_int, fields: *const c_char) {
    guard::entry("contact observer", (), || {
        let Some(h) = HANDLERS.get() else { return };
        // SAFETY: the shim passes the NUL-terminated text it holds until
        // this returns.
        let text = unsafe { borrowed(fields) }.unwrap_or_default();
        let Some(object) = sorcery::parse(&text).into_iter().next() else { return };
        let change = match op {
            0 => Change::Created,
            1 => Change::Updated,
            _ => Change::Deleted,
        };
        (h.changed)(change, object);
    })
}

unsafe extern "C" fn accept(endpoint: *const c_char) -> c_int {
    guard::entry("contact publication", 0, || {
        let Some(h) = HANDLERS.get() else { return 0 };
        // SAFETY: a NUL-terminated id the shim lends for the call.
        let endpoint = unsafe { borrowed(endpoint) }.unwrap_or_default();
        c_int::from((h.accept)(&endpoint))
    })
}

unsafe extern "C" fn received(endpoint: *const c_char, body: *mut sys::ast_json) -> c_int {
    guard::entry("contact publication", -1, || {
        let Some(h) = HANDLERS.get() else { return -1 };
        // SAFETY: a NUL-terminated id the shim lends for the call.
        let endpoint = unsafe { borrowed(endpoint) }.unwrap_or_default();
        // SAFETY: the body the shim loaded, valid until it unrefs it after
        // this returns.
        let Some(value) = (unsafe { json::read(body) }) else {
            (h.refused)(&endpoint, "its body nests deeper than res_cluster reads");
            return -1;
        };
        match (h.received)(&endpoint, value) {
            Ok(()) => 0,
            Err(why) => {
                (h.refused)(&endpoint, &why);
                -1
            }
        }
    })
}

unsafe extern "C" fn refused(endpoint: *const c_char, why: *const c_char) {
    guard::entry("contact publication", (), || {
        let Some(h) = HANDLERS.get() else { return };
        // SAFETY: NUL-terminated strings the shim lends for the call.
        let (endpoint, why) = unsafe { (borrowed(endpoint).unwrap_or_default(), borrowed(why).unwrap_or_default()) };
        (h.refused)(&endpoint, &why);
    })
}

unsafe extern "C" fn started(outbound_publish: *const c_char) {
    guard::entry("contact publisher", (), || {
        let Some(h) = HANDLERS.get() else { return };
        // SAFETY: a NUL-terminated id the shim lends for the call.
        let name = unsafe { borrowed(outbound_publish) }.unwrap_or_default();
        (h.started)(&name);
    })
}

/// Registered; unregistered (waiting for a callback that runs) when dropped.
pub struct Registered;

impl Registered {
    /// Err when res_pjsip, res_pjsip_pubsub or res_pjsip_outbound_publish
    /// is not there.
    pub fn register(handlers: Handlers) -> Result<Registered, String> {
        let max_body = handlers.max_body;
        let _ = HANDLERS.set(handlers);
        let callbacks = sys::res_cluster_contact_callbacks {
            changed: Some(changed),
            accept: Some(accept),
            received: Some(received),
            refused: Some(refused),
            started: Some(started),
            max_body,
        };
        // SAFETY: the callbacks are 'static functions; the shim copies the
        // table and keeps them until `res_cluster_contacts_unregister`.
        if unsafe { sys::res_cluster_contacts_register(&callbacks) } == 0 {
            Ok(Registered)
        } else {
            Err("replicate_contacts needs res_pjsip, res_pjsip_pubsub and res_pjsip_outbound_publish running".into())
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        // SAFETY: no arguments; takes away what `register` registered.
        unsafe { sys::res_cluster_contacts_unregister() }
    }
}

/// Sends `body` through outbound-publish `name`; false when there is no
/// such outbound-publish (or Asterisk could not build the body).
pub fn publish(name: &str, body: &Value) -> bool {
    let Some(json) = Json::from_value(body) else { return false };
    let name = cstring(name);
    // SAFETY: a valid name and a JSON value of ours, which the shim dumps
    // to text (it keeps neither); the client's reference is given back.
    unsafe { sys::res_cluster_publish_json(name.as_ptr(), json.as_ptr()) == 0 }
}

/// This node's contacts, as res_pjsip keeps them now.
pub fn all() -> Vec<Object> {
    sorcery::objects("contact", None)
}

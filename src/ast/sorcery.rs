//! res_pjsip's configuration objects (endpoints, transports, identifies,
//! outbound-publishes), read through sorcery's own string forms: each
//! object's id and fields as `pjsip show endpoint` would print them, with no
//! struct of res_pjsip's read (their layouts are private to it).

use std::os::raw::c_char;

use super::sys;
use super::text::{borrowed, cstring};

/// One object: its id and fields (a field of several values appears once
/// per value, in order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Object {
    pub id: String,
    pub fields: Vec<(String, String)>,
}

impl Object {
    /// The first value of `name`, when it is set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
}

/// Takes a text the shim allocated: copied, then freed.
fn take(text: *mut c_char) -> Option<String> {
    if text.is_null() {
        return None;
    }
    // SAFETY: non-NULL and NUL-terminated by the shim; copied before it is freed.
    let copy = unsafe { borrowed(text) };
    // SAFETY: allocated by the shim (ast_strdup), freed once, here.
    unsafe { sys::res_cluster_free(text.cast()) };
    copy
}

pub fn parse(text: &str) -> Vec<Object> {
    text.split('\x1e')
        .filter(|record| !record.is_empty())
        .map(|record| {
            let mut parts = record.split('\x1f');
            let id = parts.next().unwrap_or_default().to_string();
            let mut fields = Vec::new();
            while let (Some(k), Some(v)) = (parts.next(), parts.next()) {
                fields.push((k.to_string(), v.to_string()));
            }
            Object { id, fields }
        })
        .collect()
}

/// The object of `kind` ("endpoint", "transport"...) named `id`.
pub fn object(kind: &str, id: &str) -> Option<Object> {
    let (kind, id) = (cstring(kind), cstring(id));
    // SAFETY: valid strings; the shim retrieves the object through the
    // sorcery res_pjsip's API gave at load, gives its reference back, and
    // hands out a text that `take` frees.
    take(unsafe { sys::res_cluster_pjsip_object(kind.as_ptr(), id.as_ptr()) }).and_then(|t| parse(&t).into_iter().next())
}

/// Every object of `kind`, or (`filter`) those whose field has the value.
pub fn objects(kind: &str, filter: Option<(&str, &str)>) -> Vec<Object> {
    let kind = cstring(kind);
    let (field, value) = filter.map(|(f, v)| (cstring(f), cstring(v))).unzip();
    let (field_ptr, value_ptr) = match (&field, &value) {
        (Some(f), Some(v)) => (f.as_ptr(), v.as_ptr()),
        _ => (std::ptr::null(), std::ptr::null()),
    };
    // SAFETY: valid strings, or NULL for both field and value; as in `object`.
    take(unsafe { sys::res_cluster_pjsip_objects(kind.as_ptr(), field_ptr, value_ptr) }).map(|t| parse(&t)).unwrap_or_default()
}

/// An extended field (`@name` in pjsip.conf) of the object, when set.
pub fn extended(kind: &str, id: &str, name: &str) -> Option<String> {
    let (kind, id, name) = (cstring(kind), cstring(id), cstring(name));
    // SAFETY: valid strings; the shim copies the value while it holds the
    // object's reference.
    take(unsafe { sys::res_cluster_pjsip_object_extended(kind.as_ptr(), id.as_ptr(), name.as_ptr()) })
}

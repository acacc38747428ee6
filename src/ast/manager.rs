//! AMI events.

use super::sys;
use super::text::cstring;

/// Sends event `name` to AMI clients with the `system` read permission.
/// `fields` are written as "Key: value" lines.
pub fn event(name: &str, fields: &[(&str, &str)]) {
    let mut body = String::new();
    for (key, value) in fields {
        // A line break inside a value would forge further AMI headers.
        let value: String = value.chars().map(|c| if c == '\r' || c == '\n' { ' ' } else { c }).collect();
        body.push_str(&format!("{key}: {value}\r\n"));
    }
    let (name, body) = (cstring(name), cstring(&body));
    // SAFETY: valid strings; the shim passes the body through "%s".
    unsafe { sys::res_cluster_manager_event(name.as_ptr(), body.as_ptr()) };
}

/// What an AMI action answers: the status fields, or the peers' entries.
pub type Source = fn(which: Action) -> Option<String>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Status,
    Peers,
}

static SOURCE: std::sync::OnceLock<Source> = std::sync::OnceLock::new();

unsafe extern "C" fn source(which: std::os::raw::c_int) -> *mut std::os::raw::c_char {
    super::guard::entry("AMI action", std::ptr::null_mut(), || {
        let Some(source) = SOURCE.get() else { return std::ptr::null_mut() };
        let action = if which == 0 { Action::Status } else { Action::Peers };
        source(action).map_or(std::ptr::null_mut(), |t| cstring(&t).into_raw())
    })
}

unsafe extern "C" fn release(text: *mut std::os::raw::c_char) {
    if !text.is_null() {
        // SAFETY: made by CString::into_raw in `source`, given back once.
        drop(unsafe { std::ffi::CString::from_raw(text) });
    }
}

/// The AMI actions ClusterStatus and ClusterPeers; unregistered when dropped.
pub struct Actions;

impl Actions {
    pub fn register(from: Source) -> Result<Actions, String> {
        let _ = SOURCE.set(from);
        // SAFETY: both callbacks are 'static functions; the shim keeps them
        // until the actions are unregistered by Drop.
        if unsafe { sys::res_cluster_ami_register(Some(source), Some(release)) } == 0 {
            Ok(Actions)
        } else {
            Err("could not register the AMI actions ClusterStatus and ClusterPeers (another module has one of those names)".into())
        }
    }
}

impl Drop for Actions {
    fn drop(&mut self) {
        // SAFETY: no arguments; unregisters the two actions registered above.
        unsafe { sys::res_cluster_ami_unregister() }
    }
}

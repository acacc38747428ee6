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

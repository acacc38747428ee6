//! Device states as the nodes share them: this node's entity ID, its own
//! publications, and the cached states other nodes published.

use res_cluster_core::eid::Eid;
use res_cluster_core::locate::Cached;

use super::sys;
use super::text::{borrowed, cstring};

/// This node's entity ID (`entityid` in asterisk.conf).
pub fn own_eid() -> Eid {
    let mut eid = [0u8; 6];
    // SAFETY: eid is writable for the six bytes the shim copies into it.
    unsafe { sys::res_cluster_own_eid(eid.as_mut_ptr()) };
    Eid::from_bytes(eid)
}

/// Publishes `device` in `state` (`enum ast_device_state`) as this node's.
pub fn publish(device: &str, state: i32) {
    let device = cstring(device);
    // SAFETY: a valid string, copied by the core into its message.
    unsafe { sys::res_cluster_devstate_publish(device.as_ptr(), state) };
}

/// The states each node published for `device` (the aggregate left out).
pub fn entries(device: &str) -> Vec<Cached> {
    let device = cstring(device);
    const MAX: usize = 64;
    let mut out = [sys::res_cluster_cached { eid: [0; 6], state: 0, age_ms: 0 }; MAX];
    // SAFETY: out is writable for the count passed; the shim fills at most
    // that many entries.
    let n = unsafe { sys::res_cluster_devstate_entries(device.as_ptr(), out.as_mut_ptr(), MAX as i32) };
    out[..n.clamp(0, MAX as i32) as usize]
        .iter()
        .map(|c| Cached { eid: Eid::from_bytes(c.eid), state: c.state, age_ms: c.age_ms.max(0) as u64 })
        .collect()
}

/// The state node `eid` published for `device`, and its age; None when it
/// published none.
pub fn state_of(device: &str, eid: Eid) -> Option<(i32, u64)> {
    let (device, eid) = (cstring(device), eid.bytes());
    let (mut state, mut age) = (0, 0i64);
    // SAFETY: a valid string and six readable bytes; the shim writes both
    // outputs when it returns 1.
    let found = unsafe { sys::res_cluster_devstate_of(device.as_ptr(), eid.as_ptr(), &mut state, &mut age) };
    (found != 0).then_some((state, age.max(0) as u64))
}

/// Removes from the cache what node `eid` published: for `device`, or
/// every device. How many states were removed.
pub fn forget(eid: Eid, device: Option<&str>) -> usize {
    let eid = eid.bytes();
    let device = device.map(cstring);
    let device_ptr = device.as_ref().map_or(std::ptr::null(), |d| d.as_ptr());
    // SAFETY: six readable bytes and a valid string (or NULL for every
    // device); the shim publishes a clear message for each cached state it
    // finds.
    unsafe { sys::res_cluster_devstate_forget(eid.as_ptr(), device_ptr) }.max(0) as usize
}

/// Looks the refresh API up; once, at load. Whether refreshes can be asked.
pub fn init_refresh() -> bool {
    // SAFETY: no arguments; called from load, before anything asks.
    unsafe { sys::res_cluster_publish_api_init() != 0 }
}

/// Asks the node at the other end of outbound-publish `name` for all of its
/// device states. False when there is no such outbound-publish.
pub fn ask_refresh(outbound_publish: &str) -> bool {
    let name = cstring(outbound_publish);
    // SAFETY: a valid string; the shim holds the client's reference while
    // it sends and gives it back.
    unsafe { sys::res_cluster_devstate_refresh(name.as_ptr()) == 0 }
}

/// Every beacon any node published: (device, EID, state).
pub fn beacons() -> Vec<(String, Eid, i32)> {
    // SAFETY: no arguments; the shim dumps the device-state cache and hands
    // out a text (or NULL) that is ours to free.
    let text = unsafe { sys::res_cluster_devstate_beacons() };
    if text.is_null() {
        return Vec::new();
    }
    // SAFETY: non-NULL and NUL-terminated; copied before it is freed.
    let copy = unsafe { borrowed(text) }.unwrap_or_default();
    // SAFETY: allocated by the shim (ast_strdup), freed once, here.
    unsafe { sys::res_cluster_free(text.cast()) };
    copy.split('\x1e')
        .filter_map(|r| {
            let mut f = r.split('\x1f');
            Some((f.next()?.to_string(), Eid::parse(f.next()?).ok()?, f.next()?.parse().ok()?))
        })
        .collect()
}

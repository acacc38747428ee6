//! Locating phones: which peer has a phone registered, known before any
//! INVITE leaves, from Asterisk's own device-state federation.
//!
//! Every node publishes its device states to each peer over PJSIP
//! (res_pjsip_outbound_publish and res_pjsip_publish_asterisk); a receiving
//! node keeps one cached state per device per sender's entity ID (EID). Each
//! node also publishes a beacon, the device `Cluster:<node_name>`, present
//! while res_cluster runs there: a receiver learns from it which EID is which
//! peer, and that the peer's states are coming in (the peer is *synced*).
//!
//! For a call, each peer is then one of:
//! - present: it reports the phone in a state that has a registration
//!   (idle, in use, busy, ringing, on hold) - dialled, newest report first;
//! - absent: synced, and it reports the phone unavailable or nothing at all -
//!   not dialled;
//! - unknown: not synced, or its EID cannot be trusted - hunted as without
//!   locating.

use std::fmt;

use super::eid::Eid;
use super::template::DialTemplate;

/// The beacon's device name for a node.
pub fn beacon(node_name: &str) -> String {
    format!("Cluster:{node_name}")
}

/// `enum ast_device_state` (devicestate.h).
pub mod state {
    pub const UNKNOWN: i32 = 0;
    pub const NOT_INUSE: i32 = 1;
    pub const INUSE: i32 = 2;
    pub const BUSY: i32 = 3;
    pub const INVALID: i32 = 4;
    pub const UNAVAILABLE: i32 = 5;
    pub const RINGING: i32 = 6;
    pub const RINGINUSE: i32 = 7;
    pub const ONHOLD: i32 = 8;

    /// Whether a device in this state has a registration to ring.
    pub fn present(state: i32) -> bool {
        matches!(state, NOT_INUSE | INUSE | BUSY | RINGING | RINGINUSE | ONHOLD)
    }

    pub fn name(state: i32) -> &'static str {
        match state {
            UNKNOWN => "UNKNOWN",
            NOT_INUSE => "NOT_INUSE",
            INUSE => "INUSE",
            BUSY => "BUSY",
            INVALID => "INVALID",
            UNAVAILABLE => "UNAVAILABLE",
            RINGING => "RINGING",
            RINGINUSE => "RINGINUSE",
            ONHOLD => "ONHOLD",
            _ => "?",
        }
    }
}

/// One destination of `local_dial`, as far as locating goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Device {
    /// A device whose state says whether the phone is registered on a node.
    Named(String),
    /// A destination whose device state says nothing of the phone: a user
    /// at another endpoint (`PJSIP/101@trunk` dials user 101 through
    /// endpoint `trunk`, whose state is the trunk's), a URI or extension
    /// after a further '/', another technology's `a@b`. Calls for such a
    /// phone are hunted.
    Unlocatable { destination: String, why: &'static str },
}

/// The devices whose state says whether `exten` is registered on a node:
/// the destinations of `local_dial` (every node dials its own phones with
/// the same one), each mapped as its channel driver maps a dial string to
/// a device. `pjsip_endpoint(name)` says whether this node has a PJSIP
/// endpoint of that name: chan_pjsip takes `PJSIP/a@b` for the endpoint
/// `a@b` (a multi-domain endpoint) when there is one, and for user `a` at
/// endpoint `b` otherwise.
pub fn devices(local_dial: &DialTemplate, exten: &str, pjsip_endpoint: &mut dyn FnMut(&str) -> bool) -> Vec<Device> {
    local_dial
        .render(exten)
        .split('&')
        .map(|dest| {
            let (tech, resource) = dest.split_once('/').unwrap_or((dest, ""));
            let unlocatable = |why| Device::Unlocatable { destination: dest.to_string(), why };
            if resource.contains('/') {
                unlocatable("dials through a resource, not a device of its own")
            } else if !resource.contains('@') {
                Device::Named(dest.to_string())
            } else if tech == "PJSIP" && pjsip_endpoint(resource) {
                Device::Named(dest.to_string())
            } else if tech == "PJSIP" {
                unlocatable("a user at another endpoint, whose state is that endpoint's")
            } else {
                unlocatable("a user at another device, whose state is that device's")
            }
        })
        .collect()
}

/// Whether PJSIP endpoint `endpoint` is one of the phones `local_dial`
/// rings (some destination `PJSIP/<pre>${EXTEN}<post>` has it as
/// `<pre>x<post>`): its device, `PJSIP/<endpoint>`, must reach the peers.
pub fn dials_phone(local_dial: &DialTemplate, endpoint: &str) -> bool {
    local_dial.as_str().split('&').any(|dest| {
        let Some(resource) = dest.strip_prefix("PJSIP/") else { return false };
        if resource.contains('/') {
            return false;
        }
        let Some((pre, post)) = resource.split_once(crate::template::PLACEHOLDER) else { return false };
        endpoint.len() > pre.len() + post.len() && endpoint.starts_with(pre) && endpoint.ends_with(post)
    })
}

/// The named devices of `devices`.
pub fn named(devices: &[Device]) -> Vec<String> {
    devices
        .iter()
        .filter_map(|d| match d {
            Device::Named(n) => Some(n.clone()),
            Device::Unlocatable { .. } => None,
        })
        .collect()
}

/// The PJSIP endpoints among `devices` ("PJSIP/102" gives "102").
pub fn pjsip_endpoints(devices: &[Device]) -> Vec<String> {
    named(devices).iter().filter_map(|d| d.strip_prefix("PJSIP/").map(str::to_string)).collect()
}

/// One cached device state, as the shell read it: who published it, the
/// state, and how long ago.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cached {
    pub eid: Eid,
    pub state: i32,
    pub age_ms: u64,
}

/// What a peer says of a phone, for routing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    Present { age_ms: u64 },
    Absent,
    Unknown,
}

/// What a peer reported for each of the phone's named devices (None: no
/// entry), with `unlocatable` when some destination has no device to ask:
/// present if any device is in a present state (the newest such report
/// counts); else unknown if a device's state is UNKNOWN (chan_iax2 reports
/// a registered, idle IAX2 phone so, and lets the core decide) or a
/// destination cannot be located; else absent (UNAVAILABLE, INVALID, or
/// never reported: a node where a phone never registered since it started
/// has no entry for it).
pub fn report(devices: &[Option<Cached>], unlocatable: bool) -> Report {
    let newest = devices.iter().flatten().filter(|c| state::present(c.state)).map(|c| c.age_ms).min();
    match newest {
        Some(age_ms) => Report::Present { age_ms },
        None if unlocatable || devices.iter().flatten().any(|c| c.state == state::UNKNOWN) => Report::Unknown,
        None => Report::Absent,
    }
}

/// Why a peer's reports cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The peer publishes under this node's own EID.
    SameAsOurs { peer: String, eid: Eid },
    /// Two peers publish under the same EID.
    Shared { peers: (String, String), eid: Eid },
    /// The EID configured for the peer is not the one its beacon carries.
    Mismatch { peer: String, configured: Eid, seen: Eid },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::SameAsOurs { peer, eid } => write!(
                f,
                "{peer} publishes its device states under this node's own entity ID {eid}: give each node its own entityid in asterisk.conf; phones on {peer} are hunted until then"
            ),
            Problem::Shared { peers: (a, b), eid } => write!(
                f,
                "{a} and {b} publish their device states under the same entity ID {eid}: give each node its own entityid in asterisk.conf; phones on both are hunted until then"
            ),
            Problem::Mismatch { peer, configured, seen } => write!(
                f,
                "{peer} publishes under entity ID {seen}, but res_cluster.conf says entity_id = {configured}; phones on {peer} are hunted until they agree"
            ),
        }
    }
}

/// A peer, as far as locating goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sync {
    /// Its beacon is in, from this EID: its reports count.
    Synced(Eid),
    /// No beacon since it last came up (or it went down, or its module is
    /// not running): hunted.
    NotSynced,
    /// Its EID cannot be trusted (see the problems).
    Untrusted,
}

/// Each peer's sync state from the beacons in the cache, in the order of
/// `beacons`, and what is wrong.
///
/// `beacons`: per peer, its name, its configured EID and the cached entries
/// of its beacon device (normally one, from the peer itself; several when it
/// came back with another EID). `own`: this node's EID.
pub fn sync(own: Eid, beacons: &[(&str, Option<Eid>, Vec<Cached>)]) -> (Vec<Sync>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(beacons.len());
    for &(peer, configured, ref entries) in beacons {
        // The newest beacon that says the peer runs.
        let Some(beacon) = entries.iter().filter(|c| state::present(c.state)).min_by_key(|c| c.age_ms) else {
            out.push(Sync::NotSynced);
            continue;
        };
        if beacon.eid == own {
            problems.push(Problem::SameAsOurs { peer: peer.to_string(), eid: own });
            out.push(Sync::Untrusted);
            continue;
        }
        if let Some(configured) = configured.filter(|c| *c != beacon.eid) {
            problems.push(Problem::Mismatch { peer: peer.to_string(), configured, seen: beacon.eid });
            out.push(Sync::Untrusted);
            continue;
        }
        out.push(Sync::Synced(beacon.eid));
    }
    // Two synced peers under one EID: both refused, each pair named once,
    // in the order of the peers' names.
    let mut seen: Vec<(&str, usize, Eid)> = beacons
        .iter()
        .zip(&out)
        .enumerate()
        .filter_map(|(i, ((peer, _, _), s))| match s {
            Sync::Synced(eid) => Some((*peer, i, *eid)),
            _ => None,
        })
        .collect();
    seen.sort_unstable_by_key(|&(peer, _, _)| peer);
    for (n, &(a, i, eid)) in seen.iter().enumerate() {
        for &(b, j, other) in &seen[n + 1..] {
            if eid == other {
                problems.push(Problem::Shared { peers: (a.to_string(), b.to_string()), eid });
                out[i] = Sync::Untrusted;
                out[j] = Sync::Untrusted;
            }
        }
    }
    (out, problems)
}

/// Beacons that no peer section claims: published by a node (not this
/// one) whose name no section of res_cluster.conf carries, and from an
/// entity ID no section's entity_id names. Such a node's states are never
/// used (its phones are hunted); each is named with its EID and the fix.
pub fn unclaimed(own: Eid, peers: &[(String, Option<Eid>)], beacons: &[(String, Eid, i32)]) -> Vec<String> {
    let mut out = Vec::new();
    for (device, eid, st) in beacons {
        let Some(node) = device.strip_prefix("Cluster:") else { continue };
        if *eid == own || !state::present(*st) {
            continue;
        }
        let claimed = peers.iter().any(|(name, configured)| name == node || *configured == Some(*eid));
        if !claimed {
            let sections: Vec<String> = peers.iter().map(|(n, _)| format!("[{n}]")).collect();
            out.push(format!(
                "a node publishes the beacon {device} from entity ID {eid}, but no peer section is named {node} (sections: {}): its device states are not used, and calls for its phones are hunted; name that peer's section [{node}] (a peer section is named after the peer's node_name), or set entity_id = {eid} in it",
                if sections.is_empty() { "none".to_string() } else { sections.join(", ") }
            ));
        }
    }
    out
}

/// The peers to dial for a phone, from each one's report: the present ones,
/// newest report first, then the unknown ones in their order; how many
/// reported it absent.
pub fn route(reports: &[(usize, Report)]) -> Route {
    let mut present: Vec<(u64, usize)> = Vec::new();
    let mut unknown = Vec::new();
    let mut absent = 0;
    for &(i, r) in reports {
        match r {
            Report::Present { age_ms } => present.push((age_ms, i)),
            Report::Absent => absent += 1,
            Report::Unknown => unknown.push(i),
        }
    }
    // Stable: equal ages keep their order.
    present.sort_by_key(|&(age, _)| age);
    Route { located: present.into_iter().map(|(_, i)| i).collect(), hunted: unknown, absent }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Route {
    pub located: Vec<usize>,
    pub hunted: Vec<usize>,
    pub absent: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eid(n: u8) -> Eid {
        Eid::parse(&format!("02:00:00:00:00:{n:02x}")).unwrap()
    }

    fn cached(n: u8, st: i32, age_ms: u64) -> Cached {
        Cached { eid: eid(n), state: st, age_ms }
    }

    fn named_dev(n: &str) -> Device {
        Device::Named(n.to_string())
    }

    #[test]
    fn devices_follow_local_dial_as_the_channel_drivers_read_it() {
        let t = DialTemplate::parse("PJSIP/${EXTEN}&PJSIP/${EXTEN}-mobile@trunk&IAX2/${EXTEN}&PJSIP/${EXTEN}@example.com").unwrap();
        let mut endpoints = |name: &str| name == "101@example.com";
        let d = devices(&t, "101", &mut endpoints);
        assert_eq!(d[0], named_dev("PJSIP/101"));
        assert!(matches!(&d[1], Device::Unlocatable { destination, .. } if destination == "PJSIP/101-mobile@trunk"), "user 101-mobile at endpoint trunk: {d:?}");
        assert_eq!(d[2], named_dev("IAX2/101"));
        assert_eq!(d[3], named_dev("PJSIP/101@example.com"), "a multi-domain endpoint is its own device");
        assert_eq!(named(&d), vec!["PJSIP/101", "IAX2/101", "PJSIP/101@example.com"]);
        let t = DialTemplate::parse("PJSIP/trunk/sip:${EXTEN}@192.0.2.1&IAX2/${EXTEN}@peer&Local/${EXTEN}@phones").unwrap();
        assert!(devices(&t, "101", &mut |_| true).iter().all(|d| matches!(d, Device::Unlocatable { .. })), "a URI, an IAX2 user at a peer, a Local extension");
    }

    #[test]
    fn an_unknown_state_or_an_unlocatable_destination_is_hunted() {
        assert_eq!(report(&[Some(cached(2, state::UNKNOWN, 40))], false), Report::Unknown, "chan_iax2's registered, idle phone");
        assert_eq!(report(&[Some(cached(2, state::UNAVAILABLE, 40)), Some(cached(2, state::UNKNOWN, 9))], false), Report::Unknown);
        assert_eq!(report(&[Some(cached(2, state::UNAVAILABLE, 40))], true), Report::Unknown, "the other destination may have it");
        assert_eq!(report(&[], true), Report::Unknown);
        assert_eq!(report(&[Some(cached(2, state::UNKNOWN, 40)), Some(cached(2, state::INUSE, 90))], true), Report::Present { age_ms: 90 });
    }

    #[test]
    fn a_phone_in_any_registered_state_is_present() {
        for st in [state::NOT_INUSE, state::INUSE, state::BUSY, state::RINGING, state::RINGINUSE, state::ONHOLD] {
            assert_eq!(report(&[Some(cached(2, st, 40))], false), Report::Present { age_ms: 40 }, "{}", state::name(st));
        }
        for st in [state::UNAVAILABLE, state::INVALID] {
            assert_eq!(report(&[Some(cached(2, st, 40))], false), Report::Absent, "{}", state::name(st));
        }
        assert_eq!(report(&[None], false), Report::Absent, "no entry: never registered there");
        assert_eq!(
            report(&[Some(cached(2, state::UNAVAILABLE, 5)), Some(cached(2, state::INUSE, 900)), Some(cached(2, state::NOT_INUSE, 30))], false),
            Report::Present { age_ms: 30 }
        );
    }

    #[test]
    fn peers_are_synced_by_their_beacon() {
        let beacons = vec![
            ("node2", None, vec![cached(2, state::NOT_INUSE, 100)]),
            ("node3", None, vec![]),
            ("node4", None, vec![cached(4, state::UNAVAILABLE, 100)]),
            ("node5", Some(eid(5)), vec![cached(5, state::NOT_INUSE, 10), cached(9, state::NOT_INUSE, 99_000)]),
        ];
        let (sync, problems) = sync(eid(1), &beacons);
        assert_eq!(sync[0], Sync::Synced(eid(2)));
        assert_eq!(sync[1], Sync::NotSynced);
        assert_eq!(sync[2], Sync::NotSynced, "its module is not running there");
        assert_eq!(sync[3], Sync::Synced(eid(5)), "the newest beacon counts");
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn duplicate_and_mismatched_eids_are_refused_and_named() {
        // Listed out of name order: the shared pair is named in name order.
        let beacons = vec![
            ("node3", None, vec![cached(7, state::NOT_INUSE, 1)]),
            ("node4", None, vec![cached(1, state::NOT_INUSE, 1)]),
            ("node2", None, vec![cached(7, state::NOT_INUSE, 1)]),
            ("node5", Some(eid(5)), vec![cached(6, state::NOT_INUSE, 1)]),
            ("node6", None, vec![cached(8, state::NOT_INUSE, 1)]),
        ];
        let (sync, problems) = sync(eid(1), &beacons);
        for (i, peer) in ["node3", "node4", "node2", "node5"].iter().enumerate() {
            assert_eq!(sync[i], Sync::Untrusted, "{peer}");
        }
        assert_eq!(sync[4], Sync::Synced(eid(8)), "a peer with its own EID is not refused with them");
        assert_eq!(problems.len(), 3, "each problem once: {problems:?}");
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(text.iter().any(|t| t.starts_with("node2 and node3 publish their device states under the same entity ID 02:00:00:00:00:07")), "{text:?}");
        assert!(text.iter().any(|t| t.starts_with("node4 publishes its device states under this node's own entity ID")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("res_cluster.conf says entity_id = 02:00:00:00:00:05")), "{text:?}");
    }

    #[test]
    fn a_registered_endpoint_is_a_phone_when_local_dial_rings_it() {
        let t = DialTemplate::parse("PJSIP/${EXTEN}&PJSIP/${EXTEN}@example.com&IAX2/${EXTEN}").unwrap();
        assert!(dials_phone(&t, "101") && dials_phone(&t, "101@example.com"));
        let t = DialTemplate::parse("PJSIP/desk-${EXTEN}").unwrap();
        assert!(dials_phone(&t, "desk-101") && !dials_phone(&t, "101") && !dials_phone(&t, "desk-"));
        let t = DialTemplate::parse("PJSIP/trunk/sip:${EXTEN}@192.0.2.1").unwrap();
        assert!(!dials_phone(&t, "101"));
    }

    #[test]
    fn a_beacon_no_section_claims_is_named_with_its_fix() {
        let peers = vec![("cluster-node2".to_string(), None), ("node3".to_string(), Some(eid(9)))];
        let beacons = vec![
            ("Cluster:node2".to_string(), eid(2), state::NOT_INUSE),
            ("Cluster:node3".to_string(), eid(3), state::NOT_INUSE),
            ("Cluster:renamed".to_string(), eid(9), state::NOT_INUSE),
            ("Cluster:node1".to_string(), eid(1), state::NOT_INUSE),
            ("Cluster:gone".to_string(), eid(5), state::UNAVAILABLE),
        ];
        let found = unclaimed(eid(1), &peers, &beacons);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("a node publishes the beacon Cluster:node2 from entity ID 02:00:00:00:00:02, but no peer section is named node2 (sections: [cluster-node2], [node3])"), "{found:?}");
        assert!(found[0].ends_with("name that peer's section [node2] (a peer section is named after the peer's node_name), or set entity_id = 02:00:00:00:00:02 in it"));
    }

    #[test]
    fn routes_present_newest_first_then_unknown_and_counts_absent() {
        let r = route(&[
            (0, Report::Absent),
            (1, Report::Present { age_ms: 5_000 }),
            (2, Report::Unknown),
            (3, Report::Present { age_ms: 20 }),
            (4, Report::Absent),
        ]);
        assert_eq!(r, Route { located: vec![3, 1], hunted: vec![2], absent: 2 });
        assert_eq!(route(&[(0, Report::Absent), (1, Report::Absent)]), Route { located: vec![], hunted: vec![], absent: 2 });
    }
}

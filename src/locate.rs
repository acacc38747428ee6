//! Locating phones (res_cluster_core::locate) over Asterisk's device-state
//! cache: the peers' beacons and reports read out of it, this node's beacon
//! published into it, and what a peer reported forgotten when it goes down
//! or proves wrong.

use res_cluster_core::config::{ClusterConfig, Peer};
use res_cluster_core::eid::Eid;
use res_cluster_core::locate::{self, state, Cached, Device, Problem, Report, Sync};

use crate::ast::devstate;
use crate::ast_verb;

/// Publishes this node's beacon: present while res_cluster runs here.
pub fn beacon(node_name: &str, running: bool) {
    devstate::publish(&locate::beacon(node_name), if running { state::NOT_INUSE } else { state::UNAVAILABLE });
}

/// The cached entries of `peer`'s beacon.
fn beacon_entries(peer: &str) -> Vec<Cached> {
    devstate::entries(&locate::beacon(peer))
}

/// Each peer's sync state, in the order of the configuration's peers, and
/// what is wrong with the peers' entity IDs. A peer whose section sets
/// entity_id is also known by a beacon of another name from that entity ID
/// (its node_name differs from the section's name).
pub fn sync(config: &ClusterConfig) -> (Vec<Sync>, Vec<Problem>) {
    let own = devstate::own_eid();
    let mut all: Option<Vec<(String, Eid, i32)>> = None;
    let beacons: Vec<(&str, Option<Eid>, Vec<Cached>)> = config
        .peers
        .iter()
        .map(|p| {
            let mut entries = beacon_entries(&p.name);
            if let Some(eid) = p.entity_id.filter(|e| !entries.iter().any(|c| c.eid == *e)) {
                let others = all.get_or_insert_with(devstate::beacons);
                entries.extend(others.iter().filter(|(_, e, _)| *e == eid).map(|(_, _, st)| Cached { eid, state: *st, age_ms: 0 }));
            }
            (p.name.as_str(), p.entity_id, entries)
        })
        .collect();
    locate::sync(own, &beacons)
}

/// Beacons no peer section claims, each said with its fix.
pub fn unclaimed(config: &ClusterConfig) -> Vec<String> {
    let own = devstate::own_eid();
    let peers: Vec<(String, Option<Eid>)> = config.peers.iter().map(|p| (p.name.clone(), p.entity_id)).collect();
    locate::unclaimed(own, &peers, &devstate::beacons())
}

/// What the node with `eid` reports of the phone's `devices`.
pub fn report(eid: Eid, devices: &[Device]) -> Report {
    view(eid, devices).0
}

/// What the node with `eid` reports of the phone's `devices`, for routing,
/// and the state that decides it (the newest present one, else an UNKNOWN
/// one, else the first it reports at all) with its age, for `cluster show
/// locations`.
pub fn view(eid: Eid, devices: &[Device]) -> (Report, Option<(i32, u64)>) {
    let mut unlocatable = false;
    let mut states: Vec<Option<Cached>> = Vec::with_capacity(devices.len());
    for d in devices {
        match d {
            Device::Named(name) => states.push(devstate::state_of(name, eid).map(|(st, age_ms)| Cached { eid, state: st, age_ms })),
            Device::Unlocatable { .. } => unlocatable = true,
        }
    }
    // The state that decides: the newest present one, else an UNKNOWN one,
    // else the first.
    let seen = states
        .iter()
        .flatten()
        .filter(|c| state::present(c.state))
        .min_by_key(|c| c.age_ms)
        .or_else(|| states.iter().flatten().find(|c| c.state == state::UNKNOWN))
        .or_else(|| states.iter().flatten().next());
    (locate::report(&states, unlocatable), seen.map(|c| (c.state, c.age_ms)))
}

/// The entity IDs a peer's beacon was published under (normally one).
fn eids_of(peer: &str) -> Vec<Eid> {
    let own = devstate::own_eid();
    let mut eids: Vec<Eid> = beacon_entries(peer).into_iter().map(|e| e.eid).filter(|e| *e != own).collect();
    eids.dedup();
    eids
}

/// The peer went down: what it reported is forgotten, beacon included, so
/// that it is hunted until it has sent its states again.
pub fn forget_peer(peer: &Peer) {
    let forgotten: usize = eids_of(&peer.name).iter().map(|eid| devstate::forget(*eid, None)).sum();
    if forgotten > 0 {
        ast_verb!(3, "res_cluster: forgot the {forgotten} device state(s) {} reported", peer.name);
    }
}

/// The peer reported a phone that it then did not have: that report is
/// forgotten and the peer asked for all of its states again.
pub fn forget_report(peer: &Peer, devices: &[String]) {
    for eid in eids_of(&peer.name) {
        for device in devices {
            devstate::forget(eid, Some(device));
        }
    }
    ast_verb!(3, "res_cluster: {} reported {} but did not have it; its report is forgotten", peer.name, devices.join("&"));
    refresh(peer);
}

/// Asks the peer for all of its device states (after it came back).
pub fn refresh(peer: &Peer) {
    if !devstate::ask_refresh(&peer.outbound_publish) {
        ast_verb!(3, "res_cluster: cannot ask {} for its device states: no outbound-publish {} (or res_pjsip_outbound_publish)", peer.name, peer.outbound_publish);
    }
}

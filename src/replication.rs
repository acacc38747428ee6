//! Registrations shared between nodes (res_cluster_core::replica), carried
//! out: this node's contacts published to each peer as the registrar
//! changes them and in full snapshots (at load, when a peer comes up or
//! asks, and every few minutes), the peers' kept in the runtime's store.

use std::time::Duration;

use res_cluster_core::channel_name::Technology;
use res_cluster_core::config::{ClusterConfig, Peer};
use res_cluster_core::health::PeerState;
use res_cluster_core::json::Value;
use res_cluster_core::replica::{self, Contact, Message};

use crate::ast::contacts::{self, Change, Handlers};
use crate::ast::sorcery::Object;
use crate::ast::config::system_name;
use crate::runtime::{now, Runtime};
use crate::{ast_log, ast_verb};

/// How often every peer is sent a full snapshot, whatever else happened
/// (a publication lost on the way is put right by the next).
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(120);

pub fn handlers() -> Handlers {
    Handlers { changed, accept, received, refused, started, max_body: replica::MAX_BODY as u32 }
}

/// A contact res_pjsip's registrar made on this node, in the core's terms;
/// None for a contact configured in an AOR (it has no Call-ID) or one
/// another node registered (shared storage: its reg_server is not ours).
pub fn contact_of(o: &Object) -> Option<Contact> {
    o.get("call_id")?;
    if let Some(server) = o.get("reg_server") {
        if server != system_name() {
            return None;
        }
    }
    let aor = o.id.split(";@").next().unwrap_or(&o.id).to_string();
    Some(Contact {
        id: o.id.clone(),
        aor,
        endpoint: o.get("endpoint").unwrap_or_default().to_string(),
        uri: o.get("uri")?.to_string(),
        expires: o.get("expiration_time").and_then(|e| e.parse().ok()).unwrap_or(0),
        via_addr: o.get("via_addr").unwrap_or_default().to_string(),
        via_port: o.get("via_port").and_then(|p| p.parse().ok()).unwrap_or(0),
        path: o.get("path").unwrap_or_default().to_string(),
        user_agent: o.get("user_agent").unwrap_or_default().to_string(),
        registered: 0,
    })
}

/// This node's own registrations now, with when each was registered (0:
/// before this module was loaded).
pub fn own_contacts(runtime: &Runtime) -> Vec<Contact> {
    let mut own: Vec<Contact> = contacts::all().iter().filter_map(contact_of).filter(|c| !c.endpoint.is_empty()).collect();
    let registered = runtime.registered();
    for c in &mut own {
        c.registered = registered.get(&c.id).copied().unwrap_or(0);
    }
    own
}

fn send(config: &ClusterConfig, peer: &Peer, m: &Message) -> bool {
    contacts::publish(&peer.contacts_publish, &replica::encode(&config.node_name, m))
}

fn pjsip_peers(config: &ClusterConfig) -> impl Iterator<Item = &Peer> {
    config.peers.iter().filter(|p| p.technology == Technology::Pjsip)
}

/// Whether `peer` is known up. Registrations go only to such peers: a
/// PUBLISH to a node that is not running waits 32 s for its timeout, and
/// every later one to that peer waits behind it. A peer gets a full
/// snapshot when it comes up.
fn up(runtime: &Runtime, peer: &Peer) -> bool {
    runtime.health().get(&peer.name).is_some_and(|h| h.state == PeerState::Up)
}

/// The PJSIP peers known up.
fn up_peers<'a>(runtime: &Runtime, config: &'a ClusterConfig) -> Vec<&'a Peer> {
    pjsip_peers(config).filter(|p| up(runtime, p)).collect()
}

/// Sends `peer` everything registered here, in parts.
pub fn send_snapshot(runtime: &Runtime, config: &ClusterConfig, peer: &Peer) {
    let own = own_contacts(runtime);
    let parts = replica::snapshot(runtime.next_generation(), &own);
    if parts.iter().all(|m| send(config, peer, m)) {
        ast_verb!(4, "res_cluster: sent {} registration(s) to {} ({} part(s))", own.len(), peer.name, parts.len());
    } else {
        runtime.warn_once(&format!(
            "res_cluster: replicate_contacts: cannot send this node's registrations to peer {}: no outbound-publish {} (event {}) in pjsip.conf",
            peer.name,
            peer.contacts_publish,
            replica::EVENT
        ));
    }
}

/// Asks `peer` for everything registered there.
pub fn ask_snapshot(config: &ClusterConfig, peer: &Peer) {
    send(config, peer, &Message::Refresh);
}

/// When a peer comes up (and at load and reload, for the peers known up):
/// snapshots both ways.
pub fn exchange(runtime: &Runtime, config: &ClusterConfig, peer: &Peer) {
    if config.replicate_contacts && peer.technology == Technology::Pjsip && up(runtime, peer) {
        send_snapshot(runtime, config, peer);
        ask_snapshot(config, peer);
    }
}

/// Every peer, both ways (at load and reload).
pub fn exchange_all(runtime: &Runtime) {
    let config = runtime.config();
    for peer in pjsip_peers(&config) {
        exchange(runtime, &config, peer);
    }
}

/// From the housekeeping: expired copies go; every SNAPSHOT_EVERY each
/// peer gets a full snapshot.
pub fn housekeeping(runtime: &Runtime) {
    let config = runtime.config();
    if !config.replicate_contacts {
        return;
    }
    runtime.replicas().expire(now().wall_s);
    if runtime.snapshot_due(SNAPSHOT_EVERY) {
        for peer in up_peers(runtime, &config) {
            send_snapshot(runtime, &config, peer);
        }
    }
}

fn changed(change: Change, o: Object) {
    let Some(runtime) = Runtime::current() else { return };
    let config = runtime.config();
    if !config.replicate_contacts {
        return;
    }
    let Some(mut contact) = contact_of(&o) else { return };
    let m = match change {
        Change::Created | Change::Updated => {
            contact.registered = now().wall_s;
            runtime.registered().insert(contact.id.clone(), contact.registered);
            // The phone registered here: the peers' copies of it at other
            // addresses are stale.
            runtime.replicas().registered_here(&contact);
            Message::Set(contact)
        }
        Change::Deleted => {
            runtime.registered().remove(&contact.id);
            Message::Remove { id: contact.id, aor: contact.aor }
        }
    };
    for peer in up_peers(&runtime, &config) {
        send(&config, peer, &m);
    }
}

/// The peer whose calls (and publications) arrive on `endpoint`.
fn peer_on(config: &ClusterConfig, endpoint: &str) -> Option<Peer> {
    pjsip_peers(config).find(|p| p.endpoint == endpoint).cloned()
}

fn accept(endpoint: &str) -> bool {
    let Some(runtime) = Runtime::current() else { return false };
    let config = runtime.config();
    if config.replicate_contacts && peer_on(&config, endpoint).is_some() {
        return true;
    }
    ast_log!(
        Warning,
        "res_cluster: refused a publication of {} from endpoint {endpoint}: {}",
        replica::EVENT,
        if config.replicate_contacts { "not a configured peer's endpoint" } else { "replicate_contacts is off here" }
    );
    false
}

fn received(endpoint: &str, body: Value) -> Result<(), String> {
    let runtime = Runtime::current().ok_or("res_cluster has no configuration in force")?;
    let config = runtime.config();
    let peer = peer_on(&config, endpoint).ok_or("not a configured peer's endpoint")?;
    let m = replica::decode(&body)?;
    if m == Message::Refresh {
        send_snapshot(&runtime, &config, &peer);
        return Ok(());
    }
    let changed = runtime.replicas().apply(&peer.name, m, now().wall_s);
    ast_verb!(4, "res_cluster: {} registration(s) of {} changed", changed, peer.name);
    Ok(())
}

fn refused(endpoint: &str, why: &str) {
    ast_log!(Warning, "res_cluster: refused a publication of {} from endpoint {endpoint}: {why}; nothing in it was taken", replica::EVENT);
}

fn started(outbound_publish: &str) {
    let Some(runtime) = Runtime::current() else { return };
    let config = runtime.config();
    let peer = pjsip_peers(&config).find(|p| p.contacts_publish == outbound_publish).cloned();
    if let Some(peer) = peer {
        exchange(&runtime, &config, &peer);
    }
}

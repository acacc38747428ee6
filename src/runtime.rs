//! What a loaded res_cluster holds between calls: the configuration in force,
//! peer health and the counters. Calls take a reference when they start, so a
//! reload changes new calls only.

use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use once_cell::sync::Lazy;
use res_cluster_core::config::ClusterConfig;
use res_cluster_core::peer_leg::{self, HeaderSupport};
use res_cluster_core::health::{HealthTable, Now, Qualify, StateChange};
use res_cluster_core::stats::Counters;

use crate::ast::{manager, pbx};
use crate::ast_verb;

pub struct Runtime {
    config: RwLock<Arc<ClusterConfig>>,
    health: Mutex<HealthTable>,
    counters: Mutex<Counters>,
    /// How peer legs were last marked, to log each change once.
    marking: Mutex<Option<&'static str>>,
}

static CURRENT: Lazy<RwLock<Option<Arc<Runtime>>>> = Lazy::new(|| RwLock::new(None));
static EPOCH: Lazy<Instant> = Lazy::new(Instant::now);

/// Both clocks, read once.
pub fn now() -> Now {
    let wall_s = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    Now { mono_ms: EPOCH.elapsed().as_millis() as u64, wall_s }
}

/// Locks even a mutex a panicking call left poisoned: every value behind
/// these locks is consistent between statements.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Runtime {
    pub fn start(config: ClusterConfig) {
        let mut health = HealthTable::default();
        health.sync_peers(config.peers.iter().map(|p| p.name.as_str()), now());
        let runtime = Arc::new(Runtime {
            config: RwLock::new(Arc::new(config)),
            health: Mutex::new(health),
            counters: Mutex::new(Counters::default()),
            marking: Mutex::new(None),
        });
        *CURRENT.write().unwrap_or_else(|p| p.into_inner()) = Some(runtime);
    }

    pub fn stop() {
        CURRENT.write().unwrap_or_else(|p| p.into_inner()).take();
    }

    pub fn current() -> Option<Arc<Runtime>> {
        CURRENT.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn config(&self) -> Arc<ClusterConfig> {
        Arc::clone(&self.config.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Puts a new configuration in force for calls that start from now on.
    pub fn replace_config(&self, config: ClusterConfig) {
        lock(&self.health).sync_peers(config.peers.iter().map(|p| p.name.as_str()), now());
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
    }

    pub fn health(&self) -> MutexGuard<'_, HealthTable> {
        lock(&self.health)
    }

    pub fn counters(&self) -> MutexGuard<'_, Counters> {
        lock(&self.counters)
    }

    /// What this Asterisk offers for SIP headers on new legs, asked now;
    /// logs which way peer legs are marked whenever that changes (at load,
    /// at reload, and when res_pjsip_header_funcs comes or goes).
    pub fn header_support(&self) -> HeaderSupport {
        let support = HeaderSupport::of(pbx::function_exists(INHERITABLE_HEADER), pbx::function_exists(LEG_HEADER));
        let way = peer_leg::describe(self.config().peer_leg_marking, support);
        let mut last = lock(&self.marking);
        if *last != Some(way) {
            *last = Some(way);
            ast_verb!(2, "res_cluster: peer legs are marked by {way}");
        }
        support
    }

    /// Which way peer legs are marked now, for `cluster show status`.
    pub fn marking(&self) -> &'static str {
        peer_leg::describe(self.config().peer_leg_marking, self.header_support())
    }

    /// Takes in a qualify result for a peer, announcing any change.
    pub fn note_qualify(&self, peer: &str, qualify: Qualify) {
        let change = self.health().note_qualify(peer, qualify, now());
        if let Some(c) = change {
            announce(&c);
        }
    }
}

/// The dialplan function that lets new PJSIP legs inherit a header.
pub const INHERITABLE_HEADER: &str = "PJSIP_INHERITABLE_HEADER";
/// The dialplan function that puts a header on one PJSIP channel.
pub const LEG_HEADER: &str = "PJSIP_HEADER";

/// Qualify subscriber: a peer's contact changed status.
pub fn on_contact_status(endpoint: &str, status: &str) {
    let Some(runtime) = Runtime::current() else { return };
    let config = runtime.config();
    for peer in config.peers.iter().filter(|p| p.qualify_endpoint() == endpoint) {
        runtime.note_qualify(&peer.name, Qualify::from_contact_status(status));
    }
}

/// Tells the administrator (log and AMI) that a peer changed state.
pub fn announce(change: &StateChange) {
    ast_verb!(2, "res_cluster: peer {} is {} ({}), was {}", change.peer, change.to, change.reason, change.from);
    manager::event(
        "ClusterPeerStatus",
        &[
            ("Peer", &change.peer),
            ("PeerStatus", change.to.as_str()),
            ("Previous", change.from.as_str()),
            ("Cause", &change.reason),
        ],
    );
}

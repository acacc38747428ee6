//! What a loaded res_cluster holds between calls: the configuration in force,
//! peer health and the counters. Calls take a reference when they start, so a
//! reload changes new calls only.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use once_cell::sync::Lazy;
use res_cluster_core::channel_name::Technology;
use res_cluster_core::config::{ClusterConfig, Locate};
use res_cluster_core::locate::Sync;
use res_cluster_core::peer_leg::{self, HeaderSupport};
use res_cluster_core::health::{HealthTable, Now, PeerState, Reachability, StateChange};
use res_cluster_core::replica::Store;
use res_cluster_core::setup::Finding;
use res_cluster_core::stats::Counters;

use crate::ast::regex::Regex;
use crate::ast::{endpoints, guard, manager, pbx, sorcery};
use crate::{locate, replication, setup};
use crate::{ast_log, ast_verb};

pub struct Runtime {
    config: RwLock<Arc<ClusterConfig>>,
    health: Mutex<HealthTable>,
    counters: Mutex<Counters>,
    /// How peer legs were last marked, to log each change once.
    marking: Mutex<Option<String>>,
    /// What `marking` was last worked out from: the header support, the
    /// pre-dial handler, and the configuration in force.
    marking_seen: Mutex<Option<(HeaderSupport, bool, u64)>>,
    /// Counts the configurations put in force.
    config_generation: AtomicU64,
    /// PJSIP endpoints with a probe on its way.
    probing: Mutex<HashSet<String>>,
    /// Problems with the peers' entity IDs, as last logged.
    locate_problems: Mutex<BTreeSet<String>>,
    /// This node's transports (id, protocol, bind), as read at load and
    /// reload (and again when a call's address matches none).
    transports: RwLock<Vec<(String, String, String)>>,
    /// What the set-up check found at the last load or reload.
    findings: Mutex<Vec<Finding>>,
    /// Each PJSIP peer's identify networks, read at load and reload.
    peer_addresses: RwLock<Vec<(String, Vec<String>)>>,
    /// Devices already checked against each outbound-publish's filter:
    /// (device, outbound-publish, filter).
    filters_checked: Mutex<HashSet<(String, String, String)>>,
    /// When each peer not synced was last asked for its states.
    refreshed: Mutex<BTreeMap<String, Instant>>,
    /// When a phone's call is next checked for a peer's source address.
    next_identify_check: Mutex<Option<Instant>>,
    /// Warnings said once each (they name the administrator's own
    /// settings or peers: a few distinct texts).
    said: Mutex<BTreeSet<String>>,
    /// With replicate_contacts: the peers' registrations.
    replicas: Mutex<Store>,
    /// Numbers this node's snapshots (from the clock at start: a restarted
    /// node's parts are never taken for an old snapshot's).
    generation: AtomicU64,
    /// When every peer was last sent a snapshot.
    last_snapshot: Mutex<Instant>,
    /// When this node's registrar last took a REGISTER for each of its
    /// contacts (by id), as the contact observer saw it.
    registered: Mutex<HashMap<String, u64>>,
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
            marking_seen: Mutex::new(None),
            config_generation: AtomicU64::new(0),
            probing: Mutex::new(HashSet::new()),
            locate_problems: Mutex::new(BTreeSet::new()),
            transports: RwLock::new(Vec::new()),
            findings: Mutex::new(Vec::new()),
            peer_addresses: RwLock::new(Vec::new()),
            filters_checked: Mutex::new(HashSet::new()),
            refreshed: Mutex::new(BTreeMap::new()),
            next_identify_check: Mutex::new(None),
            said: Mutex::new(BTreeSet::new()),
            replicas: Mutex::new(Store::default()),
            generation: AtomicU64::new(now().wall_s.saturating_mul(1000)),
            last_snapshot: Mutex::new(Instant::now()),
            registered: Mutex::new(HashMap::new()),
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
        let peers: Vec<&str> = if config.replicate_contacts { config.peers.iter().map(|p| p.name.as_str()).collect() } else { Vec::new() };
        self.replicas().retain_owners(&peers);
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
        self.config_generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Logs `text` as a WARNING the first time it comes up.
    pub fn warn_once(&self, text: &str) {
        if lock(&self.said).insert(text.to_string()) {
            ast_log!(Warning, "{text}");
        }
    }

    /// Reads this node's transports, and the peers' identify networks,
    /// again (load, reload).
    pub fn read_transports(&self) {
        *self.transports.write().unwrap_or_else(|p| p.into_inner()) = setup::transports();
        let config = self.config();
        let addresses = config
            .peers
            .iter()
            .filter(|p| p.technology == Technology::Pjsip)
            .map(|p| (p.name.clone(), setup::identify(&p.endpoint)))
            .collect();
        *self.peer_addresses.write().unwrap_or_else(|p| p.into_inner()) = addresses;
    }

    /// Whether a call's source address is to be checked against the peers'
    /// now: always for a call marked by the hop header, else once every
    /// IDENTIFY_CHECK_EVERY (the first phone call after load included).
    pub fn identify_check_due(&self, marked: bool) -> bool {
        let mut next = lock(&self.next_identify_check);
        let now = Instant::now();
        if marked || next.map_or(true, |at| now >= at) {
            *next = Some(now + IDENTIFY_CHECK_EVERY);
            return !self.peer_addresses.read().unwrap_or_else(|p| p.into_inner()).is_empty();
        }
        false
    }

    /// The PJSIP peer whose identify matches `ip`.
    pub fn peer_at(&self, ip: std::net::IpAddr) -> Option<String> {
        res_cluster_core::setup::peer_at(ip, &self.peer_addresses.read().unwrap_or_else(|p| p.into_inner())).map(str::to_string)
    }

    /// Whether local address `local` is one of this node's TLS transports';
    /// read again once when it matches none (a transport added by a
    /// res_pjsip reload).
    pub fn on_tls(&self, local: &str) -> bool {
        let known = res_cluster_core::setup::on_tls(local, &self.transports.read().unwrap_or_else(|p| p.into_inner()));
        if known {
            return true;
        }
        self.read_transports();
        res_cluster_core::setup::on_tls(local, &self.transports.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Keeps the set-up check's warnings for `cluster show status`, and
    /// logs them.
    pub fn keep_findings(&self, findings: Vec<Finding>) {
        for f in &findings {
            ast_log!(Warning, "res_cluster: {f}");
        }
        *lock(&self.findings) = findings;
    }

    /// The set-up check's findings at the last load or reload.
    pub fn findings(&self) -> Vec<Finding> {
        lock(&self.findings).clone()
    }

    /// The peers' registrations this node keeps.
    pub fn replicas(&self) -> MutexGuard<'_, Store> {
        lock(&self.replicas)
    }

    /// When this node's registrar last took a REGISTER for its contacts.
    pub fn registered(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        lock(&self.registered)
    }

    /// A number for the next snapshot this node sends.
    pub fn next_generation(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Whether `every` has passed since the last round of snapshots (and
    /// this call starts the next).
    pub fn snapshot_due(&self, every: Duration) -> bool {
        let mut last = lock(&self.last_snapshot);
        if last.elapsed() < every {
            return false;
        }
        *last = Instant::now();
        true
    }

    pub fn health(&self) -> MutexGuard<'_, HealthTable> {
        lock(&self.health)
    }

    pub fn counters(&self) -> MutexGuard<'_, Counters> {
        lock(&self.counters)
    }

    /// What this Asterisk offers for SIP headers on new legs, and whether
    /// Dial's pre-dial handler can run (app_stack's Gosub), asked now; logs
    /// which way peer legs are marked whenever that changes (at load, at
    /// reload, and when res_pjsip_header_funcs comes or goes): a NOTICE, or
    /// a WARNING when the marking leaves the hop header or the prefix out.
    pub fn header_support(&self) -> (HeaderSupport, bool) {
        let support = HeaderSupport::of(pbx::function_exists(INHERITABLE_HEADER), pbx::function_exists(LEG_HEADER));
        let pre_dial = pbx::app_exists(GOSUB);
        let config = self.config();
        // What is logged depends on these three only: the sentence is
        // built (and compared) only when one of them changed, not per call.
        let key = (support, pre_dial, self.config_generation.load(Ordering::Relaxed));
        let mut seen = lock(&self.marking_seen);
        if *seen == Some(key) {
            return (support, pre_dial);
        }
        *seen = Some(key);
        drop(seen);
        let way = self.describe_marking(&config, support, pre_dial);
        let mut last = lock(&self.marking);
        if last.as_deref() != Some(way.as_str()) {
            if peer_leg::degraded(support, pre_dial) {
                ast_log!(Warning, "res_cluster: peer legs are marked by {way}");
            } else {
                ast_log!(Notice, "res_cluster: peer legs are marked by {way}");
            }
            *last = Some(way);
        }
        (support, pre_dial)
    }

    fn describe_marking(&self, config: &ClusterConfig, support: HeaderSupport, pre_dial: bool) -> String {
        let way = peer_leg::describe(config.peer_leg_marking, support, pre_dial);
        if !pre_dial && config.peers.iter().any(|p| p.technology == Technology::Iax2) {
            format!("{way}; IAX2 peers: nothing either")
        } else if config.peers.iter().any(|p| p.technology == Technology::Iax2) {
            format!("{way}; {}", peer_leg::IAX2_MARKING)
        } else {
            way.to_string()
        }
    }

    /// Which way peer legs are marked now, for `cluster show status`.
    pub fn marking(&self) -> String {
        let (support, pre_dial) = self.header_support();
        self.describe_marking(&self.config(), support, pre_dial)
    }

    /// Applies a health change and announces it, if there is one. With
    /// locating, a peer that goes down has what it reported forgotten, and
    /// one that comes up is asked for all of its device states.
    pub fn apply(&self, change: impl FnOnce(&mut HealthTable) -> Option<StateChange>) {
        let change = change(&mut self.health());
        let Some(c) = change else { return };
        self.counters().note_state_change(&c.peer);
        announce(&c);
        let config = self.config();
        let Some(peer) = config.peers.iter().find(|p| p.name == c.peer) else { return };
        if c.to == PeerState::Up {
            // Registrations both ways: what changed while it was away.
            replication::exchange(self, &config, peer);
        }
        if config.locate == Locate::DevState {
            match c.to {
                PeerState::Down => locate::forget_peer(peer),
                PeerState::Up => locate::refresh(peer),
                PeerState::Unknown => {}
            }
        }
    }

    /// The peers' sync states for locating; problems with their entity IDs
    /// are logged as errors, each once while it lasts.
    pub fn locate_sync(&self, config: &ClusterConfig) -> Vec<Sync> {
        let (sync, problems) = locate::sync(config);
        let now: BTreeSet<String> = problems.iter().map(ToString::to_string).collect();
        let mut known = lock(&self.locate_problems);
        for p in now.difference(&known) {
            ast_log!(Error, "res_cluster: {p}");
        }
        *known = now;
        sync
    }

    /// What is checked every few seconds rather than at load, as it comes
    /// and goes: with locating, the peers' entity IDs, beacons no section
    /// claims, peers up but not synced (asked for their states again), and
    /// this node's registered phones against the filters of its
    /// outbound-publishes. Each problem is logged once.
    pub fn housekeeping(&self) {
        replication::housekeeping(self);
        let config = self.config();
        if config.locate != Locate::DevState {
            return;
        }
        let sync = self.locate_sync(&config);
        for text in locate::unclaimed(&config) {
            self.warn_once(&format!("res_cluster: {text}"));
        }
        for (peer, sync) in config.peers.iter().zip(&sync) {
            let up = self.health().get(&peer.name).is_some_and(|h| h.state == PeerState::Up);
            if !up || matches!(sync, Sync::Synced(_)) {
                continue;
            }
            let mut refreshed = lock(&self.refreshed);
            let due = refreshed.get(&peer.name).map_or(true, |at| at.elapsed() >= REFRESH_EVERY);
            if due {
                refreshed.insert(peer.name.clone(), Instant::now());
                drop(refreshed);
                ast_verb!(3, "res_cluster: peer {} is up but has sent no beacon; asking it for its device states", peer.name);
                locate::refresh(peer);
            }
        }
        self.check_filters(&config);
    }

    /// This node's registered phones (the PJSIP endpoints local_dial rings
    /// that have a registered contact) must pass the `@device_state_filter`
    /// of every outbound-publish to a peer, or the peers take them for
    /// absent.
    fn check_filters(&self, config: &ClusterConfig) {
        let mut phones: Vec<String> = sorcery::objects("contact", None)
            .iter()
            .filter(|c| c.get("call_id").is_some())
            .filter_map(|c| c.get("endpoint").map(str::to_string))
            .filter(|e| res_cluster_core::locate::dials_phone(&config.local_dial, e))
            .collect();
        phones.sort();
        phones.dedup();
        for peer in &config.peers {
            let Some(filter) = sorcery::extended("outbound-publish", &peer.outbound_publish, "device_state_filter") else { continue };
            for phone in &phones {
                let device = format!("PJSIP/{phone}");
                let key = (device.clone(), peer.outbound_publish.clone(), filter.clone());
                if !lock(&self.filters_checked).insert(key) {
                    continue;
                }
                match Regex::new(&filter) {
                    None => self.warn_once(&format!(
                        "res_cluster: outbound-publish {}'s @device_state_filter {filter} is not a regular expression Asterisk can compile: it publishes nothing to {}",
                        peer.outbound_publish, peer.name
                    )),
                    Some(re) if !re.is_match(&device) => self.warn_once(&format!(
                        "res_cluster: phone {device}, registered here, does not pass outbound-publish {}'s @device_state_filter {filter}: {} takes it for absent, and its calls to it end with no INVITE (CHANUNAVAIL); widen the filter",
                        peer.outbound_publish, peer.name
                    )),
                    Some(_) => {}
                }
            }
        }
    }

    /// Reads each peer's endpoint state as it is now: Asterisk publishes
    /// changes only, so at load and reload the present one is asked for.
    pub fn seed_endpoint_states(&self) {
        let config = self.config();
        for peer in &config.peers {
            let (tech, resource) = peer.watched_endpoint();
            if let Some(state) = endpoints::state(tech, resource) {
                self.apply(|h| h.seed_endpoint(&peer.name, Reachability::from_endpoint_state(state), now()));
            }
        }
    }
}

/// Endpoint-state subscriber: an endpoint changed state, or res_pjsip
/// reported on one of its contacts (qualify's verdicts, a contact added or
/// removed), with the endpoint's state as it was then.
pub fn on_endpoint_state(tech: &str, resource: &str, state: i32, change: endpoints::Change) {
    let Some(runtime) = Runtime::current() else { return };
    let config = runtime.config();
    let reachability = Reachability::from_endpoint_state(state);
    for peer in config.peers.iter().filter(|p| p.watched_endpoint() == (tech, resource)) {
        runtime.apply(|h| match change {
            endpoints::Change::Endpoint => h.note_endpoint(&peer.name, reachability, now()),
            endpoints::Change::Contact => h.note_contact_change(&peer.name, reachability, now()),
        });
    }
}

/// Probes the peers that went silent, about once a second, until dropped.
pub struct Prober {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

const PROBE_EVERY: Duration = Duration::from_secs(1);

impl Prober {
    pub fn start() -> Result<Prober, String> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("res_cluster probe".into())
            .spawn(move || loop {
                let (stopping, wake) = &*flag;
                let stopped = wake.wait_timeout_while(lock(stopping), PROBE_EVERY, |stop| !*stop).map(|(g, _)| *g).unwrap_or(true);
                if stopped {
                    return;
                }
                guard::entry("res_cluster probe", (), probe_round);
            })
            .map_err(|e| format!("could not start the probe thread: {e}"))?;
        Ok(Prober { stop, thread: Some(thread) })
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        *lock(&self.stop.0) = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How often, at most, a phone's call has its source address compared with
/// the peers' (a peer misidentified sends many calls).
const IDENTIFY_CHECK_EVERY: Duration = Duration::from_secs(10);

/// How often a peer that is up but not synced is asked for its states.
const REFRESH_EVERY: Duration = Duration::from_secs(30);

/// Rounds of the probe thread between two housekeeping runs.
const HOUSEKEEPING_EVERY: u32 = 5;

/// One round: an OPTIONS to each PJSIP peer down by silence, unless one is
/// still on its way; every few rounds, the housekeeping.
fn probe_round() {
    let Some(runtime) = Runtime::current() else { return };
    static ROUND: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    if ROUND.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % HOUSEKEEPING_EVERY == 0 {
        runtime.housekeeping();
    }
    let config = runtime.config();
    let candidates = runtime.health().probe_candidates();
    let timeout_ms = config.peer_timeout.millis().min(PROBE_EVERY.as_millis() as u64) as u32;
    for peer in config.peers.iter().filter(|p| candidates.contains(&p.name)) {
        let (tech, endpoint) = peer.watched_endpoint();
        if tech != "PJSIP" || !lock(&runtime.probing).insert(endpoint.to_string()) {
            continue;
        }
        ast_verb!(4, "res_cluster: probing peer {} (SIP OPTIONS to {endpoint})", peer.name);
        if !endpoints::probe(endpoint, timeout_ms, on_probe) {
            lock(&runtime.probing).remove(endpoint);
        }
    }
}

/// A probe's result, on a PJSIP thread.
fn on_probe(endpoint: &str, answered: bool) {
    let Some(runtime) = Runtime::current() else { return };
    lock(&runtime.probing).remove(endpoint);
    let config = runtime.config();
    for peer in config.peers.iter().filter(|p| p.watched_endpoint() == ("PJSIP", endpoint)) {
        runtime.apply(|h| h.note_probe(&peer.name, answered, now()));
    }
}

/// The application Dial's pre-dial handler runs through (app_stack).
pub const GOSUB: &str = "Gosub";

/// The dialplan function that lets new PJSIP legs inherit a header.
pub const INHERITABLE_HEADER: &str = "PJSIP_INHERITABLE_HEADER";
/// The dialplan function that puts a header on one PJSIP channel.
pub const LEG_HEADER: &str = "PJSIP_HEADER";

/// What the AMI actions answer.
pub fn ami(which: manager::Action) -> Option<String> {
    let runtime = Runtime::current()?;
    let config = runtime.config();
    Some(match which {
        manager::Action::Status => {
            let counters = runtime.counters().clone();
            res_cluster_core::report::ami_status(&config, &counters, &runtime.marking())
        }
        manager::Action::Peers => {
            let health = runtime.health().clone();
            res_cluster_core::report::ami_peers(&config, &health).join("\x1e")
        }
    })
}

/// The metrics res_prometheus serves, at each scrape.
pub fn metrics() -> String {
    let Some(runtime) = Runtime::current() else { return String::new() };
    let config = runtime.config();
    let counters = runtime.counters().clone();
    let health = runtime.health().clone();
    res_cluster_core::metrics::exposition(&crate::ast::devstate::own_eid().to_string(), &config, &counters, &health)
}

/// Tells the administrator (log and AMI) that a peer changed state.
pub fn announce(change: &StateChange) {
    // A NOTICE: what Debian's default messages.log keeps.
    ast_log!(Notice, "res_cluster: peer {} is {} ({}), was {}", change.peer, change.to, change.reason, change.from);
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

//! The ClusterDial application: reads the call's facts, follows the core's
//! plan, and carries each step out through Asterisk's own Dial.

use std::collections::HashSet;
use std::os::raw::{c_char, c_int};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use res_cluster_core::channel_name::{self, Technology};
use res_cluster_core::config::{ClusterConfig, Peer};
use res_cluster_core::health::PeerState;
use res_cluster_core::locate::{Device, Report, Sync};
use res_cluster_core::origin::{Arrival, Origin};
use res_cluster_core::peer_leg::{self, HeaderSupport, LegMark, HOP_HEADER};
use res_cluster_core::plan::{Action, CallPlan, DialRequest, DialResult, Lookups, Observation, Outcome, Target};
use res_cluster_core::replica::Replica;
use res_cluster_core::status::DialStatus;

use crate::ast::channel::{Channel, ExecError};
use crate::ast::{endpoints, guard, log, pbx, RawChannel};
use crate::{ast_debug, ast_log, ast_verb};
use crate::locate;
use crate::runtime::{now, Runtime};
use crate::silence;

pub const APP: &str = "ClusterDial";
/// The pre-dial handler's application, run on each new leg to a peer.
pub const MARK_APP: &str = "ClusterMarkLeg";


/// Asterisk's entry point for the application.
///
/// # Safety
/// Called by the PBX with the channel it runs the application on and the
/// application's argument string (or NULL).
pub unsafe extern "C" fn execute(chan: *mut RawChannel, data: *const c_char) -> c_int {
    let _inside = Inside::enter();
    guard::entry(APP, -1, || {
        // SAFETY: the PBX passes the live channel it is running; `channel`
        // does not outlive this call.
        let Some(channel) = (unsafe { Channel::from_app(chan) }) else {
            return -1;
        };
        // SAFETY: data is NULL or the NUL-terminated argument string.
        let data = unsafe { crate::ast::text_arg(data) };
        run(&channel, &data)
    })
}

/// Channels running one of this module's applications right now.
static INSIDE: AtomicUsize = AtomicUsize::new(0);

/// Counts a channel in INSIDE while it runs one of the applications.
struct Inside;

impl Inside {
    fn enter() -> Inside {
        INSIDE.fetch_add(1, Ordering::SeqCst);
        Inside
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        INSIDE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits until no channel runs ClusterDial or ClusterMarkLeg, at most
/// `timeout`; whether none does. Called by unload once the applications are
/// unregistered: a forced unload (`module unload -f`) hangs the calls up
/// (softly) and calls unload while they may still be inside.
pub fn left(timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while INSIDE.load(Ordering::SeqCst) > 0 {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

fn run(chan: &Channel, data: &str) -> c_int {
    #[cfg(feature = "fault-injection")]
    if data.starts_with("panic") {
        panic!("fault injection: panic in ClusterDial");
    }
    let Some(runtime) = Runtime::current() else {
        ast_log!(Error, "{APP}: res_cluster is not loaded");
        return -1;
    };
    let config = runtime.config();
    let arrival = arrival(chan, &runtime, &config);
    if let Some(peer) = Origin::refused_peer(&config, &arrival) {
        let local = chan.read_function("CHANNEL(pjsip,local_addr)").unwrap_or_default();
        runtime.warn_once(&format!(
            "res_cluster: a call on peer {}'s endpoint {} came in on {local}, not over TLS (trust = tls): it is taken for an ordinary caller's (prefix kept, forwarded as any other)",
            peer.name, peer.endpoint
        ));
    }
    let mut plan = CallPlan::new(Arc::clone(&config), data, arrival);
    if matches!(plan.origin(), Origin::Phone) {
        check_identified(chan, &runtime, false);
    }
    ast_debug!(1, "{APP}({data}) on {}: {:?}", chan.name(), plan.origin());
    let mut gate = HealthGate { chan, runtime: &runtime, config: &config, sync: None };
    loop {
        let action = plan.next(&mut gate);
        ast_debug!(1, "{APP} on {}: {}", chan.name(), describe_action(&action));
        match action {
            Action::SetCallerNumber(number) => chan.set_caller_number(&number),
            Action::EmptyArrivedMarker(tech) => {
                if !write_marker(chan, tech, "") {
                    ast_log!(Warning, "{APP} on {}: could not empty the {HOP_HEADER} marker it arrived with", chan.name());
                }
            }
            Action::Dial(request) => {
                if config.route_to_userfield {
                    chan.write_function("CDR(userfield)", &plan.route_so_far());
                }
                let result = dial(chan, &request);
                ast_debug!(
                    1,
                    "{APP} on {}: Dial returned {:?} after {} ms; responded {:?}, silenced {:?}",
                    chan.name(),
                    result.status,
                    result.elapsed_ms,
                    result.responded,
                    result.silenced
                );
                plan.record(result);
                learn(&runtime, &config, plan.take_observations());
            }
            Action::Finish(outcome) => {
                if matches!(plan.origin(), Origin::Marked { marker: "hop header" }) {
                    check_identified(chan, &runtime, true);
                }
                return finish(chan, &runtime, plan.exten(), data, outcome);
            }
        }
    }
}

/// One action of the plan, for `core set debug 1 res_cluster`.
fn describe_action(action: &Action) -> String {
    match action {
        Action::SetCallerNumber(n) => format!("caller number restored to {}", String::from_utf8_lossy(n)),
        Action::EmptyArrivedMarker(t) => format!("the {t:?} hop marker it arrived with is emptied"),
        Action::Dial(r) => format!("Dial({}) to {:?}, watch {:?}", String::from_utf8_lossy(&r.app_data), r.target, r.watch),
        Action::Finish(o) => format!("finished {}: {} (route {})", o.status, o.summary, o.route),
    }
}

fn arrival(chan: &Channel, runtime: &Runtime, config: &ClusterConfig) -> Arrival {
    let mut a = Arrival {
        technology: chan.technology(),
        channel_name: chan.name(),
        from_cluster: chan.var("FROM_CLUSTER"),
        caller: chan.caller(),
        over_tls: None,
    };
    // Only a call on the endpoint of a peer trusted by TLS pays for reading
    // the address it came in on (a round trip to its SIP serializer).
    let tls_peer = a.endpoint().and_then(|(tech, ep)| config.peer_by_endpoint(tech, ep)).is_some_and(|p| p.trust.tls);
    if tls_peer {
        let local = chan.read_function("CHANNEL(pjsip,local_addr)").unwrap_or_default();
        a.over_tls = Some(runtime.on_tls(&local));
    }
    a
}

fn dial(chan: &Channel, request: &DialRequest) -> DialResult {
    let to_peers = matches!(request.target, Target::Peers(_));
    let data = String::from_utf8_lossy(&request.app_data);
    match &request.target {
        Target::Peers(names) => ast_verb!(3, "{APP}: dialling peer {}: Dial({data})", names.join(", ")),
        Target::Local => ast_verb!(3, "{APP}: dialling this node: Dial({data})"),
        Target::Registrations(owners) => ast_verb!(3, "{APP}: dialling from this node what down peer {} registered: Dial({data})", owners.join(", ")),
    }
    // Which legs got any response is asked of peer legs only: it is what
    // tells a silent peer from a live one.
    let before: HashSet<String> = if to_peers { chan.dialed_cause_channels().into_iter().collect() } else { HashSet::new() };
    if let (Some(note), Some(runtime)) = (&request.note, Runtime::current()) {
        runtime.warn_once(note);
    }
    let started = Instant::now();
    let watch = request.watch.as_ref().and_then(|w| silence::Armed::arm(chan, w));
    let rc = match &request.mark {
        Some(mark) => dial_marked(chan, &request.app_data, mark),
        None => chan.exec("Dial", &request.app_data),
    };
    let silenced = watch.map(silence::Armed::disarm).unwrap_or_default();
    let rc = match rc {
        Ok(rc) => rc,
        Err(e) => {
            ast_log!(Error, "{APP}: cannot dial: {e}");
            return DialResult { status: Some(DialStatus::Congestion), ..DialResult::default() };
        }
    };
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let status = chan.var("DIALSTATUS").and_then(|s| DialStatus::parse(&s));
    if let (Target::Peers(names), Some(runtime)) = (&request.target, Runtime::current()) {
        let mut counters = runtime.counters();
        for name in names {
            counters.note_forward(name);
            if status == Some(DialStatus::Congestion) {
                counters.note_failure(name, "congestion");
            }
        }
    }
    let mut result = DialResult { status, dial_rc: rc, elapsed_ms, caller_hung_up: chan.hung_up(), silenced, ..DialResult::default() };
    if to_peers {
        let new_legs: Vec<String> = chan.dialed_cause_channels().into_iter().filter(|leg| !before.contains(leg)).collect();
        if log::verbose_enabled(4) {
            for leg in &new_legs {
                ast_verb!(4, "{APP}: {leg} answered {}", chan.dialed_cause(leg).unwrap_or_default());
            }
        }
        let endpoint_of = |leg: &str| channel_name::leg(leg).map(|(tech, ep)| (tech, ep.to_string()));
        result.responded = new_legs.iter().filter_map(|leg| endpoint_of(leg)).collect();
        if status == Some(DialStatus::Answer) {
            result.answered_endpoint = chan.var("DIALEDPEERNAME").and_then(|n| endpoint_of(&n));
        }
    }
    result
}

/// Dials peers with the marks on their legs only (see `peer_leg`). The
/// caller ID is in Dial's options or put on each leg by the pre-dial
/// handler; what the legs inherit is taken off the calling channel again as
/// soon as Dial returns.
fn dial_marked(chan: &Channel, app_data: &[u8], mark: &LegMark) -> Result<c_int, ExecError> {
    match mark {
        LegMark::Inherited { hop } => {
            let header = chan.add_inheritable_header(HOP_HEADER, hop);
            if header.is_none() {
                ast_log!(Warning, "{APP}: could not add the {HOP_HEADER} header for the peer legs");
            }
            chan.exec("Dial", app_data)
        }
        LegMark::PreDial { hop, prefix } => {
            let _mark = chan.attach_leg_mark(&format!("{hop} {}", prefix.as_deref().unwrap_or_default()));
            chan.exec("Dial", app_data)
        }
        // The log said so, a WARNING, when the marking came to this.
        LegMark::Unmarked => chan.exec("Dial", app_data),
    }
}

/// Asterisk's entry point for the pre-dial handler on a new leg to a peer:
/// takes the mark the leg inherited and puts the hop header and the prefix
/// on the leg itself.
///
/// # Safety
/// As for `execute`.
pub unsafe extern "C" fn mark_leg(chan: *mut RawChannel, _data: *const c_char) -> c_int {
    let _inside = Inside::enter();
    guard::entry(MARK_APP, 0, || {
        // SAFETY: as in `execute`.
        let Some(leg) = (unsafe { Channel::from_app(chan) }) else {
            return 0;
        };
        let Some(mark) = leg.take_leg_mark() else {
            ast_log!(Warning, "{MARK_APP} on {}: no mark to put on this leg (run by Dial's pre-dial handler of {APP} only)", leg.name());
            return 0;
        };
        let (hop, prefix) = mark.split_once(' ').unwrap_or((&mark, ""));
        // A SIP header on a PJSIP leg, an IAX2 variable on an IAX2 one.
        // Without res_pjsip_header_funcs there is no header to add (the log
        // said so once, when the marking changed).
        if let Some(tech) = marker_technology(&leg) {
            if !write_marker(&leg, tech, hop) {
                ast_log!(Warning, "{MARK_APP} on {}: could not add the {HOP_HEADER} marker", leg.name());
            }
        }
        if !prefix.is_empty() {
            leg.prefix_connected_number(prefix);
        }
        0
    })
}

/// The channel's technology when it has a hop marker here: a SIP header on
/// a PJSIP channel (with res_pjsip_header_funcs loaded), an IAX2 variable on
/// an IAX2 one. Asking any other channel makes Asterisk log an error.
fn marker_technology(chan: &Channel) -> Option<Technology> {
    Technology::parse(&chan.technology()).filter(|t| pbx::function_exists(t.marker_function()))
}

/// The hop marker of `tech` on `chan`.
fn read_marker(chan: &Channel, tech: Technology) -> Option<String> {
    let expression = peer_leg::marker_to_read(tech);
    if tech.marker_needs_channel_lock() {
        chan.read_function_locked(&expression)
    } else {
        chan.read_function(&expression)
    }
}

/// Puts `value` in the hop marker of `tech` on `chan`.
fn write_marker(chan: &Channel, tech: Technology, value: &str) -> bool {
    let expression = peer_leg::marker_to_write(tech);
    if tech.marker_needs_channel_lock() {
        chan.write_function_locked(&expression, value)
    } else {
        chan.write_function(&expression, value)
    }
}

/// A call on an endpoint that is no peer's, from the address of a
/// configured peer: that peer's calls are not identified as its own (they
/// are taken for a phone's, their prefix kept). Checked for a call marked by
/// the hop header (at its end), and for one phone's call every few seconds
/// (at its start): reading the address is a round trip to the channel's SIP
/// serializer. Said once per peer.
fn check_identified(chan: &Channel, runtime: &Runtime, marked: bool) {
    if chan.technology() != "PJSIP" || !runtime.identify_check_due(marked) {
        return;
    }
    let Some(remote) = chan.read_function("CHANNEL(pjsip,remote_addr)") else { return };
    let Some((ip, _)) = res_cluster_core::address::host_port(&remote) else { return };
    if let Some(peer) = runtime.peer_at(ip) {
        let endpoint = channel_name::endpoint(Technology::Pjsip, &chan.name()).unwrap_or("?").to_string();
        runtime.warn_once(&format!(
            "res_cluster: calls from {ip}, the address of peer {peer}, are identified as endpoint {endpoint}, not as the peer's: they are taken for a phone's (prefix kept, not trusted); check the identify of {peer}'s endpoint and endpoint_identifier_order (ip first)"
        ));
    }
}

fn finish(chan: &Channel, runtime: &Runtime, exten: Option<&str>, data: &str, outcome: Outcome) -> c_int {
    if let Some(e) = &outcome.invalid {
        ast_log!(Warning, "{APP}({data}) on {}: {e}; nothing dialled", chan.name());
        chan.set_var("DIALSTATUS", DialStatus::InvalidArgs.as_str());
    }
    chan.set_var("CLUSTERSTATUS", outcome.status.as_str());
    chan.set_var("CLUSTERNODE", outcome.node.as_deref().unwrap_or(""));
    chan.set_var("CLUSTERROUTE", &outcome.route);
    if runtime.config().route_to_userfield {
        chan.write_function("CDR(userfield)", &outcome.route);
    }
    if let Some(cause) = outcome.hangup_cause {
        chan.set_hangup_cause(cause);
    }
    ast_verb!(3, "{APP}({}): {}", exten.unwrap_or(data), outcome.summary);
    runtime.counters().record(&outcome);
    outcome.return_code
}

/// Answers the plan's questions: peer health (kept current by qualify
/// results and by calls), and the incoming call's hop header.
struct HealthGate<'a, 'c> {
    chan: &'a Channel<'c>,
    runtime: &'a Runtime,
    config: &'a ClusterConfig,
    /// The peers' sync states, in the order of the configuration's peers,
    /// read once per call when first needed.
    sync: Option<Vec<Sync>>,
}

impl Lookups for HealthGate<'_, '_> {
    fn hop_header(&mut self) -> Option<String> {
        read_marker(self.chan, marker_technology(self.chan)?)
    }

    fn header_support(&mut self) -> (HeaderSupport, bool) {
        self.runtime.header_support()
    }

    fn pjsip_endpoint_exists(&mut self, name: &str) -> bool {
        endpoints::pjsip_endpoint_exists(name)
    }

    fn locate(&mut self, peer: &Peer, devices: &[Device]) -> Report {
        // A peer that is down, or in holddown, is hunted as without locating.
        if self.runtime.health().get(&peer.name).is_some_and(|h| h.state == PeerState::Down) {
            return Report::Unknown;
        }
        let runtime = self.runtime;
        let config = self.config;
        let sync = self.sync.get_or_insert_with(|| runtime.locate_sync(config));
        match config.peers.iter().position(|p| p.name == peer.name).and_then(|i| sync.get(i)) {
            Some(Sync::Synced(eid)) => locate::report(*eid, devices),
            _ => Report::Unknown,
        }
    }

    fn registrations(&mut self, endpoints: &[String]) -> Vec<Replica> {
        self.runtime.replicas().for_endpoints(endpoints, now().wall_s)
    }

    fn peer_down(&mut self, peer: &str) -> bool {
        self.runtime.health().get(peer).is_some_and(|h| h.state == PeerState::Down)
    }

    fn try_peer(&mut self, peer: &Peer) -> bool {
        let usable = self.runtime.health().try_peer(&peer.name, self.config.holddown.millis(), now());
        if !usable {
            ast_verb!(3, "{APP}: skipping peer {}: down", peer.name);
        }
        usable
    }
}

fn learn(runtime: &Runtime, config: &ClusterConfig, observations: Vec<Observation>) {
    let at = now();
    for o in observations {
        match o {
            Observation::Responded { peer } => runtime.apply(|h| h.note_response(&peer, at)),
            Observation::Silent { peer, waited_ms } => {
                runtime.counters().note_failure(&peer, "silent");
                runtime.apply(|h| h.note_no_response(&peer, waited_ms, config.holddown.millis(), at));
            }
            Observation::Unreachable { peer } => {
                runtime.counters().note_failure(&peer, "unreachable");
                runtime.apply(|h| h.note_unreachable(&peer, config.holddown.millis(), at));
            }
            Observation::Stale { peer, devices } => {
                if let Some(p) = config.peers.iter().find(|p| p.name == peer) {
                    locate::forget_report(p, &devices);
                }
            }
        }
    }
}

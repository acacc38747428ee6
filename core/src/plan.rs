//! One ClusterDial call, as a sequence of actions for the shell to carry out.
//!
//! The shell asks `next()` what to do, does it through Asterisk, and reports
//! back with `record()`; the plan never touches Asterisk itself. In order:
//! restore the caller's number if a peer prefixed it, dial this node's phones,
//! then (for an ordinary caller whose local attempt failed with a status in
//! `fallback_on`) the peers that health allows, one by one or all at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::channel_name::Technology;
use super::args::{self, ArgError, CallArgs};
use super::callerid;
use super::config::{ClusterConfig, Locate, Peer, Strategy};
use super::locate::{self, Device, Report};
use super::replica::Replica;
use super::origin::{Arrival, Origin};
use super::peer_leg::{self, HeaderSupport, LegMark};
use super::seconds::Seconds;
use super::status::DialStatus;

/// What the plan asks of the call's surroundings, and only when it must.
pub trait Lookups {
    /// Whether a call may try `peer` now.
    fn try_peer(&mut self, peer: &Peer) -> bool;
    /// The incoming call's hop header, if any. Asked once, just before the
    /// first forward: reading a SIP header costs a round trip to the
    /// channel's SIP thread, which calls that stay on this node never pay.
    fn hop_header(&mut self) -> Option<String>;
    /// What Asterisk offers now for SIP headers on new legs, and whether
    /// Dial's pre-dial handler can run (app_stack's Gosub is there). Asked
    /// before each forward (res_pjsip_header_funcs may come and go).
    fn header_support(&mut self) -> (HeaderSupport, bool);
    /// What `peer` reports of the phone's `devices`, with `locate =
    /// devstate`; asked once per peer, when the local attempt has failed.
    fn locate(&mut self, peer: &Peer, devices: &[Device]) -> Report;
    /// Whether this node has a PJSIP endpoint of that name (asked only for
    /// a `local_dial` destination `PJSIP/a@b`, to tell the multi-domain
    /// endpoint `a@b` from user `a` at endpoint `b`, as chan_pjsip does).
    fn pjsip_endpoint_exists(&mut self, name: &str) -> bool;
    /// With replicate_contacts: the peers' registrations on these PJSIP
    /// endpoints, as this node keeps them.
    fn registrations(&mut self, _endpoints: &[String]) -> Vec<Replica> {
        Vec::new()
    }
    /// Whether the peer is down now (its registrations are dialled from
    /// here then).
    fn peer_down(&mut self, _peer: &str) -> bool {
        false
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Local,
    /// Peer names, in the order dialled.
    Peers(Vec<String>),
    /// A down peer's phone, through the registrations it published: their
    /// owners.
    Registrations(Vec<String>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialRequest {
    pub target: Target,
    /// The whole argument string for Dial (bytes: a caller ID in the
    /// options may hold any).
    pub app_data: Vec<u8>,
    /// For legs to peers: what to put on them before the INVITEs leave.
    pub mark: Option<LegMark>,
    /// For legs to peers over PJSIP: the peers that must have sent some
    /// response within `peer_timeout`.
    pub watch: Option<SilenceWatch>,
    /// What the Dial is given differently from what was asked, for the log
    /// (a timeout rounded up to the whole seconds this Dial reads).
    pub note: Option<String>,
}

/// A watch on a Dial to peers: when `after_ms` have passed, the legs of
/// every peer listed that has sent no SIP response at all (not even 100
/// Trying) are given up, and the shell reports those peers silenced. A peer
/// that responded rings for the whole timeout, however slowly its phone
/// starts to ring (Dial's own progress timeout would give up on a leg that
/// has not rung yet, after the peer's 100 Trying).
///
/// On a cluster call the local Dial is watched too (`phones`): a phone's
/// PJSIP leg that has sent nothing at all (a user agent answers an INVITE
/// within 200 ms, RFC 3261 17.2.1) is a registration whose phone is gone,
/// and giving it up tells the forwarding node at once that the phone is not
/// here, rather than after the ring time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SilenceWatch {
    pub after_ms: u64,
    pub peers: Vec<WatchedPeer>,
    /// Watch this node's own PJSIP legs, each on its own.
    pub phones: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchedPeer {
    pub peer: String,
    pub technology: Technology,
    /// The endpoint its legs go out on.
    pub endpoint: String,
}

/// What the shell saw of one Dial.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DialResult {
    /// DIALSTATUS as Dial left it.
    pub status: Option<DialStatus>,
    /// What Dial returned: 0 to go on; -1 when the caller is gone, the
    /// bridged call ended, or the channels could not be made compatible; a
    /// digit the caller pressed to leave (option `d`).
    pub dial_rc: i32,
    /// The calling channel has hung up (asked of the channel, not guessed
    /// from `dial_rc`).
    pub caller_hung_up: bool,
    pub elapsed_ms: u64,
    /// Endpoints of this Dial's legs that got any response their driver
    /// records (every SIP response; an IAX2 rejection or hangup with a cause).
    pub responded: Vec<(Technology, String)>,
    /// Endpoint of the leg that answered.
    pub answered_endpoint: Option<(Technology, String)>,
    /// Peers whose legs the silence watch gave up: they sent nothing within
    /// `peer_timeout`.
    pub silenced: Vec<String>,
}

/// What a Dial taught about a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    Responded { peer: String },
    Silent { peer: String, waited_ms: u64 },
    /// The peer reported the phone present, yet answered that it is not
    /// there: its reports are suspect.
    Stale { peer: String, devices: Vec<String> },
    /// The peer's legs failed without a single SIP response before the
    /// silence watch: the INVITE could not reach it at all.
    Unreachable { peer: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Put this number back as the calling channel's caller number.
    SetCallerNumber(Vec<u8>),
    /// Empty the hop marker this call arrived with (an IAX2 variable):
    /// chan_iax2 would otherwise send it on with every IAX2 leg dialled from
    /// here, and a system behind an IAX2 phone line that passed it back
    /// would have its calls taken for forwarded ones.
    EmptyArrivedMarker(Technology),
    Dial(DialRequest),
    Finish(Outcome),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// For CLUSTERSTATUS.
    pub status: DialStatus,
    /// For CLUSTERNODE: the node whose phone answered.
    pub node: Option<String>,
    /// What ClusterDial returns to the PBX: 0 goes on with the dialplan.
    pub return_code: i32,
    /// A call from a peer that no phone here took is ended by ClusterDial,
    /// with the cause that tells the forwarding node why.
    pub hangup_cause: Option<i32>,
    pub invalid: Option<ArgError>,
    pub answered_locally: bool,
    pub answered_by_peer: bool,
    pub forwarded: bool,
    /// A cluster call that would have been forwarded had it been a phone's.
    pub loop_refused: bool,
    /// With locating: a peer that reported the phone present was dialled.
    pub located: bool,
    /// With locating: a peer whose reports were unknown was dialled.
    pub hunted: bool,
    /// With locating: every peer reported the phone absent; no INVITE left.
    pub zero_invite: bool,
    /// A down peer's registration was dialled from here.
    pub via_registration: bool,
    /// One line for the verbose log.
    pub summary: String,
    /// Where the call went and why, step by step (CLUSTERROUTE): e.g.
    /// `local:CHANUNAVAIL,node2:absent,node3:down,node4:located,node4:ANSWER`.
    pub route: String,
}

impl Outcome {
    /// An outcome of `status` (as CLUSTERSTATUS reports it) with nothing
    /// else known yet.
    pub fn new(status: DialStatus, summary: String) -> Outcome {
        Outcome {
            status: status.for_cluster(),
            node: None,
            return_code: 0,
            hangup_cause: None,
            invalid: None,
            answered_locally: false,
            answered_by_peer: false,
            forwarded: false,
            loop_refused: false,
            located: false,
            hunted: false,
            zero_invite: false,
            via_registration: false,
            summary,
            route: String::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Start,
    Unmark,
    DialLocal,
    AwaitLocal,
    /// Forwarding: the peers not tried yet, by index into the config.
    Forward(Vec<usize>),
    AwaitPeers { dialled: Vec<usize>, rest: Vec<usize> },
    /// The phone was not reached: before the call ends with this outcome,
    /// a down peer's registrations of it are dialled, if there are any.
    Registrations(Outcome),
    AwaitRegistrations(Outcome),
    Finished(Outcome),
}

pub struct CallPlan {
    config: Arc<ClusterConfig>,
    origin: Origin,
    args: Option<CallArgs>,
    arrival: Arrival,
    state: State,
    /// The most telling status so far.
    best: Option<DialStatus>,
    forwarded: bool,
    observations: Vec<Observation>,
    /// With locating, once the peers are ordered: those that reported the
    /// phone present.
    located: Option<Vec<usize>>,
    dialled_located: bool,
    dialled_hunted: bool,
    /// With locating, once the peers are ordered: the phone's devices.
    devices: Vec<Device>,
    /// The steps taken, for CLUSTERROUTE.
    route: Vec<String>,
}

impl CallPlan {
    pub fn new(config: Arc<ClusterConfig>, data: &str, arrival: Arrival) -> CallPlan {
        let origin = Origin::classify(&config, &arrival);
        let (args, state) = match args::parse(data) {
            Ok(a) => (Some(a), State::Start),
            Err(e) => {
                let mut o = Outcome::new(DialStatus::InvalidArgs, format!("invalid arguments '{data}': {e}; nothing dialled"));
                o.invalid = Some(e);
                (None, State::Finished(o))
            }
        };
        CallPlan {
            config,
            origin,
            args,
            arrival,
            state,
            best: None,
            forwarded: false,
            observations: Vec::new(),
            located: None,
            dialled_located: false,
            dialled_hunted: false,
            devices: Vec::new(),
            route: Vec::new(),
        }
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The route so far (what CLUSTERROUTE will begin with).
    pub fn route_so_far(&self) -> String {
        self.route.join(",")
    }

    pub fn exten(&self) -> Option<&str> {
        self.args.as_ref().map(|a| a.exten.as_str())
    }

    /// What the shell should do now.
    pub fn next(&mut self, lookups: &mut dyn Lookups) -> Action {
        loop {
            match std::mem::replace(&mut self.state, State::Start) {
                State::Start => {
                    self.state = State::Unmark;
                    if let Some(number) = self.restored_number() {
                        return Action::SetCallerNumber(number);
                    }
                }
                State::Unmark => {
                    self.state = State::DialLocal;
                    if self.origin.trusted_peer().is_some() && self.arrival.peer_technology() == Some(Technology::Iax2) {
                        return Action::EmptyArrivedMarker(Technology::Iax2);
                    }
                }
                State::DialLocal => {
                    self.state = State::AwaitLocal;
                    return Action::Dial(self.local_request());
                }
                State::Forward(mut rest) => {
                    if self.config.locate == Locate::DevState && self.located.is_none() {
                        let route = self.route(&rest, lookups);
                        self.located = Some(route.located.clone());
                        rest = route.located.iter().chain(&route.hunted).copied().collect();
                        if rest.is_empty() {
                            self.finish_nowhere(route.absent);
                            continue;
                        }
                    }
                    let mut dialled: Vec<usize> = Vec::new();
                    while !rest.is_empty() {
                        let i = rest.remove(0);
                        if lookups.try_peer(&self.config.peers[i]) {
                            dialled.push(i);
                            if self.config.strategy == Strategy::Sequential {
                                break;
                            }
                        } else {
                            self.route.push(format!("{}:down", self.config.peers[i].name));
                        }
                    }
                    if dialled.is_empty() {
                        let status = self.best.unwrap_or(DialStatus::ChanUnavail);
                        let what = if self.forwarded { "no other peer to try" } else { "no peer is available" };
                        self.fail(Outcome::new(status, format!("{what}; {status}")));
                        continue;
                    }
                    if dialled.len() > 1 && self.config.replicate_contacts {
                        self.ring_each_phone_once(&mut dialled, lookups);
                    }
                    // The hop header is read only now, when a peer would be
                    // dialled: with every peer down a call stays here anyway.
                    if !self.forwarded {
                        self.origin = std::mem::replace(&mut self.origin, Origin::Phone).with_hop_header(lookups.hop_header().as_deref());
                        if self.origin.is_cluster_call() {
                            self.finish_cluster_call(self.best.unwrap_or(DialStatus::ChanUnavail));
                            continue;
                        }
                    }
                    self.forwarded = true;
                    if let Some(located) = &self.located {
                        self.dialled_located |= dialled.iter().any(|i| located.contains(i));
                        self.dialled_hunted |= dialled.iter().any(|i| !located.contains(i));
                    }
                    let request = self.peer_request(&dialled, lookups.header_support());
                    self.state = State::AwaitPeers { dialled, rest };
                    return Action::Dial(request);
                }
                State::Registrations(fallback) => {
                    match self.registrations_request(lookups) {
                        Some(request) => {
                            self.state = State::AwaitRegistrations(fallback);
                            return Action::Dial(request);
                        }
                        None => self.finish(fallback),
                    }
                }
                State::Finished(outcome) => {
                    self.state = State::Finished(outcome.clone());
                    return Action::Finish(outcome);
                }
                waiting @ (State::AwaitLocal | State::AwaitPeers { .. } | State::AwaitRegistrations(_)) => {
                    // The shell asked again without recording the Dial: a bug
                    // in the shell, answered without dialling anything more.
                    self.state = waiting;
                    return Action::Finish(Outcome::new(DialStatus::Congestion, "internal: no Dial result recorded".into()));
                }
            }
        }
    }

    /// Takes in the result of the Dial last asked for.
    pub fn record(&mut self, result: DialResult) {
        match std::mem::replace(&mut self.state, State::Start) {
            State::AwaitLocal => self.record_local(result),
            State::AwaitPeers { dialled, rest } => self.record_peers(result, dialled, rest),
            State::AwaitRegistrations(fallback) => self.record_registrations(result, fallback),
            other => self.state = other,
        }
    }

    /// What this call taught about the peers, since the last call to this.
    pub fn take_observations(&mut self) -> Vec<Observation> {
        std::mem::take(&mut self.observations)
    }

    fn record_local(&mut self, r: DialResult) {
        let status = r.status.unwrap_or(DialStatus::ChanUnavail);
        self.route.push(format!("local:{status}"));
        if status == DialStatus::Answer {
            let mut o = self.answered_here(&r, "answered on this node");
            o.answered_locally = true;
            return self.finish(o);
        }
        if let Some(o) = Self::caller_left(&r, status, "") {
            return self.finish(o);
        }
        self.best = Some(status);
        let falls_back = self.config.falls_back_on(status);
        if self.origin.is_cluster_call() {
            return self.finish_cluster_call(status);
        }
        if falls_back && !self.config.peers.is_empty() {
            self.state = State::Forward((0..self.config.peers.len()).collect());
        } else {
            let why = if falls_back { "no peers configured" } else { "not in fallback_on" };
            self.finish(Outcome::new(status, format!("{status} on this node; {why}")));
        }
    }

    fn record_peers(&mut self, r: DialResult, dialled: Vec<usize>, rest: Vec<usize>) {
        let config = Arc::clone(&self.config);
        let peers: Vec<&Peer> = dialled.iter().map(|&i| &config.peers[i]).collect();
        let status = r.status.unwrap_or(DialStatus::ChanUnavail);
        for (&i, p) in dialled.iter().zip(&peers) {
            if r.responded.iter().any(|(tech, ep)| p.owns_leg(*tech, ep)) {
                self.observations.push(Observation::Responded { peer: p.name.clone() });
                let was_located = self.located.as_ref().is_some_and(|l| l.contains(&i));
                if was_located && status == DialStatus::ChanUnavail {
                    self.observations.push(Observation::Stale { peer: p.name.clone(), devices: locate::named(&self.devices) });
                }
            } else if r.silenced.contains(&p.name) {
                self.observations.push(Observation::Silent { peer: p.name.clone(), waited_ms: r.elapsed_ms });
            } else if p.technology.records_every_response() && !r.caller_hung_up && status != DialStatus::Answer && r.dial_rc == 0 {
                // Not a single response, and over before the silence watch:
                // the INVITE could not be sent or was refused below SIP (a
                // killed node's TCP or TLS port refuses the connection; a
                // UDP INVITE to it is met by the silence watch instead).
                self.observations.push(Observation::Unreachable { peer: p.name.clone() });
            }
            let answered_here = status == DialStatus::Answer
                && (peers.len() == 1 || r.answered_endpoint.as_ref().is_some_and(|(tech, ep)| p.owns_leg(*tech, ep)));
            let what = if r.silenced.contains(&p.name) {
                "silent".to_string()
            } else if answered_here || status != DialStatus::Answer {
                status.to_string()
            } else {
                "rang".to_string()
            };
            self.route.push(format!("{}:{what}", p.name));
        }
        let names: Vec<&str> = peers.iter().map(|p| p.name.as_str()).collect();
        if status != DialStatus::Answer {
            if let Some(o) = Self::caller_left(&r, status, &format!(" while {} rang", names.join(", "))) {
                return self.finish(o);
            }
        }
        if status == DialStatus::Answer {
            let winner = match peers.as_slice() {
                [only] => Some(*only),
                _ => r.answered_endpoint.as_ref().and_then(|(tech, ep)| peers.iter().copied().find(|p| p.owns_leg(*tech, ep))),
            };
            let node = winner.map(|p| p.name.clone());
            let mut o = Outcome::new(
                DialStatus::Answer,
                format!("answered on peer {}", node.as_deref().unwrap_or("(unknown)")),
            );
            o.node = node;
            o.return_code = r.dial_rc;
            o.answered_by_peer = true;
            o.forwarded = true;
            return self.finish(o);
        }
        self.best = Some(match self.best {
            Some(b) if b.weight() >= status.weight() => b,
            _ => status,
        });
        let not_reached = matches!(status, DialStatus::ChanUnavail | DialStatus::Congestion);
        if not_reached && !rest.is_empty() {
            self.state = State::Forward(rest);
        } else {
            let best = self.best.unwrap_or(status);
            let mut o = Outcome::new(best, format!("{status} from peer {}; the call ends {best}", names.join(", ")));
            o.forwarded = true;
            if not_reached {
                self.fail(o);
            } else {
                self.finish(o);
            }
        }
    }

    /// The caller hung up, or left with a digit (Dial's option `d`, which has
    /// already moved the channel to that extension): nothing more is dialled.
    fn caller_left(r: &DialResult, status: DialStatus, while_: &str) -> Option<Outcome> {
        if r.caller_hung_up {
            let mut o = Outcome::new(DialStatus::Cancel, format!("caller hung up{while_}"));
            o.return_code = -1;
            return Some(o);
        }
        if r.dial_rc > 0 {
            let digit = char::from_u32(r.dial_rc as u32).unwrap_or('?');
            let mut o = Outcome::new(status, format!("caller pressed '{digit}' to leave{while_}; {status}"));
            o.return_code = r.dial_rc;
            return Some(o);
        }
        None
    }

    /// A cluster call none of this node's phones took: ended here, with the
    /// cause that tells the forwarding node why.
    fn finish_cluster_call(&mut self, status: DialStatus) {
        let from = match &self.origin {
            Origin::Peer { name } => format!("from peer {name}"),
            Origin::Marked { marker } => format!("marked by {marker}"),
            Origin::Phone => "from a phone".to_string(),
        };
        let mut o = Outcome::new(status, format!("cluster call ({from}): {status} here; not forwarded again"));
        o.hangup_cause = Some(status.hangup_cause());
        o.return_code = -1;
        o.loop_refused = self.config.falls_back_on(status);
        self.finish(o);
    }

    /// The phone was not reached: with replicate_contacts, on a phone's
    /// call, a down peer's registrations of it are tried first.
    /// Only when nothing reached a phone: one that answered busy, or rang,
    /// is not rung again through a stale copy.
    fn fail(&mut self, outcome: Outcome) {
        let reached = self.best.is_some_and(|b| !matches!(b, DialStatus::ChanUnavail | DialStatus::Congestion));
        if self.config.replicate_contacts && matches!(self.origin, Origin::Phone) && !reached {
            self.state = State::Registrations(outcome);
        } else {
            self.finish(outcome);
        }
    }

    /// The phone's PJSIP endpoints, by local_dial (a down peer's
    /// registrations of them are what this node can dial).
    fn phone_endpoints(&self, lookups: &mut dyn Lookups) -> Vec<String> {
        let exten = self.args.as_ref().map(|a| a.exten.as_str()).unwrap_or_default();
        let devices =
            if self.devices.is_empty() { locate::devices(&self.config.local_dial, exten, &mut |n| lookups.pjsip_endpoint_exists(n)) } else { self.devices.clone() };
        locate::pjsip_endpoints(&devices)
    }

    /// A Dial of the phone's registrations whose owner is down and that
    /// can be reached from here; the others go into the route with why.
    fn registrations_request(&mut self, lookups: &mut dyn Lookups) -> Option<DialRequest> {
        let endpoints = self.phone_endpoints(lookups);
        if endpoints.is_empty() {
            return None;
        }
        let mut down: BTreeMap<String, bool> = BTreeMap::new();
        let mut dial: Vec<Replica> = Vec::new();
        for r in lookups.registrations(&endpoints) {
            let is_down = *down.entry(r.owner.clone()).or_insert_with(|| lookups.peer_down(&r.owner));
            if !is_down {
                continue;
            }
            if r.reach.dialable() {
                if !dial.iter().any(|d| d.contact.uri == r.contact.uri) {
                    dial.push(r);
                }
            } else {
                self.route.push(format!("registration({}):{}", r.owner, r.reach.word()));
            }
        }
        if dial.is_empty() {
            return None;
        }
        let args = self.args.as_ref().expect("a plan with invalid arguments never dials");
        let (timeout, note) = self.timeout();
        let options = args.options.clone().unwrap_or_else(|| self.config.dial_options.clone()).to_string().into_bytes();
        let destinations: Vec<String> = dial.iter().map(|r| format!("PJSIP/{}/{}", r.contact.endpoint, r.contact.uri)).collect();
        let owners: Vec<String> = dial.iter().map(|r| r.owner.clone()).collect();
        Some(DialRequest {
            target: Target::Registrations(owners),
            app_data: dial_data(&destinations.join("&"), &timeout.to_string(), &options),
            mark: None,
            watch: Some(SilenceWatch { after_ms: self.config.peer_timeout.millis(), peers: Vec::new(), phones: true }),
            note,
        })
    }

    /// A call answered by a Dial of this node's: "`what` (node)".
    fn answered_here(&self, r: &DialResult, what: &str) -> Outcome {
        let node = &self.config.node_name;
        let mut o = Outcome::new(DialStatus::Answer, format!("{what} ({node})"));
        o.node = Some(node.clone());
        o.return_code = r.dial_rc;
        o
    }

    fn record_registrations(&mut self, r: DialResult, fallback: Outcome) {
        let status = r.status.unwrap_or(DialStatus::ChanUnavail);
        self.route.push(format!("registration:{status}"));
        if status == DialStatus::Answer {
            let mut o = self.answered_here(&r, "answered through a down peer's registration, dialled from this node");
            o.via_registration = true;
            return self.finish(o);
        }
        if let Some(o) = Self::caller_left(&r, status, " while a down peer's registration rang") {
            return self.finish(o);
        }
        // The phone's own answer (busy, no answer) tells more than the peers'.
        let best = match self.best {
            Some(b) if b.weight() >= status.weight() => b,
            _ => status,
        };
        let mut o = Outcome::new(best, format!("{}; a down peer's registration: {status}", fallback.summary));
        o.via_registration = true;
        o.forwarded = fallback.forwarded;
        o.zero_invite = fallback.zero_invite;
        self.finish(o);
    }

    /// Parallel: a phone registered on two peers at once (the same
    /// contact, by what they published) is rung through the first of them
    /// only.
    fn ring_each_phone_once(&mut self, dialled: &mut Vec<usize>, lookups: &mut dyn Lookups) {
        let endpoints = self.phone_endpoints(lookups);
        let registrations = lookups.registrations(&endpoints);
        let uris = |peer: &str| -> Vec<&str> { registrations.iter().filter(|r| r.owner == peer).map(|r| r.contact.uri.as_str()).collect() };
        let mut covered: Vec<&str> = Vec::new();
        let config = Arc::clone(&self.config);
        dialled.retain(|&i| {
            let mine = uris(&config.peers[i].name);
            let again = !mine.is_empty() && mine.iter().all(|u| covered.contains(u));
            covered.extend(mine);
            if again {
                self.route.push(format!("{}:same-phone", config.peers[i].name));
            }
            !again
        });
    }

    fn finish(&mut self, mut outcome: Outcome) {
        if self.origin.is_cluster_call() && self.route.first().is_some_and(|r| r.starts_with("local:")) {
            let from = match &self.origin {
                Origin::Peer { name } => format!("from:{name}"),
                Origin::Marked { marker } => format!("marked:{}", marker.replace(' ', "-")),
                Origin::Phone => String::new(),
            };
            self.route.insert(0, from);
        }
        outcome.route = self.route.join(",");
        outcome.forwarded |= self.forwarded;
        outcome.located |= self.dialled_located;
        outcome.hunted |= self.dialled_hunted;
        self.state = State::Finished(outcome);
    }

    /// Asks what each peer reports of the phone, and orders the peers.
    fn route(&mut self, peers: &[usize], lookups: &mut dyn Lookups) -> locate::Route {
        let exten = self.args.as_ref().map(|a| a.exten.as_str()).unwrap_or_default();
        self.devices = locate::devices(&self.config.local_dial, exten, &mut |name| lookups.pjsip_endpoint_exists(name));
        let reports: Vec<(usize, Report)> = peers.iter().map(|&i| (i, lookups.locate(&self.config.peers[i], &self.devices))).collect();
        for (i, r) in &reports {
            let what = match r {
                Report::Present { .. } => "located",
                Report::Absent => "absent",
                Report::Unknown => "hunted",
            };
            self.route.push(format!("{}:{what}", self.config.peers[*i].name));
        }
        locate::route(&reports)
    }

    /// Every peer reported the phone absent: it is registered nowhere, and
    /// no INVITE leaves. The hop header is not read (a round trip to the
    /// SIP thread that a call sending no INVITE need not pay): a call marked
    /// by it alone, from a node that is not a configured peer, returns to the
    /// dialplan here as a phone's does.
    fn finish_nowhere(&mut self, absent: usize) {
        let status = self.best.unwrap_or(DialStatus::ChanUnavail);
        let mut o = Outcome::new(status, format!("registered on no peer ({absent} report it absent); no INVITE sent; {status}"));
        o.zero_invite = true;
        self.fail(o);
    }

    /// The caller number to restore on a call that a configured peer prefixed.
    fn restored_number(&self) -> Option<Vec<u8>> {
        self.origin.trusted_peer()?;
        let number = self.arrival.caller.number.as_deref()?;
        callerid::strip_prefix(&self.config.callerid_prefix, number)
    }

    /// The ring timeout for this call as this Dial reads it, and a note
    /// when the call's own timeout argument had to be rounded up.
    fn timeout(&self) -> (Seconds, Option<String>) {
        let args = self.args.as_ref().expect("a plan with invalid arguments never dials");
        let asked = args.timeout.unwrap_or(self.config.ring_timeout);
        let given = self.config.dial_timeout(asked);
        // The configured ring_timeout's rounding is logged at load.
        let note = (args.timeout.is_some() && given != asked).then(|| {
            format!("ClusterDial's timeout {asked} is dialled as {given} s: this Asterisk's Dial reads whole seconds only")
        });
        (given, note)
    }

    fn local_request(&self) -> DialRequest {
        let args = self.args.as_ref().expect("a plan with invalid arguments never dials");
        let (timeout, note) = self.timeout();
        let options = args.options.clone().unwrap_or_else(|| self.config.dial_options.clone());
        let dial = self.config.local_dial.render(&args.exten);
        let options = options.to_string().into_bytes();
        let watch = (self.origin.trusted_peer().is_some() && dial.split('&').any(|d| d.starts_with("PJSIP/")))
            .then(|| SilenceWatch { after_ms: self.config.peer_timeout.millis(), peers: Vec::new(), phones: true });
        DialRequest { target: Target::Local, app_data: dial_data(&dial, &timeout.to_string(), &options), mark: None, watch, note }
    }

    fn peer_request(&self, dialled: &[usize], (support, pre_dial): (HeaderSupport, bool)) -> DialRequest {
        let args = self.args.as_ref().expect("a plan with invalid arguments never dials");
        let c = &self.config;
        let (timeout, note) = self.timeout();
        let options = args.options.as_ref().unwrap_or(&c.dial_options);
        let peers: Vec<&Peer> = dialled.iter().map(|&i| &c.peers[i]).collect();
        let dial: Vec<String> = peers.iter().map(|p| p.dial.render(&args.exten)).collect();
        // An inherited header reaches PJSIP legs only: IAX2 legs get their
        // marker (an IAXVAR) from the pre-dial handler.
        let inherit = peer_leg::inherits(c.peer_leg_marking, support) && peers.iter().all(|p| p.technology == Technology::Pjsip);
        let legs = peer_leg::plan(&c.node_name, &c.callerid_prefix, &self.arrival.caller, options, inherit, pre_dial);
        // Silence is told by the SIP responses PJSIP legs record; chan_iax2
        // records none for a call it merely sent (its autokill gives up on a
        // peer that does not acknowledge the call).
        let watched: Vec<WatchedPeer> = peers
            .iter()
            .filter(|p| p.technology.records_every_response())
            .map(|p| WatchedPeer {
                peer: p.name.clone(),
                technology: p.technology,
                endpoint: p.outbound_endpoint.clone().unwrap_or_else(|| p.endpoint.clone()),
            })
            .collect();
        DialRequest {
            target: Target::Peers(peers.iter().map(|p| p.name.clone()).collect()),
            app_data: dial_data(&dial.join("&"), &timeout.to_string(), &legs.options),
            mark: Some(legs.mark),
            watch: (!watched.is_empty()).then(|| SilenceWatch { after_ms: c.peer_timeout.millis(), peers: watched, phones: false }),
            note,
        }
    }
}

/// Dial's argument string: destinations, timeout, and options when there are any.
fn dial_data(destinations: &str, timeout: &str, options: &[u8]) -> Vec<u8> {
    let mut out = format!("{destinations},{timeout}").into_bytes();
    if !options.is_empty() {
        out.push(b',');
        out.extend_from_slice(options);
    }
    out
}

#[cfg(test)]
mod tests;

//! Peer health: what res_cluster believes about each peer, and why.
//!
//! Three sources feed it. The peer's endpoint state, as Asterisk keeps it
//! (a PJSIP endpoint is reachable while any contact of its AORs is, by
//! qualify or, unqualified, by having one): unreachable puts the peer down
//! until it turns reachable again. Calls: a peer that answers anything is up;
//! a peer that stays silent for `peer_timeout` is down at once. Probes: a
//! peer down by silence is asked (a SIP OPTIONS) about once a second, and is
//! up again at its first answer; only while the probes go unanswered is it
//! skipped, and after `holddown` one call tries it again.

use std::collections::BTreeMap;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerState {
    Unknown,
    Up,
    Down,
}

impl PeerState {
    pub fn as_str(self) -> &'static str {
        match self {
            PeerState::Unknown => "UNKNOWN",
            PeerState::Up => "UP",
            PeerState::Down => "DOWN",
        }
    }
}

impl fmt::Display for PeerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of the peer's endpoint, as Asterisk publishes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reachability {
    Reachable,
    Unreachable,
    Unknown,
}

impl Reachability {
    /// From `enum ast_endpoint_state` (endpoints.h): UNKNOWN 0, OFFLINE 1, ONLINE 2.
    pub fn from_endpoint_state(state: i32) -> Reachability {
        match state {
            2 => Reachability::Reachable,
            1 => Reachability::Unreachable,
            _ => Reachability::Unknown,
        }
    }
}

/// A moment, on both clocks: monotonic for decisions, wall for display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    pub mono_ms: u64,
    pub wall_s: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerHealth {
    pub state: PeerState,
    pub since_wall_s: u64,
    pub reason: String,
    /// Wall-clock time of the last SIP response seen from the peer on a call.
    pub last_response_wall_s: Option<u64>,
    /// The endpoint state as last published (a seeded view is not kept
    /// here: only a change Asterisk published holds a peer down).
    endpoint: Reachability,
    /// While down: no call tries the peer before this (monotonic ms).
    retry_at_ms: u64,
}

impl PeerHealth {
    fn new(now: Now) -> PeerHealth {
        PeerHealth {
            state: PeerState::Unknown,
            since_wall_s: now.wall_s,
            reason: "no call or endpoint state yet".into(),
            last_response_wall_s: None,
            endpoint: Reachability::Unknown,
            retry_at_ms: 0,
        }
    }

    /// Down for a reason a probe can end: silence on a call, or an
    /// unreachable endpoint seen at load (which may only mean that qualify
    /// has not run yet).
    fn probe_wanted(&self) -> bool {
        self.state == PeerState::Down && self.endpoint != Reachability::Unreachable
    }
}

/// A change of state worth telling the administrator about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateChange {
    pub peer: String,
    pub from: PeerState,
    pub to: PeerState,
    pub reason: String,
}

#[derive(Clone, Debug, Default)]
pub struct HealthTable {
    peers: BTreeMap<String, PeerHealth>,
}

impl HealthTable {
    /// Keeps what is known of peers still configured, forgets the others.
    pub fn sync_peers<'a>(&mut self, names: impl IntoIterator<Item = &'a str>, now: Now) {
        let names: Vec<&str> = names.into_iter().collect();
        self.peers.retain(|k, _| names.contains(&k.as_str()));
        for n in names {
            self.peers.entry(n.to_string()).or_insert_with(|| PeerHealth::new(now));
        }
    }

    pub fn get(&self, peer: &str) -> Option<&PeerHealth> {
        self.peers.get(peer)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &PeerHealth)> {
        self.peers.iter()
    }

    fn entry(&mut self, peer: &str, now: Now) -> &mut PeerHealth {
        self.peers.entry(peer.to_string()).or_insert_with(|| PeerHealth::new(now))
    }

    fn set(&mut self, peer: &str, to: PeerState, reason: String, now: Now) -> Option<StateChange> {
        let h = self.entry(peer, now);
        let from = h.state;
        if from == to {
            h.reason = reason;
            return None;
        }
        h.state = to;
        h.since_wall_s = now.wall_s;
        h.reason = reason.clone();
        Some(StateChange { peer: peer.to_string(), from, to, reason })
    }

    /// Takes in the peer's endpoint state as Asterisk published it, on a
    /// change. Unreachable puts the peer down and keeps it out of probes and
    /// holddown trials; reachable brings it up, whatever put it down.
    pub fn note_endpoint(&mut self, peer: &str, r: Reachability, now: Now) -> Option<StateChange> {
        let h = self.entry(peer, now);
        let before = std::mem::replace(&mut h.endpoint, r);
        match r {
            Reachability::Unreachable => self.set(peer, PeerState::Down, "endpoint unreachable".into(), now),
            Reachability::Reachable if before != Reachability::Reachable || self.entry(peer, now).state != PeerState::Up => {
                self.set(peer, PeerState::Up, "endpoint reachable".into(), now)
            }
            _ => None,
        }
    }

    /// Takes in the peer's endpoint state as res_pjsip saw it when it made a
    /// report on one of the endpoint's contacts (qualify's verdicts among
    /// them). Asterisk publishes an endpoint's state only when it changes,
    /// and a contact that never answered qualify since load turning
    /// unreachable changes nothing there: the endpoint was unreachable all
    /// along, while a probe or a call may have brought the peer up. Such a
    /// report holds the peer down as a published change does. A report is
    /// made a moment before it is delivered, so an endpoint change may
    /// overtake it; a later report then puts right what an earlier one held
    /// down, and otherwise a reachable endpoint changes nothing here (a peer
    /// down by silence stays with its probes).
    pub fn note_contact_change(&mut self, peer: &str, endpoint: Reachability, now: Now) -> Option<StateChange> {
        let held_down = self.entry(peer, now).endpoint == Reachability::Unreachable;
        match endpoint {
            Reachability::Unreachable => self.note_endpoint(peer, endpoint, now),
            Reachability::Reachable if held_down => self.note_endpoint(peer, endpoint, now),
            _ => None,
        }
    }

    /// Takes in the endpoint state read when the module loads or reloads
    /// (Asterisk publishes changes only). Reachable: up. Unreachable: down,
    /// but probed: at start-up a qualified endpoint is unreachable until its
    /// first qualify, which is no reason to keep a live peer out.
    pub fn seed_endpoint(&mut self, peer: &str, r: Reachability, now: Now) -> Option<StateChange> {
        match r {
            Reachability::Reachable => self.note_endpoint(peer, r, now),
            Reachability::Unreachable if self.entry(peer, now).state == PeerState::Unknown => {
                self.set(peer, PeerState::Down, "endpoint unreachable at load".into(), now)
            }
            _ => None,
        }
    }

    /// The peer answered an INVITE with something.
    pub fn note_response(&mut self, peer: &str, now: Now) -> Option<StateChange> {
        self.entry(peer, now).last_response_wall_s = Some(now.wall_s);
        self.set(peer, PeerState::Up, "answered a call".into(), now)
    }

    /// The peer said nothing for `waited_ms`: down now, skipped for
    /// `holddown_ms` unless a probe finds it sooner.
    pub fn note_no_response(&mut self, peer: &str, waited_ms: u64, holddown_ms: u64, now: Now) -> Option<StateChange> {
        self.entry(peer, now).retry_at_ms = now.mono_ms + holddown_ms;
        let secs = waited_ms as f64 / 1000.0;
        self.set(peer, PeerState::Down, format!("no response to a call in {secs:.1} s"), now)
    }

    /// The peer's INVITE could not reach it (no SIP response at all, over
    /// before the silence watch: a TCP or TLS connection refused, a
    /// transport error, no contact left to dial): down now, as for silence.
    pub fn note_unreachable(&mut self, peer: &str, holddown_ms: u64, now: Now) -> Option<StateChange> {
        self.entry(peer, now).retry_at_ms = now.mono_ms + holddown_ms;
        self.set(peer, PeerState::Down, "its INVITE got no SIP response (unreachable)".into(), now)
    }

    /// Peers to probe now: down by silence (or seeded down), not held down
    /// by an unreachable endpoint.
    pub fn probe_candidates(&self) -> Vec<String> {
        self.peers.iter().filter(|(_, h)| h.probe_wanted()).map(|(n, _)| n.clone()).collect()
    }

    /// A probe of the peer was answered (any SIP response): up again.
    /// An unanswered probe changes nothing.
    pub fn note_probe(&mut self, peer: &str, answered: bool, now: Now) -> Option<StateChange> {
        let wanted = self.peers.get(peer).is_some_and(PeerHealth::probe_wanted);
        if !answered || !wanted {
            return None;
        }
        self.set(peer, PeerState::Up, "answered a probe".into(), now)
    }

    /// Whether a call may try the peer now. A down peer whose holddown has run
    /// out is tried by this one call; the next waits another holddown unless
    /// the peer answers.
    pub fn try_peer(&mut self, peer: &str, holddown_ms: u64, now: Now) -> bool {
        let h = self.entry(peer, now);
        match h.state {
            PeerState::Up | PeerState::Unknown => true,
            PeerState::Down if h.endpoint == Reachability::Unreachable => false,
            PeerState::Down if now.mono_ms >= h.retry_at_ms => {
                h.retry_at_ms = now.mono_ms + holddown_ms;
                true
            }
            PeerState::Down => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Now {
        Now { mono_ms: ms, wall_s: 1_000 + ms / 1000 }
    }

    fn table() -> HealthTable {
        let mut t = HealthTable::default();
        t.sync_peers(["node2", "node3"], at(0));
        t
    }

    #[test]
    fn starts_unknown_and_usable() {
        let mut t = table();
        assert_eq!(t.get("node2").unwrap().state, PeerState::Unknown);
        assert!(t.try_peer("node2", 30_000, at(0)));
        assert!(t.probe_candidates().is_empty());
    }

    #[test]
    fn silence_puts_a_peer_down_until_holddown_then_one_call_retries() {
        let mut t = table();
        let c = t.note_no_response("node2", 1_000, 30_000, at(1_000)).unwrap();
        assert_eq!((c.from, c.to), (PeerState::Unknown, PeerState::Down));
        assert_eq!(c.reason, "no response to a call in 1.0 s");
        assert!(!t.try_peer("node2", 30_000, at(2_000)));
        assert!(!t.try_peer("node2", 30_000, at(30_999)));
        assert!(t.try_peer("node2", 30_000, at(31_000)), "holddown over: one trial");
        assert!(!t.try_peer("node2", 30_000, at(31_001)), "only one trial at a time");
        let c = t.note_response("node2", at(31_010)).unwrap();
        assert_eq!(c.to, PeerState::Up);
        assert!(t.try_peer("node2", 30_000, at(31_011)));
        assert_eq!(t.get("node2").unwrap().last_response_wall_s, Some(1_031));
        assert!(t.try_peer("node3", 30_000, at(2_000)), "the other peer is untouched");
    }

    #[test]
    fn a_peer_down_by_silence_is_probed_and_up_at_its_first_answer() {
        let mut t = table();
        t.note_no_response("node2", 1_000, 30_000, at(1_000));
        assert_eq!(t.probe_candidates(), vec!["node2".to_string()]);
        assert_eq!(t.note_probe("node2", false, at(2_000)), None, "an unanswered probe changes nothing");
        assert!(!t.try_peer("node2", 30_000, at(2_500)), "skipped while probes go unanswered");
        let c = t.note_probe("node2", true, at(3_000)).unwrap();
        assert_eq!((c.from, c.to, c.reason.as_str()), (PeerState::Down, PeerState::Up, "answered a probe"));
        assert!(t.try_peer("node2", 30_000, at(3_001)), "used again at once");
        assert!(t.probe_candidates().is_empty());
        assert_eq!(t.note_probe("node2", true, at(4_000)), None, "a late answer to an up peer is no news");
    }

    #[test]
    fn an_unreachable_endpoint_holds_a_peer_down_past_holddown_and_probes() {
        let mut t = table();
        assert!(t.note_endpoint("node2", Reachability::Unreachable, at(0)).is_some());
        assert!(!t.try_peer("node2", 1_000, at(60_000)));
        assert_eq!(t.get("node2").unwrap().reason, "endpoint unreachable");
        assert!(t.probe_candidates().is_empty(), "qualify decides");
        assert_eq!(t.note_probe("node2", true, at(1_000)), None);
    }

    #[test]
    fn a_reachable_endpoint_ends_a_holddown_at_once() {
        let mut t = table();
        t.note_no_response("node2", 1_000, 30_000, at(1_000));
        assert!(!t.try_peer("node2", 30_000, at(2_000)));
        let c = t.note_endpoint("node2", Reachability::Reachable, at(4_000)).unwrap();
        assert_eq!((c.from, c.to, c.reason.as_str()), (PeerState::Down, PeerState::Up, "endpoint reachable"));
        assert!(t.try_peer("node2", 30_000, at(4_000)));
        assert_eq!(t.note_endpoint("node2", Reachability::Reachable, at(5_000)), None, "no news, no event");
    }

    #[test]
    fn seeding_at_load_trusts_reachable_and_probes_unreachable() {
        let mut t = table();
        let c = t.seed_endpoint("node2", Reachability::Reachable, at(0)).unwrap();
        assert_eq!((c.to, c.reason.as_str()), (PeerState::Up, "endpoint reachable"));
        let c = t.seed_endpoint("node3", Reachability::Unreachable, at(0)).unwrap();
        assert_eq!((c.to, c.reason.as_str()), (PeerState::Down, "endpoint unreachable at load"));
        assert_eq!(t.probe_candidates(), vec!["node3".to_string()], "not held: qualify may not have run yet");
        assert!(t.note_probe("node3", true, at(500)).is_some());
        assert_eq!(t.seed_endpoint("node2", Reachability::Unreachable, at(600)), None, "a seed never overrides what is known");
        assert_eq!(t.seed_endpoint("node2", Reachability::Unknown, at(700)), None);
    }

    #[test]
    fn unknown_states_change_nothing() {
        let mut t = table();
        assert_eq!(t.note_endpoint("node2", Reachability::Unknown, at(0)), None);
        assert_eq!(t.get("node2").unwrap().state, PeerState::Unknown);
    }

    #[test]
    fn a_contact_found_unreachable_holds_down_a_peer_whose_endpoint_never_changed() {
        let mut t = table();
        // Unreachable at load (qualify had not run), then up by a probe.
        t.seed_endpoint("node2", Reachability::Unreachable, at(0));
        assert!(t.note_probe("node2", true, at(500)).is_some());
        assert_eq!(t.get("node2").unwrap().state, PeerState::Up);
        // Qualify's first verdict on the contact: unreachable. The endpoint
        // state did not change, so only the contact's change tells.
        let change = t.note_contact_change("node2", Reachability::Unreachable, at(1_000)).expect("down");
        assert_eq!((change.from, change.to, change.reason.as_str()), (PeerState::Up, PeerState::Down, "endpoint unreachable"));
        assert!(t.probe_candidates().is_empty(), "held down until qualify finds it reachable");
        assert!(!t.try_peer("node2", 0, at(60_000)));
        // Becoming reachable comes with an endpoint change of its own...
        assert!(t.note_endpoint("node2", Reachability::Reachable, at(2_000)).is_some());
        assert_eq!(t.get("node2").unwrap().state, PeerState::Up);
    }

    #[test]
    fn a_contact_report_overtaken_by_an_endpoint_change_is_put_right_by_the_next() {
        let mut t = table();
        t.note_endpoint("node2", Reachability::Unreachable, at(0));
        // Contact A's report was made while the endpoint was unreachable;
        // contact B made it reachable, and that change was delivered first.
        assert!(t.note_endpoint("node2", Reachability::Reachable, at(10)).is_some());
        assert!(t.note_contact_change("node2", Reachability::Unreachable, at(11)).is_some());
        assert_eq!(t.get("node2").unwrap().state, PeerState::Down);
        // Contact B's own report, made later, tells the endpoint as it is.
        let change = t.note_contact_change("node2", Reachability::Reachable, at(12)).expect("up again");
        assert_eq!((change.to, change.reason.as_str()), (PeerState::Up, "endpoint reachable"));
    }

    #[test]
    fn a_contact_change_on_a_reachable_endpoint_changes_nothing() {
        let mut t = table();
        t.note_endpoint("node2", Reachability::Reachable, at(0));
        // One of two contacts unreachable: the endpoint is still reachable.
        assert!(t.note_contact_change("node2", Reachability::Reachable, at(1)).is_none());
        assert!(t.note_no_response("node2", 1_000, 5_000, at(2)).is_some());
        assert!(t.note_contact_change("node2", Reachability::Reachable, at(3)).is_none());
        assert_eq!(t.get("node2").unwrap().state, PeerState::Down, "down by silence, probed");
        assert_eq!(t.probe_candidates(), vec!["node2".to_string()]);
    }

    #[test]
    fn reads_asterisks_endpoint_states() {
        assert_eq!(Reachability::from_endpoint_state(2), Reachability::Reachable);
        assert_eq!(Reachability::from_endpoint_state(1), Reachability::Unreachable);
        for other in [0, 3, -1] {
            assert_eq!(Reachability::from_endpoint_state(other), Reachability::Unknown);
        }
    }

    #[test]
    fn repeated_verdicts_report_one_change() {
        let mut t = table();
        assert!(t.note_response("node2", at(0)).is_some());
        assert!(t.note_response("node2", at(1)).is_none());
        assert!(t.note_no_response("node2", 1_000, 5_000, at(2)).is_some());
        assert!(t.note_no_response("node2", 1_000, 5_000, at(3)).is_none());
    }

    #[test]
    fn reload_keeps_known_peers_and_forgets_removed_ones() {
        let mut t = table();
        t.note_response("node2", at(0));
        t.sync_peers(["node2", "node4"], at(5));
        assert_eq!(t.get("node2").unwrap().state, PeerState::Up);
        assert!(t.get("node3").is_none());
        assert_eq!(t.get("node4").unwrap().state, PeerState::Unknown);
    }
}

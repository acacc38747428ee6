//! Peer health: what res_cluster believes about each peer, and why.
//!
//! Two sources feed it. Qualify (the state of the peer's PJSIP device) is
//! authoritative when it says unreachable, and brings a peer back the moment
//! it turns reachable again. Calls teach the rest: a peer that answers
//! anything is up; a peer that stays silent for `peer_timeout` is down at once
//! and skipped until `holddown` has passed (then one call tries it again).

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

/// A qualify result for the peer's PJSIP contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Qualify {
    Reachable,
    Unreachable,
    /// Not qualified (qualify off, contact just created or removed).
    Unknown,
}

impl Qualify {
    /// From the status label Asterisk publishes for a contact.
    pub fn from_contact_status(label: &str) -> Qualify {
        match label {
            "Reachable" => Qualify::Reachable,
            "Unreachable" => Qualify::Unreachable,
            _ => Qualify::Unknown,
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
    last_qualify: Qualify,
    /// While down: no call tries the peer before this (monotonic ms).
    retry_at_ms: u64,
}

impl PeerHealth {
    fn new(now: Now) -> PeerHealth {
        PeerHealth {
            state: PeerState::Unknown,
            since_wall_s: now.wall_s,
            reason: "no call or qualify result yet".into(),
            last_response_wall_s: None,
            last_qualify: Qualify::Unknown,
            retry_at_ms: 0,
        }
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

    fn set(&mut self, peer: &str, to: PeerState, reason: String, now: Now) -> Option<StateChange> {
        let h = self.peers.entry(peer.to_string()).or_insert_with(|| PeerHealth::new(now));
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

    /// Takes in a qualify result (Asterisk publishes one when a contact's
    /// status changes). Unreachable puts the peer down and keeps it out of
    /// holddown trials; reachable brings it up, whatever put it down.
    pub fn note_qualify(&mut self, peer: &str, q: Qualify, now: Now) -> Option<StateChange> {
        let h = self.peers.entry(peer.to_string()).or_insert_with(|| PeerHealth::new(now));
        let before = std::mem::replace(&mut h.last_qualify, q);
        match q {
            Qualify::Unreachable => self.set(peer, PeerState::Down, "qualify: unreachable".into(), now),
            Qualify::Reachable if before != Qualify::Reachable || h.state != PeerState::Up => {
                self.set(peer, PeerState::Up, "qualify: reachable".into(), now)
            }
            _ => None,
        }
    }

    /// The peer answered an INVITE with something.
    pub fn note_response(&mut self, peer: &str, now: Now) -> Option<StateChange> {
        if let Some(h) = self.peers.get_mut(peer) {
            h.last_response_wall_s = Some(now.wall_s);
        }
        self.set(peer, PeerState::Up, "answered a call".into(), now)
    }

    /// The peer said nothing for `waited_ms`: down now, skipped for `holddown_ms`.
    pub fn note_no_response(&mut self, peer: &str, waited_ms: u64, holddown_ms: u64, now: Now) -> Option<StateChange> {
        if let Some(h) = self.peers.get_mut(peer) {
            h.retry_at_ms = now.mono_ms + holddown_ms;
        }
        let secs = waited_ms as f64 / 1000.0;
        self.set(peer, PeerState::Down, format!("no response to a call in {secs:.1} s"), now)
    }

    /// Whether a call may try the peer now. A down peer whose holddown has run
    /// out is tried by this one call; the next waits another holddown unless
    /// the peer answers.
    pub fn try_peer(&mut self, peer: &str, holddown_ms: u64, now: Now) -> bool {
        let h = self.peers.entry(peer.to_string()).or_insert_with(|| PeerHealth::new(now));
        match h.state {
            PeerState::Up | PeerState::Unknown => true,
            PeerState::Down if h.last_qualify == Qualify::Unreachable => false,
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
    fn qualify_unreachable_holds_a_peer_down_past_holddown() {
        let mut t = table();
        assert!(t.note_qualify("node2", Qualify::Unreachable, at(0)).is_some());
        assert!(!t.try_peer("node2", 1_000, at(60_000)));
        assert_eq!(t.get("node2").unwrap().reason, "qualify: unreachable");
    }

    #[test]
    fn a_reachable_result_ends_a_holddown_at_once() {
        let mut t = table();
        t.note_no_response("node2", 1_000, 30_000, at(1_000));
        assert!(!t.try_peer("node2", 30_000, at(2_000)));
        let c = t.note_qualify("node2", Qualify::Reachable, at(4_000)).unwrap();
        assert_eq!((c.from, c.to, c.reason.as_str()), (PeerState::Down, PeerState::Up, "qualify: reachable"));
        assert!(t.try_peer("node2", 30_000, at(4_000)));
        assert_eq!(t.note_qualify("node2", Qualify::Reachable, at(5_000)), None, "no news, no event");
    }

    #[test]
    fn unknown_results_change_nothing() {
        let mut t = table();
        assert_eq!(t.note_qualify("node2", Qualify::Unknown, at(0)), None);
        assert_eq!(t.get("node2").unwrap().state, PeerState::Unknown);
    }

    #[test]
    fn reads_asterisks_contact_status_labels() {
        assert_eq!(Qualify::from_contact_status("Reachable"), Qualify::Reachable);
        assert_eq!(Qualify::from_contact_status("Unreachable"), Qualify::Unreachable);
        for other in ["Unknown", "Created", "Removed", ""] {
            assert_eq!(Qualify::from_contact_status(other), Qualify::Unknown);
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

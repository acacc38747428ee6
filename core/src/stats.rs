//! The counters `cluster show status` prints and `/metrics` serves.

use std::collections::BTreeMap;

use super::plan::Outcome;
use super::status::DialStatus;

/// How a call ended, one word each, for metrics (each call counts once).
pub const OUTCOMES: [&str; 10] = [
    "answered_here",
    "answered_by_peer",
    "answered_via_registration",
    "busy",
    "noanswer",
    "cancel",
    "congestion",
    "chanunavail",
    "invalid_arguments",
    "loop_refused",
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub calls: u64,
    pub answered_locally: u64,
    pub forwarded: u64,
    pub answered_by_peer: u64,
    pub loops_refused: u64,
    pub invalid_arguments: u64,
    /// With locating: calls that dialled a peer reporting the phone present.
    pub located: u64,
    /// With locating: calls that dialled a peer whose reports were unknown.
    pub hunted: u64,
    /// With locating: calls for a phone every peer reported absent, ended
    /// without an INVITE.
    pub zero_invite: u64,
    /// Calls that dialled a down peer's registration of the phone from
    /// here, and of those the ones answered.
    pub via_registration: u64,
    pub answered_via_registration: u64,
    outcomes: BTreeMap<&'static str, u64>,
    /// Per peer: dials of it.
    forwards: BTreeMap<String, u64>,
    /// Per (peer, reason): dials that failed for the peer's own reason.
    failures: BTreeMap<(String, &'static str), u64>,
    /// Per peer: changes of its state.
    state_changes: BTreeMap<String, u64>,
}

/// The outcome word of a call.
pub fn outcome_of(o: &Outcome) -> &'static str {
    if o.invalid.is_some() {
        return "invalid_arguments";
    }
    if o.loop_refused {
        return "loop_refused";
    }
    match o.status {
        DialStatus::Answer if o.answered_by_peer => "answered_by_peer",
        DialStatus::Answer if o.via_registration => "answered_via_registration",
        DialStatus::Answer => "answered_here",
        DialStatus::Busy | DialStatus::DontCall | DialStatus::Torture => "busy",
        DialStatus::NoAnswer => "noanswer",
        DialStatus::Cancel => "cancel",
        DialStatus::Congestion => "congestion",
        DialStatus::ChanUnavail => "chanunavail",
        DialStatus::InvalidArgs => "invalid_arguments",
    }
}

impl Counters {
    pub fn record(&mut self, outcome: &Outcome) {
        self.calls += 1;
        self.answered_locally += u64::from(outcome.answered_locally);
        self.forwarded += u64::from(outcome.forwarded);
        self.answered_by_peer += u64::from(outcome.answered_by_peer);
        self.loops_refused += u64::from(outcome.loop_refused);
        self.invalid_arguments += u64::from(outcome.invalid.is_some());
        self.located += u64::from(outcome.located);
        self.hunted += u64::from(outcome.hunted);
        self.zero_invite += u64::from(outcome.zero_invite);
        self.via_registration += u64::from(outcome.via_registration);
        self.answered_via_registration += u64::from(outcome.via_registration && outcome.status == DialStatus::Answer);
        *self.outcomes.entry(outcome_of(outcome)).or_default() += 1;
    }

    pub fn by_outcome(&self, outcome: &str) -> u64 {
        self.outcomes.get(outcome).copied().unwrap_or(0)
    }

    pub fn note_forward(&mut self, peer: &str) {
        *self.forwards.entry(peer.to_string()).or_default() += 1;
    }

    pub fn forwarded_to(&self, peer: &str) -> u64 {
        self.forwards.get(peer).copied().unwrap_or(0)
    }

    /// `reason`: "silent" or "congestion".
    pub fn note_failure(&mut self, peer: &str, reason: &'static str) {
        *self.failures.entry((peer.to_string(), reason)).or_default() += 1;
    }

    pub fn failures_of(&self, peer: &str, reason: &str) -> u64 {
        self.failures.iter().find(|((p, r), _)| p == peer && *r == reason).map_or(0, |(_, n)| *n)
    }

    pub fn note_state_change(&mut self, peer: &str) {
        *self.state_changes.entry(peer.to_string()).or_default() += 1;
    }

    pub fn state_changes_of(&self, peer: &str) -> u64 {
        self.state_changes.get(peer).copied().unwrap_or(0)
    }
}

//! The counters `cluster show status` prints.

use super::plan::Outcome;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
    }
}

//! Dial results: DIALSTATUS as app_dial sets it, CLUSTERSTATUS as ClusterDial sets it.

use std::fmt;

/// The values Dial leaves in DIALSTATUS, plus INVALIDARGS for ClusterDial's own refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DialStatus {
    Answer,
    Busy,
    NoAnswer,
    Cancel,
    Congestion,
    ChanUnavail,
    DontCall,
    Torture,
    InvalidArgs,
}

impl DialStatus {
    pub const ALL: [DialStatus; 9] = [
        DialStatus::Answer,
        DialStatus::Busy,
        DialStatus::NoAnswer,
        DialStatus::Cancel,
        DialStatus::Congestion,
        DialStatus::ChanUnavail,
        DialStatus::DontCall,
        DialStatus::Torture,
        DialStatus::InvalidArgs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DialStatus::Answer => "ANSWER",
            DialStatus::Busy => "BUSY",
            DialStatus::NoAnswer => "NOANSWER",
            DialStatus::Cancel => "CANCEL",
            DialStatus::Congestion => "CONGESTION",
            DialStatus::ChanUnavail => "CHANUNAVAIL",
            DialStatus::DontCall => "DONTCALL",
            DialStatus::Torture => "TORTURE",
            DialStatus::InvalidArgs => "INVALIDARGS",
        }
    }

    /// Case-insensitive, as administrators write them in `fallback_on`.
    pub fn parse(text: &str) -> Option<DialStatus> {
        let text = text.trim();
        DialStatus::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(text))
    }

    /// CLUSTERSTATUS speaks a smaller language than DIALSTATUS: the privacy
    /// manager's refusals (DONTCALL, TORTURE) mean the callee declined, which
    /// to the dialplan is BUSY.
    pub fn for_cluster(self) -> DialStatus {
        match self {
            DialStatus::DontCall | DialStatus::Torture => DialStatus::Busy,
            other => other,
        }
    }

    /// How much a status tells about the called party, for picking the one
    /// CLUSTERSTATUS reports when several nodes were tried: a phone that was
    /// found (busy, rang) says more than one that was not.
    pub fn weight(self) -> u8 {
        match self.for_cluster() {
            DialStatus::Answer => 7,
            DialStatus::Cancel => 6,
            DialStatus::Busy => 5,
            DialStatus::NoAnswer => 4,
            DialStatus::Congestion => 3,
            DialStatus::ChanUnavail => 2,
            _ => 1,
        }
    }

    /// The hangup cause a node gives a call from a peer that none of its phones
    /// took, chosen so the forwarding node's Dial reads back the same status
    /// (chan_pjsip turns it into a SIP code, the other side turns that back).
    pub fn hangup_cause(self) -> i32 {
        const NO_ROUTE_DESTINATION: i32 = 3; // SIP 404, read back as CHANUNAVAIL
        const USER_BUSY: i32 = 17; // SIP 486, BUSY
        const NO_ANSWER: i32 = 19; // SIP 480, NOANSWER
        const CONGESTION: i32 = 34; // SIP 503, CONGESTION
        match self.for_cluster() {
            DialStatus::Busy => USER_BUSY,
            DialStatus::NoAnswer => NO_ANSWER,
            DialStatus::Congestion => CONGESTION,
            _ => NO_ROUTE_DESTINATION,
        }
    }
}

impl fmt::Display for DialStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_status_case_insensitively() {
        for s in DialStatus::ALL {
            assert_eq!(DialStatus::parse(s.as_str()), Some(s));
            assert_eq!(DialStatus::parse(&s.as_str().to_lowercase()), Some(s));
        }
        assert_eq!(DialStatus::parse(" chanunavail "), Some(DialStatus::ChanUnavail));
        assert_eq!(DialStatus::parse("RINGING"), None);
        assert_eq!(DialStatus::parse(""), None);
    }

    #[test]
    fn privacy_refusals_read_as_busy() {
        assert_eq!(DialStatus::DontCall.for_cluster(), DialStatus::Busy);
        assert_eq!(DialStatus::Torture.for_cluster(), DialStatus::Busy);
        assert_eq!(DialStatus::NoAnswer.for_cluster(), DialStatus::NoAnswer);
    }

    #[test]
    fn a_found_phone_outweighs_a_missing_one() {
        assert!(DialStatus::Busy.weight() > DialStatus::ChanUnavail.weight());
        assert!(DialStatus::NoAnswer.weight() > DialStatus::Congestion.weight());
        assert!(DialStatus::Answer.weight() > DialStatus::Busy.weight());
    }

    #[test]
    fn hangup_causes_round_trip_through_sip() {
        assert_eq!(DialStatus::ChanUnavail.hangup_cause(), 3);
        assert_eq!(DialStatus::Busy.hangup_cause(), 17);
        assert_eq!(DialStatus::NoAnswer.hangup_cause(), 19);
        assert_eq!(DialStatus::Congestion.hangup_cause(), 34);
        assert_eq!(DialStatus::InvalidArgs.hangup_cause(), 3);
    }
}

//! The channel technologies peers are reached over, and what a channel's
//! name says about where it came from.

use std::fmt;

/// A channel driver a peer can be reached over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Technology {
    /// chan_pjsip: a peer is a PJSIP endpoint.
    Pjsip,
    /// chan_iax2: a peer is an iax.conf peer (and the user of the same name
    /// its calls arrive as).
    Iax2,
}

impl Technology {
    /// The channel driver's own name for it, as in dial strings.
    pub fn as_str(self) -> &'static str {
        match self {
            Technology::Pjsip => "PJSIP",
            Technology::Iax2 => "IAX2",
        }
    }

    /// Asterisk matches technologies without regard to case.
    pub fn parse(name: &str) -> Option<Technology> {
        [Technology::Pjsip, Technology::Iax2].into_iter().find(|t| t.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether a leg of this technology that got any answer at all from the
    /// far end leaves a trace of it behind (the hangup-cause entry
    /// chan_pjsip records for every SIP response), so that a leg without one
    /// was met with silence. chan_iax2 records a cause only when a call is
    /// rejected or hung up with one: a live IAX2 peer that simply rang out
    /// leaves none, and its silence is told by chan_iax2's own qualify.
    pub fn records_every_response(self) -> bool {
        self == Technology::Pjsip
    }

    /// Whether the marker's function must be called with the channel
    /// locked: `IAXVAR` finds and adds the channel's datastore without
    /// locking it. (`PJSIP_HEADER` must not be: it waits for the SIP
    /// serializer, which may be waiting for that lock.)
    pub fn marker_needs_channel_lock(self) -> bool {
        self == Technology::Iax2
    }

    /// The dialplan function that reads (and writes) the hop marker on a
    /// channel of this technology, with the marker's name as its argument.
    pub fn marker_function(self) -> &'static str {
        match self {
            Technology::Pjsip => "PJSIP_HEADER",
            Technology::Iax2 => "IAXVAR",
        }
    }
}

impl fmt::Display for Technology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The endpoint a channel of technology `tech` belongs to, read out of the
/// name its driver gave it:
/// - chan_pjsip names channels `PJSIP/<endpoint>-<8 hex digits>`;
/// - chan_iax2 names them `IAX2/<peer>-<call number>`, where for an incoming
///   call the peer is the iax.conf user the caller authenticated as (with
///   that user's secret), else the iax.conf peer whose address the call came
///   from, else the address itself (which names no peer).
pub fn endpoint(tech: Technology, channel_name: &str) -> Option<&str> {
    let (prefix, is_seq): (&str, fn(&str) -> bool) = match tech {
        Technology::Pjsip => ("PJSIP/", |s| s.len() == 8 && s.bytes().all(|b| b.is_ascii_hexdigit())),
        Technology::Iax2 => ("IAX2/", |s| (1..=5).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())),
    };
    let rest = channel_name.strip_prefix(prefix)?;
    let (endpoint, seq) = rest.rsplit_once('-')?;
    (is_seq(seq) && !endpoint.is_empty()).then_some(endpoint)
}

/// The technology and endpoint of a leg, from its name alone: for the
/// names Dial leaves behind (hangup-cause entries, DIALEDPEERNAME), of
/// channels that are gone.
pub fn leg(channel_name: &str) -> Option<(Technology, &str)> {
    [Technology::Pjsip, Technology::Iax2].into_iter().find_map(|t| endpoint(t, channel_name).map(|e| (t, e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_endpoint_out_of_a_pjsip_channel_name() {
        let ep = |n| endpoint(Technology::Pjsip, n);
        assert_eq!(ep("PJSIP/cluster-node2-0000001a"), Some("cluster-node2"));
        assert_eq!(ep("PJSIP/101-00000000"), Some("101"));
        assert_eq!(ep("PJSIP/a-b-c-deadBEEF"), Some("a-b-c"));
    }

    #[test]
    fn reads_the_peer_out_of_an_iax2_channel_name() {
        let ep = |n| endpoint(Technology::Iax2, n);
        assert_eq!(ep("IAX2/node2-1"), Some("node2"));
        assert_eq!(ep("IAX2/cluster-node2-32767"), Some("cluster-node2"));
        // An unknown caller is named after its address: no peer has that name.
        assert_eq!(ep("IAX2/127.0.0.9:4569-12"), Some("127.0.0.9:4569"));
    }

    #[test]
    fn other_channels_have_no_endpoint() {
        for name in ["Local/101@ctx-00000001;1", "PJSIP/101", "PJSIP/-00000001", "PJSIP/101-0001", "IAX2/x-00000001", ""] {
            assert_eq!(endpoint(Technology::Pjsip, name), None, "{name}");
        }
        for name in ["IAX2/node2", "IAX2/-12", "IAX2/node2-", "IAX2/node2-12a", "IAX2/node2-123456", "PJSIP/node2-12", "iax2/node2-1"] {
            assert_eq!(endpoint(Technology::Iax2, name), None, "{name}");
        }
    }

    #[test]
    fn a_leg_is_read_by_its_drivers_naming() {
        assert_eq!(leg("PJSIP/cluster-node2-0000001a"), Some((Technology::Pjsip, "cluster-node2")));
        assert_eq!(leg("IAX2/node2-7"), Some((Technology::Iax2, "node2")));
        assert_eq!(leg("Local/101@x-00000001;1"), None);
    }

    #[test]
    fn technologies_are_named_as_asterisk_names_them() {
        assert_eq!(Technology::parse("iax2"), Some(Technology::Iax2));
        assert_eq!(Technology::parse("PJSIP"), Some(Technology::Pjsip));
        assert_eq!(Technology::parse("SIP"), None);
        assert_eq!(Technology::Iax2.to_string(), "IAX2");
        assert!(Technology::Pjsip.records_every_response());
        assert!(!Technology::Iax2.records_every_response());
    }
}

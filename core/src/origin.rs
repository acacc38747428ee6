//! Where a call came from: a phone, a configured peer, or something that says
//! it was forwarded. This is the loop check and the trust rule in one place.

use super::callerid::CallerId;
use super::channel_name::{self, Technology};
use super::config::{ClusterConfig, Peer};

/// Facts about the calling channel, read by the shell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Arrival {
    /// The channel driver's name for its technology ("PJSIP", "IAX2").
    pub technology: String,
    pub channel_name: String,
    /// The FROM_CLUSTER channel variable (the recipe's loop marker).
    pub from_cluster: Option<String>,
    pub caller: CallerId,
    /// Whether the call came in on one of this node's TLS transports; read
    /// only for a call on the endpoint of a peer trusted by TLS.
    pub over_tls: Option<bool>,
}

impl Arrival {
    /// The technology of the calling channel, when a peer can use it.
    pub fn peer_technology(&self) -> Option<Technology> {
        // The driver's registered name is compared exactly: a channel named
        // "iax2/..." would not be chan_iax2's.
        [Technology::Pjsip, Technology::Iax2].into_iter().find(|t| t.as_str() == self.technology)
    }

    /// The endpoint the call arrived on: a PJSIP endpoint, or the IAX2 user
    /// or peer chan_iax2 named the call after.
    pub fn endpoint(&self) -> Option<(Technology, &str)> {
        let tech = self.peer_technology()?;
        channel_name::endpoint(tech, &self.channel_name).map(|e| (tech, e))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// An ordinary caller: its call may go to the peers.
    Phone,
    /// Arrived on a configured peer's endpoint: a cluster call, and trusted
    /// (its caller number loses the prefix).
    Peer { name: String },
    /// Marked as forwarded (hop header or FROM_CLUSTER=1) but not from a
    /// configured peer: never forwarded again, never trusted.
    Marked { marker: &'static str },
}

impl Origin {
    pub fn classify(config: &ClusterConfig, arrival: &Arrival) -> Origin {
        if let Some(peer) = arrival.endpoint().and_then(|(tech, ep)| config.peer_by_endpoint(tech, ep)) {
            if !peer.trust.tls || arrival.over_tls == Some(true) {
                return Origin::Peer { name: peer.name.clone() };
            }
        }
        if arrival.from_cluster.as_deref().map(str::trim) == Some("1") {
            return Origin::Marked { marker: "FROM_CLUSTER=1" };
        }
        Origin::Phone
    }

    /// The peer trusted by TLS whose endpoint the call arrived on, when it
    /// did not arrive over TLS: an ordinary caller, worth a warning.
    pub fn refused_peer<'a>(config: &'a ClusterConfig, arrival: &Arrival) -> Option<&'a Peer> {
        let peer = arrival.endpoint().and_then(|(tech, ep)| config.peer_by_endpoint(tech, ep))?;
        (peer.trust.tls && arrival.over_tls != Some(true)).then_some(peer)
    }

    /// Takes in the hop header of the incoming call, read only when it
    /// matters (before a forward): a phone's call that carries one was
    /// forwarded already.
    pub fn with_hop_header(self, header: Option<&str>) -> Origin {
        match self {
            Origin::Phone if header.is_some_and(|h| !h.trim().is_empty()) => Origin::Marked { marker: "hop header" },
            other => other,
        }
    }

    /// A cluster call is dialled on this node's phones only.
    pub fn is_cluster_call(&self) -> bool {
        !matches!(self, Origin::Phone)
    }

    pub fn trusted_peer(&self) -> Option<&str> {
        match self {
            Origin::Peer { name } => Some(name),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{build, parse_text, Defaults};

    fn config() -> ClusterConfig {
        let text = "[general]\nnode_name = node1\n[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node2\n\
                    [node3]\ntype = peer\ndial = IAX2/node3/${EXTEN}\n";
        build(&parse_text("f", text).unwrap(), &Defaults::default()).unwrap()
    }

    fn arrival(channel: &str) -> Arrival {
        let technology = channel.split('/').next().unwrap_or_default().to_string();
        Arrival { technology, channel_name: channel.into(), ..Default::default() }
    }

    #[test]
    fn a_call_on_a_peer_endpoint_is_a_trusted_cluster_call() {
        let o = Origin::classify(&config(), &arrival("PJSIP/cluster-node2-00000003"));
        assert_eq!(o, Origin::Peer { name: "node2".into() });
        assert!(o.is_cluster_call());
        assert_eq!(o.trusted_peer(), Some("node2"));
    }

    #[test]
    fn a_phone_is_not_a_cluster_call_whatever_its_number() {
        let mut a = arrival("PJSIP/101-00000001");
        a.caller.number = Some(b"9999101".to_vec());
        let o = Origin::classify(&config(), &a);
        assert_eq!(o, Origin::Phone);
        assert!(!o.is_cluster_call());
    }

    #[test]
    fn markers_stop_forwarding_but_earn_no_trust() {
        let o = Origin::classify(&config(), &arrival("PJSIP/101-00000001")).with_hop_header(Some("node3"));
        assert_eq!(o, Origin::Marked { marker: "hop header" });
        assert!(o.is_cluster_call());
        assert_eq!(o.trusted_peer(), None);

        let mut a = arrival("PJSIP/101-00000001");
        a.from_cluster = Some("1".into());
        assert_eq!(Origin::classify(&config(), &a), Origin::Marked { marker: "FROM_CLUSTER=1" });

        let mut a = arrival("PJSIP/101-00000001");
        a.from_cluster = Some("0".into());
        assert_eq!(Origin::classify(&config(), &a).with_hop_header(Some(" ")), Origin::Phone);
        assert_eq!(Origin::classify(&config(), &a).with_hop_header(None), Origin::Phone);
        let peer = Origin::classify(&config(), &arrival("PJSIP/cluster-node2-00000003"));
        assert_eq!(peer.clone().with_hop_header(Some("node2")), peer, "a peer stays a trusted peer");
    }

    #[test]
    fn a_look_alike_endpoint_is_not_a_peer() {
        assert_eq!(Origin::classify(&config(), &arrival("PJSIP/cluster-node2x-00000003")), Origin::Phone);
        assert_eq!(Origin::classify(&config(), &arrival("Local/cluster-node2@x-00000001;2")), Origin::Phone);
    }

    #[test]
    fn the_technology_is_asked_not_read_from_the_name() {
        // A channel of another driver whose name merely looks like a PJSIP one.
        let mut a = arrival("PJSIP/cluster-node2-00000003");
        a.technology = "Local".into();
        assert_eq!(Origin::classify(&config(), &a), Origin::Phone);
    }

    #[test]
    fn a_call_from_an_iax2_peer_is_a_trusted_cluster_call() {
        let o = Origin::classify(&config(), &arrival("IAX2/node3-4"));
        assert_eq!(o, Origin::Peer { name: "node3".into() });
        // Not node2: it is a PJSIP peer, and this arrived over IAX2.
        assert_eq!(Origin::classify(&config(), &arrival("IAX2/cluster-node2-4")), Origin::Phone);
        assert_eq!(Origin::classify(&config(), &arrival("IAX2/node2-4")), Origin::Phone);
        // A caller chan_iax2 knows by its address only, or another IAX2 user.
        assert_eq!(Origin::classify(&config(), &arrival("IAX2/127.0.0.9:4569-4")), Origin::Phone);
        assert_eq!(Origin::classify(&config(), &arrival("IAX2/201-4")).with_hop_header(Some("node3")), Origin::Marked { marker: "hop header" });
    }
}

#[cfg(test)]
mod tls_tests {
    use super::*;
    use crate::config::{build, parse_text, Defaults};

    #[test]
    fn a_peer_trusted_by_tls_is_trusted_only_over_tls() {
        let text = "[general]\nnode_name = node1\n[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node2\ntrust = tls\n";
        let c = build(&parse_text("f", text).unwrap(), &Defaults::default()).unwrap();
        let mut a = Arrival { technology: "PJSIP".into(), channel_name: "PJSIP/cluster-node2-00000001".into(), ..Default::default() };
        a.over_tls = Some(true);
        assert_eq!(Origin::classify(&c, &a), Origin::Peer { name: "node2".into() });
        assert!(Origin::refused_peer(&c, &a).is_none());
        for over in [Some(false), None] {
            a.over_tls = over;
            assert_eq!(Origin::classify(&c, &a), Origin::Phone, "forged from its address over UDP: {over:?}");
            assert_eq!(Origin::refused_peer(&c, &a).map(|p| p.name.as_str()), Some("node2"));
        }
    }
}

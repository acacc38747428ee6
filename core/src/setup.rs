//! The set-up around res_cluster.conf, checked at load and reload: what
//! pjsip.conf and iax.conf must hold for each peer, and what a peer's trust
//! needs. Each finding names the object and what to do; an error refuses
//! the configuration (a peer whose trust cannot hold), a warning is logged
//! and shown by `cluster show status`.

use std::fmt;

use super::address::{host_port, Network};
use super::channel_name::Technology;
use super::config::{ClusterConfig, Locate, Peer};

/// A PJSIP endpoint as the shell read it from res_pjsip's configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointFacts {
    /// The protocol of its `transport` (udp, tcp, tls, ws, wss), when it
    /// names one.
    pub transport_protocol: Option<String>,
    /// It has inbound authentication (`auth =`).
    pub inbound_auth: bool,
    /// The networks its `identify` objects match.
    pub identify: Vec<String>,
}

/// What the shell found for one peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerFacts {
    /// PJSIP: the endpoint its calls leave on (None: pjsip.conf has none).
    pub outbound: Option<EndpointFacts>,
    /// PJSIP: the endpoint its calls arrive on, when it is another one.
    pub inbound: Option<Option<EndpointFacts>>,
    /// IAX2: whether chan_iax2 knows the peer.
    pub iax2_peer: Option<bool>,
    /// With locate = devstate: whether the outbound-publish exists.
    pub outbound_publish: Option<bool>,
    /// With replicate_contacts: the event of the contacts_publish
    /// outbound-publish (None: pjsip.conf has none of that name).
    pub contacts_publish: Option<Option<String>>,
    /// PJSIP: whether an AOR of the outbound endpoint is qualified.
    pub qualified: Option<bool>,
}

/// This node's transports as the shell read them: (id, protocol, bind).
pub type Transports = [(String, String, String)];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub text: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn warn(text: String) -> Finding {
    Finding { severity: Severity::Warning, text }
}

fn error(text: String) -> Finding {
    Finding { severity: Severity::Error, text }
}

/// Every finding, peer by peer, in the order of the file.
pub fn check(config: &ClusterConfig, facts: &[PeerFacts], transports: &Transports) -> Vec<Finding> {
    let mut out = Vec::new();
    for (peer, f) in config.peers.iter().zip(facts) {
        check_peer(config, peer, f, transports, &mut out);
    }
    out
}

fn check_peer(config: &ClusterConfig, peer: &Peer, f: &PeerFacts, transports: &Transports, out: &mut Vec<Finding>) {
    let name = &peer.name;
    match peer.technology {
        Technology::Iax2 => {
            if f.iax2_peer == Some(false) {
                let (_, ep) = peer.watched_endpoint();
                out.push(warn(format!(
                    "peer {name}: dial = {} names the IAX2 peer {ep}, which iax.conf does not define: every call to {name} fails",
                    peer.dial
                )));
            }
        }
        Technology::Pjsip => {
            let outbound = peer.outbound_endpoint.as_deref().unwrap_or(&peer.endpoint);
            if f.outbound.is_none() {
                out.push(warn(format!(
                    "peer {name}: dial = {} names the PJSIP endpoint {outbound}, which pjsip.conf does not define: every call to {name} fails (CHANUNAVAIL)",
                    peer.dial
                )));
            }
            if let Some(None) = f.inbound {
                out.push(warn(format!(
                    "peer {name}: endpoint = {} is not a PJSIP endpoint pjsip.conf defines: {name}'s calls would be taken for ordinary callers'",
                    peer.endpoint
                )));
            }
        }
    }
    if config.locate == Locate::DevState && f.outbound_publish == Some(false) {
        out.push(warn(format!(
            "peer {name}: with locate = devstate, outbound_publish = {} must be a pjsip.conf outbound-publish to {name}; there is none, so {name} learns nothing of this node's phones and cannot be asked for its own",
            peer.outbound_publish
        )));
    }
    let inbound = match &f.inbound {
        Some(inbound) => inbound.as_ref(),
        None => f.outbound.as_ref(),
    };
    if config.replicate_contacts {
        check_replication(peer, f, out);
    }
    if peer.technology != Technology::Pjsip {
        return;
    }
    if peer.trust.tls {
        let protocol = f.outbound.as_ref().and_then(|e| e.transport_protocol.as_deref());
        if protocol != Some("tls") {
            out.push(error(format!(
                "peer {name}: trust = tls, but its endpoint {} does not dial over a TLS transport (transport = {}): give it a transport of protocol tls, with the certificates checked both ways",
                peer.outbound_endpoint.as_deref().unwrap_or(&peer.endpoint),
                protocol.unwrap_or("none named"),
            )));
        }
        let tls_ports: Vec<u16> = transports.iter().filter(|(_, p, _)| p == "tls").filter_map(|(_, _, b)| host_port(b).map(|(_, port)| port)).collect();
        for (id, protocol, bind) in transports.iter().filter(|(_, p, _)| p != "tls") {
            if let Some((_, port)) = host_port(bind) {
                if tls_ports.contains(&port) {
                    out.push(error(format!(
                        "peer {name}: trust = tls, but transport {id} ({protocol}) listens on port {port} as a TLS transport does: a call's address would not tell them apart; give TLS a port of its own"
                    )));
                }
            }
        }
        if !peer.trust.auth && !inbound.is_some_and(|e| e.inbound_auth) {
            out.push(warn(format!(
                "peer {name}: trust = tls checks its calls; its publications reach this node's modules with the endpoint alone, which identifies them by address: add auth to {name}'s endpoint (and trust = tls, auth) to trust them only from {name}"
            )));
        }
    }
    if peer.trust.auth && !inbound.is_some_and(|e| e.inbound_auth) {
        out.push(error(format!(
            "peer {name}: trust = auth, but its endpoint {} has no auth = : Asterisk would take its requests unauthenticated",
            peer.endpoint
        )));
    }
    if !peer.trust.tls && !peer.trust.auth {
        let public: Vec<String> =
            inbound.map(|e| e.identify.iter().filter_map(|m| Network::parse(m)).filter(|n| !n.is_private()).map(|n| n.to_string()).collect()).unwrap_or_default();
        if !public.is_empty() {
            out.push(warn(format!(
                "peer {name} is trusted by address ({}): anyone on the internet can send a UDP request from that address; use trust = tls or auth (see the README)",
                public.join(", ")
            )));
        }
    }
}

/// Whether a call that came in on local address `local` ("ip:port", as
/// CHANNEL(pjsip,local_addr) reads it) came in on one of the TLS
/// transports: its port is theirs, and so is its address unless the
/// transport listens on every address.
/// With replicate_contacts: what the peer needs to get this node's
/// registrations and to be known up (they go to peers known up only).
fn check_replication(peer: &Peer, f: &PeerFacts, out: &mut Vec<Finding>) {
    let name = &peer.name;
    if peer.technology != Technology::Pjsip {
        out.push(warn(format!("peer {name}: replicate_contacts shares PJSIP registrations with PJSIP peers only; {name} is an IAX2 peer")));
        return;
    }
    match &f.contacts_publish {
        Some(None) => out.push(warn(format!(
            "peer {name}: with replicate_contacts = yes, contacts_publish = {} must be a pjsip.conf outbound-publish to {name} with event = {}; there is none, so {name} cannot reach this node's phones when this node is down",
            peer.contacts_publish,
            crate::replica::EVENT
        ))),
        Some(Some(event)) if event != crate::replica::EVENT => out.push(warn(format!(
            "peer {name}: outbound-publish {} has event = {event}; replicate_contacts needs event = {}",
            peer.contacts_publish,
            crate::replica::EVENT
        ))),
        _ => {}
    }
    if f.qualified == Some(false) {
        out.push(warn(format!(
            "peer {name}: with replicate_contacts = yes, give {name}'s AOR a qualify_frequency: registrations go to peers known up, and without qualify {name} is known up only after a call reached it"
        )));
    }
}

pub fn on_tls(local: &str, transports: &Transports) -> bool {
    let Some((ip, port)) = host_port(local) else { return false };
    transports.iter().filter(|(_, p, _)| p == "tls").filter_map(|(_, _, b)| host_port(b)).any(|(bind, bind_port)| {
        bind_port == port && (bind.is_unspecified() || bind == ip)
    })
}

/// The peer whose identify matches `ip`, among `peers` (name, matches).
pub fn peer_at<'a>(ip: std::net::IpAddr, peers: &'a [(String, Vec<String>)]) -> Option<&'a str> {
    peers.iter().find(|(_, m)| m.iter().filter_map(|n| Network::parse(n)).any(|n| n.contains(ip))).map(|(p, _)| p.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{build, parse_text, Defaults};

    fn config(peers: &str) -> ClusterConfig {
        let text = format!("[general]\nnode_name = node1\nlocate = devstate\n{peers}");
        build(&parse_text("t", &text).unwrap(), &Defaults::default()).unwrap()
    }

    fn endpoint(protocol: &str, auth: bool, identify: &[&str]) -> EndpointFacts {
        EndpointFacts {
            transport_protocol: (!protocol.is_empty()).then(|| protocol.to_string()),
            inbound_auth: auth,
            identify: identify.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn transports() -> Vec<(String, String, String)> {
        vec![
            ("transport-udp".into(), "udp".into(), "0.0.0.0:5060".into()),
            ("transport-tls".into(), "tls".into(), "0.0.0.0:5061".into()),
        ]
    }

    #[test]
    fn a_missing_endpoint_or_publication_is_named_with_what_it_costs() {
        let c = config("[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node2\n[node3]\ntype = peer\ndial = IAX2/node3/${EXTEN}\n");
        let facts = [
            PeerFacts { outbound: None, outbound_publish: Some(false), ..Default::default() },
            PeerFacts { iax2_peer: Some(false), outbound_publish: Some(true), ..Default::default() },
        ];
        let f = check(&c, &facts, &transports());
        let text: Vec<String> = f.iter().map(ToString::to_string).collect();
        assert!(text[0].starts_with("peer node2: dial = PJSIP/${EXTEN}@cluster-node2 names the PJSIP endpoint cluster-node2, which pjsip.conf does not define"), "{text:?}");
        assert!(text[1].starts_with("peer node2: with locate = devstate, outbound_publish = cluster-node2 must be"), "{text:?}");
        assert!(text[2].starts_with("peer node3: dial = IAX2/node3/${EXTEN} names the IAX2 peer node3, which iax.conf does not define"), "{text:?}");
        assert!(f.iter().all(|f| f.severity == Severity::Warning));
    }

    #[test]
    fn replication_names_a_missing_publish_a_wrong_event_and_no_qualify() {
        let mut c = config("[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node2\n[node3]\ntype = peer\ndial = IAX2/node3/${EXTEN}\n");
        c.replicate_contacts = true;
        let good = PeerFacts { contacts_publish: Some(Some(crate::replica::EVENT.into())), qualified: Some(true), ..PeerFacts::default() };
        let texts = |facts: PeerFacts| -> Vec<String> {
            check(&c, &[facts, PeerFacts::default()], &transports()).into_iter().map(|f| f.text).filter(|t| t.contains("replicate") || t.contains("event")).collect()
        };
        let iax = "peer node3: replicate_contacts shares PJSIP registrations with PJSIP peers only; node3 is an IAX2 peer";
        assert_eq!(texts(good.clone()), [iax]);
        let missing = texts(PeerFacts { contacts_publish: Some(None), ..good.clone() });
        assert!(missing[0].contains("contacts_publish = cluster-node2-contacts must be a pjsip.conf outbound-publish"), "{missing:?}");
        let wrong = texts(PeerFacts { contacts_publish: Some(Some("asterisk-devicestate".into())), ..good.clone() });
        assert!(wrong[0].contains("has event = asterisk-devicestate; replicate_contacts needs event = res-cluster-contacts"), "{wrong:?}");
        let unqualified = texts(PeerFacts { qualified: Some(false), ..good });
        assert!(unqualified[0].contains("give node2's AOR a qualify_frequency"), "{unqualified:?}");
    }

    #[test]
    fn trust_is_checked_against_the_endpoint_and_the_transports() {
        let c = config(
            "[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node2\ntrust = tls\n\
             [node3]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node3\ntrust = auth\n\
             [node4]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node4\n\
             [node5]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node5\ntrust = tls, auth\n",
        );
        let ok = |p: &str, auth: bool, m: &[&str]| PeerFacts { outbound: Some(endpoint(p, auth, m)), outbound_publish: Some(true), ..Default::default() };
        let facts = [ok("udp", false, &[]), ok("udp", false, &[]), ok("udp", false, &["203.0.113.5/255.255.255.255", "10.0.0.2/255.255.255.255"]), ok("tls", true, &[])];
        let f = check(&c, &facts, &transports());
        let text: Vec<(Severity, String)> = f.iter().map(|f| (f.severity, f.text.clone())).collect();
        assert!(text.iter().any(|(s, t)| *s == Severity::Error && t.starts_with("peer node2: trust = tls, but its endpoint cluster-node2 does not dial over a TLS transport (transport = udp)")), "{text:?}");
        assert!(text.iter().any(|(s, t)| *s == Severity::Warning && t.starts_with("peer node2: trust = tls checks its calls; its publications")), "{text:?}");
        assert!(text.iter().any(|(s, t)| *s == Severity::Error && t.starts_with("peer node3: trust = auth, but its endpoint cluster-node3 has no auth")), "{text:?}");
        assert!(text.iter().any(|(s, t)| *s == Severity::Warning && t.starts_with("peer node4 is trusted by address (203.0.113.5): anyone on the internet")), "{text:?}");
        assert!(!text.iter().any(|(_, t)| t.contains("node5")), "tls with auth over a TLS transport is whole: {text:?}");
        let shared = vec![("udp".to_string(), "udp".to_string(), "0.0.0.0:5061".to_string()), ("tls".into(), "tls".into(), "127.0.0.1:5061".into())];
        let f = check(&c, &facts[..1], &shared);
        assert!(f.iter().any(|f| f.text.contains("transport udp (udp) listens on port 5061 as a TLS transport does")), "{f:?}");
    }

    #[test]
    fn a_call_came_in_over_tls_when_its_local_address_is_a_tls_transports() {
        let t = transports();
        assert!(on_tls("127.0.0.1:5061", &t));
        assert!(!on_tls("127.0.0.1:5060", &t));
        let bound = vec![("tls".into(), "tls".into(), "127.0.0.1:5061".into())];
        assert!(on_tls("127.0.0.1:5061", &bound) && !on_tls("127.0.0.2:5061", &bound));
        assert!(!on_tls("", &t) && !on_tls("garbage", &t));
    }

    #[test]
    fn the_peer_at_an_address_is_found_by_its_identify() {
        let peers = vec![("node2".to_string(), vec!["127.0.0.2/255.255.255.255".to_string()]), ("node3".into(), vec!["10.0.0.0/255.0.0.0".into()])];
        assert_eq!(peer_at("127.0.0.2".parse().unwrap(), &peers), Some("node2"));
        assert_eq!(peer_at("10.9.9.9".parse().unwrap(), &peers), Some("node3"));
        assert_eq!(peer_at("127.0.0.3".parse().unwrap(), &peers), None);
    }
}

//! res_cluster's figures in Prometheus' text exposition format, for
//! res_prometheus to serve on `/metrics` beside Asterisk's own: named
//! `asterisk_cluster_*`, each series labelled with the node's `eid` first,
//! as Asterisk's metrics are, then `node` and the series' own labels.

use std::fmt::Write as _;

use super::config::{ClusterConfig, Locate};
use super::health::{HealthTable, PeerState};
use super::stats::{Counters, OUTCOMES};

/// One metric family: name, type, help, and its series (labels, value).
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    series: Vec<(Vec<(&'static str, String)>, u64)>,
}

/// A label value as the format requires: backslash, double quote and line
/// feed escaped.
fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn write_family(out: &mut String, common: &[(&'static str, String)], f: &Family) {
    let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
    let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
    for (labels, value) in &f.series {
        let all: Vec<String> = common.iter().chain(labels).map(|(k, v)| format!("{k}=\"{}\"", label_value(v))).collect();
        let _ = writeln!(out, "{}{{{}}} {value}", f.name, all.join(","));
    }
}

/// The exposition text: calls by outcome, forwards and their failures per
/// peer, each peer's state and state changes, and (with locating) located,
/// hunted and zero-INVITE calls.
pub fn exposition(eid: &str, config: &ClusterConfig, counters: &Counters, health: &HealthTable) -> String {
    let common = vec![("eid", eid.to_string()), ("node", config.node_name.clone())];
    let peer = |p: &str| vec![("peer", p.to_string())];
    let mut families = vec![
        Family {
            name: "asterisk_cluster_calls_total",
            kind: "counter",
            help: "Calls through ClusterDial, by how they ended.",
            series: OUTCOMES.iter().map(|o| (vec![("outcome", o.to_string())], counters.by_outcome(o))).collect(),
        },
        Family {
            name: "asterisk_cluster_forwarded_total",
            kind: "counter",
            help: "Dials of a peer for a call (one per peer a call was sent to).",
            series: config.peers.iter().map(|p| (peer(&p.name), counters.forwarded_to(&p.name))).collect(),
        },
        Family {
            name: "asterisk_cluster_forward_failures_total",
            kind: "counter",
            help: "Dials of a peer that failed for the peer's own reason: no SIP response within peer_timeout (silent), no SIP response at all and over sooner (unreachable: refused below SIP), or congestion (the peer's, or its phone's passed back).",
            series: config
                .peers
                .iter()
                .flat_map(|p| {
                    ["silent", "unreachable", "congestion"].into_iter().map(|reason| {
                        let mut l = peer(&p.name);
                        l.push(("reason", reason.to_string()));
                        (l, counters.failures_of(&p.name, reason))
                    })
                })
                .collect(),
        },
        Family {
            name: "asterisk_cluster_peer_up",
            kind: "gauge",
            help: "1 while the peer is up, 0 while it is down or not yet known.",
            series: config
                .peers
                .iter()
                .map(|p| (peer(&p.name), u64::from(health.get(&p.name).is_some_and(|h| h.state == PeerState::Up))))
                .collect(),
        },
        Family {
            name: "asterisk_cluster_peer_down",
            kind: "gauge",
            help: "1 while the peer is down (silent, unreachable, its probes unanswered), 0 while it is up or not yet known.",
            series: config
                .peers
                .iter()
                .map(|p| (peer(&p.name), u64::from(health.get(&p.name).is_some_and(|h| h.state == PeerState::Down))))
                .collect(),
        },
        Family {
            name: "asterisk_cluster_peer_state_changes_total",
            kind: "counter",
            help: "Changes of the peer's state (UP, DOWN, UNKNOWN) since the module loaded.",
            series: config.peers.iter().map(|p| (peer(&p.name), counters.state_changes_of(&p.name))).collect(),
        },
    ];
    if config.locate == Locate::DevState {
        families.push(Family {
            name: "asterisk_cluster_locate_total",
            kind: "counter",
            help: "Forwarding decisions with locate = devstate: calls that dialled a peer reporting the phone (located), a peer that reported nothing usable (hunted), or no peer because all reported it absent (zero_invite).",
            series: vec![
                (vec![("result", "located".to_string())], counters.located),
                (vec![("result", "hunted".to_string())], counters.hunted),
                (vec![("result", "zero_invite".to_string())], counters.zero_invite),
            ],
        });
    }
    let mut out = String::new();
    for f in &families {
        write_family(&mut out, &common, f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{build, parse_text, Defaults};
    use crate::health::Now;
    use crate::plan::Outcome;
    use crate::status::DialStatus;

    fn config(extra: &str) -> ClusterConfig {
        let t = format!("[general]\nnode_name = node1\n{extra}\n[node2]\ntype = peer\ndial = PJSIP/${{EXTEN}}@cluster-node2\n");
        build(&parse_text("t", &t).unwrap(), &Defaults::default()).unwrap()
    }

    fn outcome(status: DialStatus, f: impl FnOnce(&mut Outcome)) -> Outcome {
        let mut o = Outcome::new(status, String::new());
        f(&mut o);
        o
    }

    #[test]
    fn every_family_has_help_type_and_labelled_series() {
        let mut c = Counters::default();
        c.record(&outcome(DialStatus::Answer, |o| o.answered_locally = true));
        c.record(&outcome(DialStatus::Answer, |o| o.answered_by_peer = true));
        c.record(&outcome(DialStatus::ChanUnavail, |_| {}));
        c.record(&outcome(DialStatus::ChanUnavail, |o| o.loop_refused = true));
        c.note_forward("node2");
        c.note_forward("node2");
        c.note_failure("node2", "silent");
        c.note_state_change("node2");
        let mut h = HealthTable::default();
        h.sync_peers(["node2"], Now { mono_ms: 0, wall_s: 0 });
        h.note_response("node2", Now { mono_ms: 0, wall_s: 0 });
        let text = exposition("02:00:00:00:00:01", &config(""), &c, &h);
        for line in [
            "# HELP asterisk_cluster_calls_total Calls through ClusterDial, by how they ended.",
            "# TYPE asterisk_cluster_calls_total counter",
            "asterisk_cluster_calls_total{eid=\"02:00:00:00:00:01\",node=\"node1\",outcome=\"answered_here\"} 1",
            "asterisk_cluster_calls_total{eid=\"02:00:00:00:00:01\",node=\"node1\",outcome=\"answered_by_peer\"} 1",
            "asterisk_cluster_calls_total{eid=\"02:00:00:00:00:01\",node=\"node1\",outcome=\"chanunavail\"} 1",
            "asterisk_cluster_calls_total{eid=\"02:00:00:00:00:01\",node=\"node1\",outcome=\"loop_refused\"} 1",
            "asterisk_cluster_calls_total{eid=\"02:00:00:00:00:01\",node=\"node1\",outcome=\"busy\"} 0",
            "asterisk_cluster_forwarded_total{eid=\"02:00:00:00:00:01\",node=\"node1\",peer=\"node2\"} 2",
            "asterisk_cluster_forward_failures_total{eid=\"02:00:00:00:00:01\",node=\"node1\",peer=\"node2\",reason=\"silent\"} 1",
            "# TYPE asterisk_cluster_peer_up gauge",
            "asterisk_cluster_peer_up{eid=\"02:00:00:00:00:01\",node=\"node1\",peer=\"node2\"} 1",
            "asterisk_cluster_peer_down{eid=\"02:00:00:00:00:01\",node=\"node1\",peer=\"node2\"} 0",
            "asterisk_cluster_peer_state_changes_total{eid=\"02:00:00:00:00:01\",node=\"node1\",peer=\"node2\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
        assert!(!text.contains("asterisk_cluster_locate_total"), "only with locating");
        let text = exposition("e", &config("locate = devstate"), &c, &h);
        assert!(text.contains("asterisk_cluster_locate_total{eid=\"e\",node=\"node1\",result=\"zero_invite\"} 0"), "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}

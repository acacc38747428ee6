//! The text of `cluster show status` and `cluster show peers`.

use super::config::ClusterConfig;
use super::health::{HealthTable, PeerState};
use super::locate::{state, Device, Problem, Report, Sync};
use super::replica::Replica;
use super::stats::Counters;

/// `marking`: how peer legs are marked now; `heap`: bytes and blocks the
/// module itself holds.
/// `problems`: what the set-up check found at the last load or reload.
pub fn status(config: &ClusterConfig, counters: &Counters, marking: &str, heap: (usize, usize), problems: &[String]) -> String {
    let rows = [
        ("Node", config.node_name.clone()),
        ("Strategy", config.strategy.as_str().to_string()),
        ("Peers", config.peers.len().to_string()),
        ("Fallback on", config.fallback_on.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")),
        ("Peer legs marked by", marking.to_string()),
        ("Calls", counters.calls.to_string()),
        ("Answered locally", counters.answered_locally.to_string()),
        ("Forwarded", counters.forwarded.to_string()),
        ("Answered by a peer", counters.answered_by_peer.to_string()),
        ("Loops refused", counters.loops_refused.to_string()),
        ("Invalid arguments", counters.invalid_arguments.to_string()),
        ("Locate", config.locate.as_str().to_string()),
        ("Located", counters.located.to_string()),
        ("Hunted", counters.hunted.to_string()),
        ("Zero-INVITE calls", counters.zero_invite.to_string()),
        ("Replicate contacts", if config.replicate_contacts { "yes" } else { "no" }.to_string()),
        ("Via registration", counters.via_registration.to_string()),
        ("Answered via registration", counters.answered_via_registration.to_string()),
        ("Module memory", format!("{} bytes in {} blocks", heap.0, heap.1)),
    ];
    let mut out: String = rows.iter().map(|(k, v)| format!("{:<20} {v}\n", format!("{k}:"))).collect();
    for p in problems {
        out.push_str(&format!("Warning: {p}\n"));
    }
    out
}

/// The AMI action ClusterStatus: the fields of `cluster show status`, as
/// "Key: value" lines.
pub fn ami_status(config: &ClusterConfig, counters: &Counters, marking: &str) -> String {
    let rows = [
        ("Node", config.node_name.clone()),
        ("Strategy", config.strategy.as_str().to_string()),
        ("Peers", config.peers.len().to_string()),
        ("Locate", config.locate.as_str().to_string()),
        ("PeerLegMarking", marking.to_string()),
        ("Calls", counters.calls.to_string()),
        ("AnsweredLocally", counters.answered_locally.to_string()),
        ("Forwarded", counters.forwarded.to_string()),
        ("AnsweredByPeer", counters.answered_by_peer.to_string()),
        ("LoopsRefused", counters.loops_refused.to_string()),
        ("InvalidArguments", counters.invalid_arguments.to_string()),
        ("Located", counters.located.to_string()),
        ("Hunted", counters.hunted.to_string()),
        ("ZeroInvite", counters.zero_invite.to_string()),
        ("ReplicateContacts", if config.replicate_contacts { "yes" } else { "no" }.to_string()),
        ("ViaRegistration", counters.via_registration.to_string()),
        ("AnsweredViaRegistration", counters.answered_via_registration.to_string()),
    ];
    rows.iter().map(|(k, v)| format!("{k}: {}\r\n", ami_value(v))).collect()
}

/// The AMI action ClusterPeers: one entry per peer, as "Key: value" lines.
pub fn ami_peers(config: &ClusterConfig, health: &HealthTable) -> Vec<String> {
    config
        .peers
        .iter()
        .map(|p| {
            let h = health.get(&p.name);
            let rows = [
                ("Peer", p.name.clone()),
                ("Endpoint", p.endpoint.clone()),
                ("Technology", p.technology.as_str().to_string()),
                ("PeerStatus", h.map_or(PeerState::Unknown, |h| h.state).as_str().to_string()),
                ("Cause", h.map(|h| h.reason.clone()).unwrap_or_default()),
                ("Since", h.map(|h| h.since_wall_s.to_string()).unwrap_or_default()),
                ("LastResponse", h.and_then(|h| h.last_response_wall_s).map(|t| t.to_string()).unwrap_or_default()),
                ("Trust", p.trust.describe().to_string()),
            ];
            rows.iter().map(|(k, v)| format!("{k}: {}\r\n", ami_value(v))).collect()
        })
        .collect()
}

/// A line break or separator in a value would forge further AMI headers.
fn ami_value(v: &str) -> String {
    v.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

pub fn peers(config: &ClusterConfig, health: &HealthTable, now_wall_s: u64) -> String {
    let mut out = format!(
        "{:<16} {:<20} {:<8} {:<20} {:<34} {}\n",
        "Peer", "Endpoint", "State", "Since (UTC)", "Why", "Last response"
    );
    for peer in &config.peers {
        let (state, since, why, last) = match health.get(&peer.name) {
            Some(h) => (
                h.state.as_str(),
                utc(h.since_wall_s),
                h.reason.clone(),
                h.last_response_wall_s.map_or("never".to_string(), |t| ago(now_wall_s.saturating_sub(t))),
            ),
            None => ("UNKNOWN", "-".to_string(), "-".to_string(), "never".to_string()),
        };
        out.push_str(&format!("{:<16} {:<20} {:<8} {:<20} {:<34} {}\n", peer.name, peer.endpoint, state, since, why, last));
    }
    out.push_str(&format!("{} peer(s)\n", config.peers.len()));
    out
}

/// `cluster show registrations`: the peers' registrations this node keeps,
/// whether each would be dialled from here when its node is down, and why
/// not.
pub fn registrations(config: &ClusterConfig, health: &HealthTable, kept: &[Replica], now_wall_s: u64) -> String {
    if !config.replicate_contacts {
        return "replicate_contacts is off (res_cluster.conf, [general]): this node keeps no peer's registrations\n".into();
    }
    let mut out = format!("{:<16} {:<8} {:<20} {:<44} {:<9} {}\n", "Peer", "State", "Endpoint", "Contact", "Expires", "From here");
    for r in kept {
        let state = health.get(&r.owner).map_or("UNKNOWN", |h| h.state.as_str());
        let expires = format!("{} s", r.contact.expires.saturating_sub(now_wall_s));
        let from_here = if r.reach.dialable() { "yes".to_string() } else { format!("no: {}", r.reach.why()) };
        out.push_str(&format!("{:<16} {:<8} {:<20} {:<44} {:<9} {}\n", r.owner, state, r.contact.endpoint, r.contact.uri, expires, from_here));
    }
    let dialable = kept.iter().filter(|r| r.reach.dialable()).count();
    out.push_str(&format!("{} registration(s) of {} peer(s) kept, {dialable} dialled from here when their node is down\n", kept.len(), config.peers.len()));
    out
}

/// One peer's line in `cluster show locations`.
pub struct LocationRow<'a> {
    pub peer: &'a str,
    pub sync: &'a Sync,
    pub health: PeerState,
    /// With a phone asked for: what routing makes of the peer's reports,
    /// and the state it reports (the newest present one, else the first;
    /// None: no entry) with the report's age.
    pub phone: Option<(Report, Option<(i32, u64)>)>,
}

/// `cluster show locations [exten]`.
pub fn locations(config: &ClusterConfig, own_eid: &str, phone: Option<(&str, &[Device])>, rows: &[LocationRow], problems: &[Problem]) -> String {
    let mut out = String::new();
    if let Some((exten, devices)) = phone {
        let names: Vec<&str> = devices
            .iter()
            .map(|d| match d {
                Device::Named(n) => n.as_str(),
                Device::Unlocatable { destination, .. } => destination.as_str(),
            })
            .collect();
        out.push_str(&format!("Phone {exten} ({}); locate = {}\n", names.join("&"), config.locate.as_str()));
        for d in devices {
            if let Device::Unlocatable { destination, why } = d {
                out.push_str(&format!("Not located: {destination} ({why}); calls for it are hunted\n"));
            }
        }
    } else {
        out.push_str(&format!("locate = {}\n", config.locate.as_str()));
    }
    let head = format!("{:<16} {:<10} {:<18} {:<8}", "Peer", "Synced", "Entity ID", "Health");
    out.push_str(&head);
    if phone.is_some() {
        out.push_str(&format!(" {:<22} {}", "Phone", "Reported"));
    }
    out.push('\n');
    for r in rows {
        let (synced, eid) = match r.sync {
            Sync::Synced(e) => ("yes", e.to_string()),
            Sync::NotSynced => ("no", "-".to_string()),
            Sync::Untrusted => ("refused", "-".to_string()),
        };
        out.push_str(&format!("{:<16} {:<10} {:<18} {:<8}", r.peer, synced, eid, r.health.as_str()));
        if let Some((report, seen)) = r.phone {
            let when = seen.map_or("-".to_string(), |(_, age_ms)| ago_ms(age_ms));
            let what = match (r.sync, report, seen) {
                (Sync::Synced(_), Report::Present { .. }, Some((st, _))) => state::name(st).to_string(),
                (Sync::Synced(_), Report::Absent, Some((st, _))) => format!("absent ({})", state::name(st)),
                (Sync::Synced(_), Report::Absent, None) => "absent".to_string(),
                (Sync::Synced(_), Report::Unknown, Some((st, _))) => format!("unknown ({})", state::name(st)),
                _ => "unknown".to_string(),
            };
            out.push_str(&format!(" {what:<22} {when}"));
        }
        out.push('\n');
    }
    out.push_str(&format!("{} peer(s); this node is {own_eid}\n", rows.len()));
    for p in problems {
        out.push_str(&format!("Refused: {p}\n"));
    }
    out
}

fn ago_ms(ms: u64) -> String {
    if ms < 10_000 {
        format!("{:.1} s ago", ms as f64 / 1000.0)
    } else {
        ago(ms / 1000)
    }
}

fn ago(secs: u64) -> String {
    format!("{secs} s ago")
}

/// "YYYY-MM-DD hh:mm:ss" for seconds since 1970 (proleptic Gregorian, UTC).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days to civil date, after Howard Hinnant's published algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{build, parse_text, Defaults};
    use crate::health::Now;

    fn config() -> ClusterConfig {
        let t = "[general]\nnode_name = node1\n[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node2\n";
        build(&parse_text("t", t).unwrap(), &Defaults::default()).unwrap()
    }

    #[test]
    fn registrations_say_which_are_dialled_from_here_and_why_not() {
        use crate::replica::{reach, Contact};
        let mut c = config();
        let off = registrations(&c, &HealthTable::default(), &[], 0);
        assert!(off.contains("replicate_contacts is off"), "{off}");
        c.replicate_contacts = true;
        let contact = |uri: &str, via: &str| Contact {
            id: format!("102;@{uri}"),
            aor: "102".into(),
            endpoint: "102".into(),
            uri: uri.into(),
            expires: 1_000,
            via_addr: via.into(),
            via_port: 5062,
            path: String::new(),
            user_agent: String::new(),
            registered: 0,
        };
        let kept: Vec<Replica> = [contact("sip:102@192.0.2.5:5062", "192.0.2.5"), contact("sip:102@192.0.2.6:5062", "10.0.0.6")]
            .into_iter()
            .map(|c| Replica { owner: "node2".into(), reach: reach(&c), contact: c })
            .collect();
        let text = registrations(&c, &HealthTable::default(), &kept, 400);
        assert!(text.contains("sip:102@192.0.2.5:5062") && text.contains("600 s") && text.contains(" yes"), "{text}");
        assert!(text.contains("no: behind NAT"), "{text}");
        assert!(text.contains("2 registration(s) of 1 peer(s) kept, 1 dialled from here"), "{text}");
    }

    #[test]
    fn locations_show_each_peers_view_of_a_phone() {
        use crate::eid::Eid;
        let e2 = Eid::parse("02:00:00:00:00:02").unwrap();
        let (synced, not) = (Sync::Synced(e2), Sync::NotSynced);
        let rows = [
            LocationRow { peer: "node2", sync: &synced, health: PeerState::Up, phone: Some((Report::Present { age_ms: 2_500 }, Some((state::INUSE, 2_500)))) },
            LocationRow { peer: "node3", sync: &synced, health: PeerState::Up, phone: Some((Report::Absent, None)) },
            LocationRow { peer: "node4", sync: &not, health: PeerState::Down, phone: Some((Report::Unknown, Some((state::NOT_INUSE, 1)))) },
            LocationRow { peer: "node5", sync: &synced, health: PeerState::Up, phone: Some((Report::Unknown, Some((state::UNKNOWN, 700)))) },
        ];
        let devices = vec![Device::Named("PJSIP/102".to_string())];
        let text = locations(&config(), "02:00:00:00:00:01", Some(("102", &devices)), &rows, &[]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Phone 102 (PJSIP/102); locate = off");
        assert!(lines[2].starts_with("node2") && lines[2].contains("yes") && lines[2].contains("02:00:00:00:00:02") && lines[2].contains("INUSE") && lines[2].ends_with("2.5 s ago"), "{}", lines[2]);
        assert!(lines[3].contains("absent") && lines[3].ends_with('-'), "{}", lines[3]);
        assert!(lines[4].contains(" no ") && lines[4].contains("DOWN") && lines[4].contains("unknown"), "{}", lines[4]);
        assert!(lines[5].contains("unknown (UNKNOWN)") && lines[5].ends_with("0.7 s ago"), "an IAX2 phone chan_iax2 leaves to the core: {}", lines[5]);
        assert_eq!(lines[6], "4 peer(s); this node is 02:00:00:00:00:01");
        let devices = vec![Device::Unlocatable { destination: "PJSIP/102@trunk".into(), why: "a user at another endpoint" }];
        let text = locations(&config(), "02:00:00:00:00:01", Some(("102", &devices)), &rows[..1], &[]);
        assert!(text.contains("Not located: PJSIP/102@trunk (a user at another endpoint); calls for it are hunted"), "{text}");
    }

    #[test]
    fn the_ami_actions_say_what_the_cli_says() {
        let mut c = Counters::default();
        c.calls = 4;
        let text = ami_status(&config(), &c, "a pre-dial handler\r\nEvent: forged");
        assert!(text.starts_with("Node: node1\r\nStrategy: sequential\r\n"), "{text}");
        assert!(text.contains("Calls: 4\r\n") && text.contains("PeerLegMarking: a pre-dial handler  Event: forged\r\n"), "{text}");
        let mut h = HealthTable::default();
        let at = Now { mono_ms: 0, wall_s: 1_795_700_000 };
        h.sync_peers(["node2"], at);
        h.note_response("node2", at);
        let peers = ami_peers(&config(), &h);
        assert_eq!(peers.len(), 1);
        assert!(peers[0].starts_with("Peer: node2\r\nEndpoint: cluster-node2\r\nTechnology: PJSIP\r\nPeerStatus: UP\r\nCause: answered a call\r\n"), "{}", peers[0]);
        assert!(peers[0].ends_with("LastResponse: 1795700000\r\nTrust: address\r\n"), "{}", peers[0]);
    }

    #[test]
    fn formats_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc(1_795_700_000), "2026-11-26 13:33:20");
    }

    #[test]
    fn status_shows_node_and_every_counter() {
        let mut c = Counters::default();
        (c.calls, c.answered_locally, c.forwarded, c.answered_by_peer) = (9, 2, 5, 4);
        (c.loops_refused, c.invalid_arguments, c.located, c.hunted, c.zero_invite) = (1, 3, 6, 7, 8);
        let text = status(&config(), &c, "a pre-dial handler", (4096, 12), &["peer node2 is trusted by address".to_string()]);
        for line in ["Node:                node1", "Strategy:            sequential", "Calls:               9",
                     "Peer legs marked by: a pre-dial handler", "Locate:              off", "Located:             6",
                     "Hunted:              7", "Zero-INVITE calls:   8",
                     "Answered locally:    2", "Forwarded:           5", "Answered by a peer:  4",
                     "Loops refused:       1", "Invalid arguments:   3",
                     "Module memory:       4096 bytes in 12 blocks", "Warning: peer node2 is trusted by address\n"] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }

    #[test]
    fn peers_shows_state_since_why_and_last_response() {
        let mut h = HealthTable::default();
        let at = Now { mono_ms: 0, wall_s: 1_795_700_000 };
        h.sync_peers(["node2"], at);
        h.note_response("node2", at);
        let text = peers(&config(), &h, 1_795_700_007);
        let row = text.lines().nth(1).unwrap();
        assert!(row.starts_with("node2"), "{row}");
        for part in ["cluster-node2", "UP", "2026-11-26 13:33:20", "answered a call", "7 s ago"] {
            assert!(row.contains(part), "{part} missing from {row}");
        }
        assert!(text.ends_with("1 peer(s)\n"));
    }
}

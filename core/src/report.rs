//! The text of `cluster show status` and `cluster show peers`.

use super::config::ClusterConfig;
use super::health::HealthTable;
use super::stats::Counters;

/// `marking`: how peer legs are marked now; `heap`: bytes and blocks the
/// module itself holds.
pub fn status(config: &ClusterConfig, counters: &Counters, marking: &str, heap: (usize, usize)) -> String {
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
        ("Module memory", format!("{} bytes in {} blocks", heap.0, heap.1)),
    ];
    rows.iter().map(|(k, v)| format!("{:<20} {v}\n", format!("{k}:"))).collect()
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
    fn formats_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc(1_795_700_000), "2026-11-26 13:33:20");
    }

    #[test]
    fn status_shows_node_and_every_counter() {
        let c = Counters { calls: 9, answered_locally: 2, forwarded: 5, answered_by_peer: 4, loops_refused: 1, invalid_arguments: 3 };
        let text = status(&config(), &c, "a pre-dial handler", (4096, 12));
        for line in ["Node:                node1", "Strategy:            sequential", "Calls:               9",
                     "Peer legs marked by: a pre-dial handler",
                     "Answered locally:    2", "Forwarded:           5", "Answered by a peer:  4",
                     "Loops refused:       1", "Invalid arguments:   3",
                     "Module memory:       4096 bytes in 12 blocks"] {
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

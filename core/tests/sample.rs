//! The shipped sample must stay valid, and every key it documents must be one
//! the module reads.

use res_cluster_core::config::{build, parse_text, Defaults, GENERAL_KEYS, PEER_KEYS};

const SAMPLE: &str = include_str!("../../res_cluster.conf.sample");

fn defaults() -> Defaults {
    Defaults { system_name: "node1".into(), host_name: String::new(), ..Defaults::default() }
}

#[test]
fn the_sample_as_shipped_loads() {
    let c = build(&parse_text("res_cluster.conf.sample", SAMPLE).unwrap(), &defaults()).unwrap();
    assert!(c.peers.is_empty(), "everything is commented out");
}

#[test]
fn the_sample_uncommented_loads_and_documents_every_key() {
    let uncommented: String = SAMPLE
        .lines()
        .map(|l| match l.strip_prefix(';') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase() || c == '[') && (rest.contains('=') || rest.starts_with('[')) => rest,
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let c = build(&parse_text("res_cluster.conf.sample", &uncommented).unwrap(), &defaults()).unwrap();
    assert_eq!(c.peers.len(), 1);
    assert_eq!(c.peers[0].name, "node2");
    for key in GENERAL_KEYS.iter().chain(PEER_KEYS.iter()) {
        assert!(uncommented.lines().any(|l| l.starts_with(&format!("{key} ="))), "{key} is not in the sample");
    }
}

//! SIP calls from an ordinary phone dressed up as cluster calls get no
//! trust: the prefix is not stripped, a FROM_CLUSTER header means nothing,
//! and a forged hop header only keeps the caller's own call from being
//! forwarded.

mod harness;

use std::time::Duration;

use harness::*;

#[test]
fn a_forged_hop_header_stops_forwarding_and_earns_no_trust() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |_| {});
    let phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);

    // Endpoint 202 is an ordinary phone whose number is 9999202.
    let opts = CallOptions { caller: "202".into(), extra_header: "X-Cluster-Hop: node2".into(), ..CallOptions::default() };
    let report = call(&net, &nodes[0], "102", &opts);

    assert!(!report.answered(), "{report:?}");
    let r = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!((r[0].cluster.as_str(), r[0].cid.as_str()), ("CHANUNAVAIL", "9999202"), "not stripped");
    std::thread::sleep(Duration::from_millis(300));
    assert!(nodes[1].results().is_empty() && phone.invites().is_empty(), "not forwarded");
}

#[test]
fn a_from_cluster_header_is_just_a_header() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |_| {});
    let phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);

    let opts = CallOptions { caller: "202".into(), extra_header: "FROM_CLUSTER: 1".into(), ..CallOptions::default() };
    let report = call(&net, &nodes[0], "102", &opts);

    assert!(report.answered(), "forwarded like any phone's call: {report:?}");
    assert_eq!(phone.caller_numbers(), vec!["9999202"], "the caller's number arrives as it is");
    let r = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!((r[0].raw.as_str(), r[0].cid.as_str()), ("9999202", "9999202"));
}

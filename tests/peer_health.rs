//! Peer health: known from qualify, learnt from calls, shown in the CLI and
//! announced on AMI; a peer comes back without a reload.

mod harness;

use std::time::Duration;

use harness::*;

fn wait_cli(node: &Node, command: &str, needle: &str, timeout: Duration) -> String {
    poll(timeout, Duration::from_millis(100), || node.cli(command), |out| out.contains(needle))
}

fn peer_row(node: &Node, peer: &str) -> String {
    node.cli("cluster show peers").lines().find(|l| l.starts_with(peer)).unwrap_or_default().to_string()
}

#[test]
fn a_peer_qualify_finds_unreachable_is_skipped_without_an_invite_and_comes_back() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |s| s.qualify_s = 1);
    let _phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    let mut ami = Ami::connect(&nodes[0]);
    // Qualify first sees node2 once it is up.
    let out = wait_cli(&nodes[0], "cluster show peers", "qualify: reachable", 10 * SECOND);
    assert!(peer_row(&nodes[0], "node2").contains("UP"), "{out}");

    nodes[1].signal(libc::SIGSTOP);
    let out = wait_cli(&nodes[0], "cluster show peers", "qualify: unreachable", 10 * SECOND);
    assert!(peer_row(&nodes[0], "node2").contains("DOWN"), "{out}");
    let event = ami.wait_peer_status("node2", "DOWN", 5 * SECOND).expect("ClusterPeerStatus DOWN on AMI");
    assert!(event.iter().any(|(k, v)| k == "Cause" && v == "qualify: unreachable"), "{event:?}");

    let report = call(&net, &nodes[0], "102", &CallOptions::default());
    assert!(!report.answered());
    assert!(report.setup_ms.unwrap() < 300.0, "skipped at once: {report:?}");
    let log = nodes[0].log();
    assert!(log.contains("skipping peer node2: down"), "{log}");
    assert!(!log.contains("dialling peer node2"), "no INVITE went to the down peer");

    nodes[1].signal(libc::SIGCONT);
    let out = wait_cli(&nodes[0], "cluster show peers", "qualify: reachable", 10 * SECOND);
    assert!(peer_row(&nodes[0], "node2").contains("UP"), "{out}");
    assert!(ami.wait_peer_status("node2", "UP", 5 * SECOND).is_some(), "ClusterPeerStatus UP on AMI");
    let report = call(&net, &nodes[0], "102", &CallOptions::default());
    assert!(report.answered(), "routes again with no reload: {report:?}");
}

#[test]
fn a_silent_peer_is_learnt_from_one_call_and_retried_after_holddown() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |s| s.general = "holddown = 2".into());
    let _phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    let mut ami = Ami::connect(&nodes[0]);
    assert!(peer_row(&nodes[0], "node2").contains("UNKNOWN"));

    nodes[1].signal(libc::SIGSTOP);
    let first = call(&net, &nodes[0], "102", &CallOptions::default());
    let second = call(&net, &nodes[0], "102", &CallOptions::default());
    assert!(!first.answered() && !second.answered());
    let (a, b) = (first.setup_ms.unwrap(), second.setup_ms.unwrap());
    assert!((950.0..1_400.0).contains(&a), "the first call waited peer_timeout: {a} ms");
    assert!(b < 300.0, "the second skipped the peer: {b} ms");
    let event = ami.wait_peer_status("node2", "DOWN", 5 * SECOND).expect("DOWN on AMI");
    assert!(event.iter().any(|(k, v)| k == "Cause" && v.starts_with("no response to a call in 1.0 s")), "{event:?}");
    assert!(event.iter().any(|(k, v)| k == "Previous" && v == "UNKNOWN"));
    let row = peer_row(&nodes[0], "node2");
    assert!(row.contains("DOWN") && row.contains("no response to a call"), "{row}");

    nodes[1].signal(libc::SIGCONT);
    std::thread::sleep(Duration::from_millis(2_100));
    let third = call(&net, &nodes[0], "102", &CallOptions::default());
    assert!(third.answered(), "after holddown one call tries the peer again: {third:?}");
    assert!(ami.wait_peer_status("node2", "UP", 5 * SECOND).is_some());
    assert!(peer_row(&nodes[0], "node2").contains("answered a call"));
}

#[test]
fn cluster_show_status_counts_every_kind_of_call() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |_| {});
    let _here = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);
    let _there = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);

    for exten in ["101", "102", "103"] {
        call(&net, &nodes[0], exten, &CallOptions::default());
    }
    let bad = CallOptions { extra_header: "X-Target: 1&2".into(), ..CallOptions::default() };
    call(&net, &nodes[0], "inject", &bad);
    nodes[0].wait_results(4, 5 * SECOND);
    nodes[1].wait_results(2, 5 * SECOND);

    let status = nodes[0].cli("cluster show status");
    for line in [
        "Node:                node1",
        "Strategy:            sequential",
        "Peers:               1",
        "Calls:               4",
        "Answered locally:    1",
        "Forwarded:           2",
        "Answered by a peer:  1",
        "Loops refused:       0",
        "Invalid arguments:   1",
    ] {
        assert!(status.contains(line), "{line} not in\n{status}");
    }
    let status = nodes[1].cli("cluster show status");
    for line in ["Calls:               2", "Answered locally:    1", "Forwarded:           0", "Loops refused:       1"] {
        assert!(status.contains(line), "{line} not in\n{status}");
    }
    let peers = nodes[0].cli("cluster show peers");
    assert!(peers.contains("Peer") && peers.contains("Since (UTC)") && peers.contains("Last response"), "{peers}");
    let row = peer_row(&nodes[0], "node2");
    assert!(row.contains("cluster-node2") && row.contains("UP") && row.contains("answered a call") && row.contains(" s ago"), "{row}");
    assert!(nodes[0].cli("cluster show status extra").contains("Usage: cluster show status"), "a bad command line shows the usage");
}

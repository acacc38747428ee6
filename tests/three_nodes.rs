//! More than two nodes: sequential and parallel strategies, the hop marker,
//! and a hung middle peer.

mod harness;

use std::time::Duration;

use harness::*;

#[test]
fn sequential_finds_the_phone_on_the_third_node() {
    let net = Net::allocate();
    let nodes = cluster(&net, 3, |_| {});
    let phone = Phone::register(&net, &nodes[2], "103", Behaviour::Answer);

    let report = call(&net, &nodes[0], "103", &CallOptions::default());

    assert!(report.answered(), "{report:?}");
    assert_eq!(phone.caller_numbers(), vec!["200"]);
    let r = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!((r[0].cluster.as_str(), r[0].node.as_str()), ("ANSWER", "node3"));
    nodes[1].wait_results_from_peers(1, 5 * SECOND);
    nodes[2].wait_results_from_peers(1, 5 * SECOND);
    settle();
    assert_eq!(nodes[1].results_from_peers().len(), 1, "node2 was asked first");
    assert_eq!(nodes[2].results_from_peers().len(), 1);
    assert!(nodes[0].results_from_peers().is_empty());
}

#[test]
fn a_phone_nowhere_reaches_each_other_node_exactly_once() {
    for (strategy, marking) in [("sequential", "auto"), ("parallel", "auto"), ("sequential", "predial"), ("parallel", "predial")] {
        let net = Net::allocate();
        let nodes = cluster(&net, 3, |s| s.general = format!("strategy = {strategy}\npeer_leg_marking = {marking}"));

        let report = call(&net, &nodes[0], "103", &CallOptions::default());

        assert!(!report.answered());
        let r = nodes[0].wait_results(1, 5 * SECOND);
        assert_eq!(r[0].cluster, "CHANUNAVAIL", "{strategy}");
        nodes[1].wait_results(1, 5 * SECOND);
        nodes[2].wait_results(1, 5 * SECOND);
        settle();
        assert_eq!(nodes[1].results_from_peers().len(), 1, "{strategy}: node2");
        assert_eq!(nodes[2].results_from_peers().len(), 1, "{strategy}: node3");
        assert!(nodes[0].results_from_peers().is_empty(), "{strategy}: nothing came back to node1");
        assert_eq!(nodes[0].results().len(), 1);
    }
}

#[test]
fn a_hung_middle_peer_costs_the_first_call_a_second_and_later_calls_nothing() {
    let net = Net::allocate();
    let nodes = cluster(&net, 3, |_| {});
    let phone = Phone::register(&net, &nodes[2], "103", Behaviour::Answer);
    nodes[1].signal(libc::SIGSTOP);

    let first = call(&net, &nodes[0], "103", &CallOptions::default());
    let second = call(&net, &nodes[0], "103", &CallOptions::default());
    nodes[1].signal(libc::SIGCONT);

    assert!(first.answered() && second.answered(), "{first:?} {second:?}");
    let (a, b) = (first.setup_ms.unwrap(), second.setup_ms.unwrap());
    assert!((950.0..2_500.0).contains(&a), "first call waited {a} ms for node2");
    assert!(b < 900.0, "second call skipped node2: {b} ms");
    assert_eq!(phone.caller_numbers(), vec!["200", "200"]);
    let r = nodes[0].wait_results(2, 5 * SECOND);
    assert!(r.iter().all(|r| r.node == "node3"), "{r:?}");
    let log = nodes[0].log();
    assert!(log.contains("peer node2 is DOWN (no response to a call in 1.0 s)"), "{log}");
    assert!(log.contains("skipping peer node2: down"));
}

#[test]
fn parallel_rings_every_peer_and_the_first_answer_wins() {
    let net = Net::allocate();
    let nodes = cluster(&net, 3, |s| s.general = "strategy = parallel".into());
    // Extension 102 on node2 answers after one and a half seconds (time for
    // node3 to ring its own, even on a busy machine); another 102 on node3
    // only rings.
    let answering = Phone::register(&net, &nodes[1], "102", Behaviour::AnswerAfter(1_500));
    let ringing = Phone::register_from(net.host(112), &nodes[2], "102", Behaviour::Ring);

    let report = call(&net, &nodes[0], "102", &CallOptions::default());

    assert!(report.answered(), "{report:?}");
    let r = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!((r[0].cluster.as_str(), r[0].node.as_str()), ("ANSWER", "node2"));
    let cancels = poll(5 * SECOND, Duration::from_millis(50), || ringing.requests("CANCEL"), |&n| n > 0);
    assert_eq!(answering.invites().len(), 1);
    assert_eq!(ringing.invites().len(), 1, "node3's phone rang at the same time");
    assert_eq!(cancels, 1, "and was cancelled when node2's answered");
    assert!(nodes[0].wait_log("dialling peer node2, node3: Dial(PJSIP/102@cluster-node2&PJSIP/102@cluster-node3,20,f(", 5 * SECOND));
}

#[test]
fn parallel_does_not_wait_for_a_hung_peer() {
    let net = Net::allocate();
    let nodes = cluster(&net, 3, |s| s.general = "strategy = parallel".into());
    let _phone = Phone::register(&net, &nodes[2], "103", Behaviour::Answer);
    nodes[1].signal(libc::SIGSTOP);
    let report = call(&net, &nodes[0], "103", &CallOptions::default());
    nodes[1].signal(libc::SIGCONT);
    assert!(report.answered(), "{report:?}");
    assert!(report.setup_ms.unwrap() < 900.0, "{report:?}");
}

#[test]
fn the_hop_marker_stops_forwarding_at_a_node_that_does_not_know_the_sender() {
    hop_marker_stops_forwarding("auto");
}

#[test]
fn the_pre_dial_handlers_hop_marker_stops_forwarding_too() {
    hop_marker_stops_forwarding("predial");
}

fn hop_marker_stops_forwarding(marking: &str) {
    // node1 -> node2 -> (node3, where the phone is). node2 has an endpoint for
    // node1 but does not list it as a peer: the hop header alone must stop
    // node2 from forwarding, and must not make node2 trust node1's prefix.
    let net = Net::allocate();
    let mut specs = [NodeSpec::new(1, &[2]), NodeSpec::new(2, &[3]), NodeSpec::new(3, &[])];
    specs[0].general = format!("peer_leg_marking = {marking}");
    specs[1].endpoints_only = vec![1];
    specs[2].endpoints_only = vec![2];
    let nodes: Vec<Node> = specs.iter().map(|s| Node::start(&net, s)).collect();
    let phone = Phone::register(&net, &nodes[2], "103", Behaviour::Answer);

    let report = call(&net, &nodes[0], "103", &CallOptions::default());

    assert!(!report.answered(), "{report:?}");
    let there = nodes[1].wait_results(1, 5 * SECOND);
    assert_eq!(there.len(), 1);
    assert_eq!((there[0].raw.as_str(), there[0].cid.as_str()), ("9999200", "9999200"), "no trust: not stripped");
    assert_eq!(there[0].cluster, "CHANUNAVAIL");
    assert!(nodes[1].wait_log("marked by hop header", 5 * SECOND));
    settle();
    assert!(nodes[2].results().is_empty(), "node2 did not forward: {:?}", nodes[2].results());
    assert!(phone.invites().is_empty());
}

//! Locate, don't hunt: with `locate = devstate` every node knows, from the
//! device states the nodes publish to each other over PJSIP, which peer has
//! a phone registered. A phone on any node costs one INVITE between nodes,
//! a number registered nowhere none; what a peer reported is forgotten when
//! it goes down or proves wrong.

mod harness;

use std::time::Duration;

use harness::*;

fn nodes(net: &Net, n: u8) -> Vec<Node> {
    cluster(net, n, |s| s.locate = true)
}

/// Waits until `node` sees `peer` report `exten` as `state` ("NOT_INUSE",
/// "absent", "unknown"...); the row.
fn wait_location(node: &Node, exten: &str, peer: &str, state: &str) -> String {
    let row = |out: &String| out.lines().find(|l| l.starts_with(peer)).unwrap_or_default().to_string();
    let out = poll(10 * SECOND, Duration::from_millis(50), || node.cli(&format!("cluster show locations {exten}")), |o| {
        row(o).split_whitespace().nth(4).is_some_and(|s| s == state)
    });
    let r = row(&out);
    assert!(r.split_whitespace().nth(4) == Some(state), "{} never saw {peer} report {exten} as {state}:\n{out}", node.name);
    r
}

fn status_line(node: &Node, key: &str) -> String {
    node.cli("cluster show status").lines().find(|l| l.starts_with(key)).unwrap_or_default().split_whitespace().last().unwrap_or_default().to_string()
}

/// INVITEs that reached `node` from other nodes.
fn crossed(node: &Node) -> usize {
    node.results_from_peers().len()
}

#[test]
fn a_phone_on_any_node_costs_one_invite_to_that_node() {
    for n in [2u8, 3] {
        let net = Net::allocate();
        let nodes = nodes(&net, n);
        let last = &nodes[n as usize - 1];
        let phone = Phone::register(&net, last, "103", Behaviour::Answer);
        for peer in 2..=n {
            let want = if peer == n { "NOT_INUSE" } else { "absent" };
            wait_location(&nodes[0], "103", &format!("node{peer}"), want);
        }

        let report = call(&net, &nodes[0], "103", &CallOptions::default());

        assert!(report.answered(), "{n} nodes: {report:?}");
        assert_eq!(phone.caller_numbers(), vec!["200"]);
        let r = nodes[0].wait_results(1, 5 * SECOND);
        assert_eq!((r[0].cluster.as_str(), r[0].node.as_str()), ("ANSWER", format!("node{n}").as_str()));
        last.wait_results(1, 5 * SECOND);
        settle();
        let invites: Vec<usize> = nodes.iter().map(crossed).collect();
        let mut expected = vec![0; n as usize];
        expected[n as usize - 1] = 1;
        assert_eq!(invites, expected, "{n} nodes: exactly one INVITE crossed, to node{n}");
        assert_eq!((status_line(&nodes[0], "Located:"), status_line(&nodes[0], "Hunted:")), ("1".into(), "0".into()));
    }
}

#[test]
fn a_number_registered_nowhere_costs_no_invite() {
    for n in [2u8, 3] {
        let net = Net::allocate();
        let nodes = nodes(&net, n);
        for peer in 2..=n {
            wait_location(&nodes[0], "105", &format!("node{peer}"), "absent");
        }

        let report = call(&net, &nodes[0], "105", &CallOptions::default());

        assert!(!report.answered());
        let r = nodes[0].wait_results(1, 5 * SECOND);
        assert_eq!((r[0].cluster.as_str(), r[0].dial.as_str()), ("CHANUNAVAIL", "CHANUNAVAIL"));
        settle();
        assert!(nodes.iter().all(|node| crossed(node) == 0), "{n} nodes: no INVITE left node1");
        assert_eq!(status_line(&nodes[0], "Zero-INVITE calls:"), "1");
        assert!(nodes[0].wait_log("registered on no peer", 5 * SECOND), "{}", nodes[0].log());
    }
}

#[test]
fn a_phone_that_moved_is_found_where_it_is_now() {
    let net = Net::allocate();
    let nodes = nodes(&net, 3);
    let phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    wait_location(&nodes[0], "102", "node2", "NOT_INUSE");
    assert!(call(&net, &nodes[0], "102", &CallOptions::default()).answered());

    phone.move_to(&nodes[1], &nodes[2]);
    wait_location(&nodes[0], "102", "node3", "NOT_INUSE");
    let report = call(&net, &nodes[0], "102", &CallOptions::default());

    assert!(report.answered(), "{report:?}");
    let r = nodes[0].wait_results(2, 5 * SECOND);
    assert_eq!((r[0].node.as_str(), r[1].node.as_str()), ("node2", "node3"));
    nodes[1].wait_results_from_peers(1, 5 * SECOND);
    nodes[2].wait_results_from_peers(1, 5 * SECOND);
    settle();
    assert_eq!((crossed(&nodes[1]), crossed(&nodes[2])), (1, 1), "the second call went to node3 only");
}

/// Two nodes, phone 102 located on node2; node2 then killed (SIGKILL) and
/// started again, as `edit` makes it, without the phone. Node1 and the new
/// node2.
fn node2_restarted_after_its_phone_was_located(net: &Net, edit: impl FnOnce(&mut NodeSpec)) -> (Node, Node) {
    let mut nodes = nodes(net, 2);
    let phone = Phone::register(net, &nodes[1], "102", Behaviour::Answer);
    wait_location(&nodes[0], "102", "node2", "NOT_INUSE");
    let shown = nodes[0].cli("cluster show locations");
    assert!(shown.contains("02:00:00:00:00:02"), "node2 synced under its first entity ID:\n{shown}");

    drop(phone);
    drop(nodes.remove(1)); // SIGKILL
    let mut spec = NodeSpec::new(2, &[1]);
    spec.locate = true;
    edit(&mut spec);
    let node2 = Node::start(net, &spec);
    (nodes.remove(0), node2)
}

#[test]
fn a_peer_restarted_without_the_phone_leaves_nothing_stale() {
    let net = Net::allocate();
    let (node1, node2) = node2_restarted_after_its_phone_was_located(&net, |_| {});
    wait_location(&node1, "102", "node2", "absent");

    let report = call(&net, &node1, "102", &CallOptions::default());
    assert!(!report.answered());
    let r = node1.wait_results(1, 5 * SECOND);
    assert_eq!(r[0].cluster, "CHANUNAVAIL");
    settle();
    assert_eq!(crossed(&node2), 0, "the old report of the phone was not used");
}

/// A peer restarted under another entity ID (entityid changed in its
/// asterisk.conf): this node still holds the beacon and the states it
/// published under the old one, next to the new beacon (nothing took it for
/// down: without qualify and without a call it is never found silent). The
/// newest beacon counts, and the phone is read under the new entity ID only.
#[test]
fn a_peer_back_under_another_entity_id_is_read_under_the_new_one() {
    let net = Net::allocate();
    let (node1, node2) = node2_restarted_after_its_phone_was_located(&net, |s| s.entity_id = Some("02:00:00:00:00:42".into()));
    let phone = Phone::register(&net, &node2, "102", Behaviour::Answer);
    let synced = |o: &String| o.lines().any(|l| l.starts_with("node2") && l.contains("02:00:00:00:00:42"));
    let shown = poll(10 * SECOND, Duration::from_millis(50), || node1.cli("cluster show locations"), synced);
    assert!(synced(&shown), "synced under the new entity ID:\n{shown}");
    assert!(!node1.log().contains("forgot the"), "node1 still holds what node2 published under its old entity ID:\n{}", node1.log());
    let row = wait_location(&node1, "102", "node2", "NOT_INUSE");
    assert!(row.contains("02:00:00:00:00:42"), "the phone is read under the new entity ID: {row}");

    let report = call(&net, &node1, "102", &CallOptions::default());

    assert!(report.answered(), "{report:?}");
    assert_eq!(phone.caller_numbers(), vec!["200"]);
    let r = node1.wait_results(1, 5 * SECOND);
    assert_eq!((r[0].cluster.as_str(), r[0].node.as_str()), ("ANSWER", "node2"));
    node2.wait_results(1, 5 * SECOND);
    settle();
    assert_eq!(crossed(&node2), 1, "one INVITE, to node2");
    assert_eq!(status_line(&node1, "Located:"), "1");
}

#[test]
fn a_hung_peer_is_unknown_then_skipped_and_known_again_when_back() {
    let net = Net::allocate();
    let nodes = nodes(&net, 2);
    let _phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    wait_location(&nodes[0], "102", "node2", "NOT_INUSE");

    nodes[1].signal(libc::SIGSTOP);
    let first = call(&net, &nodes[0], "102", &CallOptions::default());
    assert!(!first.answered());
    assert!((950.0..2_500.0).contains(&first.setup_ms.unwrap()), "located there, and silent: peer_timeout {first:?}");
    // Down: what it reported is forgotten; it is unknown, and skipped.
    wait_location(&nodes[0], "102", "node2", "unknown");
    let second = call(&net, &nodes[0], "102", &CallOptions::default());
    assert!(second.setup_ms.unwrap() < 900.0, "{second:?}");
    assert!(nodes[0].wait_log("forgot the", 5 * SECOND), "{}", nodes[0].log());

    nodes[1].signal(libc::SIGCONT);
    // Back up (a probe answers), asked for its states: located again.
    let row = poll(10 * SECOND, Duration::from_millis(50), || wait_location(&nodes[0], "102", "node2", "NOT_INUSE"), |r| r.contains(" UP "));
    assert!(row.contains(" UP "), "{row}");
    let third = call(&net, &nodes[0], "102", &CallOptions::default());
    assert!(third.answered(), "{third:?}");
}

#[test]
fn a_peer_that_reported_the_phone_wrongly_is_passed_over_and_asked_again() {
    let net = Net::allocate();
    let nodes = nodes(&net, 3);
    // 102 registers on node3, then on node2 (the newer report), and the
    // phone that registered on node2 dies: node2 still has it registered.
    let _good = Phone::register_from(net.host(112), &nodes[2], "102", Behaviour::Answer);
    wait_location(&nodes[0], "102", "node3", "NOT_INUSE");
    let dead = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    wait_location(&nodes[0], "102", "node2", "NOT_INUSE");
    drop(dead);

    let report = call(&net, &nodes[0], "102", &CallOptions::default());

    assert!(report.answered(), "the call went on to node3: {report:?}");
    let r = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!(r[0].node, "node3");
    let log = nodes[0].log();
    let tried: Vec<&str> = log.lines().filter(|l| l.contains("ClusterDial: dialling peer")).collect();
    assert!(tried.len() == 2 && tried[0].contains("peer node2") && tried[1].contains("peer node3"), "newest report first: {tried:#?}");
    assert!(log.contains("node2 reported PJSIP/102 but did not have it; its report is forgotten"), "{log}");
}

#[test]
fn duplicate_entity_ids_are_refused_by_name_and_calls_are_hunted() {
    let net = Net::allocate();
    let nodes = cluster(&net, 3, |s| {
        s.locate = true;
        if s.index != 1 {
            s.entity_id = Some("02:00:00:00:00:99".into());
        }
    });
    let _phone = Phone::register(&net, &nodes[2], "103", Behaviour::Answer);
    let out = poll(10 * SECOND, Duration::from_millis(100), || nodes[0].cli("cluster show locations 103"), |o| o.contains("Refused"));
    assert!(out.contains("Refused: node2 and node3 publish their device states under the same entity ID 02:00:00:00:00:99"), "{out}");

    let report = call(&net, &nodes[0], "103", &CallOptions::default());

    assert!(report.answered(), "{report:?}");
    assert!(nodes[0].wait_log("node2 and node3 publish their device states under the same entity ID", 5 * SECOND));
    assert!(nodes[0].log().lines().any(|l| l.contains("ERROR") && l.contains("under the same entity ID")), "{}", nodes[0].log());
    nodes[1].wait_results_from_peers(1, 5 * SECOND);
    nodes[2].wait_results_from_peers(1, 5 * SECOND);
    settle();
    assert_eq!((crossed(&nodes[1]), crossed(&nodes[2])), (1, 1), "hunted as without locating: node2, then node3");
    assert_eq!(status_line(&nodes[0], "Hunted:"), "1");
}

#[test]
fn with_locate_off_peers_are_hunted_as_before() {
    let net = Net::allocate();
    let nodes = cluster(&net, 3, |_| {});
    let _phone = Phone::register(&net, &nodes[2], "103", Behaviour::Answer);
    assert!(call(&net, &nodes[0], "103", &CallOptions::default()).answered());
    call(&net, &nodes[0], "105", &CallOptions::default());
    nodes[0].wait_results(2, 5 * SECOND);
    nodes[1].wait_results_from_peers(2, 5 * SECOND);
    nodes[2].wait_results_from_peers(2, 5 * SECOND);
    settle();
    assert_eq!((crossed(&nodes[1]), crossed(&nodes[2])), (2, 2), "both calls asked node2, then node3");
    let status = nodes[0].cli("cluster show status");
    assert!(status.contains("Locate:              off") && status.contains("Located:             0"), "{status}");
}

#[test]
fn a_hint_shows_the_state_of_a_phone_on_another_node() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |s| {
        s.locate = true;
        s.dialplan = "exten => 102,hint,PJSIP/102\n".into();
    });
    let hint = |node: &Node| node.cli("core show hint 102");
    assert!(hint(&nodes[0]).contains("Unavailable"), "{}", hint(&nodes[0]));
    let _phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    let shown = poll(10 * SECOND, Duration::from_millis(50), || hint(&nodes[0]), |h| h.contains("State:Idle"));
    assert!(shown.contains("State:Idle"), "node1's hint follows the phone registered on node2: {shown}");
}

#[test]
fn a_multi_domain_phone_is_located_and_a_user_at_a_trunk_is_hunted() {
    // chan_pjsip reads PJSIP/a@b as the endpoint a@b when there is one (a
    // multi-domain endpoint, whose device is PJSIP/a@b), else as user a at
    // endpoint b (whose device state is b's, not the phone's).
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |s| {
        s.locate = true;
        s.general = "local_dial = PJSIP/${EXTEN}@example.com".into();
        s.pjsip = "[103@example.com](endpoint-common)\naors = 103@example.com\n\n[103@example.com](phone-aor)\n\n".into();
        s.device_state_filter = Some(r"^(PJSIP/[0-9]+(@example\.com)?$|Cluster:)".into());
    });
    let phone = Phone::register_as(net.phone("103"), &nodes[1], "103", "example.com", Behaviour::Answer);
    let row = wait_location(&nodes[0], "103", "node2", "NOT_INUSE");
    assert!(nodes[0].cli("cluster show locations 103").contains("Phone 103 (PJSIP/103@example.com)"), "{row}");

    let report = call(&net, &nodes[0], "103", &CallOptions::default());

    assert!(report.answered(), "{report:?}\n{}", nodes[0].log());
    assert_eq!(phone.invites().len(), 1);
    assert_eq!(status_line(&nodes[0], "Located:"), "1", "located through its own device, not hunted");

    // User 104 at endpoint trunk: the trunk (a SIPp phone at .104 answering
    // any user) is an endpoint of node2 only; node1 cannot tell where 104
    // is, and hunts.
    let trunk_ip = net.phone("104");
    let trunk = format!("[trunk](endpoint-common)\naors = trunk\n\n[trunk]\ntype = aor\ncontact = sip:{trunk_ip}:5060\n\n");
    nodes[0].write_config("res_cluster.conf", "[general]\nlocate = devstate\nlocal_dial = PJSIP/${EXTEN}@trunk\n\n[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node2\n");
    nodes[1].write_config("res_cluster.conf", "[general]\nlocate = devstate\nlocal_dial = PJSIP/${EXTEN}@trunk\n\n[node1]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node1\n");
    let pjsip = nodes[1].file("etc/pjsip.conf");
    nodes[1].write_config("pjsip.conf", &format!("{pjsip}\n{trunk}"));
    nodes[1].cli("module reload res_pjsip.so");
    for node in &nodes {
        node.cli("module reload res_cluster.so");
    }
    let gateway = Phone::answering_at(trunk_ip, "trunk", Behaviour::Answer);
    let out = poll(10 * SECOND, Duration::from_millis(50), || nodes[0].cli("cluster show locations 104"), |o| o.contains("Not located"));
    assert!(out.contains("Not located: PJSIP/104@trunk (a user at another endpoint"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("node2") && l.contains("unknown")), "{out}");

    let report = call(&net, &nodes[0], "104", &CallOptions::default());

    assert!(report.answered(), "hunted to node2, which dials 104 through its trunk: {report:?}\n{}", nodes[0].log());
    assert_eq!(gateway.invites().len(), 1);
    assert!(gateway.invites()[0].first_line.starts_with("INVITE sip:104@"), "{:?}", gateway.invites()[0]);
    assert_eq!(status_line(&nodes[0], "Hunted:"), "1");
}

//! Nothing fails silently: each set-up mistake is named in the log where
//! Debian keeps it (notices, warnings and errors), peers going up and down
//! are notices, one call's decisions can be followed with `core set debug`,
//! every call says where it went (CLUSTERROUTE, in the dialplan and in the
//! CDR), and AMI and the CLI answer questions about the cluster.

mod harness;

use std::time::Duration;

use harness::*;

fn get<'a>(m: &'a [(String, String)], key: &str) -> Option<&'a str> {
    m.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn warned(node: &Node, text: &str) -> bool {
    node.wait_log(text, 10 * SECOND) && node.log().lines().any(|l| l.contains(" WARNING[") && l.contains(text))
}

#[test]
fn each_set_up_mistake_is_named_in_debians_log() {
    let net = Net::allocate();
    let mut spec = NodeSpec::new(1, &[]);
    spec.quiet_log = true;
    spec.locate = true;
    spec.iax = "[node4]\ntype = friend\nhost = 127.0.0.1\n".into();
    spec.res_cluster_conf = Some(
        "[general]\nlocate = devstate\n\n\
         [node2]\ntype = peer\ndial = PJSIP/${EXTEN}@no-such-endpoint\n\n\
         [node3]\ntype = peer\ndial = IAX2/no-such-peer/${EXTEN}\noutbound_publish = no-such-publish\n"
            .into(),
    );
    let node = Node::start(&net, &spec);
    assert!(node.module_running(), "{}", node.log());
    assert!(warned(&node, "peer node2: dial = PJSIP/${EXTEN}@no-such-endpoint names the PJSIP endpoint no-such-endpoint, which pjsip.conf does not define"), "{}", node.log());
    assert!(warned(&node, "peer node3: dial = IAX2/no-such-peer/${EXTEN} names the IAX2 peer no-such-peer, which iax.conf does not define"));
    assert!(warned(&node, "peer node2: with locate = devstate, outbound_publish = no-such-endpoint must be a pjsip.conf outbound-publish to node2"));
    assert!(warned(&node, "peer node3: with locate = devstate, outbound_publish = no-such-publish must be"));
    let status = node.cli("cluster show status");
    assert_eq!(status.lines().filter(|l| l.starts_with("Warning: peer node")).count(), 4, "{status}");
}

#[test]
fn a_peer_section_named_after_its_endpoint_has_its_beacon_named_and_entity_id_ties_it() {
    let net = Net::allocate();
    let misnamed = "[general]\nlocate = devstate\n\n[cluster-node2]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node2\n";
    let nodes = cluster(&net, 2, |s| {
        s.locate = true;
        s.quiet_log = true;
        if s.index == 1 {
            s.res_cluster_conf = Some(misnamed.into());
        }
    });
    let said = "a node publishes the beacon Cluster:node2 from entity ID 02:00:00:00:00:02, but no peer section is named node2 (sections: [cluster-node2])";
    assert!(warned(&nodes[0], said), "{}", nodes[0].log());
    assert!(nodes[0].log().contains("name that peer's section [node2] (a peer section is named after the peer's node_name), or set entity_id = 02:00:00:00:00:02 in it"));
    assert!(nodes[0].cli("cluster show locations").lines().any(|l| l.starts_with("cluster-node2") && l.contains(" no ")));

    nodes[0].write_config("res_cluster.conf", &format!("{misnamed}entity_id = 02:00:00:00:00:02\n"));
    nodes[0].cli("module reload res_cluster.so");
    let out = poll(10 * SECOND, Duration::from_millis(100), || nodes[0].cli("cluster show locations"), |o| {
        o.lines().any(|l| l.starts_with("cluster-node2") && l.contains(" yes "))
    });
    assert!(out.lines().any(|l| l.starts_with("cluster-node2") && l.contains(" yes ")), "tied by its entity ID: {out}");
}

#[test]
fn a_phone_its_own_filter_leaves_out_and_duplicate_entity_ids_are_named_without_a_call() {
    let net = Net::allocate();
    let nodes = cluster(&net, 3, |s| {
        s.locate = true;
        s.quiet_log = true;
        if s.index == 2 {
            s.device_state_filter = Some("^(PJSIP/10[1-3]$|Cluster:)".into());
        }
        if s.index != 1 {
            s.entity_id = Some("02:00:00:00:00:99".into());
        }
    });
    let _phone = Phone::register(&net, &nodes[1], "104", Behaviour::Answer);
    assert!(
        warned(&nodes[1], "phone PJSIP/104, registered here, does not pass outbound-publish cluster-node1's @device_state_filter ^(PJSIP/10[1-3]$|Cluster:): node1 takes it for absent"),
        "{}",
        nodes[1].log()
    );
    assert!(nodes[0].wait_log("node2 and node3 publish their device states under the same entity ID 02:00:00:00:00:99", 10 * SECOND), "{}", nodes[0].log());
    assert!(nodes[0].log().lines().any(|l| l.contains(" ERROR[") && l.contains("under the same entity ID")));
    assert!(nodes[0].results().is_empty(), "no call was needed");
}

#[test]
fn a_peers_calls_identified_as_another_endpoint_are_named() {
    // node1 identifies by user name first: node2's call from caller 200
    // (node2 sends no prefix) is taken for phone 200's.
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |s| {
        s.quiet_log = true;
        if s.index == 1 {
            s.pjsip = "[global](+)\nendpoint_identifier_order = username,ip\n".into();
        } else {
            s.general = "callerid_prefix =".into();
        }
    });
    let _phone = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);
    assert!(call(&net, &nodes[1], "101", &CallOptions::default()).answered());
    let ip = net.node(2);
    assert!(warned(&nodes[0], &format!("calls from {ip}, the address of peer node2, are identified as endpoint 200, not as the peer's")), "{}", nodes[0].log());
}

#[test]
fn peers_up_and_down_are_notices_and_a_calls_decisions_are_debug_lines() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |s| s.debug_log = true);
    let _phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    nodes[0].cli("core set debug 1 res_cluster");
    assert!(call(&net, &nodes[0], "102", &CallOptions::default()).answered());
    assert!(nodes[0].wait_log("finished ANSWER", 5 * SECOND), "{}", nodes[0].log());
    let log = nodes[0].log();
    let debug: Vec<&str> = log.lines().filter(|l| l.contains(" DEBUG[") && l.contains("ClusterDial")).collect();
    assert!(debug.iter().any(|l| l.contains("Dial(PJSIP/102,20) to Local")), "{debug:#?}");
    assert!(debug.iter().any(|l| l.contains("Dial(PJSIP/102@cluster-node2,20,")), "{debug:#?}");
    assert!(debug.iter().any(|l| l.contains("route local:CHANUNAVAIL,node2:ANSWER")), "{debug:#?}");

    nodes[1].signal(libc::SIGSTOP);
    call(&net, &nodes[0], "102", &CallOptions::default());
    nodes[1].signal(libc::SIGCONT);
    assert!(nodes[0].wait_log("res_cluster: peer node2 is DOWN (no response to a call", 5 * SECOND), "{}", nodes[0].log());
    assert!(nodes[0].log().lines().any(|l| l.contains(" NOTICE[") && l.contains("res_cluster: peer node2 is DOWN")));
}

#[test]
fn every_call_says_where_it_went_in_the_dialplan_and_the_cdr() {
    let net = Net::allocate();
    let nodes = cluster(&net, 3, |s| {
        s.locate = true;
        s.records = true;
        s.general = "route_to_userfield = yes".into();
    });
    let _phone = Phone::register(&net, &nodes[2], "103", Behaviour::Answer);
    let out = poll(10 * SECOND, Duration::from_millis(100), || nodes[0].cli("cluster show locations 103"), |o| {
        o.lines().any(|l| l.starts_with("node3") && l.contains("NOT_INUSE")) && o.lines().any(|l| l.starts_with("node2") && l.contains("absent"))
    });
    assert!(out.contains("NOT_INUSE"), "{out}");

    assert!(call(&net, &nodes[0], "103", &CallOptions::default()).answered());
    call(&net, &nodes[0], "105", &CallOptions::default());

    let r = nodes[0].wait_results(2, 5 * SECOND);
    assert_eq!(r[0].route, "local%3ACHANUNAVAIL%2Cnode2%3Aabsent%2Cnode3%3Alocated%2Cnode3%3AANSWER", "located");
    assert_eq!(r[1].route, "local%3ACHANUNAVAIL%2Cnode2%3Aabsent%2Cnode3%3Aabsent", "nowhere: no INVITE");
    let there = nodes[2].wait_results(1, 5 * SECOND);
    assert_eq!(there[0].route, "from%3Anode1%2Clocal%3AANSWER");
    // route_to_userfield: the CDR's userfield (cdr_csv's last column).
    // (cdr.conf logs answered calls only, Asterisk's default.)
    let cdrs = poll(5 * SECOND, Duration::from_millis(50), || nodes[0].cdrs(), |c| !c.is_empty());
    let by_dst = |dst: &str| cdrs.iter().find(|r| r.get(2).map(String::as_str) == Some(dst)).and_then(|r| r.last()).cloned().unwrap_or_default();
    assert_eq!(by_dst("103"), "local:CHANUNAVAIL,node2:absent,node3:located,node3:ANSWER", "{cdrs:?}");
}

#[test]
fn ami_answers_cluster_status_and_cluster_peers_and_the_cli_completes_phones() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |_| {});
    let _phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    assert!(call(&net, &nodes[0], "102", &CallOptions::default()).answered());
    nodes[0].wait_results(1, 5 * SECOND);
    let mut ami = Ami::connect(&nodes[0]);

    let status = ami.action("ClusterStatus", &[]).expect("a response");
    assert_eq!(get(&status, "Response"), Some("Success"), "{status:?}");
    assert_eq!((get(&status, "Node"), get(&status, "Calls"), get(&status, "AnsweredByPeer")), (Some("node1"), Some("1"), Some("1")), "{status:?}");

    let ack = ami.action("ClusterPeers", &[]).expect("a response");
    assert_eq!(get(&ack, "EventList"), Some("start"), "{ack:?}");
    let done = ami.wait(|m| get(m, "Event") == Some("ClusterPeerlistComplete"), 5 * SECOND).expect("the list's end");
    assert_eq!(get(&done, "ListItems"), Some("1"));
    let entry = ami.events.iter().find(|e| get(e, "Event") == Some("ClusterPeerEntry")).expect("an entry");
    assert_eq!((get(entry, "Peer"), get(entry, "PeerStatus"), get(entry, "Endpoint")), (Some("node2"), Some("UP"), Some("cluster-node2")), "{entry:?}");

    let matches = nodes[0].cli("_command matchesarray \"cluster show locations 10\" \"10\"");
    for phone in ["101", "102", "103", "104", "105"] {
        assert!(matches.split_whitespace().any(|w| w == phone), "{phone}: {matches}");
    }
    assert!(!matches.contains("cluster-node2") && !matches.contains("200"), "{matches}");
}

//! Peers trusted across the internet: linked over TLS with certificates
//! checked both ways (and a shared digest secret), calls, locating and the
//! detection of a hung peer work over that link; a peer whose certificate
//! another CA signed is refused; a call forged from a peer's address over
//! UDP, or from anyone with the hop header and the prefix, earns no trust.

mod harness;

use std::time::Duration;

use harness::tls::Pki;
use harness::*;

/// A CA and a certificate for each of nodes 1..=n.
fn pki(net: &Net, n: u8) -> Pki {
    let pki = Pki::new("cluster-ca");
    for k in 1..=n {
        pki.node(k, &net.node(k));
    }
    pki
}

fn status(node: &Node) -> String {
    node.cli("cluster show status")
}

fn peer_row(node: &Node, peer: &str) -> String {
    node.cli("cluster show peers").lines().find(|l| l.starts_with(peer)).unwrap_or_default().to_string()
}

#[test]
fn over_tls_calls_are_trusted_phones_located_and_a_hung_peer_skipped() {
    let net = Net::allocate();
    let pki = pki(&net, 3);
    let nodes = cluster(&net, 3, |s| {
        s.tls = Some(pki.inside.clone());
        s.trust = Some("tls".into());
        s.locate = true;
    });
    // Calls are checked; publications reach res_pjsip_publish_asterisk with
    // the endpoint alone: the status says what trust they have.
    let warnings: Vec<String> = status(&nodes[0]).lines().filter(|l| l.starts_with("Warning:")).map(str::to_string).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings.iter().all(|w| w.contains("trust = tls checks its calls; its publications")), "{warnings:?}");
    let phone = Phone::register(&net, &nodes[2], "103", Behaviour::Answer);
    // The device states crossed over TLS, authenticated.
    // A PUBLISH sent over TLS to a node still starting may go unanswered,
    // and the sender waits out its transaction (32 s) before the next; the
    // nodes ask each other for their states again meanwhile.
    let out = poll(45 * SECOND, Duration::from_millis(100), || nodes[0].cli("cluster show locations 103"), |o| {
        o.lines().any(|l| l.starts_with("node3") && l.contains("NOT_INUSE"))
    });
    assert!(out.lines().any(|l| l.starts_with("node3") && l.contains("NOT_INUSE")), "{out}");

    let report = call(&net, &nodes[0], "103", &CallOptions::default());

    assert!(report.answered(), "{report:?}\n{}", nodes[0].log());
    assert_eq!(phone.caller_numbers(), vec!["200"]);
    let there = nodes[2].wait_results(1, 5 * SECOND);
    assert_eq!((there[0].raw.as_str(), there[0].cid.as_str()), ("9999200", "200"), "node3 trusted the call that came over TLS");
    assert_eq!(nodes[0].results()[0].node, "node3");

    // node3 hangs: the located call costs one peer_timeout, later ones nothing.
    nodes[2].signal(libc::SIGSTOP);
    let first = call(&net, &nodes[0], "103", &CallOptions::default());
    let row = poll(5 * SECOND, Duration::from_millis(50), || peer_row(&nodes[0], "node3"), |r| r.contains("DOWN"));
    let second = call(&net, &nodes[0], "103", &CallOptions::default());
    nodes[2].signal(libc::SIGCONT);

    assert!(!first.answered());
    let setup = first.setup_ms.expect("a final response");
    assert!((950.0..2_500.0).contains(&setup), "one peer_timeout over TLS: {setup} ms");
    assert!(row.contains("DOWN") && row.contains("no response to a call"), "{row}");
    assert!(second.setup_ms.expect("a final response") < 900.0, "{second:?}");
}

#[test]
fn a_peer_whose_certificate_another_ca_signed_is_refused_both_ways() {
    let net = Net::allocate();
    let good = pki(&net, 2);
    let rogue = Pki::new("rogue-ca");
    rogue.node(3, &net.node(3));
    let nodes: Vec<Node> = [(1u8, vec![2u8, 3], &good), (2, vec![1], &good), (3, vec![1], &rogue)]
        .iter()
        .map(|(k, peers, pki)| {
            let mut spec = NodeSpec::new(*k, peers);
            spec.tls = Some(pki.inside.clone());
            spec.trust = Some("tls".into());
            Node::start(&net, &spec)
        })
        .collect();
    let here = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);
    let rogues = Phone::register(&net, &nodes[2], "103", Behaviour::Answer);

    // node3 forwards to node1: node1 refuses its certificate.
    let from_rogue = call(&net, &nodes[2], "101", &CallOptions::default());
    // node1 forwards to node3 (after node2 had no 103): node1 refuses its.
    let to_rogue = call(&net, &nodes[0], "103", &CallOptions::default());

    assert!(!from_rogue.answered(), "{from_rogue:?}");
    assert!(here.invites().is_empty(), "101 never rang for node3's call");
    assert!(!to_rogue.answered(), "{to_rogue:?}");
    assert!(rogues.invites().is_empty(), "103 never rang for node1's call");
    settle();
    assert!(nodes[0].results_from_peers().is_empty(), "no call from node3 reached node1's dialplan: {:?}", nodes[0].results());
    // The good peer is reached over TLS all the same.
    assert!(nodes[1].results_from_peers().len() == 1, "node1 tried node2 for 103: {:?}", nodes[1].results());
}

#[test]
fn a_call_forged_from_a_tls_peers_address_over_udp_or_marked_by_anyone_earns_no_trust() {
    let net = Net::allocate();
    let pki = pki(&net, 2);
    let nodes = cluster(&net, 2, |s| {
        s.tls = Some(pki.inside.clone());
        s.trust = Some("tls".into());
    });
    let phone = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);
    let _far = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);

    // A phone with the hop header and the prefix: no trust, and (marked)
    // not forwarded either.
    // (Endpoint 202 is an ordinary phone whose number is 9999202.)
    let marked = CallOptions { caller: "202".into(), extra_header: "X-Cluster-Hop: node2".into(), ..CallOptions::default() };
    let report = call(&net, &nodes[0], "102", &marked);
    assert!(!report.answered(), "{report:?}");
    let r = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!((r[0].raw.as_str(), r[0].cid.as_str(), r[0].cluster.as_str()), ("9999202", "9999202", "CHANUNAVAIL"));

    // From node2's own address, over UDP, with the prefix and the hop header:
    // identified as node2's endpoint by its address, but not over TLS.
    let forged = CallOptions {
        caller: "9999200".into(),
        extra_header: "X-Cluster-Hop: node2".into(),
        from: Some((net.node(2), 5070)),
        ..CallOptions::default()
    };
    let report = call(&net, &nodes[0], "101", &forged);

    // (node1 treats such a call as an ordinary caller's; its responses go
    // over the endpoint's TLS transport, which no forger reads.)
    let _ = report;
    let numbers = poll(5 * SECOND, Duration::from_millis(50), || phone.caller_numbers(), |n| !n.is_empty());
    assert_eq!(numbers, vec!["9999200"], "101 rang with the prefix still on");
    let said = "a call on peer node2's endpoint cluster-node2 came in on";
    assert!(nodes[0].wait_log(said, 5 * SECOND), "{}", nodes[0].log());
    assert!(nodes[0].log().lines().any(|l| l.contains(" WARNING[") && l.contains(said) && l.contains("not over TLS (trust = tls)")));
    settle();
    assert!(nodes[1].results_from_peers().is_empty(), "neither call was forwarded to node2");
}

#[test]
fn peers_authenticated_by_a_shared_secret_forward_and_locate_and_a_forgery_is_challenged() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |s| {
        s.peer_auth = true;
        s.trust = Some("auth".into());
        s.locate = true;
    });
    assert!(!status(&nodes[0]).contains("Warning:"), "{}", status(&nodes[0]));
    let phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    let out = poll(15 * SECOND, Duration::from_millis(100), || nodes[0].cli("cluster show locations 102"), |o| {
        o.lines().any(|l| l.starts_with("node2") && l.contains("NOT_INUSE"))
    });
    assert!(out.lines().any(|l| l.starts_with("node2") && l.contains("NOT_INUSE")), "authenticated publications: {out}");
    assert!(call(&net, &nodes[0], "102", &CallOptions::default()).answered());
    assert_eq!(phone.caller_numbers(), vec!["200"]);

    // From node2's address without the secret: challenged, never dialled.
    let forged = CallOptions { caller: "9999200".into(), from: Some((net.node(2), 5070)), ..CallOptions::default() };
    let report = call(&net, &nodes[0], "102", &forged);
    assert_eq!(report.final_code, Some(401), "{report:?}");
    settle();
    assert_eq!(phone.invites().len(), 1, "the forged call rang nothing");
}

#[test]
fn trust_that_the_set_up_cannot_give_is_refused_and_address_trust_across_the_internet_is_warned_of() {
    let net = Net::allocate();
    // trust = tls over a UDP endpoint, trust = auth with no auth: refused.
    let mut spec = NodeSpec::new(1, &[2]);
    spec.trust = Some("tls, auth".into());
    let node = Node::start(&net, &spec);
    assert!(node.wait_log("res_cluster not loaded", 5 * SECOND), "{}", node.log());
    let log = node.log();
    assert!(log.contains("peer node2: trust = tls, but its endpoint cluster-node2 does not dial over a TLS transport (transport = none named)"), "{log}");
    assert!(log.contains("peer node2: trust = auth, but its endpoint cluster-node2 has no auth"), "{log}");
    assert!(!node.module_running());

    // Trusted by address, with an identify that matches an address on the
    // internet (nothing is ever sent there): loaded, and warned of.
    node.write_config("res_cluster.conf", "[general]\n\n[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node2\n");
    let pjsip = node.file("etc/pjsip.conf");
    node.write_config("pjsip.conf", &format!("{pjsip}\n[cluster-node2-public]\ntype = identify\nendpoint = cluster-node2\nmatch = 192.0.2.55\n"));
    node.cli("module reload res_pjsip.so");
    assert!(node.cli("module load res_cluster.so").contains("Loaded res_cluster.so"), "{}", node.log());
    let status = node.cli("cluster show status");
    assert!(status.contains("Warning: peer node2 is trusted by address (192.0.2.55): anyone on the internet can send a UDP request from that address"), "{status}");
    assert!(node.wait_log("peer node2 is trusted by address (192.0.2.55)", 5 * SECOND));
}

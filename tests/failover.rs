//! A node dies and its phones still ring (`replicate_contacts`): every node
//! keeps its peers' registrations, and when a phone's node is killed
//! (SIGKILL), a survivor dials the phone's contact itself. Real nodes, SIPp
//! phones; what is checked is what the phone received on the wire, the
//! RESULT and route of each call, and `cluster show locations`.

mod harness;

use std::time::{Duration, Instant};

use harness::*;

/// Nodes that share registrations; the peers qualified every second (the
/// registrations go to peers known up).
/// Each node sees every peer up, by qualify as well (a peer started after
/// this node was first found unreachable: its phones would be dialled
/// through their registrations until qualify says otherwise).
fn replicated(net: &Net, n: u8, tune: impl Fn(&mut NodeSpec)) -> Vec<Node> {
    let nodes = cluster(net, n, |s| {
        s.replicate = true;
        s.qualify_s = 1;
        tune(s);
    });
    for node in &nodes {
        let contacts = poll(30 * SECOND, Duration::from_millis(100), || node.cli("pjsip show contacts"), |c| {
            !c.contains("Unavail") && !c.contains("Unknown") && c.matches("Avail").count() >= usize::from(n - 1)
        });
        assert!(!contacts.contains("Unavail"), "{}: {contacts}", node.name);
        let peers = poll(30 * SECOND, Duration::from_millis(100), || node.cli("cluster show peers"), |p| {
            p.lines().filter(|l| l.starts_with("node")).all(|l| l.split_whitespace().nth(2) == Some("UP"))
        });
        assert!(peers.lines().filter(|l| l.starts_with("node")).all(|l| l.contains(" UP ")), "{}: {peers}", node.name);
    }
    nodes
}

fn quick(net: &Net, node: &Node, exten: &str) -> CallReport {
    call(net, node, exten, &CallOptions { hold_ms: 0, timeout_s: 15, ..CallOptions::default() })
}

/// `cluster show locations <exten>` on `node` once it holds (or no longer
/// holds) `needle`; within 30 s.
fn kept(node: &Node, exten: &str, needle: &str, present: bool) -> String {
    let text = poll(30 * SECOND, Duration::from_millis(200), || node.cli(&format!("cluster show locations {exten}")), |t| t.contains(needle) == present);
    assert_eq!(text.contains(needle), present, "{}: '{needle}' {} in:\n{text}", node.name, if present { "never came" } else { "never went" });
    text
}

fn contact_of(net: &Net, exten: &str) -> String {
    format!("sip:{exten}@{}:5060", net.phone(exten))
}

/// The RESULT on `node` of its `nth` call to `exten` (from 1).
fn result_of(node: &Node, exten: &str, nth: usize) -> CallRecord {
    let mine = |all: Vec<CallRecord>| -> Vec<CallRecord> { all.into_iter().filter(|r| r.exten == exten && !r.came_from_peer()).collect() };
    let results = poll(10 * SECOND, Duration::from_millis(100), || mine(node.results()), |r| r.len() >= nth);
    results.into_iter().nth(nth - 1).unwrap_or_else(|| panic!("no RESULT line for call {nth} to {exten} on {}", node.name))
}

/// The hosts the phone's INVITEs came from (their top Via).
fn invite_sources(phone: &Phone) -> Vec<String> {
    phone
        .invites()
        .iter()
        .filter_map(|m| m.header("Via").and_then(|v| v.split_whitespace().nth(1)).map(|h| h.split([':', ';']).next().unwrap_or("").to_string()))
        .collect()
}

#[test]
fn a_killed_nodes_phone_is_answered_from_a_survivor_at_once_whatever_its_interval() {
    for expires in [60, 3600] {
        let net = Net::allocate();
        let nodes = replicated(&net, 2, |_| {});
        let phone = Phone::register_for(&net, &nodes[1], "102", expires, Behaviour::Answer);
        let uri = contact_of(&net, "102");
        let shown = kept(&nodes[0], "102", &uri, true);
        assert!(shown.contains("node2") && shown.contains(" yes"), "owner, dialled from here when down:\n{shown}");

        // The owner is up: the call goes to it, one INVITE, from node2.
        assert!(quick(&net, &nodes[0], "102").answered());
        assert_eq!(invite_sources(&phone), [net.node(2)], "{expires} s: through its own node only");
        assert!(!result_of(&nodes[0], "102", 1).route.contains("registration"));

        nodes[1].signal(libc::SIGKILL);
        let killed = Instant::now();
        let r = quick(&net, &nodes[0], "102");
        let answered_after = killed.elapsed();
        assert!(r.answered(), "{expires} s: the first call after the kill: {r:?}\n{}", nodes[0].cli("cluster show peers"));
        println!("registration interval {expires} s: answered {answered_after:?} after the SIGKILL (call set up in {:?} ms)", r.setup_ms);
        assert!(answered_after <= Duration::from_secs(2), "{expires} s: answered {answered_after:?} after the kill");
        assert_eq!(invite_sources(&phone), [net.node(2), net.node(1)], "{expires} s: the second INVITE came from node1 itself");
        let result = result_of(&nodes[0], "102", 2);
        assert!(result.route.contains("registration%3AANSWER") || result.route.contains("registration:ANSWER"), "{result:?}");
        let status = nodes[0].cli("cluster show status");
        assert!(status.contains("Answered via registration: 1"), "{status}");
    }
}

#[test]
fn with_three_nodes_every_survivor_reaches_the_dead_nodes_phone() {
    let net = Net::allocate();
    let nodes = replicated(&net, 3, |_| {});
    let phone = Phone::register(&net, &nodes[2], "102", Behaviour::Answer);
    let uri = contact_of(&net, "102");
    kept(&nodes[0], "102", &uri, true);
    kept(&nodes[1], "102", &uri, true);
    nodes[2].signal(libc::SIGKILL);
    let killed = Instant::now();
    assert!(quick(&net, &nodes[0], "102").answered(), "from node1");
    let first = killed.elapsed();
    assert!(first <= Duration::from_secs(2), "answered {first:?} after the kill");
    assert!(quick(&net, &nodes[1], "102").answered(), "from node2");
    assert_eq!(invite_sources(&phone), [net.node(1), net.node(2)], "one INVITE per call, each from the calling node");
}

#[test]
fn a_contact_behind_nat_is_not_dialled_and_the_call_fails_at_once_saying_why() {
    let net = Net::allocate();
    let nodes = replicated(&net, 2, |_| {});
    let phone = Phone::register_natted(&net, &nodes[1], "103", Behaviour::Answer);
    let shown = kept(&nodes[0], "103", "sip:103@", true);
    assert!(shown.contains("no: behind NAT"), "{shown}");
    nodes[1].signal(libc::SIGKILL);
    let r = quick(&net, &nodes[0], "103");
    assert!(!r.answered(), "{r:?}");
    assert!(r.setup_ms.is_some_and(|ms| ms < 2000.0), "it fails at once: {r:?}");
    let result = result_of(&nodes[0], "103", 1);
    assert_eq!(result.dial, "CHANUNAVAIL", "{result:?}");
    assert!(result.route.contains("nat"), "the route says why: {result:?}");
    settle();
    assert!(phone.invites().is_empty(), "never dialled directly");
}

#[test]
fn expired_and_unregistered_contacts_are_gone_and_never_rung() {
    let net = Net::allocate();
    let nodes = replicated(&net, 2, |_| {});
    let expiring = Phone::register_for(&net, &nodes[1], "102", 3, Behaviour::Answer);
    let leaving = Phone::register(&net, &nodes[1], "104", Behaviour::Answer);
    kept(&nodes[0], "104", &contact_of(&net, "104"), true);
    leaving.unregister(&nodes[1]);
    kept(&nodes[0], "104", &contact_of(&net, "104"), false);
    // Registered for 3 s: gone by then (kept or not on the way).
    kept(&nodes[0], "102", &contact_of(&net, "102"), false);
    nodes[1].signal(libc::SIGKILL);
    for exten in ["102", "104"] {
        let r = quick(&net, &nodes[0], exten);
        assert!(!r.answered(), "{exten}: {r:?}");
    }
    settle();
    assert!(expiring.invites().is_empty() && leaving.invites().is_empty(), "no INVITE to a stale contact");
}

#[test]
fn a_phone_that_moved_is_rung_where_it_is_now_only() {
    let net = Net::allocate();
    let nodes = replicated(&net, 3, |_| {});
    let before = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    kept(&nodes[0], "102", &contact_of(&net, "102"), true);
    // The phone comes back from another address, on node3; node2's
    // registrar still holds the old one until it expires.
    let now_at = net.host(150);
    let after = Phone::register_from(now_at.clone(), &nodes[2], "102", Behaviour::Answer);
    let shown = kept(&nodes[0], "102", &contact_of(&net, "102"), false);
    assert!(shown.contains(&format!("sip:102@{now_at}:5060")), "{shown}");
    nodes[1].signal(libc::SIGKILL);
    nodes[2].signal(libc::SIGKILL);
    assert!(quick(&net, &nodes[0], "102").answered());
    settle();
    assert_eq!((before.invites().len(), after.invites().len()), (0, 1), "the old address is never rung");
}

#[test]
fn a_restarted_node_gets_its_peers_registrations_again_and_resends_its_own() {
    let net = Net::allocate();
    let mut nodes = replicated(&net, 2, |_| {});
    let _mine = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);
    let gone = Phone::register(&net, &nodes[1], "103", Behaviour::Answer);
    kept(&nodes[1], "101", &contact_of(&net, "101"), true);
    kept(&nodes[0], "103", &contact_of(&net, "103"), true);
    drop(nodes.remove(1)); // SIGKILL node2
    let mut spec = NodeSpec::new(2, &[1]);
    spec.replicate = true;
    spec.qualify_s = 1;
    let node2 = Node::start(&net, &spec);
    let back = Phone::register(&net, &node2, "102", Behaviour::Answer);
    // node2 starts empty: it gets node1's phone again, node1 gets node2's
    // new one, and 103 (not registered on the new node2) is dropped.
    kept(&node2, "101", &contact_of(&net, "101"), true);
    kept(&nodes[0], "102", &contact_of(&net, "102"), true);
    kept(&nodes[0], "103", &contact_of(&net, "103"), false);
    drop(node2);
    assert!(quick(&net, &nodes[0], "102").answered(), "through node2's registration, node2 killed again");
    assert!(!quick(&net, &nodes[0], "103").answered());
    settle();
    assert!(gone.invites().is_empty(), "103's stale contact is never rung");
    assert_eq!(back.invites().len(), 1);
}

#[test]
fn a_phone_registered_on_two_nodes_rings_once_with_both_strategies_and_loses_nothing_with_one() {
    for strategy in ["sequential", "parallel"] {
        let net = Net::allocate();
        let nodes = replicated(&net, 3, |s| s.general = format!("strategy = {strategy}\n"));
        let phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
        phone.register_also(&nodes[2], 3600);
        // Both nodes' copies of it are in (the peers' table names both
        // nodes anyway: count the registrations).
        kept(&nodes[0], "102", "2 registration(s)", true);
        assert!(quick(&net, &nodes[0], "102").answered(), "{strategy}");
        settle();
        assert_eq!(phone.invites().len(), 1, "{strategy}: one INVITE for one call");
        nodes[1].signal(libc::SIGKILL);
        assert!(quick(&net, &nodes[0], "102").answered(), "{strategy}: node2 killed, the phone is still there");
        settle();
        assert_eq!(phone.invites().len(), 2, "{strategy}: one INVITE for the second call");
    }
}

/// A registration as a peer publishes it.
fn set_body(exten: &str, uri: &str) -> String {
    let expires = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3600;
    format!(
        "{{\"node\":\"node2\",\"type\":\"set\",\"contact\":{{\"id\":\"{exten};@forged\",\"aor\":\"{exten}\",\"endpoint\":\"{exten}\",\"uri\":\"{uri}\",\"expires\":{expires}}}}}"
    )
}

#[test]
fn a_publication_from_anyone_but_a_peer_adds_nothing() {
    let net = Net::allocate();
    // node1 alone; an inbound-publication open to every endpoint besides
    // the peer's own.
    let mut spec = NodeSpec::new(1, &[2]);
    spec.replicate = true;
    spec.pjsip = "[open]\ntype = inbound-publication\nevent_res-cluster-contacts = open\n".into();
    let node1 = Node::start(&net, &spec);
    let forger = net.caller(3);
    let body = set_body("105", "sip:105@192.0.2.9:5060");
    // As a phone, into the peer's inbound-publication: res_pjsip refuses it.
    assert_eq!(publish(&forger, &node1, "cluster-node2", "200", "res-cluster-contacts", "application/json", &body), Some(403));
    // Into an open one: res_cluster refuses it, and says so.
    assert_eq!(publish(&forger, &node1, "open", "200", "res-cluster-contacts", "application/json", &body), Some(403));
    assert!(node1.wait_log("refused a publication of res-cluster-contacts from endpoint 200: not a configured peer's endpoint", 5 * SECOND), "{}", node1.log());
    let shown = node1.cli("cluster show locations");
    assert!(shown.contains("0 registration(s)"), "{shown}");
    // The peer's own address: taken.
    assert_eq!(publish(&net.node(2), &node1, "cluster-node2", "cluster-node2", "res-cluster-contacts", "application/json", &body), Some(200));
    kept(&node1, "105", "sip:105@192.0.2.9:5060", true);
}

#[test]
fn a_malformed_or_oversized_body_is_refused_with_a_log_line_and_nothing_is_lost() {
    let net = Net::allocate();
    let mut spec = NodeSpec::new(1, &[2]);
    spec.replicate = true;
    let mut node1 = Node::start(&net, &spec);
    let peer = net.node(2);
    let send = |content_type: &str, body: &str| publish(&peer, &node1, "cluster-node2", "cluster-node2", "res-cluster-contacts", content_type, body);
    assert_eq!(send("application/json", &set_body("105", "sip:105@192.0.2.9:5060")), Some(200));
    kept(&node1, "105", "sip:105@192.0.2.9:5060", true);
    let deep = format!("{}1{}", "{\"a\":".repeat(20), "}".repeat(20));
    let big = format!("{{\"node\":\"node2\",\"type\":\"refresh\",\"pad\":\"{}\"}}", "x".repeat(40_000));
    let bad: [(&str, String, &str); 7] = [
        ("application/json", "{\"type\": \"set\", \"contact\": ".into(), "its body is not JSON"),
        ("text/plain", set_body("106", "sip:106@192.0.2.9:5060"), "its body is not application/json"),
        ("application/json", big, "its body is larger than res_cluster takes"),
        ("application/json", deep, "nests deeper than res_cluster reads"),
        ("application/json", "{\"type\":\"set\",\"contact\":{\"id\":\"x\"}}".into(), "aor is missing or not a string"),
        ("application/json", "{\"type\":\"delete\"}".into(), "'delete' is not a message type"),
        ("application/json", set_body("107", "sip:107@192.0.2.9:5060\\r\\nX: y"), "uri is too long or holds control characters"),
    ];
    for (content_type, body, why) in bad {
        // Answered (an initial PUBLISH, refused, 500; on a live
        // publication the body is dropped and the publication stays).
        let code = send(content_type, &body);
        assert!(code.is_some(), "{why}: no answer");
        assert!(node1.wait_log(why, 5 * SECOND), "no log line for '{why}':\n{}", node1.log());
    }
    assert!(node1.running(), "still running");
    let shown = node1.cli("cluster show locations");
    assert!(shown.contains("sip:105@192.0.2.9:5060") && shown.contains("1 registration(s)"), "what it held is still there, nothing added:\n{shown}");
}

/// A REGISTER written by hand, its User-Agent holding control bytes (all a
/// header may hold but CR and LF).
fn register_raw(net: &Net, node: &Node, exten: &str, user_agent: &str) {
    let ip = net.phone(exten);
    let request = format!(
        "REGISTER sip:{node}:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {ip}:5060;rport;branch=z9hG4bK-raw-{exten}\r\n\
         From: <sip:{exten}@{node}>;tag=raw-{exten}\r\nTo: <sip:{exten}@{node}>\r\nCall-ID: raw-{exten}@{ip}\r\n\
         CSeq: 1 REGISTER\r\nContact: <sip:{exten}@{ip}:5060>\r\nExpires: 3600\r\nMax-Forwards: 70\r\n\
         User-Agent: {user_agent}\r\nContent-Length: 0\r\n\r\n",
        node = node.ip
    );
    let socket = std::net::UdpSocket::bind((ip.as_str(), 5060)).expect("bind the phone's address");
    socket.set_read_timeout(Some(Duration::from_millis(500))).expect("timeout");
    let mut buf = [0u8; 4096];
    for _ in 0..10 {
        socket.send_to(request.as_bytes(), (node.ip.as_str(), 5060)).expect("send REGISTER");
        if let Ok((len, _)) = socket.recv_from(&mut buf) {
            if String::from_utf8_lossy(&buf[..len]).starts_with("SIP/2.0 200") {
                return;
            }
        }
    }
    panic!("{exten} could not register on {}", node.name);
}

#[test]
fn a_phones_own_header_cannot_forge_what_its_node_publishes_of_it() {
    let net = Net::allocate();
    let nodes = replicated(&net, 2, |_| {});
    // Fields and an object's end, as the text sorcery's objects cross in.
    register_raw(&net, &nodes[1], "105", "phone\x1fendpoint\x1f103\x1fvia_addr\x1f192.0.2.66\x1eX");
    let shown = kept(&nodes[0], "105", &contact_of(&net, "105"), true);
    let row = shown.lines().find(|l| l.contains("sip:105@")).unwrap_or_default();
    assert!(row.split_whitespace().nth(2) == Some("105") && row.ends_with("yes"), "the phone's own endpoint, dialled directly:\n{shown}");
    let other = kept(&nodes[0], "103", "0 registration(s)", true);
    assert!(!other.contains("sip:105@"), "{other}");
}

#[test]
fn unload_and_load_while_registrations_flow_is_clean() {
    let net = Net::allocate();
    let nodes = replicated(&net, 2, |_| {});
    let _phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    kept(&nodes[0], "102", &contact_of(&net, "102"), true);
    for _ in 0..3 {
        let out = nodes[0].cli("module unload res_cluster.so");
        assert!(out.contains("Unloaded") || !nodes[0].module_running(), "{out}");
        let out = nodes[0].cli("module load res_cluster.so");
        assert!(nodes[0].module_running(), "{out}");
        // Loaded again: node2 sends it everything once it sees it up.
        kept(&nodes[0], "102", &contact_of(&net, "102"), true);
    }
    let _again = Phone::register(&net, &nodes[1], "104", Behaviour::Answer);
    kept(&nodes[0], "104", &contact_of(&net, "104"), true);
}

//! Peer health: read from the peer's endpoint state, learnt from calls,
//! checked by probes, shown in the CLI and announced on AMI; a peer comes
//! back without a reload, as soon as it answers.

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
    let out = wait_cli(&nodes[0], "cluster show peers", "endpoint reachable", 10 * SECOND);
    assert!(peer_row(&nodes[0], "node2").contains("UP"), "{out}");

    nodes[1].signal(libc::SIGSTOP);
    let out = wait_cli(&nodes[0], "cluster show peers", "endpoint unreachable", 10 * SECOND);
    assert!(peer_row(&nodes[0], "node2").contains("DOWN"), "{out}");
    let event = ami.wait_peer_status("node2", "DOWN", 5 * SECOND).expect("ClusterPeerStatus DOWN on AMI");
    assert!(event.iter().any(|(k, v)| k == "Cause" && v == "endpoint unreachable"), "{event:?}");

    let report = call(&net, &nodes[0], "102", &CallOptions::default());
    assert!(!report.answered());
    assert!(report.setup_ms.unwrap() < 900.0, "skipped at once: {report:?}");
    assert!(nodes[0].wait_log("skipping peer node2: down", 5 * SECOND), "{}", nodes[0].log());
    let log = nodes[0].log();
    assert!(!log.contains("dialling peer node2"), "no INVITE went to the down peer");

    nodes[1].signal(libc::SIGCONT);
    let out = wait_cli(&nodes[0], "cluster show peers", "endpoint reachable", 10 * SECOND);
    assert!(peer_row(&nodes[0], "node2").contains("UP"), "{out}");
    assert!(ami.wait_peer_status("node2", "UP", 5 * SECOND).is_some(), "ClusterPeerStatus UP on AMI");
    let report = call(&net, &nodes[0], "102", &CallOptions::default());
    assert!(report.answered(), "routes again with no reload: {report:?}");
}

#[test]
fn a_silent_peer_is_learnt_from_one_call_probed_and_retried_after_holddown() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |s| s.general = "holddown = 2".into());
    let _phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    let mut ami = Ami::connect(&nodes[0]);
    // Unqualified, the endpoint counts as reachable while it has a contact.
    let row = peer_row(&nodes[0], "node2");
    assert!(row.contains("UP") && row.contains("endpoint reachable"), "{row}");

    nodes[1].signal(libc::SIGSTOP);
    let first = call(&net, &nodes[0], "102", &CallOptions::default());
    let second = call(&net, &nodes[0], "102", &CallOptions::default());
    assert!(!first.answered() && !second.answered());
    let (a, b) = (first.setup_ms.unwrap(), second.setup_ms.unwrap());
    assert!((950.0..2_500.0).contains(&a), "the first call waited peer_timeout: {a} ms");
    assert!(b < 900.0, "the second skipped the peer: {b} ms");
    let event = ami.wait_peer_status("node2", "DOWN", 5 * SECOND).expect("DOWN on AMI");
    assert!(event.iter().any(|(k, v)| k == "Cause" && v.starts_with("no response to a call in 1.0 s")), "{event:?}");
    assert!(event.iter().any(|(k, v)| k == "Previous" && v == "UP"));
    let row = peer_row(&nodes[0], "node2");
    assert!(row.contains("DOWN") && row.contains("no response to a call"), "{row}");

    // Still hung past holddown: the probes go unanswered, so one call tries
    // the peer again (and waits peer_timeout), the next is skipped again.
    std::thread::sleep(Duration::from_millis(2_100));
    let trial = call(&net, &nodes[0], "102", &CallOptions::default());
    let after = call(&net, &nodes[0], "102", &CallOptions::default());
    assert!((950.0..2_500.0).contains(&trial.setup_ms.unwrap()), "{trial:?}");
    assert!(after.setup_ms.unwrap() < 900.0, "{after:?}");

    // Resumed: the next probe is answered, and the peer is used again.
    nodes[1].signal(libc::SIGCONT);
    let event = ami.wait_peer_status("node2", "UP", 5 * SECOND).expect("UP on AMI");
    assert!(event.iter().any(|(k, v)| k == "Cause" && v == "answered a probe"), "{event:?}");
    let third = call(&net, &nodes[0], "102", &CallOptions::default());
    assert!(third.answered(), "{third:?}");
}

#[test]
fn a_peer_with_a_dead_contact_beside_a_live_one_stays_up() {
    // node1 reaches node2 at two contacts; nothing answers at the second.
    let net = Net::allocate();
    let dead = net.host(99);
    let nodes = cluster(&net, 2, |s| {
        s.qualify_s = 1;
        if s.index == 1 {
            s.peer_aor = format!("contact = sip:{dead}:5060\n");
        }
    });
    let _phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);

    let contacts = poll(15 * SECOND, Duration::from_millis(200), || nodes[0].cli("pjsip show contacts"), |c| {
        c.contains(&format!("{dead}:5060")) && c.lines().filter(|l| l.contains("Avail") && !l.contains("Unavail")).count() >= 1 && c.contains("Unavail")
    });
    assert!(contacts.contains("Unavail"), "qualify found the dead contact: {contacts}");
    let row = poll(5 * SECOND, Duration::from_millis(100), || peer_row(&nodes[0], "node2"), |r| r.contains("UP"));
    assert!(row.contains("UP") && row.contains("endpoint reachable"), "one reachable contact keeps the peer up: {row}\n{contacts}");
    // It stays so while qualify goes on finding the dead contact dead.
    std::thread::sleep(Duration::from_millis(2_500));
    assert!(peer_row(&nodes[0], "node2").contains("UP"), "{}", nodes[0].cli("cluster show peers"));
    assert!(call(&net, &nodes[0], "102", &CallOptions::default()).answered());
}

#[test]
fn health_is_read_at_load_not_only_learnt_from_changes() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |s| {
        s.qualify_s = 1;
        s.load_module = s.index != 1;
    });
    // Qualify reaches node2 before res_cluster is loaded on node1.
    let contacts = poll(15 * SECOND, Duration::from_millis(200), || nodes[0].cli("pjsip show contacts"), |c| c.contains("Avail") && !c.contains("Unavail") && !c.contains("Unknown"));
    assert!(contacts.contains("Avail"), "{contacts}");
    // The endpoint's own state follows its contacts' through two
    // asynchronous hops (the AOR's serializer, then the stasis cache); the
    // endpoint's device state, read from that cache, says when it has.
    let online = |e: &String| e.lines().any(|l| l.contains(" cluster-node2 ") && l.contains("Not in use"));
    let endpoints = poll(10 * SECOND, Duration::from_millis(100), || nodes[0].cli("pjsip show endpoints"), online);
    assert!(online(&endpoints), "{endpoints}");
    assert!(nodes[0].cli("module load res_cluster.so").contains("Loaded"));
    // From here nothing changes: qualify keeps finding node2 where it was,
    // and Asterisk publishes changes only. Without the read at load the row
    // would stay UNKNOWN (nothing to probe) however long it is waited for.
    let row = poll(3 * SECOND, Duration::from_millis(50), || peer_row(&nodes[0], "node2"), |r| r.contains("UP"));
    assert!(row.contains("UP") && row.contains("endpoint reachable"), "known without waiting for a change: {row}");

    // And at reload, for a peer the reload adds.
    nodes[0].write_config("res_cluster.conf", "[general]\n");
    assert!(!nodes[0].cli("module reload res_cluster.so").contains("failure"));
    assert!(peer_row(&nodes[0], "node2").is_empty(), "{}", nodes[0].cli("cluster show peers"));
    nodes[0].write_config("res_cluster.conf", "[general]\n[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node2\n");
    assert!(!nodes[0].cli("module reload res_cluster.so").contains("failure"));
    let row = peer_row(&nodes[0], "node2");
    assert!(row.contains("UP") && row.contains("endpoint reachable"), "{row}");
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

#[test]
fn the_module_unloads_while_a_silent_peer_is_being_probed() {
    let net = Net::allocate();
    let mut nodes = cluster(&net, 2, |_| {});
    let _phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    nodes[1].signal(libc::SIGSTOP);
    assert!(!call(&net, &nodes[0], "102", &CallOptions::default()).answered());
    // Down by silence: a probe is on its way nearly all the time now.
    let row = wait_cli(&nodes[0], "cluster show peers", "no response to a call", 5 * SECOND);
    assert!(row.contains("DOWN"), "{row}");
    std::thread::sleep(Duration::from_millis(1_500));

    let out = nodes[0].cli("module unload res_cluster.so");
    assert!(out.contains("Unloaded res_cluster.so"), "{out}\n{}", nodes[0].log());
    assert!(nodes[0].running(), "Asterisk is still up");
    assert!(nodes[0].cli("module load res_cluster.so").contains("Loaded"));
    nodes[1].signal(libc::SIGCONT);
    drop(nodes.remove(1));
    assert!(nodes[0].running());
}

#[test]
fn a_contact_qualify_never_saw_reachable_puts_its_peer_down_when_found_unreachable() {
    let net = Net::allocate();
    // Qualify is on, but Asterisk starts its first round at a random moment
    // within one interval: a day. `pjsip qualify` runs one when the test wants.
    let mut nodes = cluster(&net, 2, |s| s.qualify_s = 86_400);
    // Unreachable at load (its contact not qualified yet), then up: a probe
    // found node2.
    let row = poll(10 * SECOND, Duration::from_millis(100), || peer_row(&nodes[0], "node2"), |r| r.contains("UP"));
    assert!(row.contains("UP"), "{row}");
    let contacts = nodes[0].cli("pjsip show contacts");

    drop(nodes.remove(1)); // SIGKILL
    nodes[0].cli("pjsip qualify cluster-node2");
    // Its contact goes from never qualified to unreachable; the endpoint was
    // unreachable all along, so Asterisk publishes no endpoint change.
    let out = wait_cli(&nodes[0], "cluster show peers", "endpoint unreachable", 10 * SECOND);
    let row = peer_row(&nodes[0], "node2");
    assert!(row.contains("DOWN") && row.contains("endpoint unreachable"), "{out}\nbefore the kill, at {row:?}:\n{contacts}");
}

#[test]
fn a_long_lived_channel_with_thousands_of_dialled_legs_still_tells_a_live_peer() {
    // 2,000 legs dialled from one channel before ClusterDial leave causes
    // whose names take some 56 KB: the leg ClusterDial makes then must still
    // be found among them, or its peer, which answered, would be taken for
    // silent.
    let net = Net::allocate();
    let one = "PJSIP/105@cluster-node2";
    let many = vec![one; 100].join("&");
    let dials: String = (0..20).map(|_| format!(" same => n,Dial({many},5)\n")).collect();
    let nodes = cluster(&net, 2, |s| {
        s.dialplan = format!("exten => _lots.,1,Set(CD_EXTEN=${{EXTEN:4}})\n{dials} same => n,ClusterDial(${{EXTEN:4}})\n same => n,Hangup()\n");
    });
    // Rings past peer_timeout before it answers.
    let phone = Phone::register(&net, &nodes[1], "102", Behaviour::AnswerAfter(1_500));

    let report = call(&net, &nodes[0], "lots102", &CallOptions { timeout_s: 120, ..CallOptions::default() });

    assert!(report.answered(), "{report:?}");
    assert_eq!(phone.invites().len(), 1);
    let crossed = nodes[1].wait_results_from_peers(2_001, 60 * SECOND).len();
    assert!(crossed > 2_000, "the 2,000 legs and the call reached node2: {crossed}");
    let row = peer_row(&nodes[0], "node2");
    assert!(!row.contains("DOWN"), "{row}");
    assert!(!nodes[0].log().contains("no response to a call"), "node2 answered every leg");
}

#[test]
fn a_phone_on_the_peer_that_rings_late_is_answered_and_its_peer_stays_up() {
    // The peer answers the INVITE at once (100 Trying) and relays ringing
    // only when its phone rings, 2 s later: a peer that responded is alive,
    // and rings for the ring timeout; peer_timeout (1 s) is for silence.
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |_| {});
    let phone = Phone::register(&net, &nodes[1], "102", Behaviour::RingAfter(2_000));

    let report = call(&net, &nodes[0], "102", &CallOptions::default());

    assert!(report.answered(), "{report:?}");
    assert!(report.setup_ms.unwrap() > 1_900.0, "the phone took its 2 s: {report:?}");
    assert_eq!(phone.invites().len(), 1);
    let r = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!((r[0].cluster.as_str(), r[0].node.as_str()), ("ANSWER", "node2"));
    let row = peer_row(&nodes[0], "node2");
    assert!(row.contains(" UP ") && !row.contains("no response"), "{row}");
    assert!(!nodes[0].log().contains("sent no response in time"), "{}", nodes[0].log());
}

#[test]
fn an_asterisk_whose_dial_reads_whole_seconds_is_given_whole_seconds_and_the_log_says_so() {
    let net = Net::allocate();
    let nodes = cluster(&net, 1, |s| {
        s.fault_injection = true;
        s.env = vec![("RES_CLUSTER_ASTERISK_VERSION".into(), "22.6.0".into())];
        s.general = "ring_timeout = 2.5".into();
        s.dialplan = "exten => _frac.,1,Set(CD_EXTEN=${EXTEN:4})\n same => n,ClusterDial(${EXTEN:4},1.5)\n".into();
    });
    let _phone = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);
    let said = "res_cluster.conf: ring_timeout = 2.5: this Asterisk's Dial reads whole seconds only";
    assert!(nodes[0].wait_log(said, 5 * SECOND), "{}", nodes[0].log());
    assert!(nodes[0].log().lines().any(|l| l.contains(" WARNING[") && l.contains(said)));

    assert!(call(&net, &nodes[0], "101", &CallOptions::default()).answered());
    assert!(call(&net, &nodes[0], "frac101", &CallOptions::default()).answered());
    assert!(call(&net, &nodes[0], "frac101", &CallOptions::default()).answered());

    assert!(nodes[0].wait_log("dialling this node: Dial(PJSIP/101,2)", 5 * SECOND), "{}", nodes[0].log());
    let log = nodes[0].log();
    assert!(log.contains("dialling this node: Dial(PJSIP/101,3)"), "ring_timeout 2.5 goes as 3");
    assert!(!log.contains("Dial(PJSIP/101,2.5") && !log.contains("Dial(PJSIP/101,1.5"), "no fraction went to Dial");
    let note = "ClusterDial's timeout 1.5 is dialled as 2 s: this Asterisk's Dial reads whole seconds only";
    assert_eq!(log.lines().filter(|l| l.contains(" WARNING[") && l.contains(note)).count(), 1, "said once, not per call:\n{log}");
}

//! IAX2 as the recipe names it beside SIP: nodes linked by IAX2 trunks only,
//! an IAX2 phone (another Asterisk registered over IAX2), and IAX2 callers
//! that are not peers. SIPp phones and callers on the SIP side.

mod harness;

use std::time::Duration;

use harness::*;

/// Nodes linked by IAX2, once each sees every other as chan_iax2's qualify
/// does (`OK`).
fn linked_by_iax2(net: &Net, n: u8, tune: impl Fn(&mut NodeSpec)) -> Vec<Node> {
    let nodes = cluster(net, n, |s| {
        s.iax2_peers = true;
        tune(s);
    });
    wait_linked(&nodes);
    nodes
}

/// Waits until every IAX2 friend `node<k>` of every node qualifies `OK` and
/// res_cluster has no peer down: started one after the other, the first
/// nodes found the later ones unreachable at first.
fn wait_linked(nodes: &[Node]) {
    for node in nodes {
        let linked = |node: &Node| {
            let iax = node.cli("iax2 show peers");
            let peers = iax.lines().filter(|l| l.starts_with("node")).collect::<Vec<_>>();
            !peers.is_empty() && peers.iter().all(|l| l.contains(" OK ")) && !node.cli("cluster show peers").contains("DOWN")
        };
        let ok = poll(15 * SECOND, Duration::from_millis(100), || linked(node), |&ok| ok);
        assert!(ok, "{}: {}\n{}", node.name, node.cli("iax2 show peers"), node.cli("cluster show peers"));
    }
}

/// `cluster show peers`' line for `peer`.
fn peer_line(node: &Node, peer: &str) -> String {
    node.cli("cluster show peers").lines().find(|l| l.starts_with(peer)).unwrap_or_default().to_string()
}

fn wait_peer_state(node: &Node, peer: &str, state: &str, timeout: Duration) -> String {
    poll(timeout, Duration::from_millis(100), || peer_line(node, peer), |l| l.split_whitespace().nth(2) == Some(state))
}

#[test]
fn over_an_iax2_trunk_a_call_is_answered_here_or_on_the_peer() {
    let net = Net::allocate();
    let nodes = linked_by_iax2(&net, 2, |_| {});
    let _here = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);
    let there = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);

    let local = call(&net, &nodes[0], "101", &CallOptions::default());
    let remote = call(&net, &nodes[0], "102", &CallOptions::default());

    assert!(local.answered() && remote.answered(), "{local:?} {remote:?}");
    let here = nodes[0].wait_results(2, 5 * SECOND);
    assert_eq!((here[0].cluster.as_str(), here[0].node.as_str()), ("ANSWER", "node1"));
    assert_eq!((here[1].cluster.as_str(), here[1].node.as_str()), ("ANSWER", "node2"));
    assert_eq!(there.caller_numbers(), vec!["200"], "the prefix came off on node2");
    let arrived = nodes[1].wait_results(1, 5 * SECOND);
    assert!(arrived[0].chan.starts_with("IAX2/node1-"), "chan_iax2 named the call after the peer: {arrived:?}");
    assert_eq!((arrived[0].raw.as_str(), arrived[0].cid.as_str()), ("9999200", "200"), "trusted: the prefix travelled and came off");
    let log = nodes[0].log();
    assert!(log.contains("dialling peer node2: Dial(IAX2/node2/102,20,b(res_cluster-peer-leg^s^1))"), "{log}");
    assert!(nodes[0].cli("cluster show status").contains("IAX2 peers: a pre-dial handler setting IAXVAR(X-Cluster-Hop)"));
    assert!(peer_line(&nodes[0], "node2").contains("UP") || peer_line(&nodes[0], "node2").contains("UNKNOWN"), "{}", peer_line(&nodes[0], "node2"));
}

#[test]
fn over_an_iax2_trunk_a_phone_nowhere_crosses_once_and_busy_is_busy() {
    let net = Net::allocate();
    let nodes = linked_by_iax2(&net, 2, |_| {});
    let _busy = Phone::register(&net, &nodes[1], "102", Behaviour::Busy);

    let nowhere = call(&net, &nodes[0], "103", &CallOptions::default());
    let busy = call(&net, &nodes[0], "102", &CallOptions::default());

    assert!(!nowhere.answered() && !busy.answered());
    let setup = nowhere.setup_ms.expect("a final response");
    assert!(setup < 5_000.0, "failure took {setup} ms");
    let here = nodes[0].wait_results(2, 5 * SECOND);
    assert_eq!((here[0].cluster.as_str(), here[0].dial.as_str()), ("CHANUNAVAIL", "CHANUNAVAIL"));
    assert_eq!((here[1].cluster.as_str(), here[1].dial.as_str()), ("BUSY", "BUSY"), "node2's BUSY came back over IAX2");
    let there = nodes[1].wait_results(2, 5 * SECOND);
    settle();
    assert_eq!(nodes[1].results_from_peers().len(), 2, "one crossing per call: {there:?}");
    assert!(nodes[0].results_from_peers().is_empty(), "none back: {:?}", nodes[0].results());
    assert_eq!(nodes[0].results().len(), 2);
    // A peer that answered with a cause is alive, whatever the answer.
    assert!(!peer_line(&nodes[0], "node2").contains("DOWN"), "{}", nodes[0].cli("cluster show peers"));
}

#[test]
fn a_hung_iax2_peer_is_skipped_and_used_again_once_it_answers() {
    let net = Net::allocate();
    let nodes = linked_by_iax2(&net, 2, |_| {});
    let _phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    assert!(call(&net, &nodes[0], "102", &CallOptions::default()).answered());

    nodes[1].signal(libc::SIGSTOP);
    // chan_iax2's qualify finds it gone; res_cluster reads the endpoint state.
    let line = wait_peer_state(&nodes[0], "node2", "DOWN", 15 * SECOND);
    let skipped = call(&net, &nodes[0], "102", &CallOptions::default());
    nodes[1].signal(libc::SIGCONT);

    assert!(line.contains("DOWN"), "{}", nodes[0].cli("cluster show peers"));
    assert!(!skipped.answered());
    let setup = skipped.setup_ms.expect("a final response");
    assert!(setup < 900.0, "a down peer costs nothing: {setup} ms");
    assert!(nodes[0].wait_log("skipping peer node2: down", 5 * SECOND), "{}", nodes[0].log());
    let log = nodes[0].log();
    assert_eq!(log.matches("Called IAX2/node2/102").count(), 1, "no leg to the hung peer");

    let line = wait_peer_state(&nodes[0], "node2", "UP", 15 * SECOND);
    assert!(line.contains("UP"), "{}", nodes[0].cli("cluster show peers"));
    assert!(call(&net, &nodes[0], "102", &CallOptions::default()).answered(), "back in use");
}

#[test]
fn the_hop_marker_crosses_an_iax2_trunk() {
    // node1 -> node2 -> (node3, where the phone is), over IAX2. node2 knows
    // node1 as an IAX2 friend but not as a peer: only the IAXVAR that crossed
    // with the call stops node2 from forwarding it.
    let net = Net::allocate();
    let mut specs = [NodeSpec::new(1, &[2]), NodeSpec::new(2, &[3]), NodeSpec::new(3, &[])];
    specs[1].endpoints_only = vec![1];
    specs[2].endpoints_only = vec![2];
    for s in specs.iter_mut() {
        s.iax2_peers = true;
    }
    let nodes: Vec<Node> = specs.iter().map(|s| Node::start(&net, s)).collect();
    wait_linked(&nodes);
    let phone = Phone::register(&net, &nodes[2], "103", Behaviour::Answer);

    let report = call(&net, &nodes[0], "103", &CallOptions::default());

    assert!(!report.answered(), "{report:?}");
    let there = nodes[1].wait_results(1, 5 * SECOND);
    assert!(there[0].chan.starts_with("IAX2/node1-"), "{there:?}");
    assert_eq!((there[0].raw.as_str(), there[0].cid.as_str()), ("9999200", "9999200"), "no trust: not stripped");
    assert_eq!(there[0].cluster, "CHANUNAVAIL");
    assert!(nodes[1].wait_log("marked by hop header", 5 * SECOND), "{}", nodes[1].log());
    settle();
    assert!(nodes[2].results().is_empty(), "node2 did not forward: {:?}", nodes[2].results());
    assert!(phone.invites().is_empty());
}

/// Node 9: another Asterisk, registered with node1 over IAX2 as phone 201.
/// It answers what node1 sends it, logging the caller number and any hop
/// marker that came with the call, and it can call node1 itself.
fn iax2_phone(net: &Net) -> Node {
    iax2_phone_of(net, 1)
}

/// As `iax2_phone`, registered with node `home` (calls out go to node1).
fn iax2_phone_of(net: &Net, home: u8) -> Node {
    let node1 = net.node(1);
    let registrar = net.node(home);
    let mut spec = NodeSpec::new(9, &[]);
    spec.load_module = false;
    spec.iax_general = format!("register => 201:phone201@{registrar}\n");
    spec.iax = format!(
        "[node1]\ntype = friend\nhost = {node1}\nusername = 201\nsecret = phone201\nauth = md5\ncontext = iaxphone\n\
         disallow = all\nallow = ulaw\n"
    );
    if home != 1 {
        spec.iax.push_str(&format!(
            "[node{home}]\ntype = friend\nhost = {registrar}\nusername = 201\nsecret = phone201\nauth = md5\ncontext = iaxphone\n\
             disallow = all\nallow = ulaw\n"
        ));
    }
    spec.dialplan = "\n[iaxphone]\nexten => s,1,Log(NOTICE,IAXPHONE cid=${CALLERID(num)} hop=${IAXVAR(X-Cluster-Hop)})\n \
         same => n,Answer()\n same => n,Wait(1)\n same => n,Hangup()\n\n\
         [out]\nexten => _hop.,1,Set(IAXVAR(X-Cluster-Hop)=node7)\n same => n,Set(CALLERID(num)=201)\n \
         same => n,Dial(IAX2/node1/${EXTEN:3},10)\n\
         exten => _pre.,1,Set(CALLERID(num)=9999201)\n same => n,Dial(IAX2/node1/${EXTEN:3},10)\n"
        .into();
    Node::start(net, &spec)
}

/// Node 1 knows phone 201 as an IAX2 friend whose address it learns when the
/// phone registers.
const PHONE_201: &str = "[201]\ntype = friend\nhost = dynamic\nsecret = phone201\nauth = md5\ncontext = phones\ndisallow = all\nallow = ulaw\n";

#[test]
fn an_iax2_phone_is_rung_from_its_own_node_and_from_the_other() {
    let net = Net::allocate();
    let nodes = linked_by_iax2(&net, 2, |s| {
        if s.index == 1 {
            s.iax = PHONE_201.into();
            s.general = "local_dial = PJSIP/${EXTEN}&IAX2/${EXTEN}".into();
        }
    });
    let phone = iax2_phone(&net);
    assert!(nodes[0].wait_log("Registered IAX2 '201'", 15 * SECOND), "{}", nodes[0].log());

    let here = call(&net, &nodes[0], "201", &CallOptions::default());
    let from_node2 = call(&net, &nodes[1], "201", &CallOptions::default());

    assert!(here.answered() && from_node2.answered(), "{here:?} {from_node2:?}");
    // The Log application's own NOTICE lines, not the verbose trace of them.
    let logged = |log: &str| log.lines().filter(|l| l.contains(" NOTICE[") && l.contains("IAXPHONE")).map(str::to_string).collect::<Vec<_>>();
    let lines = poll(5 * SECOND, Duration::from_millis(50), || logged(&phone.log()), |l| l.len() >= 2);
    assert_eq!(lines.len(), 2, "{}", phone.log());
    for line in &lines {
        // The real number; the marker node2's call crossed with stays on node1.
        assert!(line.ends_with("IAXPHONE cid=200 hop="), "{line}");
    }
    let r = nodes[1].wait_results(1, 5 * SECOND);
    assert_eq!((r[0].cluster.as_str(), r[0].node.as_str()), ("ANSWER", "node1"));

    // IAX2 alone.
    nodes[0].write_config("res_cluster.conf", "[general]\nlocal_dial = IAX2/${EXTEN}\n[node2]\ntype = peer\ndial = IAX2/node2/${EXTEN}\n");
    nodes[0].cli("module reload res_cluster.so");
    assert!(call(&net, &nodes[0], "201", &CallOptions::default()).answered());
    assert!(nodes[0].wait_log("dialling this node: Dial(IAX2/201,20)", 5 * SECOND), "{}", nodes[0].log());
    // The second call of the SIPp caller on node1; node2's call has a record of its own.
    let mine = |n: &Node| n.results().into_iter().filter(|r| !r.came_from_peer()).collect::<Vec<_>>();
    let r = poll(5 * SECOND, Duration::from_millis(25), || mine(&nodes[0]), |r| r.len() >= 2);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!((r[1].cluster.as_str(), r[1].node.as_str()), ("ANSWER", "node1"));
}

#[test]
fn an_iax2_caller_that_is_not_a_peer_earns_no_trust() {
    let net = Net::allocate();
    let nodes = linked_by_iax2(&net, 2, |s| {
        if s.index == 1 {
            s.iax = PHONE_201.into();
        }
    });
    let phone = iax2_phone(&net);
    assert!(nodes[0].wait_log("Registered IAX2 '201'", 15 * SECOND), "{}", nodes[0].log());
    let on_node2 = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);

    // 201 sends the hop marker: taken for a forwarded call, tried here only.
    let mut ami = Ami::connect(&phone);
    let originate = |ami: &mut Ami, exten: &str| {
        let channel = format!("Local/{exten}@out");
        let r = ami.action("Originate", &[("Channel", &channel), ("Application", "Wait"), ("Data", "3"), ("Async", "true")]);
        assert!(r.is_some_and(|r| r.iter().any(|(k, v)| k == "Response" && v == "Success")), "originate {exten}");
    };
    originate(&mut ami, "hop102");
    let r = nodes[0].wait_results(1, 10 * SECOND);
    assert!(r[0].chan.starts_with("IAX2/201-"), "{r:?}");
    assert_eq!((r[0].cluster.as_str(), r[0].raw.as_str(), r[0].cid.as_str()), ("CHANUNAVAIL", "201", "201"));
    assert!(nodes[0].wait_log("marked by hop header", 5 * SECOND), "{}", nodes[0].log());

    // 201 sends a prefixed number: an ordinary caller, forwarded as any
    // other, its number never stripped.
    originate(&mut ami, "pre102");
    let r = nodes[0].wait_results(2, 10 * SECOND);
    assert_eq!((r[1].cluster.as_str(), r[1].raw.as_str()), ("ANSWER", "9999201"), "{r:?}");
    let there = nodes[1].wait_results(1, 5 * SECOND);
    assert_eq!((there[0].raw.as_str(), there[0].cid.as_str()), ("99999999201", "9999201"));
    assert_eq!(on_node2.caller_numbers(), vec!["9999201"]);
    settle();
    assert_eq!(nodes[1].results().len(), 1, "the marked call never crossed");
}

#[test]
fn with_locate_an_iax2_phone_on_a_peer_is_unknown_and_rung_there() {
    // chan_iax2 reports a registered, idle IAX2 phone's state as UNKNOWN
    // ("the core decides") and publishes that: it says nothing of where the
    // phone is, so the peer is hunted, not passed over.
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |s| {
        s.locate = true;
        s.iax = PHONE_201.into();
        s.general = "local_dial = PJSIP/${EXTEN}&IAX2/${EXTEN}".into();
        s.device_state_filter = Some("^(PJSIP/[0-9]+$|IAX2/[0-9]+$|Cluster:)".into());
    });
    let phone = iax2_phone_of(&net, 2);
    assert!(nodes[1].wait_log("Registered IAX2 '201'", 15 * SECOND), "{}", nodes[1].log());
    let row = |out: &String| out.lines().find(|l| l.starts_with("node2")).unwrap_or_default().to_string();
    let out = poll(10 * SECOND, Duration::from_millis(50), || nodes[0].cli("cluster show locations 201"), |o| row(o).contains("(UNKNOWN)"));
    assert!(row(&out).contains("unknown (UNKNOWN)"), "node2 reports IAX2/201 as chan_iax2 does, and that is not 'absent':\n{out}");

    let report = call(&net, &nodes[0], "201", &CallOptions::default());

    assert!(report.answered(), "{report:?}\n{}", nodes[0].log());
    let r = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!((r[0].cluster.as_str(), r[0].node.as_str()), ("ANSWER", "node2"));
    let logged = poll(5 * SECOND, Duration::from_millis(50), || phone.log(), |l| l.contains("IAXPHONE cid=200"));
    assert!(logged.contains("IAXPHONE cid=200"), "the IAX2 phone on node2 answered: {logged}");
    assert!(nodes[0].cli("cluster show status").contains("Hunted:              1"), "{}", nodes[0].cli("cluster show status"));
}

//! The recipe's two-node cluster, done by ClusterDial: every behaviour over
//! real SIP between two real Asterisk nodes, SIPp phones and callers.

mod harness;

use harness::*;

fn two_nodes(net: &Net) -> Vec<Node> {
    cluster(net, 2, |_| {})
}

fn two_nodes_with(net: &Net, general: &str) -> Vec<Node> {
    cluster(net, 2, |s| s.general = general.to_string())
}

#[test]
fn phone_here_rings_and_sees_the_real_number() {
    let net = Net::allocate();
    let nodes = two_nodes(&net);
    let phone = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);

    let report = call(&net, &nodes[0], "101", &CallOptions::default());

    assert!(report.answered(), "{report:?}");
    assert_eq!(phone.caller_numbers(), vec!["200"]);
    let r = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!((r[0].cluster.as_str(), r[0].dial.as_str(), r[0].node.as_str()), ("ANSWER", "ANSWER", "node1"));
    settle();
    assert!(nodes[1].results().is_empty(), "nothing went to the peer");
}

#[test]
fn phone_on_the_peer_is_reached_and_sees_the_real_number() {
    let net = Net::allocate();
    let nodes = two_nodes(&net);
    let phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);

    let report = call(&net, &nodes[0], "102", &CallOptions::default());

    assert!(report.answered(), "{report:?}");
    assert_eq!(phone.caller_numbers(), vec!["200"], "the prefix is gone by the time the phone rings");
    let here = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!((here[0].cluster.as_str(), here[0].node.as_str()), ("ANSWER", "node2"));
    let there = nodes[1].wait_results(1, 5 * SECOND);
    assert!(there[0].came_from_peer(), "{there:?}");
    assert_eq!(there[0].raw, "9999200", "the prefix travelled between the nodes");
    assert_eq!(there[0].cid, "200", "and came off on arrival");
    assert_eq!((there[0].cluster.as_str(), there[0].node.as_str()), ("ANSWER", "node2"));
    let log = nodes[0].log();
    assert!(log.contains("ClusterDial: dialling this node: Dial(PJSIP/102,20)"), "{log}");
    assert!(log.contains("ClusterDial: dialling peer node2: Dial(PJSIP/102@cluster-node2,20,f("), "{log}");
}

#[test]
fn phone_nowhere_crosses_once_and_fails_fast() {
    let net = Net::allocate();
    let nodes = two_nodes(&net);

    let report = call(&net, &nodes[0], "103", &CallOptions::default());

    assert!(!report.answered());
    let setup = report.setup_ms.expect("a final response");
    assert!(setup < 5_000.0, "failure took {setup} ms");
    let here = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!((here[0].cluster.as_str(), here[0].dial.as_str(), here[0].node.as_str()), ("CHANUNAVAIL", "CHANUNAVAIL", ""));
    let there = nodes[1].wait_results(1, 5 * SECOND);
    settle();
    assert_eq!(nodes[1].results_from_peers().len(), 1, "exactly one INVITE node1 -> node2: {there:?}");
    assert!(nodes[0].results_from_peers().is_empty(), "and none back: {:?}", nodes[0].results());
    assert_eq!(nodes[0].results().len(), 1);
    assert_eq!(nodes[1].log().matches("Called PJSIP/").count(), 0, "node2 only tried its own phone, which is not there");
}

#[test]
fn from_cluster_marks_a_call_as_already_forwarded() {
    let net = Net::allocate();
    let nodes = two_nodes(&net);
    let _phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);

    // The dialplan sets __FROM_CLUSTER=1 as the recipe's peer context does.
    let report = call(&net, &nodes[0], "legacy102", &CallOptions::default());

    assert!(!report.answered(), "the phone is on the peer, and a marked call is not forwarded");
    let here = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!(here[0].cluster, "CHANUNAVAIL");
    settle();
    assert!(nodes[1].results().is_empty(), "nothing crossed: {:?}", nodes[1].results());
    assert!(nodes[0].wait_log("marked by FROM_CLUSTER=1", 5 * SECOND));
}

#[test]
fn a_phone_with_a_prefix_like_number_is_not_trusted() {
    let net = Net::allocate();
    let nodes = two_nodes(&net);
    let phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);

    // Endpoint 202 is an ordinary phone whose number is 9999202.
    let opts = CallOptions { caller: "202".into(), ..CallOptions::default() };
    let report = call(&net, &nodes[0], "102", &opts);

    assert!(report.answered(), "forwarded like any other call: {report:?}");
    let here = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!((here[0].raw.as_str(), here[0].cid.as_str()), ("9999202", "9999202"), "not stripped on node1");
    assert_eq!(phone.caller_numbers(), vec!["9999202"], "the phone sees the number the caller really has");
    let there = nodes[1].wait_results(1, 5 * SECOND);
    assert_eq!(there[0].raw, "99999999202", "node1 added its prefix as for any caller");
}

#[test]
fn the_callers_channel_keeps_its_caller_id() {
    let net = Net::allocate();
    let nodes = two_nodes(&net);

    call(&net, &nodes[0], "103", &CallOptions::default());

    let here = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!(here[0].cluster, "CHANUNAVAIL");
    assert_eq!(here[0].after, "200", "CALLERID(num) after ClusterDial returned, forwarded or not");
    assert_eq!(here[0].cid, "200");
}

#[test]
fn busy_and_no_answer_stay_on_this_node_by_default() {
    let net = Net::allocate();
    let nodes = two_nodes(&net);
    let _busy = Phone::register(&net, &nodes[0], "101", Behaviour::Busy);
    let _ringing = Phone::register(&net, &nodes[0], "102", Behaviour::Ring);

    let busy = call(&net, &nodes[0], "101", &CallOptions::default());
    let unanswered = call(&net, &nodes[0], "short102", &CallOptions::default());

    assert!(!busy.answered() && !unanswered.answered());
    let r = nodes[0].wait_results(2, 10 * SECOND);
    assert_eq!((r[0].cluster.as_str(), r[0].dial.as_str()), ("BUSY", "BUSY"));
    assert_eq!((r[1].cluster.as_str(), r[1].dial.as_str()), ("NOANSWER", "NOANSWER"));
    settle();
    assert!(nodes[1].results().is_empty(), "neither went to the peer: {:?}", nodes[1].results());
}

#[test]
fn fallback_on_busy_behaves_like_the_recipe() {
    let net = Net::allocate();
    let nodes = two_nodes_with(&net, "fallback_on = chanunavail,congestion,busy,noanswer");
    let _busy = Phone::register(&net, &nodes[0], "101", Behaviour::Busy);

    call(&net, &nodes[0], "101", &CallOptions::default());

    let r = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!(r[0].cluster, "BUSY", "the busy phone found outweighs the peer's miss");
    nodes[1].wait_results_from_peers(1, 5 * SECOND);
    settle();
    assert_eq!(nodes[1].results_from_peers().len(), 1, "the busy call went to the peer");
}

#[test]
fn variables_after_clusterdial() {
    let net = Net::allocate();
    let nodes = two_nodes(&net);
    let _here = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);
    let _there = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);

    for exten in ["101", "102", "103"] {
        call(&net, &nodes[0], exten, &CallOptions::default());
    }

    let r = nodes[0].wait_results(3, 5 * SECOND);
    let got: Vec<(&str, &str, &str)> = r.iter().map(|r| (r.cluster.as_str(), r.dial.as_str(), r.node.as_str())).collect();
    assert_eq!(got, vec![("ANSWER", "ANSWER", "node1"), ("ANSWER", "ANSWER", "node2"), ("CHANUNAVAIL", "CHANUNAVAIL", "")]);
}

#[test]
fn bad_arguments_dial_nothing_and_warn_once() {
    let net = Net::allocate();
    let nodes = two_nodes(&net);
    // Were an injection to work, these would ring.
    let phone102 = Phone::register(&net, &nodes[0], "102", Behaviour::Answer);
    let _phone101 = Phone::register(&net, &nodes[1], "101", Behaviour::Answer);
    let phone_ip = net.phone("102");
    let long = "1".repeat(80);
    let targets = [
        "101&PJSIP/102".to_string(),
        "101@cluster-node2".to_string(),
        format!("101/sip:102@{phone_ip}"),
        "101,5,r".to_string(),
        "10 1".to_string(),
        "${EXTEN}".to_string(),
        "'101'".to_string(),
        "[101]".to_string(),
        long.clone(),
    ];
    for target in &targets {
        let opts = CallOptions { extra_header: format!("X-Target: {target}"), ..CallOptions::default() };
        let report = call(&net, &nodes[0], "inject", &opts);
        // "101,5,r" is three valid arguments; 101 is on the peer.
        assert_eq!(report.answered(), target == "101,5,r", "{target}: {report:?}");
    }
    let r = nodes[0].wait_results(targets.len(), 5 * SECOND);
    settle();
    assert_eq!(r.len(), targets.len());
    for (rec, target) in r.iter().zip(&targets) {
        if target == "101,5,r" {
            // A comma separates arguments: this is a valid call to 101 with a
            // 5 s timeout, and 101 is on the peer.
            continue;
        }
        assert_eq!((rec.cluster.as_str(), rec.dial.as_str()), ("INVALIDARGS", "INVALIDARGS"), "{target}");
    }
    assert!(phone102.invites().is_empty(), "no INVITE reached phone 102");
    let crossed = nodes[1].results_from_peers();
    assert_eq!(crossed.len(), 1, "only the valid 101,5,r call went to the peer: {crossed:?}");
    let warnings: Vec<String> =
        nodes[0].log().lines().filter(|l| l.contains("WARNING") && l.contains("ClusterDial(")).map(str::to_string).collect();
    assert_eq!(warnings.len(), targets.len() - 1, "one WARNING per refused call: {warnings:#?}");
    assert!(warnings[0].contains("extension has '&' at position 4"), "{}", warnings[0]);
    assert!(warnings.iter().any(|w| w.contains("Asterisk's limit is 79")));
}

#[test]
fn an_empty_extension_is_refused() {
    let net = Net::allocate();
    let nodes = two_nodes(&net);
    let opts = CallOptions { extra_header: "X-Target: ".into(), ..CallOptions::default() };
    call(&net, &nodes[0], "inject", &opts);
    let r = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!(r[0].cluster, "INVALIDARGS");
    assert!(nodes[0].wait_log("no extension given", 5 * SECOND));
}

#[test]
fn timeout_and_options_arguments_override_the_configuration() {
    let net = Net::allocate();
    let nodes = two_nodes_with(&net, "dial_options = f(777)");
    let _ringing = Phone::register(&net, &nodes[0], "101", Behaviour::Ring);
    let answering = Phone::register(&net, &nodes[0], "102", Behaviour::Answer);

    let short = call(&net, &nodes[0], "short101", &CallOptions::default());
    call(&net, &nodes[0], "102", &CallOptions::default());
    call(&net, &nodes[0], "fopt102", &CallOptions::default());

    let setup = short.setup_ms.expect("a final response");
    assert!((2_900.0..6_000.0).contains(&setup), "ClusterDial(101,3) gave up after {setup} ms, not 20 s");
    assert_eq!(answering.caller_numbers(), vec!["777", "888"], "dial_options f(777), then the argument's f(888)");
}

#[test]
fn a_bad_configuration_declines_the_module_with_file_line_and_key() {
    let net = Net::allocate();
    let mut spec = NodeSpec::new(1, &[]);
    spec.res_cluster_conf = Some("[general]\nnode_name = node1\nstrategy = random\n".into());
    let node = Node::start(&net, &spec);
    assert!(!node.module_running());
    assert!(node.wait_log("res_cluster.conf line 3: [general] strategy: 'random' is not a strategy", 5 * SECOND), "{}", node.log());
    assert!(!node.cli("core show applications like ClusterDial").contains("ClusterDial:"));
}

#[test]
fn a_missing_configuration_declines_the_module() {
    let net = Net::allocate();
    let mut spec = NodeSpec::new(1, &[]);
    spec.load_module = false;
    let node = Node::start(&net, &spec);
    node.write_config("res_cluster.conf", "");
    let _ = node.cli("module load res_cluster.so");
    assert!(node.module_running(), "an empty file means the defaults");
    node.cli("module unload res_cluster.so");
    node.remove_config("res_cluster.conf");
    let out = node.cli("module load res_cluster.so");
    assert!(!node.module_running(), "{out}");
    assert!(node.wait_log("res_cluster.conf not found", 5 * SECOND), "{}", node.log());
}

#[test]
fn a_broken_reload_keeps_the_running_configuration() {
    let net = Net::allocate();
    let nodes = two_nodes(&net);
    let phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);

    nodes[0].write_config("res_cluster.conf", "[general]\ncallerid_prefix = 7777\n[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node2\nring_timeout = 5\n");
    let out = nodes[0].cli("module reload res_cluster.so");
    assert!(nodes[0].wait_log("the running configuration stays in force", 5 * SECOND), "{out}");
    assert!(nodes[0].wait_log("res_cluster.conf line 6: [node2] ring_timeout: unknown key", 5 * SECOND));

    let report = call(&net, &nodes[0], "102", &CallOptions::default());
    assert!(report.answered(), "the old configuration still forwards: {report:?}");
    let there = nodes[1].wait_results(1, 5 * SECOND);
    assert_eq!(there[0].raw, "9999200", "with the old prefix");

    // Both nodes change prefix together, as they must.
    for (node, peer) in [(&nodes[0], 2), (&nodes[1], 1)] {
        node.write_config(
            "res_cluster.conf",
            &format!("[general]\ncallerid_prefix = 7777\n[node{peer}]\ntype = peer\ndial = PJSIP/${{EXTEN}}@cluster-node{peer}\n"),
        );
        node.cli("module reload res_cluster.so");
    }
    call(&net, &nodes[0], "102", &CallOptions::default());
    let there = nodes[1].wait_results(2, 5 * SECOND);
    assert_eq!(there[1].raw, "7777200", "a good reload takes effect for the next call");
    assert_eq!(phone.caller_numbers(), vec!["200", "200"]);
}

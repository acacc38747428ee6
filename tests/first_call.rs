//! The foundation: a real Asterisk loads res_cluster and ClusterDial places a
//! first real call.

mod harness;

use harness::*;

#[test]
fn a_registered_phone_answers_through_clusterdial() {
    let net = Net::allocate();
    let node = Node::start(&net, &NodeSpec::new(1, &[]));
    let phone = Phone::register(&net, &node, "101", Behaviour::Answer);

    let report = call(&net, &node, "101", &CallOptions::default());

    assert!(report.answered(), "{report:?}");
    assert!(report.completed, "the caller hung up cleanly: {report:?}");
    assert_eq!(phone.invites().len(), 1);
    let r = node.wait_results(1, 5 * SECOND);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!((r[0].cluster.as_str(), r[0].dial.as_str(), r[0].node.as_str()), ("ANSWER", "ANSWER", "node1"));
}

#[test]
fn an_unregistered_extension_gives_chanunavail() {
    let net = Net::allocate();
    let node = Node::start(&net, &NodeSpec::new(1, &[]));

    let report = call(&net, &node, "102", &CallOptions::default());

    assert!(!report.answered());
    assert!(report.final_code.is_some(), "the caller got a final failure: {report:?}");
    let r = node.wait_results(1, 5 * SECOND);
    assert_eq!((r[0].cluster.as_str(), r[0].dial.as_str(), r[0].node.as_str()), ("CHANUNAVAIL", "CHANUNAVAIL", ""));
}

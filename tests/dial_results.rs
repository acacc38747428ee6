//! What ClusterDial makes of Dial's results is decided from the calling
//! channel itself (has it hung up?) together with DIALSTATUS, not guessed
//! from Dial's return code.

mod harness;

use std::time::Duration;

use harness::*;

/// Extension 107 is an endpoint allowing only A-law on node1 (no codec
/// module can translate it from the callers' u-law there), and an ordinary
/// one on node2.
fn nodes(net: &Net) -> Vec<Node> {
    cluster(net, 2, |s| {
        s.pjsip = if s.index == 1 {
            "[107](endpoint-common)\ndisallow = all\nallow = alaw\naors = 107\n\n[107](phone-aor)\n\n".into()
        } else {
            "[107](endpoint-common)\naors = 107\n\n[107](phone-aor)\n\n".into()
        };
    })
}

#[test]
fn channels_that_cannot_be_made_compatible_fall_back_to_the_peers() {
    let net = Net::allocate();
    let nodes = nodes(&net);
    let _alaw = Phone::register(&net, &nodes[0], "107", Behaviour::Answer);
    let there = Phone::register_from(net.host(114), &nodes[1], "107", Behaviour::Answer);

    let report = call(&net, &nodes[0], "107", &CallOptions::default());

    nodes[0].wait_results(1, 5 * SECOND);
    let log = nodes[0].log();
    assert!(log.contains("ClusterDial: dialling this node: Dial(PJSIP/107,20)"), "{log}");
    assert!(report.answered(), "Dial gave up on this node's phone (CONGESTION, -1) with the caller still there: {report:?}\n{log}");
    let r = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!((r[0].cluster.as_str(), r[0].node.as_str()), ("ANSWER", "node2"), "{r:?}");
    assert_eq!(there.invites().len(), 1);
}

#[test]
fn a_key_pressed_while_it_rings_leaves_to_that_extension() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |_| {});
    let ringing = Phone::register(&net, &nodes[0], "101", Behaviour::Ring);

    // ClusterDial(101,,d): the caller presses 5 while 101 rings.
    let report = call(&net, &nodes[0], "dopt101", &CallOptions { dtmf: Some('5'), ..CallOptions::default() });

    assert!(report.answered(), "extension 5 answered the caller: {report:?}");
    assert!(nodes[0].wait_log("LEFT-WITH-5", 5 * SECOND), "the dialplan went on at extension 5:\n{}", nodes[0].log());
    let log = nodes[0].log();
    assert!(log.contains("caller pressed '5' to leave"), "{log}");
    let cancels = poll(5 * SECOND, Duration::from_millis(50), || ringing.requests("CANCEL"), |&n| n > 0);
    assert_eq!(cancels, 1, "the phone stopped ringing");
    settle();
    assert!(nodes[1].results().is_empty(), "nothing went to the peer");
}

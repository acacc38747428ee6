//! Faults under load: the peer hung and resumed, the peer killed and
//! restarted. Calls for this node's phones never notice; calls for the lost
//! node's phones fail fast once it is known down; after recovery everything
//! routes again with no reload.

mod harness;

use std::time::Duration;

use harness::*;

const LOCAL_RATE: u32 = 20;

/// Background calls to the phone on node1 for `seconds`, from caller slot 2;
/// every one must be answered.
fn local_load<'s>(s: &'s std::thread::Scope<'s, '_>, net: &'s Net, node: &'s Node, seconds: u32) -> std::thread::ScopedJoinHandle<'s, LoadReport> {
    s.spawn(move || load_from(net, 2, node, "101", LOCAL_RATE, LOCAL_RATE * seconds, 200))
}

fn wait_peer(node: &Node, state: &str, timeout: Duration) -> bool {
    let in_state = || {
        let rows = node.cli("cluster show peers");
        rows.lines().any(|l| l.starts_with("node2") && l.split_whitespace().nth(2) == Some(state))
    };
    poll(timeout, Duration::from_millis(100), in_state, |&yes| yes)
}

/// Places calls to `exten` once a second until one is answered.
fn answered_again(net: &Net, node: &Node, exten: &str, timeout: Duration) -> Option<CallReport> {
    Some(poll(timeout, SECOND, || setup(net, node, exten), CallReport::answered)).filter(CallReport::answered)
}

fn setup(net: &Net, node: &Node, exten: &str) -> CallReport {
    call(net, node, exten, &CallOptions { hold_ms: 0, ..CallOptions::default() })
}

fn assert_local_calls_all_answered(node: &Node, report: &LoadReport, seconds: u32) {
    assert_eq!(report.failed, 0, "calls for the live node's phone failed: {report:?}");
    assert_eq!(report.successful, u64::from(LOCAL_RATE * seconds), "{report:?}");
    let answered = || node.results().iter().filter(|r| r.exten == "101" && r.cluster == "ANSWER").count() as u64;
    let answered = poll(5 * SECOND, Duration::from_millis(50), answered, |&n| n >= report.successful);
    assert_eq!(answered, report.successful, "every call to 101 was answered");
}

#[test]
fn peer_hung_and_resumed_under_load() {
    let net = Net::allocate();
    // A short holddown: whether qualify noticed the short hang or not, the
    // peer comes back within seconds of resuming.
    let nodes = cluster(&net, 2, |s| {
        s.qualify_s = 1;
        s.general = "holddown = 3".into();
    });
    let _here = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);
    let _there = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    assert!(wait_peer(&nodes[0], "UP", 10 * SECOND), "qualify saw node2");

    std::thread::scope(|s| {
        let background = local_load(s, &net, &nodes[0], 12);
        assert!(setup(&net, &nodes[0], "102").answered());

        nodes[1].signal(libc::SIGSTOP);
        let first = setup(&net, &nodes[0], "102");
        assert!(!first.answered());
        assert!(first.setup_ms.unwrap() < 2_500.0, "the first call waited at most peer_timeout: {first:?}");
        assert!(wait_peer(&nodes[0], "DOWN", 5 * SECOND));
        for _ in 0..5 {
            let r = setup(&net, &nodes[0], "102");
            assert!(r.setup_ms.unwrap() < 900.0, "known down, skipped fast: {r:?}");
        }

        nodes[1].signal(libc::SIGCONT);
        let back = answered_again(&net, &nodes[0], "102", 10 * SECOND);
        assert!(back.is_some(), "routes again, no reload");
        assert!(wait_peer(&nodes[0], "UP", 5 * SECOND));

        assert_local_calls_all_answered(&nodes[0], &background.join().expect("load"), 12);
    });
}

#[test]
fn peer_killed_and_restarted_under_load() {
    let net = Net::allocate();
    let mut nodes = cluster(&net, 2, |s| s.qualify_s = 1);
    let _here = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);
    let there = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    assert!(wait_peer(&nodes[0], "UP", 10 * SECOND));
    let node1 = nodes.remove(0);
    let node2 = nodes.remove(0);

    std::thread::scope(|s| {
        let background = local_load(s, &net, &node1, 15);

        drop(node2); // SIGKILL: the kernel now answers node2's port with "unreachable"
        drop(there);
        let r = setup(&net, &node1, "102");
        assert!(!r.answered() && r.setup_ms.unwrap() < 2_500.0, "{r:?}");
        assert!(wait_peer(&node1, "DOWN", 10 * SECOND), "qualify notices");
        for _ in 0..5 {
            let r = setup(&net, &node1, "102");
            assert!(r.setup_ms.unwrap() < 900.0, "known down, fails fast: {r:?}");
        }

        let node2 = Node::start(&net, &NodeSpec::new(2, &[1]));
        let _there = Phone::register(&net, &node2, "102", Behaviour::Answer);
        assert!(wait_peer(&node1, "UP", 10 * SECOND), "qualify finds the restarted node");
        let back = answered_again(&net, &node1, "102", 5 * SECOND);
        assert!(back.is_some(), "routes again, no reload");

        assert_local_calls_all_answered(&node1, &background.join().expect("load"), 15);
    });
}

//! A peer that comes back is used again at once: after a two-second hang,
//! and after a restart, the first call to a phone on it is answered within
//! two seconds, with qualify off and with qualify on (whose timeout may be
//! too long to have seen the hang at all).

mod harness;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use harness::*;

/// Qualify off; qualify every 2 s with Asterisk's default 3 s timeout.
const QUALIFY: [(u32, f32); 2] = [(0, 1.0), (2, 3.0)];

fn nodes(net: &Net, qualify: (u32, f32)) -> Vec<Node> {
    cluster(net, 2, |s| {
        s.qualify_s = qualify.0;
        s.qualify_timeout_s = qualify.1;
    })
}

fn quick(net: &Net, node: &Node) -> CallReport {
    call(net, node, "102", &CallOptions { hold_ms: 0, timeout_s: 10, ..CallOptions::default() })
}

/// Calls 102 on `node` every half second until one is answered (at most
/// `bound`); the moment it was answered.
fn first_answered(net: &Net, node: &Node, bound: Duration) -> Option<Instant> {
    let deadline = Instant::now() + bound;
    while Instant::now() < deadline {
        let placed = Instant::now();
        let r = quick(net, node);
        if r.answered() {
            return Some(placed + Duration::from_secs_f64(r.setup_ms.unwrap_or(0.0) / 1000.0));
        }
        std::thread::sleep(Duration::from_millis(500).saturating_sub(placed.elapsed()));
    }
    None
}

#[test]
fn a_peer_back_from_a_two_second_hang_is_used_again_at_once() {
    for qualify in QUALIFY {
        let net = Net::allocate();
        let nodes = nodes(&net, qualify);
        let _phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
        assert!(quick(&net, &nodes[0]).answered(), "qualify {qualify:?}: reachable before the hang");

        let stopped = Instant::now();
        nodes[1].signal(libc::SIGSTOP);
        let during = quick(&net, &nodes[0]);
        assert!(!during.answered(), "{during:?}");
        std::thread::sleep(Duration::from_secs(2).saturating_sub(stopped.elapsed()));
        nodes[1].signal(libc::SIGCONT);
        let resumed = Instant::now();

        let answered = first_answered(&net, &nodes[0], 40 * SECOND).expect("answered again");
        let after = answered - resumed;
        assert!(after <= Duration::from_secs(2), "qualify {qualify:?}: first call answered {after:?} after the resume\n{}", nodes[0].cli("cluster show peers"));
    }
}

#[test]
fn a_peer_killed_and_started_again_is_used_again_at_once() {
    for qualify in QUALIFY {
        let net = Net::allocate();
        let mut nodes = nodes(&net, qualify);
        let phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
        assert!(quick(&net, &nodes[0]).answered(), "qualify {qualify:?}: reachable before the kill");
        let node1 = nodes.remove(0);
        drop(nodes); // SIGKILL node2
        drop(phone);

        // A call every half second, as callers go on calling, through the
        // restart and after it.
        let started: Mutex<Option<Instant>> = Mutex::new(None);
        let answered = std::thread::scope(|s| {
            let caller = s.spawn(|| first_answered(&net, &node1, 60 * SECOND));
            std::thread::sleep(Duration::from_secs(1));
            let mut spec = NodeSpec::new(2, &[1]);
            spec.qualify_s = qualify.0;
            spec.qualify_timeout_s = qualify.1;
            let node2 = Node::start(&net, &spec);
            let phone = Phone::register(&net, &node2, "102", Behaviour::Answer);
            *started.lock().unwrap() = Some(Instant::now());
            let answered = caller.join().expect("caller");
            drop(phone);
            drop(node2);
            answered
        });
        let started = started.into_inner().unwrap().expect("restarted");
        let answered = answered.expect("answered again");
        let after = answered.saturating_duration_since(started);
        assert!(after <= Duration::from_secs(2), "qualify {qualify:?}: first call answered {after:?} after node2 was up\n{}", node1.cli("cluster show peers"));
    }
}

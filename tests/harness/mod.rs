//! Test harness: real Asterisk nodes from the sandbox, SIPp phones and
//! callers, all on loopback, all killed when dropped.
#![allow(dead_code, unused_imports)]

pub mod ami;
pub mod net;
pub mod node;
pub mod sandbox;
pub mod sipp;
pub mod soak;
pub mod tls;

pub use ami::Ami;
pub use net::Net;
pub use node::{CallRecord, Node, NodeSpec};
pub use sipp::{call, load, load_from, publish, try_register, Behaviour, CallOptions, CallReport, LoadReport, Phone};

use std::time::{Duration, Instant};

/// Calls `probe` every `every` until `done` holds for what it returned, or
/// `timeout` has passed; returns the last value either way.
pub fn poll<T>(timeout: Duration, every: Duration, mut probe: impl FnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let value = probe();
        if done(&value) || Instant::now() >= deadline {
            return value;
        }
        std::thread::sleep(every);
    }
}

/// Starts nodes 1..=n, each listing every other as a peer, with `tune`
/// applied to each spec first.
pub fn cluster(net: &Net, n: u8, tune: impl Fn(&mut NodeSpec)) -> Vec<Node> {
    (1..=n)
        .map(|i| {
            let peers: Vec<u8> = (1..=n).filter(|&p| p != i).collect();
            let mut spec = NodeSpec::new(i, &peers);
            tune(&mut spec);
            spec
        })
        .map(|spec| Node::start(net, &spec))
        .collect()
}

pub const SECOND: Duration = Duration::from_secs(1);

/// Time for a stray INVITE, were there one, to arrive and be logged.
pub fn settle() {
    std::thread::sleep(Duration::from_millis(300));
}

//! Soak: many mixed calls through a two-node cluster at 100 calls a second.
//! `make test` runs 2,000 calls; `make soak` runs 20,000
//! (RES_CLUSTER_SOAK_CALLS sets the number; RES_CLUSTER_SOAK_RECIPE=1 runs
//! the recipe's dialplan instead, to compare resident memory).
//!
//! Memory is compared between the end of the first quarter and the end
//! (call 5,000 and call 20,000 of the long run). What res_cluster's own code
//! holds (`cluster show status`, "Module memory") must not grow. Resident
//! memory is reported: it is Asterisk's. Each finished SIP transaction keeps
//! its memory for 32 s (RFC 3261 timers D and J), and glibc keeps the high
//! water of that in the process, so resident memory climbs for minutes with
//! the recipe's dialplan as with ClusterDial (see the README).

mod harness;

use std::time::Duration;

use harness::*;

/// Local, via the peer, nowhere: a third of the calls each.
const MIX: [(&str, &str); 3] = [("101", "ANSWER"), ("102", "ANSWER"), ("103", "CHANUNAVAIL")];
const RATE: u32 = 100;

struct Sample {
    rss_kb: u64,
    module_bytes: u64,
    fds: usize,
    threads: usize,
}

fn sample(node: &Node) -> Sample {
    // Let the last calls finish and idle threads settle.
    std::thread::sleep(Duration::from_secs(2));
    let (fds, threads) = node.fds_and_threads();
    let status = node.cli("cluster show status");
    let module_bytes = status
        .lines()
        .find_map(|l| l.strip_prefix("Module memory:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    Sample { rss_kb: node.rss_kb(), module_bytes, fds, threads }
}

/// Runs `calls` calls of the mix, a third from each of three callers.
fn run_mix(net: &Net, node: &Node, calls: u32) {
    std::thread::scope(|s| {
        let handles: Vec<_> = MIX
            .iter()
            .enumerate()
            .map(|(i, (exten, _))| s.spawn(move || load_from(net, 2 + i as u8, node, exten, RATE / 3, calls / 3, 50)))
            .collect();
        for (h, (exten, _)) in handles.into_iter().zip(MIX) {
            let r = h.join().expect("load thread");
            assert_eq!(r.failed, 0, "SIPp counted failed calls to {exten}: {r:?}");
            assert_eq!(r.successful, u64::from(calls / 3), "calls to {exten} completed: {r:?}");
        }
    });
}

#[test]
fn soak_mixed_calls_leave_nothing_behind() {
    let total: u32 = std::env::var("RES_CLUSTER_SOAK_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000);
    let warmup = total / 4;
    let net = Net::allocate();
    let recipe = std::env::var_os("RES_CLUSTER_SOAK_RECIPE").is_some();
    let nodes = cluster(&net, 2, |s| {
        s.quiet_log = true;
        s.recipe = recipe;
        s.load_module = !recipe;
    });
    let _here = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);
    let _there = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);

    run_mix(&net, &nodes[0], warmup);
    let before: Vec<Sample> = nodes.iter().map(sample).collect();
    run_mix(&net, &nodes[0], total - warmup);
    let after: Vec<Sample> = nodes.iter().map(sample).collect();

    let placed = (warmup / 3 + (total - warmup) / 3) as usize;
    let results = nodes[0].wait_results(3 * placed, 30 * SECOND);
    for (exten, expected) in MIX {
        let ended: Vec<&CallRecord> = results.iter().filter(|r| r.exten == exten).collect();
        assert_eq!(ended.len(), placed, "calls to {exten} that ended");
        // The recipe's dialplan logs no CLUSTERSTATUS; its last DIALSTATUS
        // is the peer's Congestion() for a phone nowhere.
        let wrong = ended
            .iter()
            .filter(|r| match (recipe, expected) {
                (false, _) => r.cluster != expected,
                (true, "ANSWER") => r.dial != "ANSWER",
                (true, _) => r.dial == "ANSWER",
            })
            .count();
        assert_eq!(wrong, 0, "calls to {exten} that did not end {expected}");
    }
    for (node, (b, a)) in nodes.iter().zip(before.iter().zip(&after)) {
        assert_eq!(node.active_channels(), 0, "{}: channels left", node.name);
        let growth = a.rss_kb as i64 - b.rss_kb as i64;
        eprintln!(
            "{}: after {} more calls: module memory {} -> {} bytes; RSS {} -> {} kB ({growth:+} kB); fds {} -> {}; threads {} -> {}",
            node.name, total - warmup, b.module_bytes, a.module_bytes, b.rss_kb, a.rss_kb, b.fds, a.fds, b.threads, a.threads
        );
        assert!(a.module_bytes <= b.module_bytes + 16 * 1024, "{}: res_cluster's memory grew", node.name);
        assert!(a.fds <= b.fds, "{}: descriptors {} -> {}", node.name, b.fds, a.fds);
        assert!(a.threads <= b.threads, "{}: threads {} -> {}", node.name, b.threads, a.threads);
    }
}

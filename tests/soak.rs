//! Soak: many mixed calls through a two-node cluster at 100 calls a second.
//! `make test` runs 2,000 calls; `make soak` runs 20,000
//! (RES_CLUSTER_SOAK_CALLS sets the number).

mod harness;

use std::time::Duration;

use harness::*;

/// Local, via the peer, nowhere: a third of the calls each.
const MIX: [(&str, &str); 3] = [("101", "ANSWER"), ("102", "ANSWER"), ("103", "CHANUNAVAIL")];
const RATE: u32 = 100;

struct Sample {
    rss_kb: u64,
    fds: usize,
    threads: usize,
}

fn sample(node: &Node) -> Sample {
    // Let the last calls finish and idle threads settle.
    std::thread::sleep(Duration::from_secs(2));
    let (fds, threads) = node.fds_and_threads();
    Sample { rss_kb: node.rss_kb(), fds, threads }
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
    let recipe = std::env::var_os("SOAK_RECIPE").is_some();
    let nodes = cluster(&net, 2, |s| { s.quiet_log = true; s.recipe = recipe; s.load_module = !recipe; });
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
        let wrong = if recipe { 0 } else { ended.iter().filter(|r| r.cluster != expected).count() };
        assert_eq!(wrong, 0, "calls to {exten} that did not end {expected}");
    }
    for (node, (b, a)) in nodes.iter().zip(before.iter().zip(&after)) {
        assert_eq!(node.active_channels(), 0, "{}: channels left", node.name);
        let growth = a.rss_kb as i64 - b.rss_kb as i64;
        eprintln!(
            "{}: RSS {} -> {} kB ({growth:+} kB) after {} more calls; fds {} -> {}; threads {} -> {}",
            node.name, b.rss_kb, a.rss_kb, total - warmup, b.fds, a.fds, b.threads, a.threads
        );
        assert!(growth < 5 * 1024, "{}: resident memory grew {growth} kB", node.name);
        assert!(a.fds <= b.fds, "{}: descriptors {} -> {}", node.name, b.fds, a.fds);
        assert!(a.threads <= b.threads, "{}: threads {} -> {}", node.name, b.threads, a.threads);
    }
}

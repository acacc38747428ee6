//! Soak: many mixed calls through a two-node cluster at 100 calls a second
//! (`make test`: 2,000; RES_CLUSTER_SOAK_CALLS sets the number). Every call
//! ends as it should, no channel is left, and from the end of the first
//! quarter to the end the module's own heap, the open descriptors and the
//! threads do not grow. Resident memory is Asterisk's, and is compared with
//! the recipe's by `make soak` (examples/soak.rs; see the README).

mod harness;

use harness::soak::{holding, SoakPair, MIX};
use harness::*;

const RATE: u32 = 100;

#[test]
fn soak_mixed_calls_leave_nothing_behind() {
    let total: u32 = std::env::var("RES_CLUSTER_SOAK_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000);
    let warmup = total / 4;
    let pair = SoakPair::start(false);
    let nodes = &pair.nodes;

    let check = |runs: Vec<(String, u64, u64)>, calls: u32| {
        for (exten, ok, failed) in runs {
            assert_eq!((ok, failed), (u64::from(calls / 3), 0), "calls to {exten}");
        }
    };
    check(pair.run_mix(warmup, RATE), warmup);
    let before: Vec<_> = nodes.iter().map(holding).collect();
    check(pair.run_mix(total - warmup, RATE), total - warmup);
    let after: Vec<_> = nodes.iter().map(holding).collect();

    let placed = (warmup / 3 + (total - warmup) / 3) as usize;
    let results = nodes[0].wait_results(3 * placed, 30 * SECOND);
    for (exten, expected) in MIX {
        let ended: Vec<&CallRecord> = results.iter().filter(|r| r.exten == exten).collect();
        assert_eq!(ended.len(), placed, "calls to {exten} that ended");
        let wrong = ended.iter().filter(|r| r.cluster != expected).count();
        assert_eq!(wrong, 0, "calls to {exten} that did not end {expected}");
    }
    for (node, (b, a)) in nodes.iter().zip(before.iter().zip(&after)) {
        assert_eq!(node.active_channels(), 0, "{}: channels left", node.name);
        eprintln!(
            "{}: after {} more calls: module memory {} -> {} bytes; RSS {} -> {} kB; fds {} -> {}; threads {} -> {}",
            node.name, total - warmup, b.module_bytes, a.module_bytes, b.rss_kb, a.rss_kb, b.fds, a.fds, b.threads, a.threads
        );
        assert!(a.module_bytes <= b.module_bytes + 16 * 1024, "{}: res_cluster's memory grew", node.name);
        // A quiet count may still include an idle pool thread or a remote
        // console's socket on its way out: wait, with a bound, for the start's.
        let (fds, threads) = node.fds_and_threads_settled((b.fds, b.threads), 70 * SECOND);
        assert!(fds <= b.fds, "{}: descriptors {} -> {}", node.name, b.fds, fds);
        assert!(threads <= b.threads, "{}: threads {} -> {}", node.name, b.threads, threads);
    }
}

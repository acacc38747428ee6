//! `make soak`: resident memory under a long soak, the recipe's dialplan and
//! ClusterDial alternately, twice each, in one sitting. Each run: two fresh
//! nodes, 20,000 mixed calls at 100 a second (a third each to a phone on the
//! calling node, a phone on the peer, and a number registered nowhere). The
//! second run of each variant has one core kept busy by other work, as a
//! shared machine would. Prints, per run, both nodes' resident memory growth
//! from call 5,000 to call 20,000 beside what they held at the peak: calls
//! in flight, pending SIP timers and pools, and the module's own heap.
//!
//! RES_CLUSTER_SOAK_CALLS sets the calls per run (default 20,000).

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::time::Duration;

use harness::soak::{holding, watching, Disturbance, SoakPair};

const RATE: u32 = 100;

struct Run {
    variant: &'static str,
    disturbed: bool,
    growth_kb: [i64; 2],
    rss_mb: [(f64, f64); 2],
    peaks: Vec<harness::soak::Peaks>,
    module_bytes: (u64, u64),
    failed: u64,
}

fn run(recipe: bool, disturbed: bool, calls: u32) -> Run {
    let variant = if recipe { "recipe" } else { "ClusterDial" };
    eprintln!("{variant}{}: {calls} calls at {RATE}/s", if disturbed { ", one core busy with other work" } else { "" });
    let pair = SoakPair::start(recipe);
    let _busy = disturbed.then(Disturbance::start);
    let warmup = calls / 4;
    let mut failed: u64 = pair.run_mix(warmup, RATE).iter().map(|r| r.2).sum();
    let before: Vec<_> = pair.nodes.iter().map(holding).collect();
    let (runs, peaks) = watching(&pair.nodes, Duration::from_secs(10), || pair.run_mix(calls - warmup, RATE));
    failed += runs.iter().map(|r| r.2).sum::<u64>();
    let after: Vec<_> = pair.nodes.iter().map(holding).collect();
    let mb = |kb: u64| kb as f64 / 1024.0;
    Run {
        variant,
        disturbed,
        growth_kb: [after[0].rss_kb as i64 - before[0].rss_kb as i64, after[1].rss_kb as i64 - before[1].rss_kb as i64],
        rss_mb: [(mb(before[0].rss_kb), mb(after[0].rss_kb)), (mb(before[1].rss_kb), mb(after[1].rss_kb))],
        peaks,
        module_bytes: (before[0].module_bytes, after[0].module_bytes),
        failed,
    }
}

fn main() {
    let calls: u32 = std::env::var("RES_CLUSTER_SOAK_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let plan = [(true, false), (false, false), (true, true), (false, true)];
    let runs: Vec<Run> = plan.iter().map(|&(recipe, disturbed)| run(recipe, disturbed, calls)).collect();

    println!("\nres_cluster soak: {calls} calls per run at {RATE}/s, resident memory from call {} to call {calls}", calls / 4);
    println!("(forwarding node / answering node; peaks while the measured calls ran)\n");
    println!("| run | variant | other work | RSS growth | RSS MB | peak calls up | peak SIP timers | peak SIP pools | module heap | failed |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (i, r) in runs.iter().enumerate() {
        let mb = |kb: i64| format!("{:+.1} MB", kb as f64 / 1024.0);
        println!(
            "| {} | {} | {} | {} / {} | {:.0}→{:.0} / {:.0}→{:.0} | {} / {} | {} / {} | {} / {} | {} | {} |",
            i + 1,
            r.variant,
            if r.disturbed { "one core busy" } else { "none" },
            mb(r.growth_kb[0]),
            mb(r.growth_kb[1]),
            r.rss_mb[0].0,
            r.rss_mb[0].1,
            r.rss_mb[1].0,
            r.rss_mb[1].1,
            r.peaks[0].channels,
            r.peaks[1].channels,
            r.peaks[0].sip_timers,
            r.peaks[1].sip_timers,
            r.peaks[0].sip_pools,
            r.peaks[1].sip_pools,
            if r.variant == "recipe" { "-".to_string() } else { format!("{} → {} B", r.module_bytes.0, r.module_bytes.1) },
            r.failed,
        );
    }
}

//! Soaks: many mixed calls through two nodes, and what the nodes hold while
//! they run (resident memory, calls in flight, SIP transactions pending).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::net::Net;
use super::node::{Node, NodeSpec};
use super::sipp::{load_from, Behaviour, Phone};
use super::{cluster, SECOND};

/// Local, via the peer, nowhere: a third of the calls each.
pub const MIX: [(&str, &str); 3] = [("101", "ANSWER"), ("102", "ANSWER"), ("103", "CHANUNAVAIL")];

/// Two nodes for a soak, quiet logs, phone 101 on the first and 102 on the
/// second; the recipe's dialplan or ClusterDial.
pub struct SoakPair {
    pub net: Net,
    pub nodes: Vec<Node>,
    _phones: Vec<Phone>,
}

impl SoakPair {
    pub fn start(recipe: bool) -> SoakPair {
        let net = Net::allocate();
        let nodes = cluster(&net, 2, |s: &mut NodeSpec| {
            s.quiet_log = true;
            s.recipe = recipe;
            s.load_module = !recipe;
        });
        let phones = vec![
            Phone::register(&net, &nodes[0], "101", Behaviour::Answer),
            Phone::register(&net, &nodes[1], "102", Behaviour::Answer),
        ];
        SoakPair { net, nodes, _phones: phones }
    }

    /// `calls` calls of the mix at `rate` a second, a third from each of
    /// three callers; the calls SIPp counted as failed, per extension.
    pub fn run_mix(&self, calls: u32, rate: u32) -> Vec<(String, u64, u64)> {
        std::thread::scope(|s| {
            let handles: Vec<_> = MIX
                .iter()
                .enumerate()
                .map(|(i, (exten, _))| {
                    let (net, node) = (&self.net, &self.nodes[0]);
                    s.spawn(move || load_from(net, 2 + i as u8, node, exten, rate / 3, calls / 3, 50))
                })
                .collect();
            handles
                .into_iter()
                .zip(MIX)
                .map(|(h, (exten, _))| {
                    let r = h.join().expect("load thread");
                    (exten.to_string(), r.successful, r.failed)
                })
                .collect()
        })
    }
}

/// What a node holds at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Holding {
    pub rss_kb: u64,
    /// res_cluster's own heap ("Module memory" of `cluster show status`);
    /// 0 without the module.
    pub module_bytes: u64,
    pub fds: usize,
    pub threads: usize,
}

/// A node once the last calls have ended and its descriptors and threads
/// have settled.
pub fn holding(node: &Node) -> Holding {
    super::poll(30 * SECOND, Duration::from_millis(200), || node.active_channels(), |&n| n == 0);
    let (fds, threads) = node.fds_and_threads_quiet();
    let status = node.cli("cluster show status");
    let module_bytes = status
        .lines()
        .find_map(|l| l.strip_prefix("Module memory:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    Holding { rss_kb: node.rss_kb(), module_bytes, fds, threads }
}

/// The highest load a node carried while a run went on.
#[derive(Clone, Copy, Debug, Default)]
pub struct Peaks {
    pub rss_kb: u64,
    /// Channels up at once.
    pub channels: usize,
    /// Entries in pjproject's timer heap: one per pending SIP transaction
    /// timer (a finished transaction keeps its own for 32 s) and per
    /// session timer.
    pub sip_timers: u64,
    /// Memory pools pjproject had in use (one per transaction, dialog,
    /// message buffer...).
    pub sip_pools: u64,
}

impl Peaks {
    fn raise(&mut self, other: Peaks) {
        self.rss_kb = self.rss_kb.max(other.rss_kb);
        self.channels = self.channels.max(other.channels);
        self.sip_timers = self.sip_timers.max(other.sip_timers);
        self.sip_pools = self.sip_pools.max(other.sip_pools);
    }
}

/// Reads a node's SIP stack counters from `pjsip dump endpt` (printed by
/// pjproject at its log level 3, raised for the dump only).
fn sip_counters(node: &Node) -> (u64, u64) {
    node.cli("pjproject set log level 3");
    let dump = node.cli("pjsip dump endpt");
    node.cli("pjproject set log level default");
    let number_after = |key: &str| -> u64 {
        dump.lines()
            .find_map(|l| l.split_once(key).map(|(_, rest)| rest.trim_start().split(|c: char| !c.is_ascii_digit()).next().unwrap_or("").to_string()))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (number_after("Cur size:"), number_after("used_cnt="))
}

fn peaks_now(node: &Node) -> Peaks {
    let (sip_timers, sip_pools) = sip_counters(node);
    Peaks { rss_kb: node.rss_kb(), channels: node.active_channels().min(1_000_000), sip_timers, sip_pools }
}

/// Runs `body` while sampling both nodes every `every`; the peaks of each.
pub fn watching<T>(nodes: &[Node], every: Duration, body: impl FnOnce() -> T) -> (T, Vec<Peaks>) {
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut peaks = vec![Peaks::default(); nodes.len()];
            while !done.load(Ordering::SeqCst) {
                for (p, node) in peaks.iter_mut().zip(nodes) {
                    p.raise(peaks_now(node));
                }
                let mut waited = Duration::ZERO;
                while waited < every && !done.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(100));
                    waited += Duration::from_millis(100);
                }
            }
            peaks
        });
        let value = body();
        done.store(true, Ordering::SeqCst);
        (value, watcher.join().expect("watcher"))
    })
}

/// Keeps one core busy until dropped: other work on the machine.
pub struct Disturbance {
    stop: std::sync::Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Disturbance {
    pub fn start() -> Disturbance {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut x: u64 = 1;
            while !flag.load(Ordering::Relaxed) {
                for _ in 0..100_000 {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                }
                std::hint::black_box(x);
            }
        });
        Disturbance { stop, thread: Some(thread) }
    }
}

impl Drop for Disturbance {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

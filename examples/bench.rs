//! `make bench`: ClusterDial against the classic recipe's dialplan, on the
//! same machine in the same run, over real SIP. Prints one table of figures
//! and ClusterDial/recipe ratios.

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::time::Duration;

use harness::*;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Recipe,
    ClusterDial,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Recipe => "recipe",
            Variant::ClusterDial => "ClusterDial",
        }
    }
}

/// Both variants run with qualify every 2 s on the peers and Dial options
/// rt, as the recipe has them, and end a failed call with Congestion().
fn nodes(net: &Net, variant: Variant, n: u8) -> Vec<Node> {
    cluster(net, n, |s| {
        s.qualify_s = 2;
        s.recipe = variant == Variant::Recipe;
        s.load_module = variant == Variant::ClusterDial;
        s.general = "dial_options = rt".into();
        s.after_clusterdial = "Congestion()".into();
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

fn wait_qualified(node: &Node) {
    // Qualify sees every peer before the measured calls start.
    for _ in 0..100 {
        let contacts = node.cli("pjsip show contacts");
        if !contacts.contains("Unavail") && !contacts.contains("Unknown") && contacts.contains("Avail") {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[derive(Default)]
struct Figures {
    local: f64,
    via_peer: f64,
    nowhere: f64,
    hung_first: f64,
    hung_later: f64,
    three_first: f64,
    three_later: f64,
    max_rate: u32,
    cpu_forwarding: f64,
    cpu_answering: f64,
}

const RATES: [u32; 12] = [100, 150, 175, 200, 225, 250, 275, 300, 325, 350, 400, 500];
const LOAD_SECONDS: u32 = 5;
const SETUP_CALLS: usize = 60;

/// Two nodes of one variant, phone 101 on the first and 102 on the second.
struct Pair {
    variant: Variant,
    net: Net,
    nodes: Vec<Node>,
    _phones: Vec<Phone>,
}

impl Pair {
    fn start(variant: Variant) -> Pair {
        let net = Net::allocate();
        let nodes = nodes(&net, variant, 2);
        let phones = vec![
            Phone::register(&net, &nodes[0], "101", Behaviour::Answer),
            Phone::register(&net, &nodes[1], "102", Behaviour::Answer),
        ];
        nodes.iter().for_each(wait_qualified);
        Pair { variant, net, nodes, _phones: phones }
    }

    fn setup_once(&self, exten: &str) -> Option<f64> {
        let opts = CallOptions { hold_ms: 0, ..CallOptions::default() };
        call(&self.net, &self.nodes[0], exten, &opts).setup_ms
    }
}

/// Setup times, both variants' calls interleaved so that drift in the
/// machine's speed falls on both alike.
fn setup_times(pairs: &[Pair; 2], figures: &mut [Figures; 2]) {
    for (exten, pick) in [("101", 0), ("102", 1), ("103", 2)] {
        let mut samples: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..SETUP_CALLS {
            for (i, pair) in pairs.iter().enumerate() {
                samples[i].extend(pair.setup_once(exten));
            }
        }
        for i in 0..2 {
            let m = median(std::mem::take(&mut samples[i]));
            match pick {
                0 => figures[i].local = m,
                1 => figures[i].via_peer = m,
                _ => figures[i].nowhere = m,
            }
        }
    }
}

const CPU_ROUNDS: u32 = 8;

/// CPU per forwarded call: rounds of 250 calls at 100/s, the variants
/// taking turns, so that the machine's drift falls on both alike.
fn cpu_per_call(pairs: &[Pair; 2], figures: &mut [Figures; 2]) {
    eprintln!("CPU per forwarded call ({CPU_ROUNDS} x 250 calls at 100/s per variant, taking turns)");
    let mut totals = [(0u64, 0u64, 0u64); 2];
    for _ in 0..CPU_ROUNDS {
        for (i, pair) in pairs.iter().enumerate() {
            let (n1, n2) = (&pair.nodes[0], &pair.nodes[1]);
            let (c1, c2) = (n1.cpu_ms(), n2.cpu_ms());
            let run = load(&pair.net, n1, "102", 100, 250, 100);
            if run.failed > 0 {
                eprintln!("  warning: {}: {} of 250 failed", pair.variant.name(), run.failed);
            }
            totals[i].0 += n1.cpu_ms() - c1;
            totals[i].1 += n2.cpu_ms() - c2;
            totals[i].2 += run.successful;
        }
    }
    for (f, (forwarding, answering, calls)) in figures.iter_mut().zip(totals) {
        f.cpu_forwarding = forwarding as f64 / calls.max(1) as f64;
        f.cpu_answering = answering as f64 / calls.max(1) as f64;
    }
}

/// The highest rate at which the forwarding path completes every call and
/// keeps pace, the variants taking turns at each rate (and turns at going
/// first, which matters near the machine's limit).
fn throughput(pairs: &[Pair; 2], figures: &mut [Figures; 2]) {
    eprintln!("throughput of the forwarding path");
    let mut going = [true, true];
    for (step, rate) in RATES.into_iter().enumerate() {
        let order = if step % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let pair = &pairs[i];
            if !going[i] {
                continue;
            }
            std::thread::sleep(Duration::from_secs(1));
            let calls = rate * LOAD_SECONDS;
            let r = load(&pair.net, &pair.nodes[0], "102", rate, calls, 100);
            // The pair kept up: SIPp placed the calls at the rate asked.
            let kept_up = r.elapsed.as_secs_f64() <= f64::from(LOAD_SECONDS) * 1.1 + 0.3;
            eprintln!("  {} {rate}/s: {} ok, {} failed, {:.1} s", pair.variant.name(), r.successful, r.failed, r.elapsed.as_secs_f64());
            if r.failed > 0 || r.successful < u64::from(calls) || !kept_up {
                going[i] = false;
            } else {
                figures[i].max_rate = rate;
            }
        }
    }
}

fn hung_peer(pair: &Pair, f: &mut Figures) {
    eprintln!("{}: peer hung (SIGSTOP), extension nowhere", pair.variant.name());
    pair.nodes[1].signal(libc::SIGSTOP);
    f.hung_first = pair.setup_once("103").unwrap_or(f64::NAN);
    f.hung_later = median((0..15).filter_map(|_| pair.setup_once("103")).collect());
    pair.nodes[1].signal(libc::SIGCONT);
}

fn three_nodes(variant: Variant, f: &mut Figures) {
    eprintln!("{}: three nodes, middle peer hung, phone on the last", variant.name());
    let net = Net::allocate();
    let three = nodes(&net, variant, 3);
    let _last = Phone::register(&net, &three[2], "103", Behaviour::Answer);
    wait_qualified(&three[0]);
    let opts = CallOptions { hold_ms: 0, ..CallOptions::default() };
    three[1].signal(libc::SIGSTOP);
    f.three_first = call(&net, &three[0], "103", &opts).setup_ms.unwrap_or(f64::NAN);
    f.three_later = median((0..15).filter_map(|_| call(&net, &three[0], "103", &opts).setup_ms).collect());
    three[1].signal(libc::SIGCONT);
}

fn measure() -> [Figures; 2] {
    let pairs = [Pair::start(Variant::Recipe), Pair::start(Variant::ClusterDial)];
    let mut figures = [Figures::default(), Figures::default()];
    // RES_CLUSTER_BENCH_ONLY=setup or =cpu runs that part alone, for
    // working on it.
    let only = std::env::var("RES_CLUSTER_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "setup" {
        eprintln!("setup times ({SETUP_CALLS} calls per case and variant, interleaved)");
        setup_times(&pairs, &mut figures);
    }
    if only == "cpu" {
        cpu_per_call(&pairs, &mut figures);
    }
    if only == "throughput" {
        throughput(&pairs, &mut figures);
    }
    if !only.is_empty() {
        return figures;
    }
    cpu_per_call(&pairs, &mut figures);
    throughput(&pairs, &mut figures);
    for (pair, f) in pairs.iter().zip(figures.iter_mut()) {
        hung_peer(pair, f);
    }
    drop(pairs);
    for (variant, f) in [Variant::Recipe, Variant::ClusterDial].into_iter().zip(figures.iter_mut()) {
        three_nodes(variant, f);
    }
    figures
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let version = std::fs::read_to_string(sandbox_version_file()).unwrap_or_default();
    format!("{cpu}, {cores} cores; {}", version.trim())
}

fn sandbox_version_file() -> std::path::PathBuf {
    harness::sandbox::sandbox().root.join(".res_cluster-sandbox-ready")
}

fn main() {
    let [recipe, cluster] = measure();

    let ms = |v: f64| if v >= 1000.0 { format!("{:.1} s", v / 1000.0) } else { format!("{v:.1} ms") };
    let ratio = |c: f64, r: f64| if r > 0.0 && c.is_finite() && r.is_finite() { format!("{:.2}", c / r) } else { "-".into() };
    let rows: Vec<(&str, String, String, String)> = vec![
        ("setup, phone on this node (median)", ms(recipe.local), ms(cluster.local), ratio(cluster.local, recipe.local)),
        ("setup, phone on the peer (median)", ms(recipe.via_peer), ms(cluster.via_peer), ratio(cluster.via_peer, recipe.via_peer)),
        ("setup, phone nowhere (median)", ms(recipe.nowhere), ms(cluster.nowhere), ratio(cluster.nowhere, recipe.nowhere)),
        ("peer hung, phone nowhere: first call", ms(recipe.hung_first), ms(cluster.hung_first), ratio(cluster.hung_first, recipe.hung_first)),
        ("peer hung, phone nowhere: later calls (median)", ms(recipe.hung_later), ms(cluster.hung_later), ratio(cluster.hung_later, recipe.hung_later)),
        ("3 nodes, middle hung, phone on last: first", ms(recipe.three_first), ms(cluster.three_first), ratio(cluster.three_first, recipe.three_first)),
        ("3 nodes, middle hung, phone on last: later (median)", ms(recipe.three_later), ms(cluster.three_later), ratio(cluster.three_later, recipe.three_later)),
        (
            "forwarding path: highest rate, 0 failed, kept pace",
            format!("{}/s", recipe.max_rate),
            format!("{}/s", cluster.max_rate),
            ratio(f64::from(cluster.max_rate), f64::from(recipe.max_rate)),
        ),
        (
            "CPU per forwarded call, forwarding node",
            format!("{:.2} ms", recipe.cpu_forwarding),
            format!("{:.2} ms", cluster.cpu_forwarding),
            ratio(cluster.cpu_forwarding, recipe.cpu_forwarding),
        ),
        (
            "CPU per forwarded call, answering node",
            format!("{:.2} ms", recipe.cpu_answering),
            format!("{:.2} ms", cluster.cpu_answering),
            ratio(cluster.cpu_answering, recipe.cpu_answering),
        ),
    ];
    println!("\nres_cluster benchmark: {}", machine());
    println!("Both variants: qualify every 2 s on the peers, Dial options rt; rates tried: {RATES:?} calls/s for {LOAD_SECONDS} s.\n");
    println!("| {:<52} | {:>10} | {:>11} | {:>18} |", "measure", "recipe", "ClusterDial", "ClusterDial/recipe");
    println!("|{}|{}|{}|{}|", "-".repeat(54), "-".repeat(12), "-".repeat(13), "-".repeat(20));
    for (what, r, c, q) in rows {
        println!("| {what:<52} | {r:>10} | {c:>11} | {q:>18} |");
    }
}

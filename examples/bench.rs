//! `make bench`: ClusterDial against the classic recipe's dialplan, on the
//! same machine in the same run, over real SIP; then ClusterDial's hunting
//! and locating at three and five nodes; then a node's death, with and
//! without replicate_contacts. Prints the tables of figures, with
//! ClusterDial/recipe ratios.
//!
//! RES_CLUSTER_BENCH_ONLY=pairs|cluster|death|count runs one part alone.

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::*;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Recipe,
    ClusterDial,
    /// ClusterDial with peer legs marked by its pre-dial handler.
    PreDial,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Recipe => "recipe",
            Variant::ClusterDial => "ClusterDial",
            Variant::PreDial => "ClusterDial (pre-dial marking)",
        }
    }
}

/// Every variant runs with qualify every 2 s on the peers and Dial options
/// rt, as the recipe has them, and ends a failed call with Congestion().
fn nodes(net: &Net, variant: Variant, n: u8, tune: impl Fn(&mut NodeSpec)) -> Vec<Node> {
    cluster(net, n, |s| {
        s.qualify_s = 2;
        s.recipe = variant == Variant::Recipe;
        s.load_module = variant != Variant::Recipe;
        s.general = "dial_options = rt".into();
        if variant == Variant::PreDial {
            s.general.push_str("\npeer_leg_marking = predial");
        }
        s.after_clusterdial = "Congestion()".into();
        s.quiet_log = true;
        tune(s);
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
    poll(10 * SECOND, Duration::from_millis(100), || node.cli("pjsip show contacts"), |c| {
        !c.contains("Unavail") && !c.contains("Unknown") && c.contains("Avail")
    });
}

fn quick(net: &Net, node: &Node, exten: &str) -> CallReport {
    call(net, node, exten, &CallOptions { hold_ms: 0, timeout_s: 40, ..CallOptions::default() })
}

// ---------------------------------------------------------------- pairs

#[derive(Default)]
struct Figures {
    local: f64,
    via_peer: f64,
    nowhere: f64,
    hung_first: f64,
    hung_later: f64,
    back_after_hang: f64,
    three_first: f64,
    three_later: f64,
    max_rate: u32,
    ramps: Vec<u32>,
    cpu_forwarding: f64,
    cpu_answering: f64,
}

const RATES: [u32; 12] = [100, 150, 175, 200, 225, 250, 275, 300, 325, 350, 400, 500];
const LOAD_SECONDS: u32 = 5;
const RAMPS: usize = 3;
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
        let nodes = nodes(&net, variant, 2, |_| {});
        let phones = vec![
            Phone::register(&net, &nodes[0], "101", Behaviour::Answer),
            Phone::register(&net, &nodes[1], "102", Behaviour::Answer),
        ];
        nodes.iter().for_each(wait_qualified);
        Pair { variant, net, nodes, _phones: phones }
    }

    fn setup_once(&self, exten: &str) -> Option<f64> {
        quick(&self.net, &self.nodes[0], exten).setup_ms
    }
}

/// Setup times, the variants' calls interleaved so that drift in the
/// machine's speed falls on all alike. The pre-dial variant runs only the
/// forwarded case (it differs from ClusterDial on peer legs only).
fn setup_times(pairs: &[Pair], figures: &mut [Figures]) {
    for (exten, pick) in [("101", 0), ("102", 1), ("103", 2)] {
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); pairs.len()];
        for _ in 0..SETUP_CALLS {
            for (i, pair) in pairs.iter().enumerate() {
                if pair.variant == Variant::PreDial && pick != 1 {
                    continue;
                }
                samples[i].extend(pair.setup_once(exten));
            }
        }
        for (i, s) in samples.into_iter().enumerate() {
            let m = median(s);
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
/// taking turns, so that the machine's drift falls on all alike.
fn cpu_per_call(pairs: &[Pair], figures: &mut [Figures]) {
    eprintln!("CPU per forwarded call ({CPU_ROUNDS} x 250 calls at 100/s per variant, taking turns)");
    let mut totals = vec![(0u64, 0u64, 0u64); pairs.len()];
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
/// keeps pace: one ramp per variant, the variants taking turns at each rate
/// (and turns at going first, which matters near the machine's limit).
fn ramp(pairs: &[Pair], round: usize) -> Vec<u32> {
    let mut going = vec![true; pairs.len()];
    let mut best = vec![0; pairs.len()];
    for (step, rate) in RATES.into_iter().enumerate() {
        let mut order: Vec<usize> = (0..pairs.len()).collect();
        if (step + round) % 2 == 1 {
            order.reverse();
        }
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
            eprintln!("  ramp {}: {} {rate}/s: {} ok, {} failed, {:.1} s", round + 1, pair.variant.name(), r.successful, r.failed, r.elapsed.as_secs_f64());
            if r.failed > 0 || r.successful < u64::from(calls) || !kept_up {
                going[i] = false;
            } else {
                best[i] = rate;
            }
        }
    }
    best
}

fn throughput(pairs: &[Pair], figures: &mut [Figures]) {
    eprintln!("throughput of the forwarding path ({RAMPS} ramps, alternating)");
    for round in 0..RAMPS {
        for (f, best) in figures.iter_mut().zip(ramp(pairs, round)) {
            f.ramps.push(best);
        }
    }
    for f in figures.iter_mut() {
        let mut r = f.ramps.clone();
        r.sort_unstable();
        f.max_rate = r[r.len() / 2];
    }
}

fn hung_peer(pair: &Pair, f: &mut Figures) {
    eprintln!("{}: peer hung (SIGSTOP), extension nowhere", pair.variant.name());
    pair.nodes[1].signal(libc::SIGSTOP);
    f.hung_first = pair.setup_once("103").unwrap_or(f64::NAN);
    f.hung_later = median((0..15).filter_map(|_| pair.setup_once("103")).collect());
    pair.nodes[1].signal(libc::SIGCONT);
}

/// A peer hangs for two seconds while a call needs it, then resumes; calls
/// every half second from then on: how long after the resume the first one
/// is answered (a call placed during the hang counts when it is answered).
fn back_after_hang(pair: &Pair, f: &mut Figures) {
    eprintln!("{}: peer hung for 2 s while a call needs it", pair.variant.name());
    // Wait out any holddown left from the hung-peer rows.
    std::thread::sleep(Duration::from_secs(3));
    poll(40 * SECOND, Duration::from_millis(500), || quick(&pair.net, &pair.nodes[0], "102"), CallReport::answered);
    let answered_at = std::sync::Mutex::new(Vec::<Instant>::new());
    let resumed = std::thread::scope(|s| {
        pair.nodes[1].signal(libc::SIGSTOP);
        let stopped = Instant::now();
        let during = s.spawn(|| {
            let placed = Instant::now();
            let r = quick(&pair.net, &pair.nodes[0], "102");
            if r.answered() {
                answered_at.lock().unwrap().push(placed + Duration::from_secs_f64(r.setup_ms.unwrap_or(0.0) / 1000.0));
            }
        });
        std::thread::sleep(Duration::from_secs(2).saturating_sub(stopped.elapsed()));
        pair.nodes[1].signal(libc::SIGCONT);
        let resumed = Instant::now();
        let deadline = resumed + Duration::from_secs(40);
        while Instant::now() < deadline && answered_at.lock().unwrap().is_empty() {
            let placed = Instant::now();
            let r = quick(&pair.net, &pair.nodes[0], "102");
            if r.answered() {
                answered_at.lock().unwrap().push(placed + Duration::from_secs_f64(r.setup_ms.unwrap_or(0.0) / 1000.0));
                break;
            }
            std::thread::sleep(Duration::from_millis(500).saturating_sub(placed.elapsed()));
        }
        during.join().expect("call during the hang");
        resumed
    });
    let first = answered_at.into_inner().unwrap().into_iter().min();
    f.back_after_hang = first.map_or(f64::NAN, |t| t.saturating_duration_since(resumed).as_secs_f64() * 1000.0);
}

fn three_nodes(variant: Variant, f: &mut Figures) {
    eprintln!("{}: three nodes, middle peer hung, phone on the last", variant.name());
    let net = Net::allocate();
    let three = nodes(&net, variant, 3, |_| {});
    let _last = Phone::register(&net, &three[2], "103", Behaviour::Answer);
    wait_qualified(&three[0]);
    three[1].signal(libc::SIGSTOP);
    f.three_first = quick(&net, &three[0], "103").setup_ms.unwrap_or(f64::NAN);
    f.three_later = median((0..15).filter_map(|_| quick(&net, &three[0], "103").setup_ms).collect());
    three[1].signal(libc::SIGCONT);
}

fn measure_pairs() -> Vec<Figures> {
    let variants = [Variant::Recipe, Variant::ClusterDial, Variant::PreDial];
    let pairs: Vec<Pair> = variants.iter().map(|&v| Pair::start(v)).collect();
    let mut figures: Vec<Figures> = variants.iter().map(|_| Figures::default()).collect();
    eprintln!("setup times ({SETUP_CALLS} calls per case and variant, interleaved)");
    setup_times(&pairs, &mut figures);
    cpu_per_call(&pairs, &mut figures);
    // Throughput and faults: the recipe against ClusterDial as configured.
    throughput(&pairs[..2], &mut figures[..2]);
    for (pair, f) in pairs.iter().zip(figures.iter_mut()).take(2) {
        hung_peer(pair, f);
        back_after_hang(pair, f);
    }
    drop(pairs);
    for (variant, f) in [Variant::Recipe, Variant::ClusterDial].into_iter().zip(figures.iter_mut()) {
        three_nodes(variant, f);
    }
    figures
}

// ---------------------------------------------------------------- clusters

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sequential,
    Parallel,
    Locate,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Sequential => "sequential hunting",
            Mode::Parallel => "parallel hunting",
            Mode::Locate => "locate = devstate",
        }
    }
}

/// One case of a cluster: a call's cost.
#[derive(Default, Clone)]
struct Cost {
    invites: f64,
    setup_ms: f64,
    cpu_ms: f64,
}

#[derive(Default)]
struct ClusterFigures {
    far: Cost,
    near: Cost,
    nowhere: Cost,
    /// Locate only: the same number dialled on node1's phones only, the
    /// calls taking turns with those of `nowhere`: by a bare Dial, and by
    /// ClusterDial on a call marked as come from the cluster.
    local_only_ms: f64,
    local_clusterdial_ms: f64,
    /// Locate only: PUBLISH requests one REGISTER caused, and their bytes.
    publishes: f64,
    publish_bytes: f64,
    /// Locate only: PUBLISH requests one answered call to that phone caused
    /// (its device went ringing, in use, not in use), and their bytes.
    call_publishes: f64,
    call_publish_bytes: f64,
    /// Locate only: REGISTER on the last node to node1 knowing it.
    known_after_ms: f64,
}

const COST_CALLS: u32 = 100;
const COST_RATE: u32 = 25;
const COST_SETUPS: usize = 20;

/// INVITEs sent from one node to another so far.
fn invites(nodes: &[Node]) -> usize {
    nodes.iter().map(|n| n.log().lines().filter(|l| l.contains("app_dial.c: Called PJSIP/") && l.contains("@cluster-node")).count()).sum()
}

fn cost(net: &Net, nodes: &[Node], exten: &str) -> Cost {
    let setup_ms = median((0..COST_SETUPS).filter_map(|_| quick(net, &nodes[0], exten).setup_ms).collect());
    let (sent, cpu) = (invites(nodes), nodes.iter().map(Node::cpu_ms).sum::<u64>());
    let run = load(net, &nodes[0], exten, COST_RATE, COST_CALLS, 50);
    if run.failed > 0 && exten != "199" {
        eprintln!("  warning: {exten}: {} of {COST_CALLS} failed", run.failed);
    }
    // The log is written a moment after the call ends.
    settle();
    let calls = f64::from(COST_CALLS);
    let sent = invites(nodes) - sent;
    let cpu = nodes.iter().map(Node::cpu_ms).sum::<u64>() - cpu;
    Cost { invites: sent as f64 / calls, setup_ms, cpu_ms: cpu as f64 / calls }
}

/// Waits until node1 sees `peer` report `exten` present (locate only).
fn wait_located(node1: &Node, exten: &str, peer: &str) {
    poll(15 * SECOND, Duration::from_millis(50), || node1.cli(&format!("cluster show locations {exten}")), |out| {
        out.lines().any(|l| l.starts_with(peer) && l.contains("NOT_INUSE"))
    });
}

/// PUBLISH requests sent, and their bytes, in what each node logged after
/// `marks` (its log's length then) with the SIP logger on.
fn publishes_since(nodes: &[Node], marks: &[usize]) -> (usize, usize) {
    let (mut count, mut bytes) = (0, 0);
    for (n, mark) in nodes.iter().zip(marks) {
        let log = n.log();
        let lines: Vec<&str> = log[*mark..].lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if l.contains("Transmitting SIP request") && lines.get(i + 1).is_some_and(|next| next.contains("PUBLISH sip:")) {
                count += 1;
                bytes += l.split('(').nth(1).and_then(|r| r.split_whitespace().next()).and_then(|b| b.parse::<usize>().ok()).unwrap_or(0);
            }
        }
    }
    (count, bytes)
}

/// Publication costs, as `ClusterFigures` has them: PUBLISH requests (and
/// bytes) the cluster sends for one registration change, counted in the SIP
/// traffic every node logs while a phone re-registers on the last node; how
/// long node1 takes to know it (from the last node's ContactStatus to
/// node1's DeviceStateChange, both over AMI), the median of five; and the
/// PUBLISH requests (and bytes) one answered call from node1 to that phone
/// causes.
fn publication(net: &Net, nodes: &[Node]) -> (f64, f64, f64, f64, f64) {
    let last = nodes.last().expect("nodes");
    let mut latencies = Vec::new();
    let (mut count, mut bytes) = (0usize, 0usize);
    let (mut call_count, mut call_bytes) = (0usize, 0usize);
    for round in 0..5 {
        let mut there = Ami::connect(last);
        let mut here = Ami::connect(&nodes[0]);
        for n in nodes {
            n.cli("pjsip set logger on");
        }
        let marks: Vec<usize> = nodes.iter().map(|n| n.log().len()).collect();
        let phone = Phone::register(net, last, "104", Behaviour::Answer);
        let get = |e: &[(String, String)], k: &str| e.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        // Both nodes stamp their AMI events with the one system clock.
        let stamp = |e: &[(String, String)]| get(e, "Timestamp").and_then(|t| t.parse::<f64>().ok());
        let registered = there.wait(|e| get(e, "Event").as_deref() == Some("ContactStatus") && get(e, "AOR").as_deref() == Some("104"), 10 * SECOND);
        let known = here.wait(
            |e| get(e, "Event").as_deref() == Some("DeviceStateChange") && get(e, "Device").as_deref() == Some("PJSIP/104") && get(e, "State").as_deref() == Some("NOT_INUSE"),
            10 * SECOND,
        );
        if let (Some(a), Some(b)) = (registered.as_deref().and_then(stamp), known.as_deref().and_then(stamp)) {
            latencies.push((b - a) * 1000.0);
        }
        std::thread::sleep(Duration::from_millis(500));
        if round == 0 {
            (count, bytes) = publishes_since(nodes, &marks);
            let marks: Vec<usize> = nodes.iter().map(|n| n.log().len()).collect();
            let answered = quick(net, &nodes[0], "104").answered();
            std::thread::sleep(Duration::from_millis(500));
            if answered {
                (call_count, call_bytes) = publishes_since(nodes, &marks);
            } else {
                eprintln!("  warning: the call to 104 was not answered; no PUBLISH count for calls");
            }
        }
        for n in nodes {
            n.cli("pjsip set logger off");
        }
        // Unregistered again, for the next round.
        phone.unregister(last);
        drop(phone);
        std::thread::sleep(Duration::from_millis(300));
    }
    (count as f64, bytes as f64, median(latencies), call_count as f64, call_bytes as f64)
}

/// The phones' extension with Dial in place of ClusterDial, dialled as
/// `<prefix><number>`: the same steps before it (the extension and caller
/// number kept for the RESULT line) and after it (the number read again,
/// Congestion()); `before_dial`, when not empty, is one more step right
/// before the Dial.
fn dial_only(prefix: &str, before_dial: &str) -> String {
    let step = if before_dial.is_empty() { String::new() } else { format!(" same => n,{before_dial}\n") };
    format!(
        "exten => _{prefix}.,1,Set(CD_EXTEN=${{EXTEN:{}}})\n same => n,Set(CD_RAW=${{CALLERID(num)}})\n{step} \
         same => n,Dial(PJSIP/${{CD_EXTEN}},20,rt)\n same => n,Set(CD_AFTER=${{CALLERID(num)}})\n same => n,Congestion()\n",
        prefix.len()
    )
}

/// `dial_only`: `solo<number>`.
fn local_only() -> String {
    dial_only("solo", "")
}

/// The phones' extension with ClusterDial on a call marked
/// `FROM_CLUSTER=1`, which tries this node's phones only: ClusterDial's
/// local-only dial, as many dialplan steps as the others.
const LOCAL_CLUSTERDIAL: &str = "exten => _here.,1,Set(CD_EXTEN=${EXTEN:4})\n same => n,Set(FROM_CLUSTER=1)\n \
    same => n,ClusterDial(${CD_EXTEN})\n same => n,Set(CD_AFTER=${CALLERID(num)})\n same => n,Congestion()\n";

fn measure_cluster(size: u8, mode: Mode) -> ClusterFigures {
    eprintln!("{size} nodes, {}", mode.name());
    let net = Net::allocate();
    let nodes = nodes(&net, Variant::ClusterDial, size, |s| {
        s.quiet_log = false;
        s.dialplan.push_str(&local_only());
        s.dialplan.push_str(LOCAL_CLUSTERDIAL);
        s.locate = mode == Mode::Locate;
        if mode == Mode::Parallel {
            s.general.push_str("\nstrategy = parallel");
        }
    });
    let far = format!("1{size:02}");
    let _phones = [
        Phone::register_from(net.host(102), &nodes[1], "102", Behaviour::Answer),
        Phone::register_from(net.host(100 + size), &nodes[size as usize - 1], &far, Behaviour::Answer),
    ];
    nodes.iter().for_each(wait_qualified);
    if mode == Mode::Locate {
        wait_located(&nodes[0], "102", "node2");
        wait_located(&nodes[0], &far, &format!("node{size}"));
    }
    let mut f = ClusterFigures {
        far: cost(&net, &nodes, &far),
        near: cost(&net, &nodes, "102"),
        nowhere: cost(&net, &nodes, "199"),
        ..ClusterFigures::default()
    };
    if mode == Mode::Locate {
        (f.publishes, f.publish_bytes, f.known_after_ms, f.call_publishes, f.call_publish_bytes) = publication(&net, &nodes);
        (f.nowhere.setup_ms, f.local_only_ms, f.local_clusterdial_ms) = nowhere_against_local_only(&net, &nodes[0]);
    }
    f
}

/// Setup of a number registered nowhere through node1, and of the same
/// number dialled on node1's phones only (the local dial alone: Dial in
/// place of ClusterDial, the dialplan's other steps the same, see
/// `local_only`), and by ClusterDial trying node1's phones only
/// (`LOCAL_CLUSTERDIAL`), the calls taking turns; medians.
fn nowhere_against_local_only(net: &Net, node1: &Node) -> (f64, f64, f64) {
    let (mut located, mut local, mut here) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 * COST_SETUPS {
        located.extend(quick(net, node1, "199").setup_ms);
        local.extend(quick(net, node1, "solo199").setup_ms);
        here.extend(quick(net, node1, "here199").setup_ms);
    }
    (median(located), median(local), median(here))
}

// ---------------------------------------------------------------- a node dies

/// Seconds from the SIGKILL of a phone's node to the first answered call to
/// it from the survivor, and what replication costs.
#[derive(Default)]
struct DeathFigures {
    /// (registration interval, recipe, ClusterDial, ClusterDial with
    /// replicate_contacts), in seconds; NaN: not measured.
    answered_after: Vec<(u32, f64, f64, f64)>,
    /// Per cluster size: PUBLISH requests and bytes for one REGISTER.
    per_register: Vec<(u8, f64, f64)>,
    /// Bytes res_cluster holds per 1,000 phones kept of a peer.
    bytes_per_1000: f64,
}

/// A phone as phones are: registered on node2 every `interval` seconds, it
/// falls back to node1 when a REGISTER gets no answer (Timer F, 32 s), as
/// DNS SRV sends it there. node2 is killed half an interval after the
/// phone's last REGISTER; node1 is called every second until the phone
/// answers. Seconds from the kill.
fn kill_and_call(variant: Variant, replicate: bool, interval: u32, phone_fails_over: bool) -> f64 {
    let net = Net::allocate();
    let nodes = nodes(&net, variant, 2, |s| {
        s.replicate = replicate;
        s.qualify_s = 1;
    });
    nodes.iter().for_each(wait_qualified);
    let ip = net.phone("102");
    assert!(try_register(&ip, 5061, &nodes[1], "102", interval, 10), "phone 102 registers on node2");
    let registered = Instant::now();
    let _phone = Phone::answering_at(ip.clone(), "102", Behaviour::Answer);
    if replicate {
        poll(30 * SECOND, Duration::from_millis(200), || nodes[0].cli("cluster show locations 102"), |t| t.contains(&format!("sip:102@{ip}")));
    }
    let half = Duration::from_secs(u64::from(interval) / 2);
    let wait = if replicate { Duration::from_secs(1) } else { half };
    std::thread::sleep(wait.saturating_sub(registered.elapsed()));
    nodes[1].signal(libc::SIGKILL);
    let killed = Instant::now();
    std::thread::scope(|s| {
        if phone_fails_over {
            s.spawn(|| {
                // Its next REGISTER, to node2, times out; then node1.
                std::thread::sleep((registered + Duration::from_secs(u64::from(interval))).saturating_duration_since(Instant::now()));
                if !try_register(&ip, 5061, &nodes[1], "102", interval, 32) {
                    try_register(&ip, 5061, &nodes[0], "102", interval, 10);
                }
            });
        }
        let deadline = killed + Duration::from_secs(u64::from(interval) + 60);
        while Instant::now() < deadline {
            let placed = Instant::now();
            let r = call(&net, &nodes[0], "102", &CallOptions { hold_ms: 0, timeout_s: 15, ..CallOptions::default() });
            if r.answered() {
                let at = placed + Duration::from_secs_f64(r.setup_ms.unwrap_or(0.0) / 1000.0);
                return at.saturating_duration_since(killed).as_secs_f64();
            }
            std::thread::sleep(Duration::from_secs(1).saturating_sub(placed.elapsed()));
        }
        f64::NAN
    })
}

/// PUBLISH requests (and bytes) of event res-cluster-contacts the cluster
/// sends for one REGISTER on its last node, from the SIP traffic each node
/// logs.
fn per_register(size: u8) -> (f64, f64) {
    let net = Net::allocate();
    let nodes = nodes(&net, Variant::ClusterDial, size, |s| {
        s.replicate = true;
        s.qualify_s = 1;
        s.quiet_log = false;
    });
    nodes.iter().for_each(wait_qualified);
    let last = nodes.last().expect("nodes");
    // Settled: the snapshots exchanged at start are through.
    std::thread::sleep(Duration::from_secs(2));
    for n in &nodes {
        n.cli("pjsip set logger on");
    }
    let marks: Vec<usize> = nodes.iter().map(|n| n.log().len()).collect();
    let ip = net.phone("104");
    assert!(try_register(&ip, 5061, last, "104", 3600, 10));
    poll(10 * SECOND, Duration::from_millis(100), || nodes[0].cli("cluster show locations 104"), |t| t.contains("sip:104@"));
    std::thread::sleep(Duration::from_millis(500));
    let (count, bytes) = publishes_since(&nodes, &marks);
    (count as f64, bytes as f64)
}

/// What node1's res_cluster holds for 1,000 phones of a peer, by its own
/// allocation count (`cluster show status`), the phones published to it in
/// snapshot parts from the peer's address.
fn bytes_per_1000() -> f64 {
    let net = Net::allocate();
    let mut spec = NodeSpec::new(1, &[2]);
    spec.replicate = true;
    spec.quiet_log = true;
    let node1 = Node::start(&net, &spec);
    let held = |node: &Node| -> f64 {
        let status = node.cli("cluster show status");
        status.lines().find_map(|l| l.strip_prefix("Module memory:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(f64::NAN)
    };
    let before = held(&node1);
    let expires = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) + 3600;
    let parts = 1000 / 25;
    for part in 0..parts {
        let contacts: Vec<String> = (0..25)
            .map(|i| {
                let n = 10_000 + part * 25 + i;
                format!(
                    "{{\"id\":\"{n};@0123456789abcdef0123456789abcdef\",\"aor\":\"{n}\",\"endpoint\":\"{n}\",\"uri\":\"sip:{n}@192.0.2.{}:5060;ob\",\"expires\":{expires},\"via_addr\":\"192.0.2.{}\",\"via_port\":5060,\"path\":\"\",\"user_agent\":\"Phone 1.2.3\",\"registered\":{}}}",
                    i + 1,
                    i + 1,
                    expires - 3600
                )
            })
            .collect();
        let body = format!(
            "{{\"node\":\"node2\",\"type\":\"snapshot\",\"generation\":7,\"part\":{part},\"last\":{},\"contacts\":[{}]}}",
            part + 1 == parts,
            contacts.join(",")
        );
        let code = publish(&net.node(2), &node1, "cluster-node2", "cluster-node2", "res-cluster-contacts", "application/json", &body);
        assert_eq!(code, Some(200), "snapshot part {part}");
    }
    let shown = node1.cli("cluster show locations");
    assert!(shown.contains("1000 registration(s)"), "{}", shown.lines().last().unwrap_or(""));
    held(&node1) - before
}

fn measure_death() -> DeathFigures {
    let mut f = DeathFigures::default();
    for interval in [60u32, 3600] {
        eprintln!("a node dies: registration interval {interval} s");
        // At an hour's interval the recipe's phone waits up to an hour for
        // its next REGISTER: not run.
        let slow = interval <= 60;
        let recipe = if slow { kill_and_call(Variant::Recipe, false, interval, true) } else { f64::NAN };
        let today = if slow { kill_and_call(Variant::ClusterDial, false, interval, true) } else { f64::NAN };
        let replicated = kill_and_call(Variant::ClusterDial, true, interval, false);
        f.answered_after.push((interval, recipe, today, replicated));
    }
    for size in [3u8, 5] {
        eprintln!("replication cost, {size} nodes");
        let (count, bytes) = per_register(size);
        f.per_register.push((size, count, bytes));
    }
    eprintln!("replication memory, 1,000 phones");
    f.bytes_per_1000 = bytes_per_1000();
    f
}

fn print_death(f: &DeathFigures) {
    println!("\nA node dies (SIGKILL) while its phone is registered on it: seconds to the first answered call to that phone from the survivor.");
    println!("The recipe's and ClusterDial's phone reaches the survivor only when its next REGISTER (killed half an interval after the last) times out (32 s)");
    println!("and it registers there; with replicate_contacts the survivor dials the phone's contact itself.\n");
    println!("| {:<21} | {:>9} | {:>11} | {:>28} | {:>26} |", "registration interval", "recipe", "ClusterDial", "ClusterDial, replicate_contacts", "replicate/recipe");
    println!("|{}|{}|{}|{}|{}|", "-".repeat(23), "-".repeat(11), "-".repeat(13), "-".repeat(33), "-".repeat(28));
    for (interval, recipe, today, replicated) in &f.answered_after {
        let s = |v: f64| if v.is_finite() { format!("{v:.2} s") } else { "not run".into() };
        println!("| {:<21} | {:>9} | {:>11} | {:>31} | {:>26} |", format!("{interval} s"), s(*recipe), s(*today), s(*replicated), ratio(*replicated, *recipe));
    }
    println!("(not run: at {} s the phone's next REGISTER comes up to that long after the kill; the mechanism, and so the wait, is the one measured above.)\n", 3600);
    for (size, count, bytes) in &f.per_register {
        println!("{size} nodes, replicate_contacts: one REGISTER caused {count:.0} PUBLISH requests of event res-cluster-contacts ({bytes:.0} bytes).");
    }
    println!("What res_cluster holds for 1,000 phones of a peer: {:.0} bytes ({:.0} per phone).", f.bytes_per_1000, f.bytes_per_1000 / 1000.0);
}

// ---------------------------------------------------------------- instructions

/// Calls per counted run, and the rate they are placed at (the node runs
/// under callgrind, some twenty times slower).
const COUNT_CALLS: u32 = 60;
const COUNT_RATE: u32 = 3;

/// Instructions per call of two runs of the same calls.
#[derive(Clone, Copy, Default)]
struct Counted {
    runs: [f64; 2],
}

impl Counted {
    fn mean(&self) -> f64 {
        (self.runs[0] + self.runs[1]) / 2.0
    }

    /// How far apart the two runs are, in percent of their mean.
    fn spread(&self) -> f64 {
        (self.runs[0] - self.runs[1]).abs() / self.mean() * 100.0
    }
}

/// Checks that `exten` matches one extension in the callers' context, the
/// one meant for it: `_<prefix>.`, or `_X.` for a number without one (a
/// call to a number nowhere fails whichever extension it reaches, and would
/// count another one's work).
fn assert_reaches_own_pattern(node: &Node, exten: &str) {
    let prefix = exten.trim_end_matches(|c: char| c.is_ascii_digit());
    let pattern = if prefix.is_empty() { "'_X.'".to_string() } else { format!("'_{prefix}.'") };
    let shown = node.cli(&format!("dialplan show {exten}@phones"));
    assert!(shown.contains(&pattern) && shown.contains("-= 1 extension "), "{exten} should match {pattern} alone:\n{shown}");
}

/// Places COUNT_CALLS calls to `exten` at `caller_node` while `counted`
/// counts, twice; instructions per call on each of `counted`.
fn count_calls(net: &Net, caller_node: &Node, exten: &str, counted: &[&Node]) -> Vec<Counted> {
    assert_reaches_own_pattern(caller_node, exten);
    let mut out = vec![Counted::default(); counted.len()];
    for run in 0..2 {
        let mut totals = vec![0u64; counted.len()];
        // Nested: every counted node counts the same calls.
        fn nest(nodes: &[&Node], totals: &mut [u64], work: &mut dyn FnMut()) {
            match nodes.split_first() {
                None => work(),
                Some((first, rest)) => {
                    let (t, _) = first.count(|| nest(rest, &mut totals[1..], work));
                    totals[0] = t;
                }
            }
        }
        let mut work = || {
            let r = load(net, caller_node, exten, COUNT_RATE, COUNT_CALLS, 100);
            assert!(r.failed == 0 || exten.contains("199"), "{exten}: {} of {COUNT_CALLS} calls failed", r.failed);
        };
        nest(counted, &mut totals, &mut work);
        for (o, t) in out.iter_mut().zip(totals) {
            o.runs[run] = t as f64 / f64::from(COUNT_CALLS);
        }
    }
    out
}

#[derive(Default)]
struct CountFigures {
    /// (row, baseline's name, ClusterDial, baseline)
    rows: Vec<(String, &'static str, Counted, Counted)>,
    /// (call, ClusterDial's own instructions per call, the call's total on
    /// the node)
    own: Vec<(&'static str, f64, f64)>,
    /// A number nowhere at two nodes, ClusterDial's instructions above a
    /// bare Dial broken down: (the three variables, one more dialplan step,
    /// the rest).
    nowhere_parts: Option<(f64, f64, f64)>,
}

/// The recipe's steps for a phone on the last node, by hand, beside
/// ClusterDial on the same node: the local Dial, the prefix, the Dial of
/// the peer that has the phone.
fn recipe_forward(last: u8) -> String {
    format!(
        "exten => _fwd.,1,Set(CD_EXTEN=${{EXTEN:3}})\n same => n,Set(CD_RAW=${{CALLERID(num)}})\n same => n,Dial(PJSIP/${{CD_EXTEN}},20,rt)\n \
         same => n,GotoIf($[\"${{FROM_CLUSTER}}\" = \"1\"]?done)\n same => n,Set(CALLERID(num)=9999${{CALLERID(num)}})\n \
         same => n,Dial(PJSIP/${{CD_EXTEN}}@cluster-node{last},20,rt)\n same => n(done),Congestion()\n"
    )
}

/// The counted baselines again, each also setting what ClusterDial leaves
/// on the channel (CLUSTERSTATUS, CLUSTERNODE, CLUSTERROUTE) in one MSet
/// before its Dial: the same three VarSet events and, for the one more
/// application, the one more channel snapshot that ClusterDial's own Dial
/// publishes (a snapshot per application the PBX runs). `out<number>`: the
/// recipe's local call; `setsolo<number>`: the bare Dial of a number
/// nowhere.
fn same_outputs() -> String {
    dial_only("out", "MSet(CLUSTERSTATUS=ANSWER,CLUSTERNODE=node1,CLUSTERROUTE=local:ANSWER)")
        + &dial_only("setsolo", "MSet(CLUSTERSTATUS=CHANUNAVAIL,CLUSTERNODE=,CLUSTERROUTE=local:CHANUNAVAIL)")
}

/// The bare Dial of a number nowhere after one more dialplan step that does
/// nothing (`skipsolo<number>`): what a step costs the PBX alone (its
/// lookup, the application's start and channel snapshot), apart from what
/// the three variables cost. ClusterDial starts its own Dial the same way,
/// an application inside an application. (No prefix here begins another,
/// and none holds N, X or Z, which a pattern reads as a digit: each number
/// matches its own pattern only, as `assert_reaches_own_pattern` checks.)
fn one_more_application() -> String {
    dial_only("skipsolo", "NoOp()")
}

/// Nodes counted while they are quiet between calls: qualify off (its
/// OPTIONS every few seconds would be counted with the calls, and vary),
/// no RESULT line (the dialplans around ClusterDial and the recipe alike).
/// With locate, the phones' device states are published, not the callers':
/// a caller's state changes cost the same whatever application its call
/// runs, and their PUBLISH requests, coalesced when they come close
/// together, vary in number from run to run.
fn counted_nodes(net: &Net, variant: Variant, n: u8, locate: bool, callgrind: &[u8]) -> Vec<Node> {
    nodes(net, variant, n, |s| {
        s.callgrind = callgrind.contains(&s.index);
        s.locate = locate;
        s.device_state_filter = Some("^(PJSIP/1[0-9][0-9]$|Cluster:)".into());
        s.qualify_s = 0;
        s.results = false;
        s.dialplan.push_str(&local_only());
        s.dialplan.push_str(&same_outputs());
        s.dialplan.push_str(&one_more_application());
        s.dialplan.push_str(&recipe_forward(n));
    })
}

/// ClusterDial's own instructions in a dump: everything inside the
/// application but outside the Dial it runs, per call (callgrind_annotate's
/// inclusive costs of the two).
fn own_instructions(dump: &std::path::Path, calls: u32) -> f64 {
    let root = &harness::sandbox::sandbox().root;
    let inside = format!("/tmp/res_cluster-own-{}.out", std::process::id());
    std::fs::copy(dump, root.join(inside.trim_start_matches('/'))).expect("copy the dump");
    let out = std::process::Command::new("chroot")
        .arg(root)
        .args(["callgrind_annotate", "--inclusive=yes", "--threshold=100", &inside])
        .output()
        .expect("callgrind_annotate");
    let _ = std::fs::remove_file(root.join(inside.trim_start_matches('/')));
    let text = String::from_utf8_lossy(&out.stdout);
    let cost = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.contains(name) && l.trim_end().ends_with(']'))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|v| v.replace(',', "").parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (cost("res_cluster::clusterdial::execute [") - cost("res_cluster::ast::channel::Channel::exec [")) / f64::from(calls)
}

fn measure_counts() -> CountFigures {
    let mut f = CountFigures::default();
    // Two nodes, both counted: a local call, a forwarded one.
    let mut pairs = Vec::new();
    let mut same_outputs = Counted::default();
    for variant in [Variant::Recipe, Variant::ClusterDial] {
        eprintln!("instructions: {} pair", variant.name());
        let net = Net::allocate();
        let nodes = counted_nodes(&net, variant, 2, false, &[1, 2]);
        let phones = [Phone::register(&net, &nodes[0], "101", Behaviour::Answer), Phone::register(&net, &nodes[1], "102", Behaviour::Answer)];
        std::thread::sleep(Duration::from_secs(2));
        let local = count_calls(&net, &nodes[0], "101", &[&nodes[0]]);
        let forwarded = count_calls(&net, &nodes[0], "102", &[&nodes[0], &nodes[1]]);
        if variant == Variant::Recipe {
            same_outputs = count_calls(&net, &nodes[0], "out101", &[&nodes[0]])[0];
        }
        if variant == Variant::ClusterDial {
            // One more run of each, its dump read function by function.
            for (what, exten, counted) in [("local", "101", local[0]), ("forwarded", "102", forwarded[0])] {
                let (_, dump) = nodes[0].count(|| {
                    load(&net, &nodes[0], exten, COUNT_RATE, COUNT_CALLS, 100);
                });
                f.own.push((what, own_instructions(&dump, COUNT_CALLS), counted.mean()));
            }
        }
        drop(phones);
        pairs.push((local[0], forwarded[0], forwarded[1]));
    }
    let (recipe, cluster) = (pairs[0], pairs[1]);
    f.rows.push(("local call".into(), "recipe", cluster.0, recipe.0));
    f.rows.push(("local call".into(), "recipe + 3 variables", cluster.0, same_outputs));
    f.rows.push(("forwarded call, forwarding node".into(), "recipe", cluster.1, recipe.1));
    f.rows.push(("forwarded call, answering node".into(), "recipe", cluster.2, recipe.2));
    // A number registered nowhere, with locate, against a bare Dial of
    // this node's phones (the same dialplan around it); a located call at
    // five nodes against the recipe's forward.
    for size in [2u8, 5] {
        eprintln!("instructions: {size} nodes, locate");
        let net = Net::allocate();
        let nodes = counted_nodes(&net, Variant::ClusterDial, size, true, &[1]);
        let far = format!("1{size:02}");
        let _phone = Phone::register(&net, &nodes[size as usize - 1], &far, Behaviour::Answer);
        wait_located(&nodes[0], &far, &format!("node{size}"));
        // Every peer synced: none is asked again for all its states (a
        // burst of publications) while calls are counted.
        poll(60 * SECOND, Duration::from_millis(200), || nodes[0].cli("cluster show locations"), |t| {
            t.lines().filter(|l| l.starts_with("node")).all(|l| l.split_whitespace().nth(1) == Some("yes"))
        });
        std::thread::sleep(Duration::from_secs(2));
        let nowhere = count_calls(&net, &nodes[0], "199", &[&nodes[0]]);
        let bare = count_calls(&net, &nodes[0], "solo199", &[&nodes[0]]);
        let bare_outputs = count_calls(&net, &nodes[0], "setsolo199", &[&nodes[0]]);
        f.rows.push((format!("number nowhere, locate, {size} nodes"), "bare Dial", nowhere[0], bare[0]));
        f.rows.push((format!("number nowhere, locate, {size} nodes"), "Dial + 3 variables", nowhere[0], bare_outputs[0]));
        if size == 2 {
            let noop = count_calls(&net, &nodes[0], "skipsolo199", &[&nodes[0]])[0];
            f.rows.push((format!("number nowhere, locate, {size} nodes"), "NoOp + bare Dial", nowhere[0], noop));
            let (bare, noop, outputs) = (bare[0].mean(), noop.mean(), bare_outputs[0].mean());
            f.nowhere_parts = Some((outputs - noop, noop - bare, nowhere[0].mean() - outputs));
        }
        if size == 5 {
            let located = count_calls(&net, &nodes[0], &far, &[&nodes[0]]);
            let by_hand = count_calls(&net, &nodes[0], &format!("fwd{far}"), &[&nodes[0]]);
            f.rows.push(("located call, 5 nodes, calling node".into(), "recipe's forward", located[0], by_hand[0]));
        }
    }
    f
}

fn print_counts(f: &CountFigures) {
    println!("\nInstructions per call, counted by callgrind on the Asterisk process (only while the {COUNT_CALLS} calls of a run are placed, at {COUNT_RATE}/s);");
    println!("two runs each, their spread in percent of their mean. Deterministic where the timed figures above vary by about 15 %.\n");
    println!("| {:<40} | {:>20} | {:>13} | {:>13} | {:>8} | {:>8} |", "call", "baseline", "ClusterDial", "baseline", "ratio", "spread");
    println!("|{}|{}|{}|{}|{}|{}|", "-".repeat(42), "-".repeat(22), "-".repeat(15), "-".repeat(15), "-".repeat(10), "-".repeat(10));
    for (row, base, c, b) in &f.rows {
        eprintln!("{row}: ClusterDial runs {:.0} / {:.0}, {base} runs {:.0} / {:.0}", c.runs[0], c.runs[1], b.runs[0], b.runs[1]);
        println!(
            "| {row:<40} | {base:>20} | {:>13.0} | {:>13.0} | {:>8} | {:>7.2}% |",
            c.mean(),
            b.mean(),
            ratio(c.mean(), b.mean()),
            c.spread().max(b.spread())
        );
    }
    println!("\nThe located call's baseline is the recipe's steps by hand on the same node, dialling the peer that has the phone (the recipe cannot route past two nodes).");
    println!("\"+ 3 variables\": the same baseline, also setting CLUSTERSTATUS, CLUSTERNODE and CLUSTERROUTE (one MSet before its Dial), as ClusterDial does: Asterisk's work for those outputs on both sides.");
    if let Some((variables, application, rest)) = f.nowhere_parts {
        println!(
            "A number nowhere at 2 nodes, ClusterDial above a bare Dial, broken down: the three variables {variables:.0} (an MSet of them before the Dial against a NoOp there), one more dialplan step {application:.0} (the NoOp against nothing), the rest {rest:.0} (ClusterDial against the MSet), per call."
        );
    }
    for (what, own, total) in &f.own {
        println!(
            "ClusterDial's own instructions, {what} call (inside the application, outside the Dial it runs): {own:.0} per call, {:.2} % of the call's {total:.0} on the calling node.",
            own / total * 100.0
        );
    }
}

// ---------------------------------------------------------------- report

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let version = std::fs::read_to_string(harness::sandbox::sandbox().root.join(".res_cluster-sandbox-ready")).unwrap_or_default();
    format!("{cpu}, {cores} cores; {}", version.trim())
}

fn ms(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v >= 1000.0 {
        format!("{:.1} s", v / 1000.0)
    } else {
        format!("{v:.1} ms")
    }
}

fn ratio(c: f64, r: f64) -> String {
    if r > 0.0 && c.is_finite() && r.is_finite() {
        format!("{:.2}", c / r)
    } else {
        "-".into()
    }
}

fn print_pairs(f: &[Figures]) {
    let (recipe, cluster, predial) = (&f[0], &f[1], &f[2]);
    let rows: Vec<(&str, String, String, String)> = vec![
        ("setup, phone on this node (median)", ms(recipe.local), ms(cluster.local), ratio(cluster.local, recipe.local)),
        ("setup, phone on the peer (median)", ms(recipe.via_peer), ms(cluster.via_peer), ratio(cluster.via_peer, recipe.via_peer)),
        ("setup, phone on the peer, pre-dial marking (median)", ms(recipe.via_peer), ms(predial.via_peer), ratio(predial.via_peer, recipe.via_peer)),
        ("setup, phone nowhere (median)", ms(recipe.nowhere), ms(cluster.nowhere), ratio(cluster.nowhere, recipe.nowhere)),
        ("peer hung, phone nowhere: first call", ms(recipe.hung_first), ms(cluster.hung_first), ratio(cluster.hung_first, recipe.hung_first)),
        ("peer hung, phone nowhere: later calls (median)", ms(recipe.hung_later), ms(cluster.hung_later), ratio(cluster.hung_later, recipe.hung_later)),
        ("peer back after a 2 s hang: first answered call after resume", ms(recipe.back_after_hang), ms(cluster.back_after_hang), ratio(cluster.back_after_hang, recipe.back_after_hang)),
        ("3 nodes, middle hung, phone on last: first", ms(recipe.three_first), ms(cluster.three_first), ratio(cluster.three_first, recipe.three_first)),
        ("3 nodes, middle hung, phone on last: later (median)", ms(recipe.three_later), ms(cluster.three_later), ratio(cluster.three_later, recipe.three_later)),
        (
            "forwarding path: highest rate, 0 failed, kept pace (median of 3 ramps)",
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
            "CPU per forwarded call, forwarding node, pre-dial marking",
            format!("{:.2} ms", recipe.cpu_forwarding),
            format!("{:.2} ms", predial.cpu_forwarding),
            ratio(predial.cpu_forwarding, recipe.cpu_forwarding),
        ),
        (
            "CPU per forwarded call, answering node",
            format!("{:.2} ms", recipe.cpu_answering),
            format!("{:.2} ms", cluster.cpu_answering),
            ratio(cluster.cpu_answering, recipe.cpu_answering),
        ),
    ];
    println!("Two nodes (three for the hung-middle rows), the recipe against ClusterDial. Both: qualify every 2 s on the peers, Dial options rt;");
    println!("rates tried: {RATES:?} calls/s for {LOAD_SECONDS} s; ramps: recipe {:?}, ClusterDial {:?}.\n", recipe.ramps, cluster.ramps);
    println!("| {:<64} | {:>10} | {:>11} | {:>18} |", "measure", "recipe", "ClusterDial", "ClusterDial/recipe");
    println!("|{}|{}|{}|{}|", "-".repeat(66), "-".repeat(12), "-".repeat(13), "-".repeat(20));
    for (what, r, c, q) in rows {
        println!("| {what:<64} | {r:>10} | {c:>11} | {q:>18} |");
    }
}

fn print_clusters(figures: &[(u8, Mode, ClusterFigures)]) {
    println!("\nClusterDial at three and five nodes: a phone on the farthest node (in file order), a phone on node2, a number registered nowhere.");
    println!("INVITEs: sent between nodes per call; CPU: summed over all nodes per call ({COST_CALLS} calls at {COST_RATE}/s); setup: median of {COST_SETUPS}.\n");
    println!("| {:<5} | {:<20} | {:<10} | {:>7} | {:>8} | {:>8} |", "nodes", "mode", "phone", "INVITEs", "setup", "CPU");
    println!("|{}|{}|{}|{}|{}|{}|", "-".repeat(7), "-".repeat(22), "-".repeat(12), "-".repeat(9), "-".repeat(10), "-".repeat(10));
    for (size, mode, f) in figures {
        for (what, c) in [(format!("on node{size}"), &f.far), ("on node2".to_string(), &f.near), ("nowhere".to_string(), &f.nowhere)] {
            println!("| {size:<5} | {:<20} | {what:<10} | {:>7.2} | {:>8} | {:>5.2} ms |", mode.name(), c.invites, ms(c.setup_ms), c.cpu_ms);
        }
    }
    println!();
    for (size, _, f) in figures.iter().filter(|(_, m, _)| *m == Mode::Locate) {
        println!(
            "{size} nodes, locate: a number registered nowhere: setup {} (median of {}), against {} for the local dial alone by a bare Dial (on node1's phones, the same dialplan around it): {}, and {} by ClusterDial dialling node1's phones only (FROM_CLUSTER=1): {}; taking turns.",
            ms(f.nowhere.setup_ms),
            3 * COST_SETUPS,
            ms(f.local_only_ms),
            ratio(f.nowhere.setup_ms, f.local_only_ms),
            ms(f.local_clusterdial_ms),
            ratio(f.nowhere.setup_ms, f.local_clusterdial_ms)
        );
        println!(
            "{size} nodes, locate: one REGISTER caused {:.0} PUBLISH requests ({:.0} bytes); node1 knew it {} after the registration (median of 5).",
            f.publishes,
            f.publish_bytes,
            ms(f.known_after_ms)
        );
        println!(
            "{size} nodes, locate: one answered call to that phone caused {:.0} PUBLISH requests ({:.0} bytes).",
            f.call_publishes, f.call_publish_bytes
        );
        println!(
            "{size} nodes, locate: CPU of a call to the phone on node{size} / on node2: {}.",
            ratio(f.far.cpu_ms, f.near.cpu_ms)
        );
    }
}

fn main() {
    let only = std::env::var("RES_CLUSTER_BENCH_ONLY").unwrap_or_default();
    let pairs = (only.is_empty() || only == "pairs").then(measure_pairs);
    let clusters = (only.is_empty() || only == "cluster").then(|| {
        let mut out = Vec::new();
        for size in [3u8, 5] {
            for mode in [Mode::Sequential, Mode::Parallel, Mode::Locate] {
                out.push((size, mode, measure_cluster(size, mode)));
            }
        }
        out
    });
    let death = (only.is_empty() || only == "death").then(measure_death);
    let counts = (only.is_empty() || only == "count").then(measure_counts);
    println!("\nres_cluster benchmark: {}\n", machine());
    if let Some(f) = pairs {
        print_pairs(&f);
    }
    if let Some(figures) = clusters {
        print_clusters(&figures);
    }
    if let Some(f) = death {
        print_death(&f);
    }
    if let Some(f) = counts {
        print_counts(&f);
    }
}

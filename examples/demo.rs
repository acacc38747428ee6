//! `make demo`: three Asterisk nodes on loopback with `locate = devstate`,
//! SIPp phones registered to one or another, and real calls placed through
//! ClusterDial on node1; for each call, the INVITEs that crossed between
//! nodes.

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::time::Duration;

use harness::*;

struct Row {
    scenario: &'static str,
    report: CallReport,
    status: String,
    crossed: usize,
    seen: String,
}

/// INVITEs sent from one node to another so far (each leg Dial placed to
/// a peer's endpoint is one).
fn crossed(nodes: &[Node]) -> usize {
    nodes.iter().map(|n| n.log().lines().filter(|l| l.contains("app_dial.c: Called PJSIP/") && l.contains("@cluster-node")).count()).sum()
}

/// Waits until node1 sees `peer` report `exten` present or absent.
fn wait_seen(node1: &Node, exten: &str, peer: &str, present: bool) {
    poll(Duration::from_secs(10), Duration::from_millis(50), || node1.cli(&format!("cluster show locations {exten}")), |out| {
        out.lines().any(|l| l.starts_with(peer) && l.contains(" UP ") && (l.contains("NOT_INUSE") == present))
    });
}

fn main() {
    let net = Net::allocate();
    println!(
        "Starting node1 ({}), node2 ({}) and node3 ({}) from the Asterisk sandbox, locate = devstate ...",
        net.node(1),
        net.node(2),
        net.node(3)
    );
    let nodes = cluster(&net, 3, |s| s.locate = true);
    let phone101 = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);
    let phone102 = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    let phone103 = Phone::register(&net, &nodes[2], "103", Behaviour::Answer);
    for (exten, peer) in [("102", "node2"), ("103", "node3")] {
        wait_seen(&nodes[0], exten, peer, true);
    }
    println!("Phones 101, 102, 103 registered on node1, node2, node3; 105 nowhere. Caller 200 calls node1.\n");

    let mut rows = Vec::new();
    let mut place = |nodes: &[Node], scenario: &'static str, exten: &str, phone: Option<&Phone>| {
        let node1 = &nodes[0];
        let (before, invites) = (node1.results().len(), crossed(nodes));
        let report = call(&net, node1, exten, &CallOptions::default());
        let status = node1
            .wait_results(before + 1, Duration::from_secs(5))
            .get(before)
            .map(|r| format!("CLUSTERSTATUS={} CLUSTERNODE={}", r.cluster, r.node))
            .unwrap_or_else(|| "(no result logged)".into());
        settle();
        let seen = phone.and_then(|p| p.caller_numbers().last().cloned()).unwrap_or_else(|| "-".into());
        rows.push(Row { scenario, report, status, crossed: crossed(nodes) - invites, seen });
    };

    place(&nodes, "phone on this node", "101", Some(&phone101));
    place(&nodes, "phone on node2", "102", Some(&phone102));
    place(&nodes, "phone on node3", "103", Some(&phone103));
    place(&nodes, "number registered nowhere", "105", None);
    phone103.move_to(&nodes[2], &nodes[1]);
    wait_seen(&nodes[0], "103", "node2", true);
    place(&nodes, "phone 103 moved to node2", "103", Some(&phone103));
    nodes[1].signal(libc::SIGSTOP);
    place(&nodes, "node2 hung, its phone (1st call)", "102", None);
    place(&nodes, "node2 hung, its phone (2nd call)", "102", None);
    nodes[1].signal(libc::SIGCONT);

    println!("{:<34} {:<6} {:<38} {:>10} {:>8}  caller number the phone saw", "scenario", "SIP", "result on node1", "setup", "INVITEs");
    println!("{}", "-".repeat(126));
    for r in &rows {
        let code = r.report.final_code.map_or("-".into(), |c| c.to_string());
        let setup = r.report.setup_ms.map_or("-".into(), |ms| format!("{ms:.0} ms"));
        println!("{:<34} {:<6} {:<38} {:>10} {:>8}  {}", r.scenario, code, r.status, setup, r.crossed, r.seen);
    }
    println!("\n(INVITEs: sent from one node to another for that call.)");
    println!("\nnode1 `cluster show locations 102`:\n{}", nodes[0].cli("cluster show locations 102"));
    println!("node1 `cluster show peers`:\n{}", nodes[0].cli("cluster show peers"));
    println!("node1 `cluster show status`:\n{}", nodes[0].cli("cluster show status"));
}

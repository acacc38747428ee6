//! `make demo`: two Asterisk nodes on loopback, SIPp phones registered to one
//! or the other, and real calls placed through ClusterDial on node1.

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::time::Duration;

use harness::*;

struct Row {
    scenario: &'static str,
    report: CallReport,
    status: String,
    seen: String,
}

fn main() {
    let net = Net::allocate();
    println!("Starting node1 ({}) and node2 ({}) from the Asterisk sandbox ...", net.node(1), net.node(2));
    let nodes = cluster(&net, 2, |_| {});
    let (node1, node2) = (&nodes[0], &nodes[1]);
    let phone101 = Phone::register(&net, node1, "101", Behaviour::Answer);
    let phone102 = Phone::register(&net, node2, "102", Behaviour::Answer);
    println!("Phone 101 registered on node1, phone 102 on node2, 103 nowhere. Caller 200 calls node1.\n");

    let mut rows = Vec::new();
    let mut place = |scenario: &'static str, exten: &str, phone: Option<&Phone>| {
        let before = node1.results().len();
        let report = call(&net, node1, exten, &CallOptions::default());
        let status = node1
            .wait_results(before + 1, Duration::from_secs(5))
            .get(before)
            .map(|r| format!("CLUSTERSTATUS={} CLUSTERNODE={}", r.cluster, r.node))
            .unwrap_or_else(|| "(no result logged)".into());
        let seen = phone.and_then(|p| p.caller_numbers().last().cloned()).unwrap_or_else(|| "-".into());
        rows.push(Row { scenario, report, status, seen });
    };

    place("phone on this node", "101", Some(&phone101));
    place("phone on the peer", "102", Some(&phone102));
    place("phone nowhere", "103", None);
    node2.signal(libc::SIGSTOP);
    place("peer hung, phone nowhere (1st call)", "103", None);
    place("peer hung, phone nowhere (2nd call)", "103", None);
    node2.signal(libc::SIGCONT);

    println!("{:<38} {:<6} {:<38} {:>10}  caller number the phone saw", "scenario", "SIP", "result on node1", "setup");
    println!("{}", "-".repeat(120));
    for r in &rows {
        let code = r.report.final_code.map_or("-".into(), |c| c.to_string());
        let setup = r.report.setup_ms.map_or("-".into(), |ms| format!("{ms:.0} ms"));
        println!("{:<38} {:<6} {:<38} {:>10}  {}", r.scenario, code, r.status, setup, r.seen);
    }
    println!("\nnode1 `cluster show peers`:\n{}", node1.cli("cluster show peers"));
    println!("node1 `cluster show status`:\n{}", node1.cli("cluster show status"));
}

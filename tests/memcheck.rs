//! Memory safety of the FFI layer, checked where it runs: a node with the
//! module under valgrind's memcheck takes calls of every kind, reloads,
//! unloads and loads again, and stops. No error, and no definite leak, may
//! have a res_cluster frame in its stack; and no lost memory may come in as
//! many blocks as calls of one kind were made (a reference or a string the
//! module failed to give back on each call is allocated by Asterisk, so its
//! stack need not name res_cluster).

mod harness;

use std::time::Duration;

use harness::*;

/// valgrind's error and leak records, as blocks of lines.
fn records(log: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in log.lines() {
        let body = line.split_once("== ").map(|(_, b)| b).unwrap_or("");
        if body.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push_str(body);
            current.push('\n');
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn is_problem(record: &str) -> bool {
    let head = record.lines().next().unwrap_or("");
    ["Invalid read", "Invalid write", "Invalid free", "Mismatched free", "uninitialised", "Syscall param", "definitely lost", "Source and destination overlap"]
        .iter()
        .any(|k| head.contains(k))
}

fn ours(record: &str) -> bool {
    record.contains("res_cluster")
}

const CALLS_OF_EACH_KIND: usize = 5;

/// For "N bytes in K blocks are definitely (or indirectly) lost": K.
fn lost_blocks(record: &str) -> usize {
    let head = record.lines().next().unwrap_or("");
    if !(head.contains("definitely lost") || head.contains("indirectly lost")) {
        return 0;
    }
    head.split(" in ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.replace(',', "").parse().ok())
        .unwrap_or(0)
}

#[test]
fn the_module_under_memcheck_makes_no_error_and_leaks_nothing() {
    let net = Net::allocate();
    let mut spec1 = NodeSpec::new(1, &[2]);
    spec1.valgrind = true;
    spec1.quiet_log = true;
    let mut node1 = Node::start(&net, &spec1);
    let node2 = Node::start(&net, &NodeSpec::new(2, &[1]));
    let _here = Phone::register(&net, &node1, "101", Behaviour::Answer);
    let _there = Phone::register(&net, &node2, "102", Behaviour::Answer);

    let slow = CallOptions { timeout_s: 60, ..CallOptions::default() };
    let bad = CallOptions { extra_header: "X-Target: 1&2".into(), ..CallOptions { timeout_s: 60, ..CallOptions::default() } };
    for _ in 0..CALLS_OF_EACH_KIND {
        assert!(call(&net, &node1, "101", &slow).answered(), "local answer");
        assert!(call(&net, &node1, "102", &slow).answered(), "answered by the peer");
        assert!(!call(&net, &node1, "103", &slow).answered(), "nowhere");
        call(&net, &node1, "inject", &bad);
        // A call from the peer, which ClusterDial ends itself.
        assert!(!call(&net, &node2, "103", &slow).answered());
    }
    node1.cli("cluster show status");
    node1.cli("cluster show peers");
    node1.cli("module reload res_cluster.so");
    for _ in 0..3 {
        node1.cli("module unload res_cluster.so");
        node1.cli("module load res_cluster.so");
    }
    assert!(call(&net, &node1, "102", &slow).answered(), "after the reloads");
    assert!(node1.stop(Duration::from_secs(120)), "Asterisk stopped under valgrind");

    let log = node1.file("valgrind.log");
    assert!(log.contains("LEAK SUMMARY") || log.contains("All heap blocks were freed"), "valgrind finished its report:\n{log}");
    let problems: Vec<String> = records(&log).into_iter().filter(|r| is_problem(r) && ours(r)).collect();
    assert!(problems.is_empty(), "memcheck found res_cluster in:\n{}", problems.join("\n"));
    let per_call: Vec<String> = records(&log).into_iter().filter(|r| lost_blocks(r) >= CALLS_OF_EACH_KIND).collect();
    assert!(per_call.is_empty(), "memory lost once per call:\n{}", per_call.join("\n"));
}

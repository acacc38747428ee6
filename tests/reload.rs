//! `module reload res_cluster.so` while calls are up.

mod harness;

use std::time::Duration;

use harness::*;

fn config_with_prefix(peer: u8, prefix: &str) -> String {
    format!("[general]\ncallerid_prefix = {prefix}\n\n[node{peer}]\ntype = peer\ndial = PJSIP/${{EXTEN}}@cluster-node{peer}\n")
}

#[test]
fn a_reload_changes_new_calls_and_leaves_calls_in_progress_alone() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |_| {});
    let phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);

    std::thread::scope(|s| {
        // A forwarded call that stays up for three seconds.
        let long = s.spawn(|| {
            let opts = CallOptions { hold_ms: 3_000, caller_slot: 1, caller: "201".into(), ..CallOptions::default() };
            call(&net, &nodes[0], "102", &opts)
        });
        // Up once node2's phone has it: both ClusterDials run with the old prefix.
        let rung = poll(10 * SECOND, Duration::from_millis(25), || phone.invites().len(), |&n| n >= 1);
        assert_eq!(rung, 1, "the long call reached the phone on node2");

        for (node, peer) in [(&nodes[0], 2), (&nodes[1], 1)] {
            node.write_config("res_cluster.conf", &config_with_prefix(peer, "7777"));
            let out = node.cli("module reload res_cluster.so");
            assert!(out.contains("reloaded"), "{out}");
        }
        let during = call(&net, &nodes[0], "102", &CallOptions::default());
        assert!(during.answered(), "a new call during the long one: {during:?}");

        let long = long.join().expect("long call");
        assert!(long.answered() && long.completed, "the call up during the reload ended normally: {long:?}");
    });

    let there = nodes[1].wait_results(2, 5 * SECOND);
    let by_caller = |c: &str| there.iter().find(|r| r.cid == c).cloned().expect("a record per caller");
    assert_eq!(by_caller("200").raw, "7777200", "the new call used the new prefix");
    assert_eq!(by_caller("201").raw, "9999201", "the call in progress kept the old one");
    assert_eq!(phone.caller_numbers().len(), 2);

    // A broken file is refused; the running configuration goes on working.
    nodes[0].write_config("res_cluster.conf", "[general]\nstrategy = sometimes\n");
    nodes[0].cli("module reload res_cluster.so");
    assert!(nodes[0].wait_log("res_cluster.conf line 2: [general] strategy: 'sometimes' is not a strategy", 5 * SECOND));
    let after = call(&net, &nodes[0], "102", &CallOptions::default());
    assert!(after.answered(), "{after:?}");
    let there = nodes[1].wait_results(3, 5 * SECOND);
    assert_eq!(there[2].raw, "7777200", "still the configuration that was in force");
    assert!(nodes[0].cli("cluster show status").contains("Peers:               1"));
}

#[test]
fn a_broken_file_is_refused_at_every_reload_until_it_is_fixed() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |_| {});
    nodes[0].write_config("res_cluster.conf", "[general]\nstrategy = sometimes\n");
    for attempt in 1..=3 {
        let out = nodes[0].cli("module reload res_cluster.so");
        assert!(out.contains("reported a reload failure"), "reload {attempt} of the same broken file: {out}");
        let refusals = nodes[0].wait_log_count("'sometimes' is not a strategy", attempt, 5 * SECOND);
        assert_eq!(refusals, attempt, "each reload read the file again and refused it");
    }
    nodes[0].write_config("res_cluster.conf", &config_with_prefix(2, "7777"));
    let out = nodes[0].cli("module reload res_cluster.so");
    assert!(!out.contains("failure"), "{out}");
    assert!(nodes[0].wait_log("res_cluster reloaded", 5 * SECOND));
    let out = nodes[0].cli("module reload res_cluster.so");
    assert!(!out.contains("failure"), "an unchanged good file is no failure: {out}");
}

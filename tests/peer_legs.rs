//! How peer legs are marked on an Asterisk that lacks what the fast way
//! needs: the calls still cross, and nothing is logged call after call.

mod harness;

use harness::*;

#[test]
fn without_the_header_functions_calls_cross_and_the_log_stays_quiet() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |s| {
        if s.index == 1 {
            s.without_modules = vec!["res_pjsip_header_funcs.so"];
        }
    });
    let _phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);

    for _ in 0..3 {
        assert!(call(&net, &nodes[0], "102", &CallOptions::default()).answered());
    }

    let here = nodes[0].wait_results(3, 5 * SECOND);
    assert!(here.iter().all(|r| r.cluster == "ANSWER" && r.node == "node2"), "{here:?}");
    let there = nodes[1].wait_results(3, 5 * SECOND);
    assert!(there.iter().all(|r| r.raw == "9999200" && r.cid == "200"), "the prefix still travels: {there:?}");
    let log = nodes[0].log();
    let told = log.matches("peer legs are marked by a pre-dial handler, without the hop header").count();
    assert_eq!(told, 1, "said once, not per call:\n{log}");
    let complaints: Vec<&str> = log
        .lines()
        .filter(|l| (l.contains(" ERROR[") || l.contains(" WARNING[")) && (l.contains("PJSIP_") || l.contains("X-Cluster-Hop") || l.contains("ClusterMarkLeg")))
        .collect();
    assert!(complaints.is_empty(), "nothing logged per forwarded call: {complaints:#?}");
}

//! Metrics where operators watch clusters: res_cluster's figures on
//! res_prometheus's `/metrics`, scraped over HTTP from a real node; and the
//! module working the same without res_prometheus, or with it disabled.

mod harness;

use std::time::Duration;

use harness::*;

/// The value of the series whose line starts with `series` (name and labels
/// up to the closing brace), when there is one.
fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

fn scrape(node: &Node) -> String {
    let (code, body) = node.http_get("/metrics").expect("res_prometheus answers on the node's address");
    assert_eq!(code, 200, "{body}");
    body
}

fn series(name: &str, labels: &str) -> String {
    format!("{name}{{eid=\"02:00:00:00:00:01\",node=\"node1\",{labels}}}")
}

#[test]
fn metrics_follow_calls_peer_state_reload_and_unload() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |s| {
        if s.index == 1 {
            s.prometheus = Some(true);
        }
    });
    let _here = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);
    let _there = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    let calls = |outcome: &str| series("asterisk_cluster_calls_total", &format!("outcome=\"{outcome}\""));
    let peer = |name: &str| series(name, "peer=\"node2\"");

    let m = scrape(&nodes[0]);
    for family in ["calls_total", "forwarded_total", "forward_failures_total", "peer_up", "peer_state_changes_total"] {
        assert_eq!(m.matches(&format!("# TYPE asterisk_cluster_{family} ")).count(), 1, "{family} in\n{m}");
    }
    assert_eq!(value(&m, &calls("answered_here")), Some(0.0));
    assert_eq!(value(&m, &peer("asterisk_cluster_peer_up")), Some(1.0), "the peer's endpoint is reachable at load");

    for exten in ["101", "102", "103"] {
        call(&net, &nodes[0], exten, &CallOptions::default());
    }
    let bad = CallOptions { extra_header: "X-Target: 1&2".into(), ..CallOptions::default() };
    call(&net, &nodes[0], "inject", &bad);
    nodes[0].wait_results(4, 5 * SECOND);
    let m = scrape(&nodes[0]);
    for (outcome, n) in [("answered_here", 1.0), ("answered_by_peer", 1.0), ("chanunavail", 1.0), ("invalid_arguments", 1.0), ("busy", 0.0)] {
        assert_eq!(value(&m, &calls(outcome)), Some(n), "{outcome} in\n{m}");
    }
    assert_eq!(value(&m, &peer("asterisk_cluster_forwarded_total")), Some(2.0), "102 and 103 were sent to node2");
    let n2 = scrape_value_loop_refused(&nodes[1]);
    assert_eq!(n2, None, "node2 has no res_prometheus");

    // The peer hangs: a call finds it silent, and it goes down.
    nodes[1].signal(libc::SIGSTOP);
    call(&net, &nodes[0], "102", &CallOptions::default());
    let m = poll(5 * SECOND, Duration::from_millis(100), || scrape(&nodes[0]), |m| value(m, &peer("asterisk_cluster_peer_up")) == Some(0.0));
    assert_eq!(value(&m, &peer("asterisk_cluster_peer_up")), Some(0.0), "{m}");
    assert_eq!(value(&m, &peer("asterisk_cluster_peer_down")), Some(1.0), "the alert rule's gauge: {m}");
    assert_eq!(value(&m, &series("asterisk_cluster_forward_failures_total", "peer=\"node2\",reason=\"silent\"")), Some(1.0));
    let changes = value(&m, &peer("asterisk_cluster_peer_state_changes_total")).unwrap_or(0.0);
    assert!(changes >= 2.0, "UNKNOWN to UP at load, UP to DOWN now: {changes}");
    nodes[1].signal(libc::SIGCONT);

    // A reload keeps one callback, and the counts.
    assert!(!nodes[0].cli("module reload res_cluster.so").contains("failure"));
    let m = scrape(&nodes[0]);
    assert_eq!(m.matches("# TYPE asterisk_cluster_calls_total ").count(), 1, "one callback after a reload:\n{m}");
    assert_eq!(value(&m, &calls("answered_here")), Some(1.0));

    // Unloaded: nothing of res_cluster is left on /metrics.
    assert!(nodes[0].cli("module unload res_cluster.so").contains("Unloaded"));
    let m = scrape(&nodes[0]);
    assert!(!m.contains("asterisk_cluster_"), "{m}");
    assert!(m.contains("asterisk_"), "res_prometheus still serves Asterisk's own");
    assert!(nodes[0].cli("module load res_cluster.so").contains("Loaded"));
    let m = scrape(&nodes[0]);
    assert_eq!(m.matches("# TYPE asterisk_cluster_calls_total ").count(), 1);
    assert_eq!(value(&m, &calls("answered_here")), Some(0.0), "counted from the new load");
}

/// A node without res_prometheus serves no /metrics at all.
fn scrape_value_loop_refused(node: &Node) -> Option<f64> {
    let (_, body) = node.http_get("/metrics")?;
    value(&body, "asterisk_cluster_calls_total")
}

#[test]
fn without_res_prometheus_or_with_it_disabled_the_module_works_the_same() {
    for prometheus in [None, Some(false)] {
        let net = Net::allocate();
        let nodes = cluster(&net, 2, |s| s.prometheus = prometheus);
        let _there = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
        assert!(nodes[0].module_running(), "{prometheus:?}");
        assert!(call(&net, &nodes[0], "102", &CallOptions::default()).answered(), "{prometheus:?}");
        let r = nodes[0].wait_results(1, 5 * SECOND);
        assert_eq!(r[0].node, "node2");
        assert!(nodes[0].http_get("/metrics").is_none(), "no HTTP server: {prometheus:?}");
        let said = if prometheus.is_none() {
            nodes[0].wait_log("res_prometheus is not running", 5 * SECOND)
        } else {
            nodes[0].log().contains("res_prometheus is not running")
        };
        assert_eq!(said, prometheus.is_none(), "{prometheus:?}");
        assert!(nodes[0].cli("module unload res_cluster.so").contains("Unloaded"));
        assert!(nodes[0].cli("module load res_cluster.so").contains("Loaded"));
    }
}

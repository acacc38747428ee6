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

#[test]
fn without_app_stack_a_marking_that_needs_it_is_refused_by_name_and_the_fast_one_runs() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |s| {
        s.without_modules = vec!["app_stack.so"];
        if s.index == 1 {
            s.general = "peer_leg_marking = predial".into();
        }
    });
    let _phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    let refused = "peer_leg_marking = predial; that handler runs only with app_stack (Gosub), which is not loaded: load app_stack.so";
    assert!(nodes[0].wait_log(refused, 5 * SECOND), "{}", nodes[0].log());
    assert!(nodes[0].log().lines().any(|l| l.contains(" ERROR[") && l.contains(refused)));
    assert!(!nodes[0].module_running(), "declined at load: {}", nodes[0].cli("module show like res_cluster"));

    // Without the pre-dial handler the fast marking still works; a WARNING
    // says what app_stack's absence costs.
    nodes[0].write_config("res_cluster.conf", "[general]\n\n[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node2\n");
    assert!(nodes[0].cli("module load res_cluster.so").contains("Loaded res_cluster.so"));
    assert!(nodes[0].wait_log("app_stack is not loaded, so a caller number Dial's f() cannot carry goes to peers without the prefix", 5 * SECOND), "{}", nodes[0].log());
    assert!(call(&net, &nodes[0], "102", &CallOptions::default()).answered());
    let there = nodes[1].wait_results(1, 5 * SECOND);
    assert_eq!((there[0].raw.as_str(), there[0].cid.as_str()), ("9999200", "200"), "prefixed and stripped as ever");

    // A reload asking for the handler again is refused; the running
    // configuration stays.
    nodes[0].write_config("res_cluster.conf", "[general]\npeer_leg_marking = predial\n\n[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node2\n");
    nodes[0].cli("module reload res_cluster.so");
    assert_eq!(nodes[0].wait_log_count(refused, 2, 5 * SECOND), 2, "{}", nodes[0].log());
    let status = nodes[0].cli("cluster show status");
    assert!(status.contains("Dial options and an inherited header"), "{status}");
}

/// The marking's sentence is worked out only when what it depends on
/// changed: a reload that changes the marking is still told, once, and so
/// is the change back.
#[test]
fn a_reload_that_changes_the_marking_is_told_once_each_way() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |_| {});
    let _phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    let fast = "peer legs are marked by Dial options and an inherited header (PJSIP_INHERITABLE_HEADER)";
    let handler = "peer legs are marked by a pre-dial handler";
    let conf = |marking: &str| format!("[general]\npeer_leg_marking = {marking}\n\n[node2]\ntype = peer\ndial = PJSIP/${{EXTEN}}@cluster-node2\n");
    let calls = |n: usize| {
        for _ in 0..n {
            assert!(call(&net, &nodes[0], "102", &CallOptions::default()).answered());
        }
    };
    calls(2);
    for (marking, told, fast_count, handler_count) in [("predial", handler, 1, 1), ("auto", fast, 2, 1)] {
        nodes[0].write_config("res_cluster.conf", &conf(marking));
        nodes[0].cli("module reload res_cluster.so");
        calls(2);
        assert!(nodes[0].wait_log(told, 5 * SECOND), "{marking}: {}", nodes[0].log());
        let log = nodes[0].log();
        assert_eq!((log.matches(fast).count(), log.matches(handler).count()), (fast_count, handler_count), "{marking}: told once per change:\n{log}");
    }
}

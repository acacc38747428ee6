//! The module's own life while calls run through it: unload is refused
//! while calls are inside ClusterDial, and reloads never fail a call.

mod harness;

use std::time::Duration;

use harness::*;

/// Two calls through `node`, to 101 on it and to 102 on its peer, held for
/// `hold_ms` once answered; returned once both phones have rung, that is,
/// while both calls are inside ClusterDial.
fn two_calls_inside<'s, 'e: 's>(
    s: &'s std::thread::Scope<'s, 'e>,
    net: &'e Net,
    node: &'e Node,
    phones: (&Phone, &Phone),
    hold_ms: u32,
) -> Vec<std::thread::ScopedJoinHandle<'s, CallReport>> {
    let calls = [("101", 0u8), ("102", 1u8)]
        .into_iter()
        .map(|(exten, slot)| {
            s.spawn(move || {
                let caller = if slot == 0 { "200" } else { "201" };
                call(net, node, exten, &CallOptions { hold_ms, caller_slot: slot, caller: caller.into(), ..CallOptions::default() })
            })
        })
        .collect();
    let rung = poll(10 * SECOND, Duration::from_millis(25), || (phones.0.invites().len(), phones.1.invites().len()), |&(a, b)| a >= 1 && b >= 1);
    assert_eq!(rung, (1, 1), "both calls reached their phones, inside ClusterDial");
    calls
}

#[test]
fn unload_is_refused_while_calls_are_inside_clusterdial() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |_| {});
    let here = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);
    let there = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);

    std::thread::scope(|s| {
        let calls = two_calls_inside(s, &net, &nodes[0], (&here, &there), 3_000);

        let out = nodes[0].cli("module unload res_cluster.so");
        assert!(!out.contains("Unloaded res_cluster.so"), "{out}");
        assert!(nodes[0].module_running(), "still loaded: {out}");
        assert!(nodes[0].wait_log("use count", 5 * SECOND), "{}", nodes[0].log());
        assert!(nodes[0].log().lines().any(|l| l.contains("res_cluster.so") && l.contains("use count")), "{}", nodes[0].log());

        for c in calls {
            let r = c.join().expect("call");
            assert!(r.answered() && r.completed, "the calls inside ClusterDial ended normally: {r:?}");
        }
    });
    let mut node = nodes.into_iter().next().expect("node1");
    assert!(node.running());
    let out = node.cli("module unload res_cluster.so");
    assert!(out.contains("Unloaded res_cluster.so"), "idle again, it unloads: {out}");
    assert!(node.running());
}

#[test]
fn a_hundred_reloads_under_load_fail_no_call() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |_| {});
    let _here = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);
    let _there = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    const SECONDS: u32 = 12;
    const RATE: u32 = 10;

    let reports = std::thread::scope(|s| {
        let loads: Vec<_> = [("101", 2u8), ("102", 3u8)]
            .into_iter()
            .map(|(exten, slot)| {
                let (net, node) = (&net, &nodes[0]);
                s.spawn(move || load_from(net, slot, node, exten, RATE, RATE * SECONDS, 300))
            })
            .collect();
        for i in 0..100 {
            // A real change each time, so every reload re-reads and swaps.
            nodes[0].write_config(
                "res_cluster.conf",
                &format!("[general]\nring_timeout = {}\n\n[node2]\ntype = peer\ndial = PJSIP/${{EXTEN}}@cluster-node2\n", 20 + i % 2),
            );
            let out = nodes[0].cli("module reload res_cluster.so");
            assert!(out.contains("reloaded"), "reload {i}: {out}");
            std::thread::sleep(Duration::from_millis(80));
        }
        loads.into_iter().map(|h| h.join().expect("load")).collect::<Vec<_>>()
    });

    for r in &reports {
        assert_eq!((r.failed, r.successful), (0, u64::from(RATE * SECONDS)), "{r:?}");
    }
    let results = nodes[0].wait_results(2 * (RATE * SECONDS) as usize, 10 * SECOND);
    let not_answered: Vec<&CallRecord> = results.iter().filter(|r| r.cluster != "ANSWER").collect();
    assert!(not_answered.is_empty(), "{not_answered:?}");
    assert_eq!(results.len(), 2 * (RATE * SECONDS) as usize);
    assert!(nodes[0].module_running());
    assert!(nodes[0].wait_log_count("res_cluster reloaded", 100, 5 * SECOND) >= 100);
}

#[test]
fn a_forced_unload_hangs_up_the_calls_inside_clusterdial_and_waits_for_them_to_leave() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |_| {});
    let here = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);
    let there = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);

    std::thread::scope(|s| {
        let calls = two_calls_inside(s, &net, &nodes[0], (&here, &there), 20_000);

        let out = nodes[0].cli("module unload -f res_cluster.so");

        assert!(out.contains("Unloaded res_cluster.so"), "{out}\n{}", nodes[0].log());
        for c in calls {
            let r = c.join().expect("call");
            assert!(r.answered(), "{r:?}");
        }
    });
    let mut node = nodes.into_iter().next().expect("node1");
    assert!(node.running(), "the calls left the module's code before it went:\n{}", node.console());
    assert!(node.cli("module load res_cluster.so").contains("Loaded res_cluster.so"));
    let _there = there;
}

#[test]
fn unload_while_probes_are_in_flight_waits_for_them() {
    let net = Net::allocate();
    let nodes = cluster(&net, 2, |_| {});
    let _phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    nodes[1].signal(libc::SIGSTOP);
    let node = &nodes[0];
    for i in 0..6 {
        // A silent call puts node2 down; from then on it is probed about
        // once a second, each probe waiting up to a second for its answer.
        let before = node.log().matches("probing peer node2").count();
        call(&net, node, "102", &CallOptions::default());
        let probes = node.wait_log_count("probing peer node2", before + 1, 5 * SECOND);
        assert!(probes > before, "cycle {i}: no probe\n{}", node.log());

        let out = node.cli("module unload res_cluster.so");

        assert!(out.contains("Unloaded res_cluster.so"), "cycle {i}: {out}\n{}", node.log());
        assert!(node.cli("module load res_cluster.so").contains("Loaded res_cluster.so"), "cycle {i}");
    }
    nodes[1].signal(libc::SIGCONT);
    let mut node = nodes.into_iter().next().expect("node1");
    assert!(node.running(), "{}", node.console());
}

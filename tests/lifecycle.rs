//! The module's life inside one real Asterisk process: load, show, unload,
//! reload, many cycles, and panics that must never take Asterisk down.

mod harness;

use harness::*;
use harness::sandbox;

fn node_without_module(net: &Net, fault_injection: bool, env: &[(&str, &str)]) -> Node {
    let mut spec = NodeSpec::new(1, &[]);
    spec.load_module = false;
    spec.fault_injection = fault_injection;
    spec.env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    spec.dialplan = "exten => panic,1,Set(CD_EXTEN=panic)\n same => n,ClusterDial(panic)\n".into();
    Node::start(net, &spec)
}

fn app_registered(node: &Node) -> bool {
    node.cli("core show applications like ClusterDial").contains("ClusterDial:")
}

#[test]
fn load_show_unload_reload() {
    let net = Net::allocate();
    let node = node_without_module(&net, false, &[]);
    assert!(!app_registered(&node));

    let out = node.cli("module load res_cluster.so");
    assert!(out.contains("Loaded res_cluster.so"), "{out}");
    assert!(!node.log().contains("buildopt"), "no build-option complaint:\n{}", node.log());
    assert!(node.module_running(), "{}", node.cli("module show like res_cluster"));
    assert!(app_registered(&node));

    let out = node.cli("module reload res_cluster.so");
    assert!(out.contains("reloaded successfully") || out.contains("Module 'res_cluster.so' reloaded"), "{out}");
    assert!(app_registered(&node));

    let out = node.cli("module unload res_cluster.so");
    assert!(out.contains("Unloaded res_cluster.so"), "{out}");
    assert!(!app_registered(&node));
    assert!(!node.module_running());
    assert!(!node.cli("dialplan show res_cluster-peer-leg").contains("Set("), "the module's context goes with it");
    assert!(!node.cli("core show help cluster").contains("cluster show status"), "and its CLI commands");
}

#[test]
fn a_hundred_unload_load_cycles_leak_no_descriptor_or_thread() {
    let net = Net::allocate();
    let mut node = node_without_module(&net, false, &[]);
    for _ in 0..3 {
        node.cli("module load res_cluster.so");
        node.cli("module unload res_cluster.so");
    }
    // Counted with no remote console at work: each `cli` call is one, and
    // Asterisk closes its socket and ends its thread a moment after.
    let before = node.fds_and_threads_quiet();
    for i in 0..100 {
        let out = node.cli("module load res_cluster.so");
        assert!(out.contains("Loaded res_cluster.so"), "cycle {i}: {out}");
        let out = node.cli("module unload res_cluster.so");
        assert!(out.contains("Unloaded res_cluster.so"), "cycle {i}: {out}");
    }
    let after = node.fds_and_threads_settled(before, 10 * SECOND);
    assert!(node.running(), "Asterisk survived:\n{}", node.console());
    assert!(after.0 <= before.0, "open descriptors grew from {} to {}", before.0, after.0);
    assert!(after.1 <= before.1, "threads grew from {} to {}", before.1, after.1);
    node.cli("module load res_cluster.so");
    assert!(app_registered(&node), "still loads after the cycles");
}

#[test]
fn a_panic_in_load_declines_the_module_and_asterisk_goes_on() {
    let net = Net::allocate();
    let mut node = node_without_module(&net, true, &[("RES_CLUSTER_PANIC_ON_LOAD", "1")]);
    let out = node.cli("module load res_cluster.so");
    assert!(!out.contains("Loaded res_cluster.so"), "{out}");
    assert!(node.wait_log("internal error in res_cluster load: fault injection: panic in load", 5 * SECOND), "{}", node.log());
    let log = node.log();
    assert!(
        log.lines().any(|l| l.contains("ERROR") && l.contains("internal error in res_cluster load: fault injection: panic in load")),
        "{log}"
    );
    assert!(!app_registered(&node));
    assert!(node.running());
    assert!(node.cli("core show version").contains("Asterisk"));
}

#[test]
fn a_panic_in_clusterdial_fails_that_call_only() {
    let net = Net::allocate();
    let mut node = node_without_module(&net, true, &[]);
    assert!(node.cli("module load res_cluster.so").contains("Loaded"));
    let _phone = Phone::register(&net, &node, "101", Behaviour::Answer);

    let report = call(&net, &node, "panic", &CallOptions::default());
    assert!(!report.answered());
    assert!(report.final_code.is_some(), "the caller got a failure, not silence: {report:?}");
    assert!(node.wait_log("internal error in ClusterDial", 5 * SECOND));
    assert!(node
        .log()
        .lines()
        .any(|l| l.contains("ERROR") && l.contains("internal error in ClusterDial: fault injection: panic in ClusterDial")));
    assert!(node.running(), "Asterisk is still up:\n{}", node.console());

    let report = call(&net, &node, "101", &CallOptions::default());
    assert!(report.answered(), "the next call works: {report:?}");
}

#[test]
fn a_cli_command_that_cannot_register_takes_the_others_with_it() {
    // The fault-injection build adds a second `cluster show status` to the
    // table: the first two commands register, the third fails.
    let net = Net::allocate();
    let mut node = node_without_module(&net, true, &[("RES_CLUSTER_CLI_CLASH", "1")]);
    let out = node.cli("module load res_cluster.so");
    assert!(!out.contains("Loaded res_cluster.so"), "{out}");
    assert!(node.wait_log("could not register the CLI command 'cluster show status'", 5 * SECOND), "{}", node.log());
    let help = node.cli("core show help cluster");
    assert!(!help.contains("cluster show"), "no command of the declined module is left in the CLI: {help}");
    let completions = node.cli("_command matchesarray \"cluster show \" \"\"");
    assert!(!completions.contains("peers") && !completions.contains("status"), "{completions}");
    assert!(node.running(), "Asterisk is still up:\n{}", node.console());
}

#[test]
fn the_cli_says_so_when_no_configuration_is_in_force() {
    let net = Net::allocate();
    let node = node_without_module(&net, true, &[("RES_CLUSTER_CLI_WITHOUT_RUNTIME", "1")]);
    node.cli("module load res_cluster.so");
    let out = node.cli("cluster show status");
    assert!(out.contains("res_cluster has no configuration in force"), "{out}");
    assert!(!out.contains("Usage:"), "a failure, not the usage: {out}");
    assert!(node.cli("cluster show peers").contains("no configuration in force"));
}

#[test]
fn pjsip_modules_can_be_unloaded_while_res_cluster_is_loaded() {
    let net = Net::allocate();
    let node = node_without_module(&net, false, &[]);
    assert!(node.cli("module load res_cluster.so").contains("Loaded res_cluster.so"));
    for module in ["res_pjsip_header_funcs.so", "chan_pjsip.so"] {
        let out = node.cli(&format!("module unload {module}"));
        assert!(out.contains(&format!("Unloaded {module}")), "{module} is not held by res_cluster: {out}");
    }
    assert!(node.module_running(), "res_cluster goes on without them");
    for module in ["chan_pjsip.so", "res_pjsip_header_funcs.so"] {
        assert!(node.cli(&format!("module load {module}")).contains("Loaded"), "{module} loads again");
    }
}

#[test]
fn a_forced_unload_while_a_cluster_command_runs_is_refused_and_takes_nothing_down() {
    let net = Net::allocate();
    let node = node_without_module(&net, true, &[("RES_CLUSTER_CLI_SLEEP_MS", "3000")]);
    assert!(node.cli("module load res_cluster.so").contains("Loaded res_cluster.so"));

    std::thread::scope(|s| {
        let show = s.spawn(|| node.cli("cluster show status"));
        assert!(node.wait_log("fault injection: cluster show status sleeps", 5 * SECOND), "{}", node.log());
        // -f: Asterisk calls unload whatever the use count.
        let out = node.cli("module unload -f res_cluster.so");
        assert!(!out.contains("Unloaded res_cluster.so"), "{out}");
        assert!(node.wait_log("a cluster CLI command is running", 5 * SECOND), "{}", node.log());
        let shown = show.join().expect("cli");
        assert!(shown.contains("Node:"), "the command ran to its end: {shown}");
    });
    assert!(node.module_running(), "{}", node.cli("module show like res_cluster"));
    assert!(app_registered(&node), "the application is still there");
    assert!(node.cli("cluster show peers").contains("peer(s)"), "and the commands");
    let out = node.cli("module unload res_cluster.so");
    assert!(out.contains("Unloaded res_cluster.so"), "idle, it unloads: {out}");
}

#[test]
fn run_as_the_asterisk_user_as_debian_does_and_told_plainly_when_the_file_is_unreadable() {
    let net = Net::allocate();
    let mut spec = NodeSpec::new(1, &[2]);
    spec.run_as = Some("asterisk");
    let node = Node::start(&net, &spec);
    assert!(node.module_running(), "res_cluster.conf root:asterisk 0640 is read:\n{}", node.log());
    let (uid, _) = sandbox::sandbox().ids("asterisk");
    let status = std::fs::read_to_string(format!("/proc/{}/status", node.pid())).unwrap_or_default();
    let running = status.lines().find(|l| l.starts_with("Uid:")).unwrap_or_default().to_string();
    assert_eq!(running.split_whitespace().nth(2), Some(uid.to_string().as_str()), "its effective uid is asterisk's: {running}");

    // Readable by root alone: the module says so, not "not found".
    let conf = sandbox::sandbox().root.join(node.inside_path("etc/res_cluster.conf"));
    std::fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    assert!(node.cli("module unload res_cluster.so").contains("Unloaded"));
    let out = node.cli("module load res_cluster.so");
    assert!(!out.contains("Loaded res_cluster.so"), "{out}");
    assert!(node.wait_log("res_cluster.conf exists but Asterisk (running as uid", 5 * SECOND), "{}", node.log());
    assert!(node.log().contains("cannot read it; make it readable to that user (Debian: chown root:asterisk, chmod 0640)"));
}

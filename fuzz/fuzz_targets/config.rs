//! The configuration reader and checker: any text gives a configuration or
//! an error that names a file; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use res_cluster_core::config::{build, parse_text, Defaults};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let defaults = Defaults { system_name: "node1".into(), host_name: "host".into(), ..Defaults::default() };
    let raw = match parse_text("res_cluster.conf", text) {
        Ok(raw) => raw,
        Err(e) => {
            assert!(e.to_string().starts_with("res_cluster.conf"));
            return;
        }
    };
    match build(&raw, &defaults) {
        Ok(c) => {
            assert!(!c.node_name.is_empty());
            for (i, p) in c.peers.iter().enumerate() {
                assert_ne!(p.name, c.node_name);
                assert!(c.peers[..i].iter().all(|q| q.name != p.name && q.endpoint != p.endpoint));
                assert!(p.dial.render("101").contains("101"));
            }
        }
        Err(e) => assert!(e.to_string().starts_with("res_cluster.conf")),
    }
});

//! CLI: `cluster show status` and `cluster show peers`.

use std::ffi::CStr;

use res_cluster_core::report;

use crate::ast::cli::{entry, Command};
use crate::runtime::{now, Runtime};

pub struct ShowStatus;
pub struct ShowPeers;

impl Command for ShowStatus {
    const COMMAND: &'static CStr = c"cluster show status";
    const SUMMARY: &'static CStr = c"Show this cluster node and its call counters";
    const USAGE: &'static CStr = c"Usage: cluster show status\n       Shows this node's name, its strategy, the counts of calls\n       ClusterDial handled (answered here, forwarded, answered by a peer,\n       loops refused, refused for invalid arguments), and the memory the\n       module itself holds.\n";
    fn run(args: &[String]) -> Result<String, ()> {
        if !args.is_empty() {
            return Err(());
        }
        let runtime = Runtime::current().ok_or(())?;
        let counters = *runtime.counters();
        Ok(report::status(&runtime.config(), &counters, crate::heap::live()))
    }
}

impl Command for ShowPeers {
    const COMMAND: &'static CStr = c"cluster show peers";
    const SUMMARY: &'static CStr = c"Show the cluster's peers and their health";
    const USAGE: &'static CStr = c"Usage: cluster show peers\n       Lists every configured peer with its state (UP, DOWN, UNKNOWN),\n       since when and why, and when it last answered a call.\n";
    fn run(args: &[String]) -> Result<String, ()> {
        if !args.is_empty() {
            return Err(());
        }
        let runtime = Runtime::current().ok_or(())?;
        let config = runtime.config();
        let text = report::peers(&config, &runtime.health(), now().wall_s);
        Ok(text)
    }
}

pub fn entries() -> Vec<crate::ast::cli::RawEntry> {
    vec![entry::<ShowStatus>(), entry::<ShowPeers>()]
}

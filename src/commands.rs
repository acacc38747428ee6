//! CLI: `cluster show status` and `cluster show peers`.

use std::ffi::CStr;

use res_cluster_core::report;

use crate::ast::cli::{entry, CliError, Command, Entry};
use crate::runtime::{now, Runtime};

pub struct ShowStatus;
pub struct ShowPeers;

impl Command for ShowStatus {
    const COMMAND: &'static CStr = c"cluster show status";
    const SUMMARY: &'static CStr = c"Show this cluster node and its call counters";
    const USAGE: &'static CStr = c"Usage: cluster show status\n       Shows this node's name, its strategy, the counts of calls\n       ClusterDial handled (answered here, forwarded, answered by a peer,\n       loops refused, refused for invalid arguments), and the memory the\n       module itself holds.\n";
    fn run(args: &[String]) -> Result<String, CliError> {
        if !args.is_empty() {
            return Err(CliError::Usage);
        }
        let runtime = running()?;
        let counters = *runtime.counters();
        Ok(report::status(&runtime.config(), &counters, runtime.marking(), crate::heap::live()))
    }
}

impl Command for ShowPeers {
    const COMMAND: &'static CStr = c"cluster show peers";
    const SUMMARY: &'static CStr = c"Show the cluster's peers and their health";
    const USAGE: &'static CStr = c"Usage: cluster show peers\n       Lists every configured peer with its state (UP, DOWN, UNKNOWN),\n       since when and why, and when it last answered a call.\n";
    fn run(args: &[String]) -> Result<String, CliError> {
        if !args.is_empty() {
            return Err(CliError::Usage);
        }
        let runtime = running()?;
        let config = runtime.config();
        let text = report::peers(&config, &runtime.health(), now().wall_s);
        Ok(text)
    }
}

/// The running module's state, or the failure a command reports without it
/// (while the module is being loaded or unloaded).
fn running() -> Result<std::sync::Arc<Runtime>, CliError> {
    Runtime::current().ok_or_else(|| CliError::Failed("res_cluster has no configuration in force (is it loading or unloading?)".into()))
}

pub fn entries() -> Vec<Entry> {
    #[cfg_attr(not(feature = "fault-injection"), allow(unused_mut))]
    let mut table = vec![entry::<ShowStatus>(), entry::<ShowPeers>()];
    // A second entry for a command already in the table: its registration
    // fails after the first ones succeeded.
    #[cfg(feature = "fault-injection")]
    if std::env::var_os("RES_CLUSTER_CLI_CLASH").is_some() {
        table.push(entry::<ShowStatus>());
    }
    table
}

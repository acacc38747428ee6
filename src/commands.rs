//! CLI: `cluster show status`, `cluster show peers`, `cluster show locations`.

use std::ffi::CStr;

use res_cluster_core::health::PeerState;
use res_cluster_core::locate::{Report, Sync};
use res_cluster_core::report::{self, LocationRow};

use crate::ast::{devstate, endpoints, sorcery};
use crate::locate;

use crate::ast::cli::{entry, CliError, Command, Entry};
use crate::runtime::{now, Runtime};

pub struct ShowStatus;
pub struct ShowPeers;
pub struct ShowLocations;
impl Command for ShowStatus {
    const COMMAND: &'static CStr = c"cluster show status";
    const SUMMARY: &'static CStr = c"Show this cluster node and its call counters";
    const USAGE: &'static CStr = c"Usage: cluster show status\n       Shows this node's name, its strategy, the counts of calls\n       ClusterDial handled (answered here, forwarded, answered by a peer,\n       loops refused, refused for invalid arguments), and the memory the\n       module itself holds.\n";
    fn run(args: &[String]) -> Result<String, CliError> {
        if !args.is_empty() {
            return Err(CliError::Usage);
        }
        // A command that runs long, for the test that unloads meanwhile.
        #[cfg(feature = "fault-injection")]
        if let Some(ms) = std::env::var("RES_CLUSTER_CLI_SLEEP_MS").ok().and_then(|v| v.parse::<u64>().ok()) {
            crate::ast_log!(Notice, "res_cluster: fault injection: cluster show status sleeps {ms} ms");
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        let runtime = running()?;
        let counters = runtime.counters().clone();
        let problems: Vec<String> = runtime.findings().iter().map(ToString::to_string).collect();
        Ok(report::status(&runtime.config(), &counters, &runtime.marking(), crate::heap::live(), &problems))
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

impl Command for ShowLocations {
    const COMMAND: &'static CStr = c"cluster show locations";
    const SUMMARY: &'static CStr = c"Show where the peers report a phone registered";
    const USAGE: &'static CStr = c"Usage: cluster show locations [exten]\n       Lists every peer: whether its device states are in (synced), the\n       entity ID they come from, and its health; with an extension, the\n       state each peer reports for that phone and how old the report is\n       (locate = devstate uses them to dial only where the phone is).\n       With replicate_contacts, the registrations the peers published\n       (the phone's, with an extension): owner, contact, expiry, and\n       whether they are dialled from here when their node is down.\n";
    /// The phones of this node's local_dial among res_pjsip's endpoints.
    fn complete(pos: usize, word: &str) -> Vec<String> {
        let Some(runtime) = Runtime::current() else { return Vec::new() };
        if pos != 3 {
            return Vec::new();
        }
        let config = runtime.config();
        let peer_endpoints: Vec<&str> = config.peers.iter().map(|p| p.endpoint.as_str()).collect();
        let mut choices: Vec<String> = sorcery::objects("endpoint", None)
            .into_iter()
            .map(|e| e.id)
            .filter(|id| id.starts_with(word) && !peer_endpoints.contains(&id.as_str()))
            .filter(|id| res_cluster_core::locate::dials_phone(&config.local_dial, id))
            .filter(|id| res_cluster_core::args::check_exten(id).is_ok())
            .collect();
        choices.sort();
        choices
    }

    fn run(args: &[String]) -> Result<String, CliError> {
        if args.len() > 1 {
            return Err(CliError::Usage);
        }
        let exten = args.first().map(String::as_str);
        if let Some(e) = exten {
            res_cluster_core::args::check_exten(e).map_err(|e| CliError::Failed(e.to_string()))?;
        }
        let runtime = running()?;
        let config = runtime.config();
        let (sync, problems) = locate::sync(&config);
        let devices = exten
            .map(|e| res_cluster_core::locate::devices(&config.local_dial, e, &mut |name| endpoints::pjsip_endpoint_exists(name)))
            .unwrap_or_default();
        let health = runtime.health();
        let rows: Vec<LocationRow> = config
            .peers
            .iter()
            .zip(&sync)
            .map(|(p, sync)| {
                let phone = exten.map(|_| match sync {
                    Sync::Synced(eid) => locate::view(*eid, &devices),
                    _ => (Report::Unknown, None),
                });
                LocationRow { peer: &p.name, sync, health: health.get(&p.name).map_or(PeerState::Unknown, |h| h.state), phone }
            })
            .collect();
        let phone = exten.map(|e| (e, devices.as_slice()));
        let mut text = report::locations(&config, &devstate::own_eid().to_string(), phone, &rows, &problems);
        drop(health);
        if config.replicate_contacts {
            let at = now().wall_s;
            let kept = match exten {
                Some(_) => runtime.replicas().for_endpoints(&res_cluster_core::locate::pjsip_endpoints(&devices), at),
                None => runtime.replicas().all(at),
            };
            text.push('\n');
            text.push_str(&report::registrations(&config, &runtime.health(), &kept, at));
        }
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
    let mut table = vec![entry::<ShowStatus>(), entry::<ShowPeers>(), entry::<ShowLocations>()];
    // A second entry for a command already in the table: its registration
    // fails after the first ones succeeded.
    #[cfg(feature = "fault-injection")]
    if std::env::var_os("RES_CLUSTER_CLI_CLASH").is_some() {
        table.push(entry::<ShowStatus>());
    }
    table
}

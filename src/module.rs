//! Load, unload and reload: what Asterisk's loader calls.
//!
//! Load reads and checks the configuration before it registers anything, so
//! a bad file declines the module cleanly; unload takes things down in the
//! reverse order of load.

use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use res_cluster_core::config::{self, ClusterConfig, Defaults, FILE_NAME};
use res_cluster_core::setup::{Finding, Severity};
use res_cluster_core::version;

use res_cluster_core::channel_name::Technology;
use res_cluster_core::peer_leg::{self, HeaderSupport, PREDIAL_CONTEXT};

use crate::ast::cli::Commands;
use crate::ast::config::{asterisk_version, config_dir, host_name, load, process_ids, system_name, Loaded};
use crate::ast::pbx::{self, Context};
use crate::ast::prometheus::Metrics;
use crate::ast::contacts;
use crate::ast::endpoints::{self, Subscription};
use crate::ast::{app, channel, devstate, guard, manager, LoadResult, LOAD_DECLINE, LOAD_SUCCESS};
use crate::runtime::{self, lock, Runtime};
use crate::{ast_log, ast_verb, clusterdial, commands, locate, replication, setup, silence};

/// What load registered, for unload to take down.
struct Registered {
    /// None only while unload takes them away.
    commands: Option<Commands>,
    actions: Option<manager::Actions>,
    peer_states: Subscription,
    prober: Option<runtime::Prober>,
    watcher: silence::Watcher,
    predial: Context,
    metrics: Option<Metrics>,
    /// Registrations shared with the peers: None without res_pjsip's
    /// publication modules.
    contacts: Option<contacts::Registered>,
}


static REGISTERED: Mutex<Option<Registered>> = Mutex::new(None);

#[no_mangle]
pub extern "C" fn res_cluster_load() -> LoadResult {
    guard::entry("res_cluster load", LOAD_DECLINE, || match load_module() {
        Ok(()) => LOAD_SUCCESS,
        Err(why) => {
            ast_log!(Error, "res_cluster not loaded: {why}");
            LOAD_DECLINE
        }
    })
}

#[no_mangle]
pub extern "C" fn res_cluster_unload() -> c_int {
    guard::entry("res_cluster unload", -1, || match unload_module() {
        Ok(()) => 0,
        Err(why) => {
            ast_log!(Error, "res_cluster not unloaded: {why}");
            -1
        }
    })
}

#[no_mangle]
pub extern "C" fn res_cluster_reload() -> c_int {
    guard::entry("res_cluster reload", -1, reload_module)
}

fn load_module() -> Result<(), String> {
    #[cfg(feature = "fault-injection")]
    if std::env::var_os("RES_CLUSTER_PANIC_ON_LOAD").is_some() {
        panic!("fault injection: panic in load");
    }
    let config = read_config(false)?.ok_or("configuration unchanged on first load")?;
    // res_pjsip's API first: the set-up check reads its configuration.
    if !endpoints::init_probes() {
        ast_log!(Notice, "res_cluster: res_pjsip is not running: PJSIP peers are neither checked nor probed");
    }
    if !devstate::init_refresh() {
        ast_verb!(2, "res_cluster: res_pjsip_outbound_publish is not running: peers cannot be asked for their device states");
    }
    let findings = check_setup(&config)?;
    let summary = describe("loaded", &config);

    // Each step pushes its undo; a failure undoes the earlier steps, newest first.
    let mut undo: Vec<fn()> = Vec::new();
    let result = (|| {
        channel::init_leg_marks()?;
        Runtime::start(config);
        undo.push(Runtime::stop);
        // Before the application: every Dial to peers is watched.
        let watcher = silence::Watcher::start()?;
        app::register(clusterdial::APP, clusterdial::execute)?;
        undo.push(|| app::unregister(clusterdial::APP));
        app::register(clusterdial::MARK_APP, clusterdial::mark_leg)?;
        undo.push(|| app::unregister(clusterdial::MARK_APP));
        // The pre-dial handler: Dial's b() runs it as a Gosub on each new leg.
        let predial = Context::register(PREDIAL_CONTEXT, "s", &[(clusterdial::MARK_APP, ""), ("Return", "")])?;
        let commands = Commands::register(commands::entries())?;
        let actions = manager::Actions::register(runtime::ami)?;
        let peer_states = endpoints::subscribe(runtime::on_endpoint_state)?;
        let prober = runtime::Prober::start()?;
        // Starts sending this node's registrations to the peers at once.
        let contacts = match contacts::Registered::register(replication::handlers()) {
            Ok(c) => Some(c),
            Err(why) => {
                CONTACTS.store(false, Ordering::SeqCst);
                if Runtime::current().is_some_and(|r| r.config().replicate_contacts) {
                    return Err(format!("{FILE_NAME}: replicate_contacts = yes, but {why}"));
                }
                None
            }
        };
        CONTACTS.store(contacts.is_some(), Ordering::SeqCst);
        let metrics = Metrics::register(runtime::metrics)?;
        if metrics.is_none() {
            ast_verb!(2, "res_cluster: res_prometheus is not running: no metrics on /metrics");
        }
        Ok(Registered { commands: Some(commands), actions: Some(actions), peer_states, prober: Some(prober), watcher, predial, metrics, contacts })
    })();
    match result {
        Ok(registered) => {
            *lock(&REGISTERED) = Some(registered);
            LAST_RELOAD_REFUSED.store(false, Ordering::SeqCst);
            // The CLI's answer while no configuration is in force (between
            // load and unload only in a race), for the test that proves it
            // fails rather than printing the usage.
            #[cfg(feature = "fault-injection")]
            if std::env::var_os("RES_CLUSTER_CLI_WITHOUT_RUNTIME").is_some() {
                Runtime::stop();
            }
            ast_verb!(2, "{summary}");
            if let Some(runtime) = Runtime::current() {
                warn_about(&runtime.config());
                runtime.read_transports();
                runtime.keep_findings(findings);
                runtime.header_support();
                runtime.seed_endpoint_states();
                locate::beacon(&runtime.config().node_name, true);
                replication::exchange_all(&runtime);
            }
            Ok(())
        }
        Err(e) => {
            undo.into_iter().rev().for_each(|f| f());
            Err(e)
        }
    }
}

/// How long unload waits for a probe's answer (they time out after
/// `peer_timeout`, one second at most).
const PROBE_WAIT: Duration = Duration::from_secs(3);

/// How long a forced unload waits for the calls it hung up to leave
/// ClusterDial (Dial returns at once on a hangup).
const CALLS_WAIT: Duration = Duration::from_secs(5);

/// Takes the module down in the order Asterisk's own modules do: first what
/// lets anything new in (the CLI commands, the applications), then what is
/// running, then the rest. The loader calls this only when no call is
/// inside ClusterDial (each holds the module's use count); a CLI command
/// that is running, or a probe that is not answered in time, refuses the
/// unload with everything put back as it was.
fn unload_module() -> Result<(), String> {
    let mut registered = lock(&REGISTERED);
    let Some(mut r) = registered.take() else {
        Runtime::stop();
        return Ok(());
    };
    if let Some(commands) = r.commands.take() {
        if let Err(commands) = commands.unregister() {
            r.commands = Some(commands);
            *registered = Some(r);
            return Err("a cluster CLI command is running; try again".into());
        }
    }
    r.actions = None;
    app::unregister(clusterdial::APP);
    app::unregister(clusterdial::MARK_APP);
    // No new probe from here; the ones on their way call back into this
    // module, so it goes only when they have, and when no channel is left
    // inside the applications (a forced unload has hung them up).
    r.prober = None;
    let settled = clusterdial::left(CALLS_WAIT) && endpoints::probes_settled(PROBE_WAIT);
    if !settled {
        let back = (|| {
            app::register(clusterdial::APP, clusterdial::execute)?;
            app::register(clusterdial::MARK_APP, clusterdial::mark_leg)?;
            r.commands = Some(Commands::register(commands::entries())?);
            r.actions = Some(manager::Actions::register(runtime::ami)?);
            r.prober = Some(runtime::Prober::start()?);
            Ok::<(), String>(())
        })();
        if let Err(e) = back {
            ast_log!(Error, "res_cluster: after a refused unload, {e}");
        }
        *registered = Some(r);
        return Err("a call is still inside ClusterDial, or a probe of a peer is still waiting for its answer; try again".into());
    }
    let Registered { commands: _, actions: _, peer_states, prober: _, watcher, predial, metrics, contacts } = r;
    // Unpublishes to the peers; they keep this node's registrations until
    // they expire.
    drop(contacts);
    drop(watcher);
    drop(metrics);
    drop(peer_states);
    drop(predial);
    drop(registered);
    if let Some(runtime) = Runtime::current() {
        locate::beacon(&runtime.config().node_name, false);
    }
    Runtime::stop();
    Ok(())
}

/// The last reload refused the file. Asterisk's parser then remembers the
/// file as read, and would call it unchanged next time: the next reload reads
/// it again whatever its date, so that a file still broken is still refused.
static LAST_RELOAD_REFUSED: AtomicBool = AtomicBool::new(false);

/// Whether the registrations' handlers are registered (res_pjsip's
/// publication modules were there at load).
static CONTACTS: AtomicBool = AtomicBool::new(false);

fn reload_module() -> c_int {
    let Some(runtime) = Runtime::current() else {
        return -1;
    };
    let only_if_changed = !LAST_RELOAD_REFUSED.load(Ordering::SeqCst);
    let result = read_config(only_if_changed);
    let result = result.and_then(|config| match config {
        Some(config) if config.replicate_contacts && !CONTACTS.load(Ordering::SeqCst) => Err(format!(
            "{FILE_NAME}: replicate_contacts = yes needs res_pjsip_pubsub and res_pjsip_outbound_publish, which were not running when res_cluster loaded: load them, then unload and load res_cluster"
        )),
        Some(config) => check_setup(&config).map(|findings| Some((config, findings))),
        None => Ok(None),
    });
    LAST_RELOAD_REFUSED.store(result.is_err(), Ordering::SeqCst);
    match result {
        Ok(Some((config, findings))) => {
            ast_verb!(2, "{}", describe("reloaded", &config));
            let old_name = runtime.config().node_name.clone();
            if old_name != config.node_name {
                locate::beacon(&old_name, false);
                locate::beacon(&config.node_name, true);
            }
            runtime.replace_config(config);
            warn_about(&runtime.config());
            runtime.read_transports();
            runtime.keep_findings(findings);
            runtime.header_support();
            runtime.seed_endpoint_states();
            replication::exchange_all(&runtime);
            0
        }
        Ok(None) => 0,
        Err(why) => {
            ast_log!(Error, "res_cluster: {why}; the running configuration stays in force");
            -1
        }
    }
}

/// What the file asks for that this Asterisk gives differently.
fn warn_about(config: &ClusterConfig) {
    for w in &config.warnings {
        ast_log!(Warning, "res_cluster: {FILE_NAME}: {w}");
    }
}

/// The set-up around the configuration: Err with every error found (the
/// configuration is refused), else the warnings.
fn check_setup(config: &ClusterConfig) -> Result<Vec<Finding>, String> {
    check_marking(config)?;
    let (errors, warnings): (Vec<Finding>, Vec<Finding>) =
        res_cluster_core::setup::check(config, &setup::facts(config), &setup::transports()).into_iter().partition(|f| f.severity == Severity::Error);
    if errors.is_empty() {
        Ok(warnings)
    } else {
        Err(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
    }
}

/// Refuses a configuration whose peer legs would leave unmarked: the
/// pre-dial handler, where every forwarded call needs it, runs only with
/// app_stack (without it Dial skips `b()` with a WARNING of its own per call).
fn check_marking(config: &ClusterConfig) -> Result<(), String> {
    let support = HeaderSupport::of(pbx::function_exists(runtime::INHERITABLE_HEADER), pbx::function_exists(runtime::LEG_HEADER));
    let iax2_peer = config.peers.iter().find(|p| p.technology == Technology::Iax2).map(|p| p.name.as_str());
    match peer_leg::needs_pre_dial(config.peer_leg_marking, support, iax2_peer) {
        Some(why) if !pbx::app_exists(runtime::GOSUB) => Err(format!(
            "{FILE_NAME}: {why}; that handler runs only with app_stack (Gosub), which is not loaded: load app_stack.so (modules.conf), or the calls' legs would leave without the hop marker and the prefix"
        )),
        _ => Ok(()),
    }
}

/// Ok(None): unchanged since the last load.
fn read_config(only_if_changed: bool) -> Result<Option<ClusterConfig>, String> {
    let raw = match load(FILE_NAME, only_if_changed) {
        Loaded::Config(raw) => raw,
        Loaded::Unchanged => return Ok(None),
        Loaded::Missing => {
            let path = format!("{}/{FILE_NAME}", config_dir());
            // Asterisk's parser says "missing" for a file it cannot open.
            return Err(match std::fs::metadata(&path) {
                Ok(_) => format!(
                    "{path} exists but Asterisk (running as uid {}, gid {}) cannot read it; make it readable to that user (Debian: chown root:asterisk, chmod 0640)",
                    process_ids().0,
                    process_ids().1
                ),
                Err(_) => format!("{path} not found; install it (make samples, or copy res_cluster.conf.sample)"),
            });
        }
        Loaded::Invalid => return Err(format!("{FILE_NAME} could not be parsed (Asterisk logged where)")),
    };
    let defaults = Defaults { system_name: system_name(), host_name: host_name(), dial_reads_fractions: version::dial_reads_fractions(&asterisk_version()) };
    config::build(&raw, &defaults).map(Some).map_err(|e| e.to_string())
}

fn describe(what: &str, c: &ClusterConfig) -> String {
    let peers: Vec<&str> = c.peers.iter().map(|p| p.name.as_str()).collect();
    format!(
        "res_cluster {what}: node {}, {} peer(s) [{}], strategy {}, locate {} (built against {}, build options {})",
        c.node_name,
        peers.len(),
        peers.join(", "),
        c.strategy.as_str(),
        c.locate.as_str(),
        env!("RES_CLUSTER_HEADERS"),
        env!("RES_CLUSTER_BUILDOPT_SUM"),
    )
}

//! A real Asterisk node, started from the sandbox with its own configuration
//! directory, killed (and its files removed) when dropped.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::net::Net;
use super::poll;
use super::sandbox::{module_path, sandbox, Sandbox};

/// Extensions every node knows as phone endpoints (where they register decides where they ring).
pub const PHONES: [&str; 5] = ["101", "102", "103", "104", "105"];
/// Caller endpoints, identified by the From user.
pub const CALLERS: [&str; 2] = ["200", "201"];

#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub index: u8,
    /// Indexes of the nodes this one lists as peers, in order.
    pub peers: Vec<u8>,
    /// Nodes that have a PJSIP endpoint here but are not res_cluster peers.
    pub endpoints_only: Vec<u8>,
    /// Extra lines for res_cluster.conf's [general].
    pub general: String,
    /// Replaces the whole generated res_cluster.conf.
    pub res_cluster_conf: Option<String>,
    /// qualify_frequency on the peers' AORs (0: off).
    pub qualify_s: u32,
    /// qualify_timeout on the peers' AORs, in seconds.
    pub qualify_timeout_s: f32,
    /// Extra lines for every peer's AOR (a second contact, say).
    pub peer_aor: String,
    /// Load res_cluster.so at start-up.
    pub load_module: bool,
    pub fault_injection: bool,
    pub env: Vec<(String, String)>,
    /// Extra dialplan lines appended to [phones].
    pub dialplan: String,
    /// Use the sandbox's own module and data directories (to test what a
    /// package installed there) instead of the node's private copies.
    pub system_dirs: bool,
    /// What the phones' context does after ClusterDial returns.
    pub after_clusterdial: String,
    /// Enable AMI (manager.conf) on the node's address, port 5038.
    pub ami: bool,
    /// Run Asterisk under valgrind's memcheck, its report written to
    /// `valgrind.log` in the node's directory.
    pub valgrind: bool,
    /// Run Asterisk under valgrind's callgrind, instrumentation off until
    /// `Node::count` switches it on around the work it counts.
    pub callgrind: bool,
    /// The `h` extension logs a RESULT line per call, and the phones'
    /// context holds the tests' own ClusterDial extensions (inject, _short.
    /// and the others). Off: the dialplans around ClusterDial and around the
    /// recipe's Dials are alike, down to the extensions a dialled number is
    /// matched against, for counting instructions.
    pub results: bool,
    /// Log notices, warnings and errors only (RESULT lines are notices):
    /// for long runs, where verbose logging would dominate. Debian's own
    /// messages.log is this.
    pub quiet_log: bool,
    /// Also log debug messages (`core set debug ...`).
    pub debug_log: bool,
    /// Run the classic two-server recipe's dialplan (translated to PJSIP)
    /// instead of ClusterDial, for comparison.
    pub recipe: bool,
    /// Write CDRs (cdr_csv) and CEL events (cel_custom) to CSV files.
    pub records: bool,
    /// Extra lines for pjsip.conf.
    pub pjsip: String,
    /// Share device states with the peers (PJSIP publications, a beacon
    /// filter) and locate phones through them: `locate = devstate`.
    pub locate: bool,
    /// The outbound-publish's `@device_state_filter`; default: the phones
    /// (PJSIP endpoints named by a number) and the beacons.
    pub device_state_filter: Option<String>,
    /// The node's entityid in asterisk.conf; default 02:00:00:00:00:<index>.
    pub entity_id: Option<String>,
    /// res_prometheus: None, not loaded; Some(enabled), loaded, serving
    /// `/metrics` on the node's address, port 8088, when enabled.
    pub prometheus: Option<bool>,
    /// Modules to leave out of the list the node loads.
    pub without_modules: Vec<&'static str>,
    /// The peers are reached over IAX2 only: an iax.conf friend `node<p>`
    /// each (authenticated by a secret, qualified every second), `dial =
    /// IAX2/node<p>/${EXTEN}`, and no PJSIP endpoint for them.
    pub iax2_peers: bool,
    /// Extra lines for iax.conf's [general] (`register => ...`), and extra
    /// sections. chan_iax2 is loaded when either is set or `iax2_peers` is.
    pub iax_general: String,
    pub iax: String,
    /// Peers linked over TLS: the directory (inside the sandbox) of a
    /// `tls::Pki` holding `ca.crt` and this node's `node<k>.crt`/`.key`;
    /// certificates are checked both ways.
    pub tls: Option<String>,
    /// Peers authenticate each other (a shared digest secret).
    pub peer_auth: bool,
    /// res_cluster.conf's `trust` for every peer.
    pub trust: Option<String>,
    /// Run Asterisk as this user and group of the sandbox (`-U -G`), as
    /// Debian does with asterisk, the node's files theirs, res_cluster.conf
    /// root's and readable by the group (0640).
    pub run_as: Option<&'static str>,
    /// Share registrations with the peers (`replicate_contacts = yes`):
    /// an outbound-publish `cluster-node<p>-contacts` of event
    /// res-cluster-contacts to each peer, taken in by the inbound-publication
    /// of its endpoint.
    pub replicate: bool,
}

impl NodeSpec {
    pub fn new(index: u8, peers: &[u8]) -> NodeSpec {
        NodeSpec {
            index,
            peers: peers.to_vec(),
            endpoints_only: Vec::new(),
            general: String::new(),
            res_cluster_conf: None,
            qualify_s: 0,
            qualify_timeout_s: 1.0,
            peer_aor: String::new(),
            load_module: true,
            fault_injection: false,
            env: Vec::new(),
            dialplan: String::new(),
            system_dirs: false,
            after_clusterdial: "Hangup()".into(),
            quiet_log: false,
            debug_log: false,
            ami: true,
            valgrind: false,
            callgrind: false,
            results: true,
            recipe: false,
            records: false,
            pjsip: String::new(),
            without_modules: Vec::new(),
            locate: false,
            device_state_filter: None,
            entity_id: None,
            prometheus: None,
            iax2_peers: false,
            replicate: false,
            iax_general: String::new(),
            iax: String::new(),
            tls: None,
            peer_auth: false,
            trust: None,
            run_as: None,
        }
    }

    pub fn name(&self) -> String {
        format!("node{}", self.index)
    }
}

pub struct Node {
    pub name: String,
    pub index: u8,
    pub ip: String,
    /// The node's directory as Asterisk (inside the chroot) sees it.
    inside: String,
    host_dir: PathBuf,
    child: Child,
    sandbox: &'static Sandbox,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Where valgrind makes the FIFOs vgdb and callgrind_control talk to it
/// through: in the node's directory, which goes with the node (by default
/// they are left in /tmp when a node is killed).
fn vgdb_prefix(inside: &str) -> String {
    format!("--vgdb-prefix={inside}/vgdb")
}

impl Node {
    pub fn start(net: &Net, spec: &NodeSpec) -> Node {
        let sandbox = sandbox();
        let name = spec.name();
        let inside = format!(
            "/tmp/res_cluster-tests/{}-{}/{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst),
            name
        );
        let host_dir = sandbox.host_path(&inside);
        let _ = fs::remove_dir_all(&host_dir);
        for d in ["etc", "modules", "run", "log", "log/cdr-csv", "log/cel-custom", "spool", "db", "keys", "cache", "data/documentation/thirdparty"] {
            fs::create_dir_all(host_dir.join(d)).expect("create node directory");
        }
        let dirs = if spec.system_dirs {
            Dirs { modules: Sandbox::MODULE_DIR.into(), data: Sandbox::DATA_DIR.into() }
        } else {
            private_modules_and_data(sandbox, &host_dir, spec.fault_injection);
            Dirs { modules: format!("{inside}/modules"), data: format!("{inside}/data") }
        };
        let ip = net.node(spec.index);
        write_configs(net, spec, &inside, &dirs, &host_dir.join("etc"), &ip);
        if let Some(user) = spec.run_as {
            let (uid, gid) = sandbox.ids(user);
            chown_tree(&host_dir, uid, gid);
            let conf = host_dir.join("etc/res_cluster.conf");
            std::os::unix::fs::chown(&conf, Some(0), Some(gid)).expect("chown res_cluster.conf");
            fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(0o640)).expect("chmod res_cluster.conf");
        }

        let console = fs::File::create(host_dir.join("console.out")).expect("console file");
        let mut command = Command::new("chroot");
        command.arg(&sandbox.root);
        if spec.valgrind {
            // keep-debuginfo: frames in res_cluster.so stay named after
            // the module is unloaded at shutdown.
            command.args(["/usr/bin/valgrind", "--tool=memcheck", "--leak-check=full", "--keep-debuginfo=yes"]);
            command.args(["--num-callers=40", "--track-origins=yes"]);
            command.arg(format!("--log-file={inside}/valgrind.log"));
            command.arg(vgdb_prefix(&inside));
        }
        if spec.callgrind {
            command.args(["/usr/bin/valgrind", "--tool=callgrind", "--instr-atstart=no", "--dump-instr=no"]);
            command.arg(format!("--callgrind-out-file={inside}/callgrind.out"));
            command.arg(format!("--log-file={inside}/callgrind.log"));
            command.arg(vgdb_prefix(&inside));
        }
        command.arg("/usr/sbin/asterisk");
        if let Some(user) = spec.run_as {
            command.args(["-U", user, "-G", user]);
        }
        let child = command
            .args(["-f", "-C"])
            .arg(format!("{inside}/etc/asterisk.conf"))
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(console.try_clone().expect("dup"))
            .stderr(console)
            .spawn()
            .expect("start asterisk");
        let mut node = Node { name, index: spec.index, ip, inside, host_dir, child, sandbox };
        node.wait_booted(if spec.valgrind || spec.callgrind { 300 } else { 30 });
        node
    }

    fn wait_booted(&mut self, seconds: u64) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited during start-up ({status}):\n{}", self.name, self.console());
            }
            let out = self.cli_raw("core waitfullybooted");
            if out.as_ref().map(|o| o.contains("fully booted")).unwrap_or(false) {
                return;
            }
            assert!(Instant::now() < deadline, "{} did not boot:\n{}", self.name, self.console());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ok(output) when the command succeeded, Err(output) when Asterisk
    /// refused it, None when the node could not be reached.
    fn cli_raw(&self, command: &str) -> Option<String> {
        self.cli_result(command).ok()
    }

    fn cli_result(&self, command: &str) -> Result<String, String> {
        let out = Command::new("chroot")
            .arg(&self.sandbox.root)
            .args(["/usr/sbin/asterisk", "-C"])
            .arg(format!("{}/etc/asterisk.conf", self.inside))
            .args(["-rx", command])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(text)
        } else {
            Err(text)
        }
    }

    /// Runs a CLI command on the node and returns its output, whether or not
    /// Asterisk reports the command as failed.
    pub fn cli(&self, command: &str) -> String {
        match self.cli_result(command) {
            Ok(text) | Err(text) => text,
        }
    }

    /// Whether `module show` lists res_cluster.so as running.
    pub fn module_running(&self) -> bool {
        self.cli("module show like res_cluster")
            .lines()
            .any(|l| l.starts_with("res_cluster.so") && l.split_whitespace().any(|w| w == "Running") && !l.contains("Not Running"))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops Asterisk the way an administrator does (`core stop now`) and
    /// waits for the process to end; whether it did in time.
    pub fn stop(&mut self, timeout: Duration) -> bool {
        let _ = self.cli_result("core stop now");
        let child = &mut self.child;
        poll(timeout, Duration::from_millis(100), || matches!(child.try_wait(), Ok(Some(_))), |&ended| ended)
    }

    /// A path in the node's directory as the sandbox's root sees it
    /// (relative, for joining to the sandbox root).
    pub fn inside_path(&self, name: &str) -> String {
        format!("{}/{name}", self.inside.trim_start_matches('/'))
    }

    /// A file in the node's directory (bytes that are not UTF-8 shown as U+FFFD).
    pub fn file(&self, name: &str) -> String {
        fs::read(self.host_dir.join(name)).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    /// The CDRs cdr_csv wrote (`records` nodes), one field list per record.
    pub fn cdrs(&self) -> Vec<Vec<String>> {
        csv_rows(&self.file("log/cdr-csv/Master.csv"))
    }

    /// The CEL events cel_custom wrote (`records` nodes): event type,
    /// channel name, caller number (URI-encoded), one list per event.
    pub fn cel_events(&self) -> Vec<Vec<String>> {
        csv_rows(&self.file("log/cel-custom/Master.csv"))
    }

    /// GET `path` from the node's HTTP server (port 8088): status code and
    /// body; None when nothing answers.
    pub fn http_get(&self, path: &str) -> Option<(u16, String)> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect((self.ip.as_str(), 8088)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {}\r\nConnection: close\r\n\r\n", self.ip).ok()?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).ok()?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let code = head.split_whitespace().nth(1)?.parse().ok()?;
        Some((code, body.to_string()))
    }

    /// Name of the first active channel whose name starts with `prefix`.
    pub fn channel_named(&self, prefix: &str) -> Option<String> {
        self.cli("core show channels concise").lines().filter_map(|l| l.split('!').next()).find(|n| n.starts_with(prefix)).map(str::to_string)
    }

    /// With `callgrind`: the instructions Asterisk executed while `work`
    /// ran (instrumentation switched on just before and off just after),
    /// summed over its threads; and the dump they are in, for
    /// callgrind_annotate.
    pub fn count(&self, work: impl FnOnce()) -> (u64, PathBuf) {
        let control = |args: &[&str]| {
            let out = Command::new("chroot")
                .arg(&self.sandbox.root)
                .arg("/usr/bin/callgrind_control")
                .arg(vgdb_prefix(&self.inside))
                .args(args)
                .arg(self.child.id().to_string())
                .stdin(Stdio::null())
                .output()
                .expect("run callgrind_control");
            assert!(out.status.success(), "callgrind_control {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        let before: Vec<PathBuf> = self.dumps();
        control(&["-z"]);
        control(&["-i", "on"]);
        work();
        control(&["-i", "off"]);
        control(&["-d"]);
        let dump = poll(Duration::from_secs(30), Duration::from_millis(100), || self.dumps().into_iter().find(|d| !before.contains(d)), Option::is_some)
            .expect("a new callgrind dump");
        // The dump is written while callgrind_control waits; its summary
        // line is the last thing in it.
        let text = poll(Duration::from_secs(30), Duration::from_millis(100), || fs::read_to_string(&dump).unwrap_or_default(), |t| t.contains("\ntotals:") || t.contains("\nsummary:"));
        let total = text
            .lines()
            .filter_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
            .filter_map(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        (total, dump)
    }

    /// callgrind's dumps so far.
    fn dumps(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = fs::read_dir(&self.host_dir)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("callgrind.out."))).collect())
            .unwrap_or_default();
        out.sort();
        out
    }

    /// Whether the Asterisk process is still alive.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on the pid of our own child process.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    pub fn console(&self) -> String {
        self.file("console.out")
    }

    /// The node's messages log so far (bytes that are not UTF-8 shown as U+FFFD).
    pub fn log(&self) -> String {
        self.file("log/messages.log")
    }

    /// Waits until the log has a line containing `needle`; returns whether it did.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        poll(timeout, Duration::from_millis(25), || self.log().contains(needle), |&found| found)
    }

    /// Waits until `needle` occurs at least `n` times in the log; returns how often it occurs then.
    pub fn wait_log_count(&self, needle: &str, n: usize, timeout: Duration) -> usize {
        poll(timeout, Duration::from_millis(25), || self.log().matches(needle).count(), |&c| c >= n)
    }

    /// The RESULT lines the test dialplan logs when a call ends, parsed.
    pub fn results(&self) -> Vec<CallRecord> {
        self.log().lines().filter_map(CallRecord::parse).collect()
    }

    /// The RESULT lines of calls that came in from a peer node.
    pub fn results_from_peers(&self) -> Vec<CallRecord> {
        self.results().into_iter().filter(CallRecord::came_from_peer).collect()
    }

    /// Waits for the `n`th RESULT line of a call that came in from a peer.
    pub fn wait_results_from_peers(&self, n: usize, timeout: Duration) -> Vec<CallRecord> {
        poll(timeout, Duration::from_millis(25), || self.results_from_peers(), |r| r.len() >= n)
    }

    /// Waits for the `n`th RESULT line.
    pub fn wait_results(&self, n: usize, timeout: Duration) -> Vec<CallRecord> {
        poll(timeout, Duration::from_millis(25), || self.results(), |r| r.len() >= n)
    }

    /// Replaces a file in the node's configuration directory.
    pub fn write_config(&self, name: &str, text: &str) {
        fs::write(self.host_dir.join("etc").join(name), text).expect("write config");
    }

    pub fn remove_config(&self, name: &str) {
        let _ = fs::remove_file(self.host_dir.join("etc").join(name));
    }

    /// Counts of open file descriptors and threads of the Asterisk process.
    pub fn fds_and_threads(&self) -> (usize, usize) {
        let pid = self.child.id();
        let fds = fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
        let threads = fs::read_dir(format!("/proc/{pid}/task")).map(|d| d.count()).unwrap_or(0);
        (fds, threads)
    }

    /// Open descriptors and threads once they have stopped changing (the
    /// same in three readings 50 ms apart, within five seconds).
    pub fn fds_and_threads_quiet(&self) -> (usize, usize) {
        let mut last = Vec::new();
        poll(
            5 * super::SECOND,
            Duration::from_millis(50),
            || {
                last.push(self.fds_and_threads());
                last.clone()
            },
            |seen| seen.len() >= 3 && seen[seen.len() - 3..].windows(2).all(|w| w[0] == w[1]),
        )
        .last()
        .copied()
        .unwrap_or_default()
    }

    /// Open descriptors and threads once they are back to at most `limit`
    /// (or the last count, after `timeout`): a remote console that has just
    /// run a command may still hold its socket and thread for a moment.
    pub fn fds_and_threads_settled(&self, limit: (usize, usize), timeout: Duration) -> (usize, usize) {
        poll(timeout, Duration::from_millis(50), || self.fds_and_threads(), |&(f, t)| f <= limit.0 && t <= limit.1)
    }

    /// Active channels, as `core show channels count` counts them.
    pub fn active_channels(&self) -> usize {
        let out = self.cli("core show channels count");
        out.lines()
            .find(|l| l.contains("active channel"))
            .and_then(|l| l.split_whitespace().next()?.parse().ok())
            .unwrap_or(usize::MAX)
    }

    /// Resident memory in kB.
    pub fn rss_kb(&self) -> u64 {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// CPU time (user + system) the process has used, in milliseconds.
    pub fn cpu_ms(&self) -> u64 {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        // Fields 14 and 15 of stat (utime, stime) are 12 and 13 after the ')'.
        let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
            + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        ticks * 1000 / hz
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() || std::env::var_os("RES_CLUSTER_KEEP_NODES").is_some() {
            eprintln!("{}: kept for inspection at {}", self.name, self.host_dir.display());
        } else {
            let _ = fs::remove_dir_all(self.host_dir.parent().unwrap_or(&self.host_dir));
        }
    }
}

/// One RESULT line: how a call through ClusterDial ended on one node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallRecord {
    pub chan: String,
    pub exten: String,
    pub cluster: String,
    pub dial: String,
    pub node: String,
    /// The caller number as it arrived, before ClusterDial.
    pub raw: String,
    /// The caller number when the call ended.
    pub cid: String,
    /// The caller number right after ClusterDial returned (when it did).
    pub after: String,
    /// The caller name and presentation when the call ended.
    pub name: String,
    pub pres: String,
    /// CLUSTERROUTE (URI-encoded).
    pub route: String,
}

impl CallRecord {
    fn parse(line: &str) -> Option<CallRecord> {
        // The Log application's own NOTICE, not the verbose trace of it.
        if !line.contains(" NOTICE[") {
            return None;
        }
        let rest = line.split_once("RESULT ")?.1;
        let mut r = CallRecord::default();
        // A value with a blank in it (a hostile extension) spills into
        // tokens without '=', which are skipped.
        for field in rest.split(' ') {
            let Some((k, v)) = field.split_once('=') else { continue };
            let v = v.to_string();
            match k {
                "chan" => r.chan = v,
                "exten" => r.exten = v,
                "cluster" => r.cluster = v,
                "dial" => r.dial = v,
                "node" => r.node = v,
                "raw" => r.raw = v,
                "cid" => r.cid = v,
                "after" => r.after = v,
                "name" => r.name = v,
                "pres" => r.pres = v,
                "route" => r.route = v,
                _ => {}
            }
        }
        Some(r)
    }

    /// Whether the call came in from a peer node.
    pub fn came_from_peer(&self) -> bool {
        self.chan.starts_with("PJSIP/cluster-") || self.chan.starts_with("IAX2/node")
    }
}

/// Where a node finds its modules and its data (documentation included).
struct Dirs {
    modules: String,
    data: String,
}

/// Links every entry of the sandbox directory `from` into `to`, but `skip`.
fn link_entries(sandbox: &Sandbox, from: &str, to: &std::path::Path, skip: &[&str]) {
    for entry in fs::read_dir(sandbox.host_path(from)).expect("sandbox directory") {
        let name = entry.expect("entry").file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let target = format!("{from}/{}", name.to_string_lossy());
        std::os::unix::fs::symlink(target, to.join(&name)).expect("link");
    }
}

/// Hands a directory tree to `uid`:`gid` (symbolic links themselves).
fn chown_tree(dir: &std::path::Path, uid: u32, gid: u32) {
    let _ = std::os::unix::fs::lchown(dir, Some(uid), Some(gid));
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            chown_tree(&path, uid, gid);
        } else {
            let _ = std::os::unix::fs::lchown(&path, Some(uid), Some(gid));
        }
    }
}

/// The node's own module directory (the sandbox's modules, and the
/// res_cluster.so under test) and data directory (the sandbox's, with
/// res_cluster's documentation from this tree).
fn private_modules_and_data(sandbox: &Sandbox, host_dir: &std::path::Path, fault_injection: bool) {
    link_entries(sandbox, Sandbox::MODULE_DIR, &host_dir.join("modules"), &["res_cluster.so"]);
    fs::copy(module_path(fault_injection), host_dir.join("modules/res_cluster.so")).expect("copy res_cluster.so");
    link_entries(sandbox, Sandbox::DATA_DIR, &host_dir.join("data"), &["documentation"]);
    let docs = format!("{}/documentation", Sandbox::DATA_DIR);
    link_entries(sandbox, &docs, &host_dir.join("data/documentation"), &["thirdparty"]);
    let xml = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/res_cluster-en_US.xml");
    fs::copy(xml, host_dir.join("data/documentation/thirdparty/res_cluster-en_US.xml")).expect("copy documentation");
}

const MODULES: [&str; 30] = [
    "res_sorcery_config.so",
    "res_sorcery_memory.so",
    "res_sorcery_astdb.so",
    "res_pjproject.so",
    "res_rtp_asterisk.so",
    "res_pjsip.so",
    "res_pjsip_session.so",
    "res_pjsip_pubsub.so",
    "chan_pjsip.so",
    "res_pjsip_registrar.so",
    "res_pjsip_endpoint_identifier_ip.so",
    "res_pjsip_endpoint_identifier_user.so",
    "res_pjsip_sdp_rtp.so",
    "res_pjsip_caller_id.so",
    "res_pjsip_header_funcs.so",
    "res_pjsip_outbound_registration.so",
    "bridge_simple.so",
    "bridge_native_rtp.so",
    "app_dial.so",
    "app_verbose.so",
    "app_echo.so",
    "pbx_config.so",
    "func_callerid.so",
    "func_channel.so",
    "func_hangupcause.so",
    "func_uri.so",
    "app_stack.so",
    "res_pjsip_dtmf_info.so",
    "res_timing_timerfd.so",
    "codec_ulaw.so",
];

/// Device states shared with the peers over PJSIP.
/// (With the SIP logger and device-state AMI events, to measure them.)
const PUBLISH_MODULES: [&str; 5] = [
    "res_pjsip_outbound_publish.so",
    "res_pjsip_publish_asterisk.so",
    "res_pjsip_authenticator_digest.so",
    "res_pjsip_logger.so",
    "res_manager_devicestate.so",
];

/// Digest authentication between peers: challenging requests, and answering
/// challenges.
const AUTH_MODULES: [&str; 2] = ["res_pjsip_authenticator_digest.so", "res_pjsip_outbound_authenticator_digest.so"];

/// Call records: CDRs to CSV, CEL events to CSV (cel_custom needs
/// res_cdrel_custom loaded before it in 22.10).
const RECORD_MODULES: [&str; 4] = ["cdr_csv.so", "res_cdrel_custom.so", "cel_custom.so", "func_cdr.so"];

fn write_configs(net: &Net, spec: &NodeSpec, inside: &str, dirs: &Dirs, etc: &std::path::Path, ip: &str) {
    let name = spec.name();
    let files: Vec<(&str, String)> = vec![
        ("asterisk.conf", asterisk_conf(inside, dirs, &name, &spec.entity_id.clone().unwrap_or_else(|| format!("02:00:00:00:00:{:02x}", spec.index)))),
        ("modules.conf", modules_conf(spec)),
        ("cdr.conf", format!("[general]\nenable = {}\n\n[csv]\nusegmtime = yes\nloguniqueid = yes\nloguserfield = yes\n", yes(spec.records))),
        ("cel.conf", format!("[general]\nenable = {}\napps = all\nevents = ALL\n", yes(spec.records))),
        ("cel_custom.conf", "[mappings]\nMaster.csv => ${eventtype},${CHANNEL(channame)},${URIENCODE(${CALLERID(num)})}\n".into()),
        ("logger.conf", logger_conf(spec.quiet_log, spec.debug_log)),
        ("pjsip.conf", pjsip_conf(net, spec, ip)),
        ("extensions.conf", extensions_conf(spec)),
        ("manager.conf", format!("[general]\nenabled = {}\nport = 5038\nbindaddr = {ip}\ntimestampevents = yes\n\n[test]\nsecret = test\nread = all\nwrite = all\n", if spec.ami { "yes" } else { "no" })),
        ("rtp.conf", "[general]\nrtpstart = 10000\nrtpend = 40000\n".into()),
        // No sound files in the sandbox: the transfer prompt is left out.
        ("http.conf", format!("[general]\nenabled = {}\nbindaddr = {ip}\nbindport = 8088\n", yes(spec.prometheus == Some(true)))),
        ("prometheus.conf", format!("[general]\nenabled = {}\nuri = metrics\n", yes(spec.prometheus == Some(true)))),
        ("features.conf", "[general]\ntransferannouncesound =\n\n[featuremap]\natxfer => *2\n".into()),
        ("res_cluster.conf", spec.res_cluster_conf.clone().unwrap_or_else(|| res_cluster_conf(spec))),
        ("iax.conf", iax_conf(net, spec, ip)),
    ];
    for (file, text) in files {
        fs::write(etc.join(file), text).expect("write config");
    }
}

fn logger_conf(quiet: bool, debug: bool) -> String {
    let levels = match (quiet, debug) {
        (true, _) => "notice,warning,error",
        (false, false) => "notice,warning,error,verbose(4)",
        (false, true) => "notice,warning,error,verbose(4),debug",
    };
    format!("[general]\ndateformat = %F %T.%3q\n[logfiles]\nmessages.log => {levels}\n")
}

fn asterisk_conf(inside: &str, dirs: &Dirs, name: &str, entity_id: &str) -> String {
    let (modules, data) = (&dirs.modules, &dirs.data);
    format!(
        "[directories]\nastetcdir => {inside}/etc\nastmoddir => {modules}\nastvarlibdir => /var/lib/asterisk\n\
         astdbdir => {inside}/db\nastkeydir => {inside}/keys\nastdatadir => {data}\n\
         astagidir => /usr/share/asterisk/agi-bin\nastspooldir => {inside}/spool\nastrundir => {inside}/run\n\
         astlogdir => {inside}/log\nastcachedir => {inside}/cache\nastsbindir => /usr/sbin\n\n\
         [options]\nsystemname = {name}\nentityid = {entity_id}\n"
    )
}

fn yes(on: bool) -> &'static str {
    if on {
        "yes"
    } else {
        "no"
    }
}

fn modules_conf(spec: &NodeSpec) -> String {
    let mut s = String::from("[modules]\nautoload = no\n");
    let records: &[&str] = if spec.records { &RECORD_MODULES } else { &[] };
    let publish: &[&str] = if spec.locate || spec.replicate { &PUBLISH_MODULES } else { &[] };
    let prometheus: &[&str] = if spec.prometheus.is_some() { &["res_prometheus.so"] } else { &[] };
    let iax: &[&str] = if spec.iax2_peers || !spec.iax.is_empty() || !spec.iax_general.is_empty() { &["chan_iax2.so"] } else { &[] };
    let auth: &[&str] = if spec.peer_auth { &AUTH_MODULES } else { &[] };
    let mut listed: Vec<&str> = Vec::new();
    // The authenticators before the publications: a PUBLISH challenged
    // before the outbound authenticator is there is never sent again
    // (res_pjsip_outbound_publish keeps waiting for its answer).
    for m in MODULES.iter().chain(auth).chain(records).chain(publish).chain(prometheus).chain(iax).filter(|m| !spec.without_modules.contains(m)) {
        if !listed.contains(m) {
            listed.push(m);
            let _ = writeln!(s, "load = {m}");
        }
    }
    if spec.load_module {
        s.push_str("load = res_cluster.so\n");
    }
    s
}

/// Rows of a CSV file as cdr_csv and cel_custom write them (fields in
/// double quotes or bare, separated by commas).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '"' if quoted && chars.peek() == Some(&'"') => {
                        field.push('"');
                        chars.next();
                    }
                    '"' => quoted = !quoted,
                    ',' if !quoted => fields.push(std::mem::take(&mut field)),
                    c => field.push(c),
                }
            }
            fields.push(field);
            fields
        })
        .collect()
}

fn pjsip_conf(net: &Net, spec: &NodeSpec, ip: &str) -> String {
    let mut s = format!(
        "[global]\ntype = global\nendpoint_identifier_order = ip,username\nuser_agent = res_cluster-test-{}\n\n\
         [transport-udp]\ntype = transport\nprotocol = udp\nbind = {ip}:5060\n\n\
         [endpoint-common](!)\ntype = endpoint\ncontext = phones\ndisallow = all\nallow = ulaw\ndirect_media = no\n\n\
         [phone-aor](!)\ntype = aor\nmax_contacts = 1\nremove_existing = yes\nminimum_expiration = 1\n\n",
        spec.name()
    );
    for ext in PHONES.iter() {
        let _ = write!(s, "[{ext}](endpoint-common)\naors = {ext}\n\n[{ext}](phone-aor)\n\n");
    }
    // Callers send DTMF in SIP INFO requests.
    for ext in CALLERS.iter() {
        let _ = write!(s, "[{ext}](endpoint-common)\naors = {ext}\ndtmf_mode = info\n\n[{ext}](phone-aor)\n\n");
    }
    // An ordinary phone whose own number happens to start with the prefix.
    s.push_str("[202](endpoint-common)\naors = 202\ncallerid = \"Look-alike\" <9999202>\n\n[202](phone-aor)\n\n");
    // The peers' calls land in the same context as the phones': one
    // ClusterDial line serves both. The recipe needs a context of its own.
    let peer_context = if spec.recipe { "from-cluster" } else { "phones" };
    let pjsip_peers: &[u8] = if spec.iax2_peers { &[] } else { &spec.peers };
    // Over TLS: the port, the URI parameter and the endpoint's transport.
    let (port, uri_tail, transport) = match &spec.tls {
        Some(_) => (5061, ";transport=tls", "transport = transport-tls\n"),
        None => (5060, "", ""),
    };
    if let Some(pki) = &spec.tls {
        let k = spec.index;
        let _ = write!(
            s,
            "[transport-tls]\ntype = transport\nprotocol = tls\nbind = {ip}:5061\ncert_file = {pki}/node{k}.crt\n\
             priv_key_file = {pki}/node{k}.key\nca_list_file = {pki}/ca.crt\nverify_client = yes\nrequire_client_cert = yes\n\
             verify_server = yes\nmethod = tlsv1_2\n\n"
        );
    }
    let auth = if spec.peer_auth {
        s.push_str("[cluster-auth]\ntype = auth\nauth_type = userpass\nusername = cluster\npassword = a-long-shared-secret\n\n");
        "auth = cluster-auth\noutbound_auth = cluster-auth\n"
    } else {
        ""
    };
    for &p in pjsip_peers.iter().chain(&spec.endpoints_only) {
        let peer_ip = net.node(p);
        let _ = write!(
            s,
            "[cluster-node{p}](endpoint-common)\ncontext = {peer_context}\naors = cluster-node{p}\n\
             trust_id_inbound = yes\ntrust_id_outbound = yes\nsend_pai = yes\n{transport}{auth}\n\
             [cluster-node{p}]\ntype = aor\ncontact = sip:{peer_ip}:{port}{uri_tail}\nqualify_frequency = {q}\nqualify_timeout = {qt}\n{aor}\n\
             [cluster-node{p}]\ntype = identify\nendpoint = cluster-node{p}\nmatch = {peer_ip}\n\n",
            q = spec.qualify_s,
            qt = spec.qualify_timeout_s,
            aor = spec.peer_aor,
        );
    }
    let publish_auth = if spec.peer_auth { "outbound_auth = cluster-auth\n" } else { "" };
    let me = spec.index;
    for &p in spec.peers.iter().chain(&spec.endpoints_only).filter(|_| spec.locate || spec.replicate) {
        let peer_ip = net.node(p);
        // What goes to the peer arrives in the inbound-publication named
        // after the endpoint it has for this node; the peer's come in on
        // ours for it.
        let _ = write!(s, "[cluster-node{p}]\ntype = inbound-publication\nendpoint = cluster-node{p}\n");
        if spec.locate {
            let _ = writeln!(s, "event_asterisk-devicestate = cluster-node{p}");
        }
        if spec.replicate {
            let _ = writeln!(s, "event_res-cluster-contacts = cluster-node{p}");
        }
        s.push('\n');
        if spec.locate {
            let filter = spec.device_state_filter.as_deref().unwrap_or(DEVICE_STATE_FILTER);
            // This node's device states: the phones, and the beacon.
            let _ = write!(
                s,
                "[cluster-node{p}]\ntype = outbound-publish\nserver_uri = sip:cluster-node{me}@{peer_ip}:{port}{uri_tail}\n\
                 {transport}{publish_auth}event = asterisk-devicestate\n@device_state_filter = {filter}\n\n\
                 [cluster-node{p}]\ntype = asterisk-publication\ndevice_state = yes\ndevicestate_publish = cluster-node{p}\n\n"
            );
        }
        if spec.replicate && !spec.endpoints_only.contains(&p) {
            let _ = write!(
                s,
                "[cluster-node{p}-contacts]\ntype = outbound-publish\nserver_uri = sip:cluster-node{me}@{peer_ip}:{port}{uri_tail}\n\
                 {transport}{publish_auth}event = res-cluster-contacts\n\n"
            );
        }
    }
    s.push_str(&spec.pjsip);
    s
}

/// The devices whose states a node publishes to its peers, by default.
pub const DEVICE_STATE_FILTER: &str = "^(PJSIP/[0-9]+$|Cluster:)";

fn res_cluster_conf(spec: &NodeSpec) -> String {
    let locate = if spec.locate { "locate = devstate\n" } else { "" };
    let replicate = if spec.replicate { "replicate_contacts = yes\n" } else { "" };
    let mut s = format!("[general]\n{locate}{replicate}{}\n", spec.general);
    let trust = spec.trust.as_ref().map(|t| format!("trust = {t}\n")).unwrap_or_default();
    for &p in &spec.peers {
        if spec.iax2_peers {
            let _ = write!(s, "\n[node{p}]\ntype = peer\ndial = IAX2/node{p}/${{EXTEN}}\n");
        } else {
            let _ = write!(s, "\n[node{p}]\ntype = peer\ndial = PJSIP/${{EXTEN}}@cluster-node{p}\nendpoint = cluster-node{p}\n{trust}");
        }
    }
    s
}

/// chan_iax2 on the node's address. Each IAX2 peer is a friend: calls to it
/// present this node's name and answer its challenge with the shared
/// secret; calls from it must do the same, so chan_iax2 names them after it.
/// Qualified every second; a call to it that gets no reply at all is given
/// up after 2 x 500 ms.
fn iax_conf(net: &Net, spec: &NodeSpec, ip: &str) -> String {
    let mut s = format!(
        "[general]\nbindaddr = {ip}\nbindport = 4569\ndisallow = all\nallow = ulaw\njitterbuffer = no\nautokill = yes\n{}\n",
        spec.iax_general
    );
    if spec.iax2_peers {
        for &p in spec.peers.iter().chain(&spec.endpoints_only) {
            let _ = write!(
                s,
                "[node{p}]\ntype = friend\nhost = {peer_ip}\nusername = node{me}\nsecret = cluster-secret\nauth = md5\n\
                 context = phones\ndisallow = all\nallow = ulaw\nqualify = 500\nqualifyfreqok = 1000\nqualifyfreqnotok = 1000\n\n",
                peer_ip = net.node(p),
                me = spec.index,
            );
        }
    }
    s.push_str(&spec.iax);
    s
}

/// Both dialplans start alike: the extension and the caller number as they
/// arrived are kept for the RESULT line.
const DIALPLAN_HEAD: &str = "[general]\nstatic = yes\nwriteprotect = no\n\n[phones]\n\
    exten => _X.,1,Set(CD_EXTEN=${EXTEN})\n same => n,Set(CD_RAW=${CALLERID(num)})\n";

/// `RESULT` lines come from the h extension, which runs however the call
/// ended; `cluster` is what that dialplan knows of CLUSTERSTATUS. Caller
/// numbers and the name are URI-encoded: a blank or a byte that is not
/// UTF-8 stays readable.
fn result_line(cluster: &str, after: &str) -> String {
    format!(
        "exten => h,1,Log(NOTICE,RESULT chan=${{CHANNEL}} exten=${{CD_EXTEN}} cluster={cluster} dial=${{DIALSTATUS}} \
         node=${{CLUSTERNODE}} raw=${{URIENCODE(${{CD_RAW}})}} cid=${{URIENCODE(${{CALLERID(num)}})}} after={after} \
         name=${{URIENCODE(${{CALLERID(name)}})}} pres=${{CALLERID(pres)}} route=${{URIENCODE(${{CLUSTERROUTE}})}})\n"
    )
}

fn extensions_conf(spec: &NodeSpec) -> String {
    if spec.recipe {
        return recipe_extensions_conf(spec);
    }
    let main = format!(" same => n,ClusterDial(${{EXTEN}})\n same => n,Set(CD_AFTER=${{CALLERID(num)}})\n same => n,{}\n", spec.after_clusterdial);
    let (tests, results) = if spec.results {
        (TEST_EXTENSIONS, result_line("${CLUSTERSTATUS}", "${URIENCODE(${CD_AFTER})}"))
    } else {
        ("", String::new())
    };
    format!("{DIALPLAN_HEAD}{main}{tests}{extra}\n{results}", extra = spec.dialplan)
}

/// The tests' own ClusterDial extensions in the phones' context.
const TEST_EXTENSIONS: &str = r#"
; the extension comes from a header the caller writes
exten => inject,1,Set(CD_EXTEN=${PJSIP_HEADER(read,X-Target)})
 same => n,ClusterDial(${CD_EXTEN})
 same => n,Hangup()

; a 3-second timeout argument
exten => _short.,1,Set(CD_EXTEN=${EXTEN:5})
 same => n,ClusterDial(${CD_EXTEN},3)
 same => n,Hangup()

; an options argument: f(888) sends 888 as the caller number
exten => _fopt.,1,Set(CD_EXTEN=${EXTEN:4})
 same => n,ClusterDial(${CD_EXTEN},,f(888))
 same => n,Hangup()

; Dial's option T: the caller may transfer
exten => _move.,1,Set(CD_EXTEN=${EXTEN:4})
 same => n,ClusterDial(${CD_EXTEN},,T)
 same => n,Hangup()

; Dial's option d: a key pressed while it rings leaves to that extension
exten => _dopt.,1,Set(CD_EXTEN=${EXTEN:4})
 same => n,ClusterDial(${CD_EXTEN},,d)
 same => n,Hangup()
exten => 5,1,Log(NOTICE,LEFT-WITH-5 chan=${CHANNEL} status=${CLUSTERSTATUS})
 same => n,Answer()
 same => n,Wait(1)
 same => n,Hangup()

; a dialplan written for the recipe marks its calls with FROM_CLUSTER
exten => _legacy.,1,Set(CD_EXTEN=${EXTEN:6})
 same => n,Set(__FROM_CLUSTER=1)
 same => n,ClusterDial(${CD_EXTEN})
 same => n,Hangup()
"#;

/// The classic recipe: dial locally; unless the call came from the other
/// server, prefix the caller number with 9999 and dial the peer(s); a peer
/// marks the call FROM_CLUSTER=1, strips the prefix and tries its own phones.
fn recipe_extensions_conf(spec: &NodeSpec) -> String {
    let mut peers = String::new();
    for &p in &spec.peers {
        let _ = writeln!(peers, " same => n,Dial(PJSIP/${{EXTEN}}@cluster-node{p},20,rt)");
    }
    format!(
        r#"{DIALPLAN_HEAD} same => n,Dial(PJSIP/${{EXTEN}},20,rt)
 same => n,GotoIf($["${{FROM_CLUSTER}}" = "1"]?done)
 same => n,Set(CALLERID(num)=9999${{CALLERID(num)}})
{peers} same => n(done),Congestion()
{extra}
{result}
[from-cluster]
exten => _X.,1,Set(__FROM_CLUSTER=1)
 same => n,Set(CALLERID(num)=${{CALLERID(num):4}})
 same => n,Goto(phones,${{EXTEN}},1)
"#,
        result = if spec.results { result_line("recipe", "") } else { String::new() },
        extra = spec.dialplan,
    )
}

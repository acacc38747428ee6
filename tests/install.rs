//! Installing res_cluster the ways an administrator would: `make install`
//! and the Debian package, into the sandbox's own Asterisk directories.
//!
//! These tests change the sandbox itself, so they take a lock; other tests'
//! nodes use private module and data directories and never see these files.

mod harness;

use std::fs;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use harness::sandbox::sandbox;
use harness::*;

const MODULE: &str = "/usr/lib/x86_64-linux-gnu/asterisk/modules/res_cluster.so";
const XML: &str = "/usr/share/asterisk/documentation/thirdparty/res_cluster-en_US.xml";
const SYNOPSIS: &str = "Ring a phone wherever it is registered in a cluster of Asterisk nodes.";

/// Holds the sandbox for one test that installs into it; the lock goes with
/// the file.
struct SystemLock(#[allow(dead_code)] fs::File);

fn lock_system() -> SystemLock {
    let f = fs::File::create(sandbox().root.join(".res_cluster-system.lock")).expect("lock file");
    // SAFETY: flock on a descriptor we own; released when the file closes.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    SystemLock(f)
}

/// Runs its command when dropped, so that a failing test still leaves the
/// sandbox as it found it.
struct Undo(Command);

impl Drop for Undo {
    fn drop(&mut self) {
        let _ = self.0.output();
    }
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run command");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

fn chroot(args: &[&str]) -> Command {
    let mut c = Command::new("chroot");
    c.arg(&sandbox().root).args(args);
    c
}

/// A node on the sandbox's own module and data directories.
fn system_node(net: &Net) -> Node {
    let mut spec = NodeSpec::new(1, &[]);
    spec.system_dirs = true;
    Node::start(net, &spec)
}

fn docs_shown(node: &Node) -> bool {
    node.cli("core show application ClusterDial").contains(SYNOPSIS)
}

#[test]
fn make_install_samples_and_uninstall() {
    let _lock = lock_system();
    let root = sandbox().root.clone();
    let host = |p: &str| root.join(p.trim_start_matches('/'));
    let make = |target: &str| {
        run(Command::new("make").arg("-s").arg(target).arg(format!("DESTDIR={}", root.display())).current_dir(repo()))
    };

    let mut uninstall = Command::new("sh");
    uninstall
        .arg("-c")
        .arg(format!("make -s uninstall DESTDIR='{0}'; rm -f '{0}/etc/asterisk/res_cluster.conf'", root.display()))
        .current_dir(repo());
    let _undo = Undo(uninstall);
    make("install");
    assert!(host(MODULE).is_file(), "module in Debian's multiarch module directory");
    assert!(host(XML).is_file(), "documentation where Asterisk reads third-party docs");
    assert!(host("/usr/share/doc/asterisk-res-cluster/res_cluster.conf.sample").is_file());

    let net = Net::allocate();
    {
        let node = system_node(&net);
        assert!(node.module_running(), "{}", node.log());
        assert!(docs_shown(&node), "{}", node.cli("core show application ClusterDial"));
        assert!(node.cli("manager show event ClusterPeerStatus").contains("Raised when res_cluster's view of a peer node changes"));
    }

    let conf = host("/etc/asterisk/res_cluster.conf");
    let _ = fs::remove_file(&conf);
    assert!(make("samples").contains("installed"));
    fs::write(&conf, "; edited by the administrator\n").expect("edit");
    assert!(make("samples").contains("kept"), "an existing configuration is never overwritten");
    assert_eq!(fs::read_to_string(&conf).expect("read"), "; edited by the administrator\n");

    make("uninstall");
    assert!(!host(MODULE).exists() && !host(XML).exists());
    assert!(conf.is_file(), "uninstall keeps the administrator's configuration");
    fs::remove_file(&conf).expect("clean up");
    let node = system_node(&net);
    assert!(!node.module_running());
}

fn package() -> PathBuf {
    let dir = repo().join("build");
    fs::read_dir(&dir)
        .ok()
        .and_then(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("asterisk-res-cluster_") && n.to_string_lossy().ends_with(".deb")))
        })
        .expect("build/asterisk-res-cluster_*.deb is missing: run make deb")
}

#[test]
fn the_debian_package_installs_works_and_purges_cleanly() {
    let _lock = lock_system();
    let deb = package();
    let name = deb.file_name().unwrap().to_string_lossy().into_owned();
    let inside = format!("/tmp/{name}");
    fs::copy(&deb, sandbox().root.join(inside.trim_start_matches('/'))).expect("copy the package in");

    let fields = run(Command::new("dpkg-deb").args(["-f"]).arg(&deb).args(["Package", "Version", "Depends"]));
    let sum = fs::read_to_string(sandbox().host_path("/usr/include/asterisk/buildopts.h"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("#define AST_BUILDOPT_SUM \"").map(|v| v.trim_end_matches('"').to_string()))
        .expect("AST_BUILDOPT_SUM");
    assert!(fields.contains(&format!("asterisk-abi-{sum}")), "Depends names the headers' ABI:\n{fields}");
    assert!(name.starts_with("asterisk-res-cluster_") && name.ends_with("_amd64.deb"), "{name}");

    let lintian = chroot(&["lintian", "--fail-on", "error", &inside]).output().expect("run lintian");
    let report = String::from_utf8_lossy(&lintian.stdout).into_owned();
    assert!(lintian.status.success() && !report.lines().any(|l| l.starts_with("E:")), "lintian:\n{report}");

    let _undo = Undo(chroot(&["dpkg", "--purge", "asterisk-res-cluster"]));
    run(&mut chroot(&["dpkg", "-i", &inside]));
    let listed = run(&mut chroot(&["dpkg", "-L", "asterisk-res-cluster"]));
    let files: Vec<String> = listed
        .lines()
        .map(str::trim)
        .filter(|p| p.starts_with('/') && sandbox().host_path(p).is_file())
        .map(str::to_string)
        .collect();
    for expected in [MODULE, XML, "/etc/asterisk/res_cluster.conf", "/usr/share/doc/asterisk-res-cluster/copyright"] {
        assert!(files.iter().any(|f| f == expected), "{expected} not installed:\n{listed}");
    }
    let conffiles = run(&mut chroot(&["dpkg-query", "-W", "-f=${Conffiles}", "asterisk-res-cluster"]));
    assert!(conffiles.contains("/etc/asterisk/res_cluster.conf"), "the live config is a conffile: {conffiles}");

    {
        let net = Net::allocate();
        let mut spec = NodeSpec::new(1, &[]);
        spec.system_dirs = true;
        spec.load_module = false;
        let node = Node::start(&net, &spec);
        let out = node.cli("module load res_cluster.so");
        assert!(out.contains("Loaded res_cluster.so"), "{out}\n{}", node.log());
        assert!(node.module_running());
        assert!(docs_shown(&node), "{}", node.cli("core show application ClusterDial"));
    }

    run(&mut chroot(&["dpkg", "--purge", "asterisk-res-cluster"]));
    let left: Vec<&String> = files.iter().filter(|f| sandbox().host_path(f).exists()).collect();
    assert!(left.is_empty(), "purge left {left:?}");
    let _ = fs::remove_file(sandbox().root.join(inside.trim_start_matches('/')));
}

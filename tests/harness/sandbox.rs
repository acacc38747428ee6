//! The sandbox root file system that real Asterisk nodes run in.

use std::fs;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub struct Sandbox {
    pub root: PathBuf,
}

/// The sandbox, prepared once per test process: /proc and /dev mounted in it
/// and the host's /etc/hosts copied (without it Asterisk asks DNS for its own
/// host name on every call).
pub fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let root = sandbox_root();
        assert!(
            root.join("usr/sbin/asterisk").is_file(),
            "no Asterisk sandbox at {} (run `make asterisk`, or set RES_CLUSTER_SANDBOX)",
            root.display()
        );
        // Several test processes may prepare the sandbox at once.
        let lock = fs::File::create(root.join(".res_cluster-prepare.lock")).expect("create lock file");
        // SAFETY: flock on a descriptor we own; released when `lock` is dropped.
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        for (target, args) in [("proc", vec!["-t", "proc", "proc"]), ("dev", vec!["--bind", "/dev"])] {
            let path = root.join(target);
            if !is_mounted(&path) {
                let ok = Command::new("mount").args(&args).arg(&path).status().map(|s| s.success()).unwrap_or(false);
                assert!(ok, "could not mount {} (tests run as root)", path.display());
            }
        }
        let hosts = fs::read("/etc/hosts").unwrap_or_default();
        if fs::read(root.join("etc/hosts")).ok().as_deref() != Some(&hosts[..]) {
            fs::write(root.join("etc/hosts"), &hosts).expect("copy /etc/hosts into the sandbox");
        }
        Sandbox { root }
    })
}

fn sandbox_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("RES_CLUSTER_SANDBOX").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"));
    cache.join("res_cluster/sid-root")
}

fn is_mounted(path: &Path) -> bool {
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    let wanted = path.to_string_lossy();
    mounts.lines().any(|l| l.split_whitespace().nth(1) == Some(&*wanted))
}

impl Sandbox {
    /// A host path for a path inside the sandbox.
    pub fn host_path(&self, inside: &str) -> PathBuf {
        self.root.join(inside.trim_start_matches('/'))
    }

    /// The uid and gid of `user` in the sandbox's own /etc/passwd.
    pub fn ids(&self, user: &str) -> (u32, u32) {
        let passwd = fs::read_to_string(self.root.join("etc/passwd")).unwrap_or_default();
        passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.first() == Some(&user))
            .and_then(|f| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))
            .unwrap_or_else(|| panic!("no user {user} in the sandbox"))
    }

    pub const MODULE_DIR: &'static str = "/usr/lib/x86_64-linux-gnu/asterisk/modules";
    pub const DATA_DIR: &'static str = "/usr/share/asterisk";
}

/// The res_cluster.so to load: RES_CLUSTER_MODULE, else the one `make` built.
pub fn module_path(fault_injection: bool) -> PathBuf {
    let (var, default) = if fault_injection {
        ("RES_CLUSTER_FAULT_MODULE", "build/fault-injection/res_cluster.so")
    } else {
        ("RES_CLUSTER_MODULE", "res_cluster.so")
    };
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(default));
    assert!(path.is_file(), "{} is missing: run `make` (or `make test`) first, or set {var}", path.display());
    path
}

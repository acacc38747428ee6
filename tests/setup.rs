//! The set-up scripts on the machine itself (`make test` and `make demo`
//! start from nothing): apt is waited for, with a bound, while another
//! package manager holds its lock, as on a fresh machine whose own apt runs
//! at boot.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};

/// dpkg's front-end lock, held as apt and dpkg hold it (a POSIX record
/// lock) until dropped: the descriptor is kept open, never read.
struct HeldLock(#[allow(dead_code)] File);

const FRONTEND_LOCK: &str = "/var/lib/dpkg/lock-frontend";

fn hold_dpkg_lock() -> HeldLock {
    let f = OpenOptions::new().write(true).create(true).truncate(false).open(FRONTEND_LOCK).expect("open dpkg's lock (tests run as root)");
    // SAFETY: lockf on a descriptor we own; the lock goes when it closes.
    let rc = unsafe { libc::lockf(f.as_raw_fd(), libc::F_LOCK, 0) };
    assert_eq!(rc, 0, "lock {FRONTEND_LOCK}");
    HeldLock(f)
}

/// `apt_get check` from scripts/apt.sh, waiting at most `wait_s` seconds.
fn apt_check(wait_s: u32) -> std::process::Child {
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    Command::new("sh")
        .arg("-c")
        .arg(". \"$1/apt.sh\" && apt_get check")
        .arg("sh")
        .arg(&scripts)
        .env("RES_CLUSTER_APT_WAIT", wait_s.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sh")
}

/// One test: POSIX record locks belong to the process, so two tests of this
/// binary holding the lock at once would share it.
#[test]
fn apt_is_waited_for_while_another_package_manager_holds_its_lock_and_given_up_after_its_bound() {
    // Given up, saying why.
    let held = hold_dpkg_lock();
    let out = apt_check(1).wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(text.contains(&format!("apt: gave up after 1s waiting for {FRONTEND_LOCK}")), "{text}");

    // Waited for: the lock is released once the script has said what it
    // waits for, and apt-get then runs.
    let mut child = apt_check(120);
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut said = String::new();
    while !said.contains("apt: waiting for") {
        let mut line = String::new();
        if stderr.read_line(&mut line).expect("read") == 0 {
            break;
        }
        said.push_str(&line);
    }
    drop(held);
    let rest: String = stderr.lines().map(|l| l.unwrap_or_default()).collect();
    let status = child.wait().expect("wait");
    let me = std::process::id();
    assert!(said.contains(&format!("apt: waiting for {FRONTEND_LOCK}, held by process {me}")), "{said}");
    assert!(status.success(), "apt-get ran once the lock was free: {said}{rest}");
}

/// scripts/install.sh dirs, with these variables set.
fn dirs(env: &[(&str, &str)]) -> String {
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install.sh"))
        .arg("dirs")
        .envs(env.iter().copied())
        .output()
        .expect("run install.sh");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_source_built_asterisk_gets_the_module_where_it_looks() {
    let root = std::env::temp_dir().join(format!("res_cluster-install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    // A source tree after ./configure and make: makeopts beside include/.
    let tree = root.join("asterisk-22.10.1");
    std::fs::create_dir_all(tree.join("include/asterisk")).unwrap();
    std::fs::write(tree.join("makeopts"), "ASTMODDIR=/opt/pbx/lib/asterisk/modules\nASTDATADIR=/opt/pbx/share/asterisk\n").unwrap();
    let include = tree.join("include");
    let out = dirs(&[("ASTERISK_INCLUDE_DIR", include.to_str().unwrap()), ("ASTETCDIR", root.join("none").to_str().unwrap())]);
    assert!(out.contains("MODULES_DIR=/opt/pbx/lib/asterisk/modules\n"), "{out}");
    assert!(out.contains("DOC_XML_DIR=/opt/pbx/share/asterisk/documentation/thirdparty\n"), "{out}");

    // An installed Asterisk: its asterisk.conf says where, and wins.
    let etc = root.join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("asterisk.conf"), "[directories](!)\nastmoddir => /srv/ast/modules ; its modules\nastdatadir => /srv/ast/data\n").unwrap();
    let out = dirs(&[("ASTERISK_INCLUDE_DIR", include.to_str().unwrap()), ("ASTETCDIR", etc.to_str().unwrap())]);
    assert!(out.contains("MODULES_DIR=/srv/ast/modules\n") && out.contains("DOC_XML_DIR=/srv/ast/data/documentation/thirdparty\n"), "{out}");

    // Set by hand, as ever.
    let out = dirs(&[("ASTETCDIR", etc.to_str().unwrap()), ("MODULES_DIR", "/x/modules")]);
    assert!(out.contains("MODULES_DIR=/x/modules\n"), "{out}");
    let _ = std::fs::remove_dir_all(&root);
}

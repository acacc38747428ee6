//! Header discovery: an explicit directory first, then the system's, then
//! the sandbox's; a clear error naming all three when none is there.
//!
//! These builds use their own target directory, so they neither wait for
//! nor disturb the one the rest of the suite was built in.

mod harness;

use std::path::Path;
use std::process::{Command, Output};

use harness::sandbox::sandbox;

fn cargo_build(envs: &[(&str, &str)]) -> Output {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--release", "--lib", "--target-dir"])
        .arg(repo.join("target/discovery"))
        .current_dir(repo)
        .env_remove("ASTERISK_INCLUDE_DIR");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run cargo")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn no_headers_anywhere_is_one_error_naming_all_three_places() {
    assert!(
        !Path::new("/usr/include/asterisk.h").exists(),
        "this test needs a machine without the system's Asterisk headers (asterisk-dev)"
    );
    let out = cargo_build(&[("RES_CLUSTER_SANDBOX", "/nonexistent/res_cluster-sandbox")]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("no Asterisk headers found"), "{err}");
    assert!(err.contains("$ASTERISK_INCLUDE_DIR (unset)"), "{err}");
    assert!(err.contains("/usr/include/asterisk.h (install asterisk-dev)"), "{err}");
    assert!(err.contains("/nonexistent/res_cluster-sandbox/usr/include (run `make asterisk`)"), "{err}");
}

#[test]
fn a_wrong_explicit_directory_is_named_and_not_passed_over() {
    let out = cargo_build(&[("ASTERISK_INCLUDE_DIR", "/nonexistent/include")]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("ASTERISK_INCLUDE_DIR=/nonexistent/include holds no asterisk.h"), "{err}");
}

#[test]
fn an_explicit_directory_wins_even_with_no_sandbox() {
    let include = sandbox().root.join("usr/include");
    let out = cargo_build(&[
        ("ASTERISK_INCLUDE_DIR", include.to_str().expect("utf-8 path")),
        ("RES_CLUSTER_SANDBOX", "/nonexistent/res_cluster-sandbox"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("target/discovery/release/build"))
        .expect("build dir")
        .filter_map(Result::ok)
        .map(|e| e.path().join("out/asterisk-headers.txt"))
        .filter(|p| p.is_file())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .expect("header report");
    let text = std::fs::read_to_string(report).expect("read report");
    assert!(text.contains("(ASTERISK_INCLUDE_DIR)"), "{text}");
}

//! Certificates a test makes for itself: a CA and one certificate per node,
//! its address in subjectAltName (what PJSIP's verify_server checks a
//! peer's certificate against), made with the sandbox's own openssl. The
//! directory goes when the Pki is dropped.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use super::sandbox::sandbox;

pub struct Pki {
    /// The directory as Asterisk, inside the sandbox, sees it.
    pub inside: String,
    host: PathBuf,
}

impl Pki {
    /// A new CA named `ca` in a directory of its own.
    pub fn new(ca: &str) -> Pki {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let inside = format!("/tmp/res_cluster-tests/{}-pki-{}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst));
        let host = sandbox().host_path(&inside);
        let _ = fs::remove_dir_all(&host);
        fs::create_dir_all(&host).expect("pki directory");
        let pki = Pki { inside, host };
        pki.openssl(&[
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", &format!("/CN={ca}"),
            "-keyout", "ca.key", "-out", "ca.crt",
        ]);
        pki
    }

    /// `node<k>.crt` and `.key` for the node at `ip`, signed by this CA.
    pub fn node(&self, k: u8, ip: &str) -> &Pki {
        let name = format!("node{k}");
        fs::write(self.host.join(format!("{name}.ext")), format!("subjectAltName = IP:{ip}\n")).expect("extensions file");
        self.openssl(&[
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", &format!("/CN={name}"),
            "-keyout", &format!("{name}.key"), "-out", &format!("{name}.csr"),
        ]);
        self.openssl(&[
            "x509", "-req", "-in", &format!("{name}.csr"), "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", &format!("{name}.ext"), "-out", &format!("{name}.crt"),
        ]);
        self
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("chroot")
            .arg(&sandbox().root)
            .args(["sh", "-c", "cd \"$1\" && shift && exec openssl \"$@\"", "sh", &self.inside])
            .args(args)
            .output()
            .expect("run openssl in the sandbox");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.host);
    }
}

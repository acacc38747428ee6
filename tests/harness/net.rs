//! Loopback addresses for one test's nodes, phones and callers.
//!
//! Each test takes its own 127.a.b.0/24 so tests run in parallel without
//! sharing a port; nothing ever leaves 127.0.0.0/8.

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug)]
pub struct Net {
    a: u8,
    b: u8,
}

impl Net {
    /// A /24 whose SIP ports are free right now, and that no other test of
    /// this process has been given (its nodes may not have bound yet).
    pub fn allocate() -> Net {
        static GIVEN: Mutex<BTreeSet<(u8, u8)>> = Mutex::new(BTreeSet::new());
        let mut seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
            ^ (u64::from(std::process::id()) << 32);
        for _ in 0..1000 {
            // xorshift: enough spread to keep parallel tests apart.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let net = Net { a: 16 + (seed % 200) as u8, b: ((seed >> 8) % 256) as u8 };
            let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
            if net.all_free() && given.insert((net.a, net.b)) {
                return net;
            }
        }
        panic!("no free 127.x.y.0/24 for SIP found");
    }

    fn all_free(&self) -> bool {
        [1, 2, 3, 4, 101, 102, 103, 200, 201]
            .iter()
            .all(|h| UdpSocket::bind((self.host(*h).as_str(), 5060)).is_ok())
    }

    pub fn host(&self, h: u8) -> String {
        format!("127.{}.{}.{}", self.a, self.b, h)
    }

    /// Node k (1-based).
    pub fn node(&self, k: u8) -> String {
        self.host(k)
    }

    /// The phone registered as extension `101` lives at .101, `102` at .102 ...
    pub fn phone(&self, exten: &str) -> String {
        let n: u8 = exten.trim_start_matches(|c: char| !c.is_ascii_digit()).parse::<u32>().map(|n| (n % 100) as u8).unwrap_or(99);
        self.host(100 + n.min(99))
    }

    /// Caller i (0-based) at .200 + i.
    pub fn caller(&self, i: u8) -> String {
        self.host(200 + i)
    }
}

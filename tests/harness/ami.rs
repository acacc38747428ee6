//! A minimal AMI client: log in, then read events.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::node::Node;

pub struct Ami {
    reader: BufReader<TcpStream>,
    /// Every event read so far, as key/value lists.
    pub events: Vec<Vec<(String, String)>>,
}

impl Ami {
    pub fn connect(node: &Node) -> Ami {
        let stream = TcpStream::connect((node.ip.as_str(), 5038)).expect("connect to AMI");
        stream.set_read_timeout(Some(Duration::from_millis(100))).expect("timeout");
        let mut writer = stream.try_clone().expect("clone");
        writer
            .write_all(b"Action: Login\r\nUsername: test\r\nSecret: test\r\nEvents: on\r\n\r\n")
            .expect("login");
        let mut ami = Ami { reader: BufReader::new(stream), events: Vec::new() };
        let ok = ami.wait(|m| m.iter().any(|(k, v)| k == "Message" && v.contains("Authentication accepted")), Duration::from_secs(5));
        assert!(ok.is_some(), "AMI login failed");
        ami
    }

    fn read_message(&mut self) -> Option<Vec<(String, String)>> {
        let mut fields = Vec::new();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => return None,
                Ok(_) => {
                    let line = line.trim_end();
                    if line.is_empty() {
                        if fields.is_empty() {
                            continue;
                        }
                        return Some(fields);
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        fields.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                Err(_) => return if fields.is_empty() { None } else { Some(fields) },
            }
        }
    }

    /// Reads until a message matches, or the time is up.
    pub fn wait(&mut self, matches: impl Fn(&[(String, String)]) -> bool, timeout: Duration) -> Option<Vec<(String, String)>> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(m) = self.read_message() {
                let hit = matches(&m);
                self.events.push(m.clone());
                if hit {
                    return Some(m);
                }
            }
        }
        None
    }

    /// Waits for a ClusterPeerStatus event for `peer` with status `status`.
    pub fn wait_peer_status(&mut self, peer: &str, status: &str, timeout: Duration) -> Option<Vec<(String, String)>> {
        let get = |m: &[(String, String)], k: &str| m.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        self.wait(
            |m| {
                get(m, "Event").as_deref() == Some("ClusterPeerStatus")
                    && get(m, "Peer").as_deref() == Some(peer)
                    && get(m, "PeerStatus").as_deref() == Some(status)
            },
            timeout,
        )
    }
}

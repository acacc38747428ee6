//! A minimal AMI client: log in, then read events.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::node::Node;

pub struct Ami {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next_id: u32,
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
        let mut ami = Ami { reader: BufReader::new(stream), writer, next_id: 1, events: Vec::new() };
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

    /// Sends an action and waits for its response (events read meanwhile
    /// are kept in `events`).
    pub fn action(&mut self, action: &str, fields: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        let id = format!("res-cluster-test-{}", self.next_id);
        self.next_id += 1;
        let mut text = format!("Action: {action}\r\nActionID: {id}\r\n");
        for (k, v) in fields {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str("\r\n");
        self.writer.write_all(text.as_bytes()).expect("send AMI action");
        let response = self.wait(|m| m.iter().any(|(k, v)| k == "ActionID" && *v == id), Duration::from_secs(5));
        // The response is not an event.
        if response.is_some() {
            self.events.pop();
        }
        response
    }

    /// A variable or function of a channel, read with Getvar.
    pub fn getvar(&mut self, channel: &str, variable: &str) -> Option<String> {
        let r = self.action("Getvar", &[("Channel", channel), ("Variable", variable)])?;
        r.iter().find(|(k, _)| k == "Value").map(|(_, v)| v.clone())
    }

    /// Reads events for `duration`.
    pub fn drain(&mut self, duration: Duration) {
        self.wait(|_| false, duration);
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

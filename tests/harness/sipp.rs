//! SIPp as phones (register, then answer / be busy / ring) and as callers.

use std::fs;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::net::Net;
use super::node::Node;

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp").join(name)
}

/// SIPp running scenario `file` from `ip`:5060, quiet, not reading the terminal.
fn sipp(file: &str, ip: &str) -> Command {
    let mut command = Command::new("sipp");
    command.arg("-sf").arg(scenario(file)).args(["-i", ip, "-p", "5060", "-nostdin"]);
    command.stdout(Stdio::null()).stderr(Stdio::null());
    command
}

fn scratch(name: &str) -> PathBuf {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join("res_cluster-tests");
    fs::create_dir_all(&dir).expect("scratch dir");
    dir.join(format!("{}-{}-{name}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst)))
}

#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    Answer,
    /// Rings this many milliseconds, then answers.
    AnswerAfter(u32),
    /// Sends 100 Trying, starts to ring only after this many milliseconds,
    /// and answers at once then.
    RingAfter(u32),
    Busy,
    /// Rings until the caller gives up.
    Ring,
}

/// A SIPp phone registered on one node; killed when dropped.
pub struct Phone {
    pub exten: String,
    pub ip: String,
    child: Child,
    trace: PathBuf,
}

impl Phone {
    pub fn register(net: &Net, node: &Node, exten: &str, behaviour: Behaviour) -> Phone {
        Phone::register_from(net.phone(exten), node, exten, behaviour)
    }

    /// A phone at an address of the caller's choice (a second phone for the
    /// same extension on another node).
    pub fn register_from(ip: String, node: &Node, exten: &str, behaviour: Behaviour) -> Phone {
        Phone::register_as(ip, node, exten, &node.ip, behaviour)
    }

    /// A phone that registers `exten@domain` (a multi-domain endpoint when
    /// the node has one of that name).
    pub fn register_as(ip: String, node: &Node, exten: &str, domain: &str, behaviour: Behaviour) -> Phone {
        send_register_in(&ip, 5060, node, exten, domain, 3600);
        Phone::answering_at(ip, exten, behaviour)
    }

    /// A phone registered for `expires` seconds (its registration interval).
    pub fn register_for(net: &Net, node: &Node, exten: &str, expires: u32, behaviour: Behaviour) -> Phone {
        let ip = net.phone(exten);
        send_register(&ip, 5060, node, exten, expires);
        Phone::answering_at(ip, exten, behaviour)
    }

    /// A phone whose REGISTER comes from another port than its Contact
    /// names (5061 for 5060), as from behind a NAT.
    pub fn register_natted(net: &Net, node: &Node, exten: &str, behaviour: Behaviour) -> Phone {
        let ip = net.phone(exten);
        send_register_via(&ip, 5061, 5061, node, exten, &node.ip, 3600);
        Phone::answering_at(ip, exten, behaviour)
    }

    /// The phone registers again on `node` (also while it is registered
    /// elsewhere: a phone registered on two nodes at once).
    pub fn register_also(&self, node: &Node, expires: u32) {
        send_register(&self.ip, 5062, node, &self.exten, expires);
    }

    /// A SIP user agent at `ip`:5060 that answers as a phone does, without
    /// registering anywhere (a gateway behind a trunk endpoint, say).
    pub fn answering_at(ip: String, exten: &str, behaviour: Behaviour) -> Phone {
        let (file, delay_ms) = match behaviour {
            Behaviour::Answer => ("phone_answer.xml", 0),
            Behaviour::AnswerAfter(ms) => ("phone_answer_late.xml", ms),
            Behaviour::RingAfter(ms) => ("phone_ring_late.xml", ms),
            Behaviour::Busy => ("phone_busy.xml", 0),
            Behaviour::Ring => ("phone_ring.xml", 0),
        };
        let trace = scratch(&format!("phone-{exten}.msg"));
        let child = sipp(file, &ip)
            .args(["-d", &delay_ms.to_string(), "-trace_msg", "-message_file"])
            .arg(&trace)
            .spawn()
            .expect("start sipp phone");
        // Ready once SIPp holds the port.
        let deadline = Instant::now() + Duration::from_secs(5);
        while UdpSocket::bind((ip.as_str(), 5060)).is_ok() {
            assert!(Instant::now() < deadline, "phone {exten} did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        Phone { exten: exten.to_string(), ip, child, trace }
    }

    /// The phone moves: its registration on `from` is removed and it
    /// registers on `to` (sent from another port of its address; its
    /// contact stays the one this phone answers on).
    pub fn move_to(&self, from: &Node, to: &Node) {
        send_register(&self.ip, 5061, from, &self.exten, 0);
        send_register(&self.ip, 5061, to, &self.exten, 3600);
    }

    /// The phone's registration on `node` is removed.
    pub fn unregister(&self, node: &Node) {
        send_register(&self.ip, 5061, node, &self.exten, 0);
    }

    /// The requests of `method` this phone received.
    fn received(&self, method: &str) -> Vec<SipMessage> {
        let start = format!("{method} ");
        read_trace(&self.trace).into_iter().filter(|m| !m.sent && m.first_line.starts_with(&start)).collect()
    }

    /// The INVITEs this phone received.
    pub fn invites(&self) -> Vec<SipMessage> {
        self.received("INVITE")
    }

    /// How many requests of `method` this phone received.
    pub fn requests(&self, method: &str) -> usize {
        self.received(method).len()
    }

    /// The caller numbers (From user) of the INVITEs received.
    pub fn caller_numbers(&self) -> Vec<String> {
        self.invites().iter().filter_map(|m| m.header("From").and_then(uri_user)).collect()
    }

    /// The From display parts (as on the wire, quotes included) of the
    /// INVITEs received.
    pub fn caller_displays(&self) -> Vec<String> {
        self.invites()
            .iter()
            .filter_map(|m| m.header("From").map(|f| f.split_once('<').map_or("", |(d, _)| d).trim().to_string()))
            .collect()
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.trace);
    }
}

/// A REGISTER of `exten` at `node` from `ip`:`port`, its contact at
/// `ip`:5060, for `expires` seconds (0: removes it). Its Via names the
/// contact's port too (the phone's own view of where it is, as a phone sends
/// it; the answer comes back to the port it was sent from, by rport).
fn send_register(ip: &str, port: u16, node: &Node, exten: &str, expires: u32) {
    send_register_in(ip, port, node, exten, &node.ip, expires)
}

/// As `send_register`, for `exten@domain`.
fn send_register_in(ip: &str, port: u16, node: &Node, exten: &str, domain: &str, expires: u32) {
    send_register_via(ip, port, 5060, node, exten, domain, expires)
}

/// As `send_register_in`, with the Via naming `via_port`.
fn send_register_via(ip: &str, port: u16, via_port: u16, node: &Node, exten: &str, domain: &str, expires: u32) {
    let mut command = sipp("register.xml", ip);
    command.args(["-key", "domain", domain, "-key", "via_port", &via_port.to_string()]);
    // The port SIPp sends from (the builder's default is 5060).
    if port != 5060 {
        command.args(["-p", &port.to_string()]);
    }
    let status = command
        .args(["-m", "1", "-s", exten, "-timeout", "10", "-key", "expires", &expires.to_string(), "-key", "contact_port", "5060"])
        .arg(format!("{}:5060", node.ip))
        .status()
        .expect("run sipp (install sip-tester)");
    assert!(status.success(), "phone {exten} could not register (expires {expires}) on {}", node.name);
}

/// One SIP message out of SIPp's -trace_msg file.
#[derive(Clone, Debug)]
pub struct SipMessage {
    pub at: f64,
    pub sent: bool,
    pub first_line: String,
    pub headers: Vec<(String, String)>,
}

impl SipMessage {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The status code of a response.
    pub fn code(&self) -> Option<u16> {
        self.first_line.strip_prefix("SIP/2.0 ")?.split(' ').next()?.parse().ok()
    }
}

/// The user part of a From/To value (`"Name" <sip:user@host>;tag=x`).
pub fn uri_user(value: &str) -> Option<String> {
    let uri = value.split_once("sip:")?.1;
    let user = uri.split_once('@')?.0;
    Some(user.to_string())
}

fn read_trace(path: &Path) -> Vec<SipMessage> {
    let text = fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let mut out = Vec::new();
    for block in text.split("----------------------------------------------- ").skip(1) {
        let mut lines = block.lines();
        let stamp = lines.next().unwrap_or("");
        let at = stamp.split_whitespace().nth(1).map(seconds_of_day).unwrap_or(0.0);
        let direction = lines.next().unwrap_or("");
        let sent = direction.contains("sent");
        let mut lines = lines.skip_while(|l| l.trim().is_empty());
        let first_line = lines.next().unwrap_or("").trim().to_string();
        let headers = lines
            .map(str::trim)
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
            .collect();
        out.push(SipMessage { at, sent, first_line, headers });
    }
    out
}

fn seconds_of_day(hms: &str) -> f64 {
    let mut parts = hms.split(':');
    let h: f64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let m: f64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let s: f64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
    h * 3600.0 + m * 60.0 + s
}

pub struct CallOptions {
    /// Caller number (From user); also picks the caller endpoint.
    pub caller: String,
    /// Which caller address (.200 + n) to call from.
    pub caller_slot: u8,
    /// How long an answered call is held, in ms.
    pub hold_ms: u32,
    /// One extra header line, e.g. "X-Target: 101".
    pub extra_header: String,
    pub timeout_s: u32,
    /// The From header's display part, as written on the wire (with its
    /// quotes); None: `"Caller <number>"`.
    pub display: Option<String>,
    /// A DTMF key to press (SIP INFO) once the call rings.
    pub dtmf: Option<char>,
    /// Once answered, an attended transfer (*2) to this three-digit
    /// extension, completed by hanging up after `hold_ms`.
    pub transfer_to: Option<String>,
    /// Send from this address and port instead of the caller's (a request
    /// forged with another node's source address, say).
    pub from: Option<(String, u16)>,
}

impl Default for CallOptions {
    fn default() -> Self {
        CallOptions {
            caller: "200".into(),
            caller_slot: 0,
            hold_ms: 200,
            extra_header: "X-Res-Cluster-Test: plain".into(),
            timeout_s: 30,
            display: None,
            dtmf: None,
            transfer_to: None,
            from: None,
        }
    }
}

/// What a caller saw of one call.
#[derive(Clone, Debug)]
pub struct CallReport {
    /// The final response to the INVITE (200, 404, 486 ...), if any came.
    pub final_code: Option<u16>,
    /// INVITE out to that final response, in ms.
    pub setup_ms: Option<f64>,
    /// SIPp finished the scenario (answered and hung up, or failed and acknowledged).
    pub completed: bool,
}

impl CallReport {
    pub fn answered(&self) -> bool {
        self.final_code == Some(200)
    }
}

/// Places one call to `exten` at `node` and waits for it to end.
pub fn call(net: &Net, node: &Node, exten: &str, opts: &CallOptions) -> CallReport {
    let ip = opts.from.as_ref().map_or_else(|| net.caller(opts.caller_slot), |(ip, _)| ip.clone());
    let trace = scratch(&format!("call-{exten}.msg"));
    let display = opts.display.clone().unwrap_or_else(|| format!("\"Caller {}\"", opts.caller));
    let scenario = match (opts.dtmf, &opts.transfer_to) {
        (Some(_), _) => "caller_dtmf.xml",
        (None, Some(_)) => "caller_xfer.xml",
        (None, None) => "caller.xml",
    };
    let mut command = sipp(scenario, &ip);
    if let Some((_, port)) = &opts.from {
        command.args(["-p", &port.to_string()]);
    }
    if let Some(digit) = opts.dtmf {
        command.args(["-key", "digit", &digit.to_string()]);
    }
    if let Some(target) = &opts.transfer_to {
        for (i, digit) in target.chars().enumerate() {
            command.args(["-key", &format!("target{}", i + 1), &digit.to_string()]);
        }
    }
    let status = command
        .args(["-m", "1", "-s", exten])
        .args(["-key", "caller", &opts.caller, "-key", "extra", &opts.extra_header, "-key", "display", &display])
        .args(["-d", &opts.hold_ms.to_string(), "-timeout", &opts.timeout_s.to_string()])
        .args(["-trace_msg", "-message_file"])
        .arg(&trace)
        .arg(format!("{}:5060", node.ip))
        .status()
        .expect("run sipp caller");
    let messages = read_trace(&trace);
    let _ = fs::remove_file(&trace);
    let invite_at = messages.iter().find(|m| m.sent && m.first_line.starts_with("INVITE ")).map(|m| m.at);
    let final_response = messages.iter().find(|m| {
        !m.sent && m.code().is_some_and(|c| c >= 200) && m.header("CSeq").is_some_and(|c| c.ends_with("INVITE"))
    });
    CallReport {
        final_code: final_response.and_then(SipMessage::code),
        setup_ms: match (invite_at, final_response) {
            (Some(a), Some(b)) => Some((b.at - a) * 1000.0),
            _ => None,
        },
        completed: status.success(),
    }
}

/// What SIPp counted over a run of many calls.
#[derive(Clone, Debug)]
pub struct LoadReport {
    pub successful: u64,
    pub failed: u64,
    pub elapsed: Duration,
}

/// Places `calls` calls at `rate` per second from one SIPp caller and
/// waits for all of them to end.
pub fn load(net: &Net, node: &Node, exten: &str, rate: u32, calls: u32, hold_ms: u32) -> LoadReport {
    load_from(net, 1, node, exten, rate, calls, hold_ms)
}

/// `load` from caller address .200 + `slot`, so that several run at once.
pub fn load_from(net: &Net, slot: u8, node: &Node, exten: &str, rate: u32, calls: u32, hold_ms: u32) -> LoadReport {
    let ip = net.caller(slot);
    let stats = scratch("load.csv");
    let started = Instant::now();
    let _ = sipp("caller.xml", &ip)
        .args(["-s", exten, "-key", "caller", "200", "-key", "display", "\"Caller 200\""])
        .args(["-key", "extra", "X-Res-Cluster-Test: load"])
        .args(["-r", &rate.to_string(), "-m", &calls.to_string(), "-d", &hold_ms.to_string()])
        // -timeout bounds the whole run: the calls' own duration plus a minute.
        .args(["-timeout", &(calls / rate.max(1) + 60).to_string(), "-timeout_error", "-trace_stat", "-fd", "1", "-stf"])
        .arg(&stats)
        .arg(format!("{}:5060", node.ip))
        .status()
        .expect("run sipp load");
    let elapsed = started.elapsed();
    let text = fs::read_to_string(&stats).unwrap_or_default();
    let _ = fs::remove_file(&stats);
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().unwrap_or("").split(';').collect();
    let last: Vec<&str> = lines.next_back().unwrap_or("").split(';').collect();
    let column = |name: &str| -> u64 {
        header.iter().position(|h| *h == name).and_then(|i| last.get(i)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    };
    LoadReport { successful: column("SuccessfulCall(C)"), failed: column("FailedCall(C)"), elapsed }
}

/// Sends one PUBLISH of event `event` from `ip`:5060 to `node`, for its
/// inbound-publication `resource`, From user `from_user`, with a body of
/// `content_type`; the final response's code (None: no answer in 5 s).
/// Written to the socket by hand: SIPp would read a JSON array's brackets
/// as its own keywords.
pub fn publish(ip: &str, node: &Node, resource: &str, from_user: &str, event: &str, content_type: &str, body: &str) -> Option<u16> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let tag = format!("{}-{n}", std::process::id());
    let request = format!(
        "PUBLISH sip:{resource}@{node}:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {ip}:5060;rport;branch=z9hG4bK-pub-{tag}\r\n\
         From: <sip:{from_user}@{ip}>;tag=pub-{tag}\r\nTo: <sip:{resource}@{node}>\r\nCall-ID: pub-{tag}@{ip}\r\n\
         CSeq: 1 PUBLISH\r\nMax-Forwards: 70\r\nEvent: {event}\r\nExpires: 3600\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len(),
        node = node.ip,
    );
    let socket = UdpSocket::bind((ip, 5060)).expect("bind the publisher's address");
    socket.set_read_timeout(Some(Duration::from_millis(500))).expect("timeout");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = vec![0u8; 65_536];
    while Instant::now() < deadline {
        socket.send_to(request.as_bytes(), (node.ip.as_str(), 5060)).expect("send PUBLISH");
        while let Ok((len, _)) = socket.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..len]);
            let code = text.strip_prefix("SIP/2.0 ").and_then(|r| r.get(..3)).and_then(|c| c.parse::<u16>().ok());
            if code.is_some_and(|c| c >= 200) && text.contains(&format!("pub-{tag}")) {
                return code;
            }
        }
    }
    None
}

/// A phone's REGISTER of `exten` at `node` from `ip`:`port` (its contact at
/// `ip`:5060) for `expires` seconds, retransmitted as a phone does, given up
/// after `timeout_s`: whether the node took it.
pub fn try_register(ip: &str, port: u16, node: &Node, exten: &str, expires: u32, timeout_s: u32) -> bool {
    let mut command = sipp("register.xml", ip);
    command.args(["-key", "domain", &node.ip, "-key", "via_port", "5060", "-p", &port.to_string()]);
    command
        .args(["-m", "1", "-s", exten, "-timeout", &timeout_s.to_string(), "-key", "expires", &expires.to_string(), "-key", "contact_port", "5060"])
        .arg(format!("{}:5060", node.ip))
        .status()
        .is_ok_and(|s| s.success())
}

//! Every node knows the registrations of every peer: each node publishes the
//! PJSIP contacts registered on it to its peers (an event package of
//! res_cluster's own, `res-cluster-contacts`, through res_pjsip's
//! publication framework), and keeps what each peer published. When a
//! peer is down, a call for one of its phones dials the phone's contact
//! from here, with the phone's own endpoint settings on this node.
//!
//! Here: what a contact is, which contacts can be dialled from another node
//! at all, what the nodes keep of each other's contacts, and the messages
//! they exchange (as JSON values; the shell turns them into text with
//! Asterisk's own JSON).

use std::collections::BTreeMap;
use std::fmt;

use super::json::Value;

/// The event package the contacts travel in (an Event header; pubsub keeps
/// at most 31 characters of it).
pub const EVENT: &str = "res-cluster-contacts";

/// The largest body a node accepts; a node sends its contacts in parts
/// far below it.
pub const MAX_BODY: usize = 32 * 1024;

/// Contacts per part of a full snapshot (a few kB on the wire each).
pub const SNAPSHOT_PART: usize = 8;

/// A registration, as res_pjsip keeps it (its `contact` object's fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    /// Sorcery's id: "aor;@hash of the URI".
    pub id: String,
    pub aor: String,
    /// The endpoint the REGISTER came in on: its settings dial the contact.
    pub endpoint: String,
    pub uri: String,
    /// When it expires, seconds since 1970.
    pub expires: u64,
    /// The phone's own address in its Via (the REGISTER's sender, as the
    /// phone saw itself).
    pub via_addr: String,
    pub via_port: u16,
    /// The Path of a phone behind a proxy.
    pub path: String,
    pub user_agent: String,
    /// When its node's registrar last took a REGISTER for it, seconds since
    /// 1970 by that node's clock (0: not known, as for a contact restored
    /// from the database at start): of two copies of one phone at two
    /// addresses, the newer is where the phone is.
    pub registered: u64,
}

/// Whether another node can reach a contact by dialling its URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    Direct,
    /// The REGISTER came from another address than its Contact: a NAT
    /// pinhole that only the registrar's own flow keeps open.
    Nat,
    /// TCP, TLS or WebSocket: the connection belongs to the node it
    /// registered with.
    Flow,
    /// Behind a proxy (Path): a direct dial would bypass it.
    Path,
    /// A URI Dial cannot carry (',', '&', '/', blanks).
    Unusable,
}

impl Reach {
    pub fn dialable(self) -> bool {
        self == Reach::Direct
    }

    /// Why it is not dialled from another node (for the CLI and the log).
    pub fn why(self) -> &'static str {
        match self {
            Reach::Direct => "dialled directly when its node is down",
            Reach::Nat => "behind NAT: its REGISTER came from another address than its Contact",
            Reach::Flow => "a TCP, TLS or WebSocket flow that belongs to its node",
            Reach::Path => "behind a proxy (Path), which a direct dial would bypass",
            Reach::Unusable => "a URI Dial cannot carry",
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Reach::Direct => "direct",
            Reach::Nat => "nat",
            Reach::Flow => "flow",
            Reach::Path => "path",
            Reach::Unusable => "unusable",
        }
    }
}

/// The host and port of a SIP URI ("sip:102@192.0.2.5:5062;ob" gives
/// ("192.0.2.5", 5062); no port is 5060).
fn host_port(uri: &str) -> Option<(&str, u16)> {
    let rest = uri.strip_prefix("sip:").or_else(|| uri.strip_prefix("sips:"))?;
    let rest = rest.split(';').next()?.split('?').next()?;
    let hostport = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = after.strip_prefix(':').map_or(Some(5060), |p| p.parse().ok())?;
        return Some((host, port));
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) => Some((h, p.parse().ok()?)),
        None => Some((hostport, 5060)),
    }
}

/// Whether this node can dial `c` when its own node is down.
pub fn reach(c: &Contact) -> Reach {
    let uri = c.uri.to_ascii_lowercase();
    if c.uri.chars().any(|ch| ch.is_whitespace() || ch.is_control() || ",&/\"\\".contains(ch)) || host_port(&c.uri).is_none() {
        return Reach::Unusable;
    }
    if uri.starts_with("sips:") || ["tcp", "tls", "ws", "wss"].iter().any(|t| uri.contains(&format!(";transport={t}"))) {
        return Reach::Flow;
    }
    if !c.path.trim().is_empty() {
        return Reach::Path;
    }
    // rewrite_contact put the source address in the URI and kept the
    // phone's own in x-ast-orig-host.
    if uri.contains(";x-ast-orig-host=") {
        return Reach::Nat;
    }
    if let Some((host, port)) = host_port(&c.uri) {
        let via_port = if c.via_port == 0 { 5060 } else { c.via_port };
        if !c.via_addr.is_empty() && (!c.via_addr.eq_ignore_ascii_case(host) || via_port != port) {
            return Reach::Nat;
        }
    }
    Reach::Direct
}

/// What one node tells another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A contact registered or refreshed.
    Set(Contact),
    /// A contact removed (un-REGISTER, expiry, replaced).
    Remove { id: String, aor: String },
    /// A part of everything the sender has registered; the last part
    /// replaces what the receiver kept of the sender.
    Snapshot { generation: u64, part: u32, last: bool, contacts: Vec<Contact> },
    /// Asks the receiver for a snapshot of its own.
    Refresh,
}

fn contact_value(c: &Contact) -> Value {
    Value::object(vec![
        ("id", c.id.as_str().into()),
        ("aor", c.aor.as_str().into()),
        ("endpoint", c.endpoint.as_str().into()),
        ("uri", c.uri.as_str().into()),
        ("expires", (c.expires as i64).into()),
        ("via_addr", c.via_addr.as_str().into()),
        ("via_port", i64::from(c.via_port).into()),
        ("path", c.path.as_str().into()),
        ("user_agent", c.user_agent.as_str().into()),
        ("registered", (c.registered as i64).into()),
    ])
}

/// The body of a message from node `node`.
pub fn encode(node: &str, m: &Message) -> Value {
    let mut fields: Vec<(&str, Value)> = vec![("node", node.into())];
    match m {
        Message::Set(c) => {
            fields.push(("type", "set".into()));
            fields.push(("contact", contact_value(c)));
        }
        Message::Remove { id, aor } => {
            fields.push(("type", "remove".into()));
            fields.push(("id", id.as_str().into()));
            fields.push(("aor", aor.as_str().into()));
        }
        Message::Snapshot { generation, part, last, contacts } => {
            fields.push(("type", "snapshot".into()));
            fields.push(("generation", (*generation as i64).into()));
            fields.push(("part", i64::from(*part).into()));
            fields.push(("last", (*last).into()));
            fields.push(("contacts", Value::Array(contacts.iter().map(contact_value).collect())));
        }
        Message::Refresh => fields.push(("type", "refresh".into())),
    }
    Value::object(fields)
}

/// A string field of at most `max` bytes, without control characters.
fn text(v: &Value, key: &str, max: usize, required: bool) -> Result<String, String> {
    match v.get(key) {
        None | Some(Value::Null) if !required => Ok(String::new()),
        Some(Value::Str(s)) if s.len() <= max && !s.chars().any(char::is_control) => Ok(s.clone()),
        Some(Value::Str(_)) => Err(format!("{key} is too long or holds control characters")),
        _ => Err(format!("{key} is missing or not a string")),
    }
}

fn contact(v: &Value) -> Result<Contact, String> {
    let int = |key: &str| v.int(key).ok_or_else(|| format!("{key} is missing or not a number"));
    let c = Contact {
        id: text(v, "id", 512, true)?,
        aor: text(v, "aor", 256, true)?,
        endpoint: text(v, "endpoint", 256, true)?,
        uri: text(v, "uri", 512, true)?,
        expires: u64::try_from(int("expires")?).map_err(|_| "expires is negative".to_string())?,
        via_addr: text(v, "via_addr", 64, false)?,
        via_port: v.int("via_port").map_or(Ok(0), |p| u16::try_from(p).map_err(|_| "via_port is not a port".to_string()))?,
        path: text(v, "path", 1024, false)?,
        user_agent: text(v, "user_agent", 256, false)?,
        registered: v.int("registered").map_or(Ok(0), |r| u64::try_from(r).map_err(|_| "registered is negative".to_string()))?,
    };
    if c.id.is_empty() || c.aor.is_empty() || c.endpoint.is_empty() || c.uri.is_empty() {
        return Err("a contact needs its id, aor, endpoint and uri".into());
    }
    Ok(c)
}

/// Reads a body (as Asterisk's JSON read it) into a message; the error says
/// what is wrong with it.
pub fn decode(v: &Value) -> Result<Message, String> {
    if !matches!(v, Value::Object(_)) {
        return Err("the body is not a JSON object".into());
    }
    match v.str("type") {
        Some("set") => Ok(Message::Set(contact(v.get("contact").ok_or("a set has no contact")?)?)),
        Some("remove") => Ok(Message::Remove { id: text(v, "id", 512, true)?, aor: text(v, "aor", 256, true)? }),
        Some("snapshot") => {
            let contacts = v.array("contacts").ok_or("a snapshot has no contacts array")?;
            if contacts.len() > 4 * SNAPSHOT_PART {
                return Err(format!("a snapshot part holds {} contacts, more than {}", contacts.len(), 4 * SNAPSHOT_PART));
            }
            Ok(Message::Snapshot {
                generation: v.int("generation").and_then(|g| u64::try_from(g).ok()).ok_or("generation is missing")?,
                part: v.int("part").and_then(|p| u32::try_from(p).ok()).ok_or("part is missing")?,
                last: v.bool("last").ok_or("last is missing")?,
                contacts: contacts.iter().map(contact).collect::<Result<_, _>>()?,
            })
        }
        Some("refresh") => Ok(Message::Refresh),
        Some(other) => Err(format!("'{other}' is not a message type (set, remove, snapshot, refresh)")),
        None => Err("the body has no type".into()),
    }
}

/// A full snapshot of `contacts` in parts.
pub fn snapshot(generation: u64, contacts: &[Contact]) -> Vec<Message> {
    let chunks: Vec<&[Contact]> = if contacts.is_empty() { vec![&[]] } else { contacts.chunks(SNAPSHOT_PART).collect() };
    let n = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| Message::Snapshot { generation, part: i as u32, last: i + 1 == n, contacts: c.to_vec() })
        .collect()
}

/// A peer's contact as this node keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replica {
    pub owner: String,
    pub contact: Contact,
    pub reach: Reach,
}

/// What this node keeps of its peers' registrations.
///
/// A phone that registers on another node (or here) supersedes the copies
/// of its AOR at another address: they go, and their owner's snapshots do
/// not bring them back (its registrar keeps the old contact until it
/// expires) unless the phone registers there again. Copies at the same
/// address stay: a phone registered on two nodes at once is one phone,
/// dialled once (`Replica`s are deduplicated by URI where they are used).
#[derive(Clone, Debug, Default)]
pub struct Store {
    /// Per owner, per contact id.
    owners: BTreeMap<String, BTreeMap<String, Contact>>,
    /// Snapshots being received: per owner, generation and contacts so far.
    pending: BTreeMap<String, (u64, u32, Vec<Contact>)>,
    /// Superseded copies, (owner, id), until they expire.
    superseded: BTreeMap<(String, String), u64>,
}

impl fmt::Display for Replica {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {} (from {})", self.contact.aor, self.contact.uri, self.owner)
    }
}

impl Store {
    /// Takes in a message from peer `owner`; what changed, for the log.
    pub fn apply(&mut self, owner: &str, m: Message, now: u64) -> usize {
        match m {
            Message::Set(c) => {
                // The owner's registrar took a REGISTER for it just now.
                self.superseded.remove(&(owner.to_string(), c.id.clone()));
                if c.expires <= now {
                    return self.remove(owner, &c.id);
                }
                self.keep(owner, c)
            }
            Message::Remove { id, .. } => self.remove(owner, &id),
            Message::Snapshot { generation, part, last, contacts } => {
                let entry = self.pending.entry(owner.to_string()).or_insert((generation, 0, Vec::new()));
                if part == 0 {
                    *entry = (generation, 0, Vec::new());
                } else if entry.0 != generation || entry.1 + 1 != part {
                    // A part lost or out of order: wait for the next snapshot.
                    self.pending.remove(owner);
                    return 0;
                }
                entry.1 = part;
                entry.2.extend(contacts);
                if !last {
                    return 0;
                }
                let (_, _, all) = self.pending.remove(owner).unwrap_or_default();
                let before = self.owners.insert(owner.to_string(), BTreeMap::new()).map_or(0, |m| m.len());
                let mut n = 0;
                for c in all.into_iter().filter(|c| c.expires > now) {
                    if !self.superseded.contains_key(&(owner.to_string(), c.id.clone())) {
                        n += self.keep(owner, c);
                    }
                }
                n.max(before)
            }
            Message::Refresh => 0,
        }
    }

    /// Keeps `owner`'s copy of `c`, unless a newer copy of the same phone
    /// at another address is kept; older ones at another address go. How
    /// many changed.
    fn keep(&mut self, owner: &str, c: Contact) -> usize {
        let newer_elsewhere = self
            .owners
            .iter()
            .filter(|(o, _)| o.as_str() != owner)
            .flat_map(|(_, m)| m.values())
            .any(|k| k.aor == c.aor && k.uri != c.uri && k.registered > c.registered);
        if newer_elsewhere {
            self.superseded.insert((owner.to_string(), c.id.clone()), c.expires);
            return self.remove(owner, &c.id);
        }
        let stale = self.supersede(&c, owner);
        self.owners.entry(owner.to_string()).or_default().insert(c.id.clone(), c);
        stale + 1
    }

    fn remove(&mut self, owner: &str, id: &str) -> usize {
        self.owners.get_mut(owner).and_then(|m| m.remove(id)).map_or(0, |_| 1)
    }

    /// Other owners' copies of `c`'s phone at another address, registered
    /// before it, go; how many.
    fn supersede(&mut self, c: &Contact, owner: &str) -> usize {
        let mut n = 0;
        for (o, contacts) in self.owners.iter_mut().filter(|(o, _)| o.as_str() != owner) {
            contacts.retain(|id, k| {
                let stale = k.aor == c.aor && k.uri != c.uri && k.registered <= c.registered;
                if stale {
                    self.superseded.insert((o.clone(), id.clone()), k.expires);
                    n += 1;
                }
                !stale
            });
        }
        n
    }

    /// The phone registered on this node at `uri` just now: the peers'
    /// copies of it at other addresses are stale.
    pub fn registered_here(&mut self, c: &Contact) -> usize {
        self.supersede(c, "")
    }

    /// Forgets what `owner` published (no longer a peer).
    pub fn forget(&mut self, owner: &str) {
        self.retain_owners_where(|o| o != owner);
    }

    /// Keeps only the owners still configured.
    pub fn retain_owners(&mut self, peers: &[&str]) {
        self.retain_owners_where(|o| peers.contains(&o));
    }

    fn retain_owners_where(&mut self, keep: impl Fn(&str) -> bool) {
        self.owners.retain(|o, _| keep(o));
        self.pending.retain(|o, _| keep(o));
        self.superseded.retain(|(o, _), _| keep(o));
    }

    /// Drops what has expired; how many.
    pub fn expire(&mut self, now: u64) -> usize {
        self.superseded.retain(|_, expires| *expires > now);
        let mut n = 0;
        for contacts in self.owners.values_mut() {
            let before = contacts.len();
            contacts.retain(|_, c| c.expires > now);
            n += before - contacts.len();
        }
        n
    }

    /// The peers' unexpired contacts on any of `endpoints`.
    pub fn for_endpoints(&self, endpoints: &[String], now: u64) -> Vec<Replica> {
        self.all(now).into_iter().filter(|r| endpoints.iter().any(|e| *e == r.contact.endpoint)).collect()
    }

    /// Every unexpired contact kept, by owner then AOR.
    pub fn all(&self, now: u64) -> Vec<Replica> {
        let mut out: Vec<Replica> = self
            .owners
            .iter()
            .flat_map(|(owner, contacts)| {
                contacts.values().filter(|c| c.expires > now).map(|c| Replica { owner: owner.clone(), contact: c.clone(), reach: reach(c) })
            })
            .collect();
        out.sort_by(|a, b| (&a.owner, &a.contact.aor, &a.contact.uri).cmp(&(&b.owner, &b.contact.aor, &b.contact.uri)));
        out
    }

    pub fn len(&self) -> usize {
        self.owners.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(aor: &str, uri: &str, expires: u64) -> Contact {
        Contact {
            id: format!("{aor};@{}", uri.len()),
            aor: aor.into(),
            endpoint: aor.into(),
            uri: uri.into(),
            expires,
            via_addr: String::new(),
            via_port: 0,
            path: String::new(),
            user_agent: "phone".into(),
            registered: 0,
        }
    }

    #[test]
    fn a_contact_is_dialled_from_another_node_only_when_it_can_be_reached_so() {
        let mut x = c("102", "sip:102@192.0.2.5:5060", 10);
        x.via_addr = "192.0.2.5".into();
        x.via_port = 5060;
        assert_eq!(reach(&x), Reach::Direct);
        x.via_port = 0;
        assert_eq!(reach(&x), Reach::Direct, "no Via port is 5060");
        let mut nat = x.clone();
        nat.uri = "sip:102@198.51.100.7:40001;x-ast-orig-host=10.0.0.5:5060".into();
        assert_eq!(reach(&nat), Reach::Nat, "rewrite_contact");
        nat.uri = "sip:102@10.0.0.5:5060".into();
        nat.via_addr = "10.0.0.5".into();
        nat.via_port = 5062;
        assert_eq!(reach(&nat), Reach::Nat, "registered from another port than its Contact");
        for uri in ["sip:102@192.0.2.5:5061;transport=tls", "sips:102@192.0.2.5", "sip:102@192.0.2.5;transport=TCP", "sip:x@y;transport=ws"] {
            let mut f = x.clone();
            f.uri = uri.into();
            f.via_addr.clear();
            assert_eq!(reach(&f), Reach::Flow, "{uri}");
        }
        let mut p = x.clone();
        p.path = "<sip:edge.example.com;lr>".into();
        assert_eq!(reach(&p), Reach::Path);
        let mut u = x.clone();
        u.uri = "sip:1&2@192.0.2.5".into();
        assert_eq!(reach(&u), Reach::Unusable);
        u.uri = "tel:+4420".into();
        assert_eq!(reach(&u), Reach::Unusable);
    }

    #[test]
    fn messages_travel_as_json_and_bad_ones_are_named() {
        let contact = c("102", "sip:102@192.0.2.5:5060", 99);
        for m in [
            Message::Set(contact.clone()),
            Message::Remove { id: contact.id.clone(), aor: "102".into() },
            Message::Snapshot { generation: 7, part: 0, last: true, contacts: vec![contact.clone()] },
            Message::Refresh,
        ] {
            assert_eq!(decode(&encode("node2", &m)), Ok(m.clone()));
        }
        assert_eq!(decode(&Value::Array(vec![])), Err("the body is not a JSON object".into()));
        assert_eq!(decode(&Value::object(vec![("type", "delete".into())])), Err("'delete' is not a message type (set, remove, snapshot, refresh)".into()));
        let mut bad = encode("node2", &Message::Set(contact.clone()));
        if let Value::Object(f) = &mut bad {
            f.retain(|(k, _)| k != "contact");
            f.push(("contact".into(), Value::object(vec![("id", "x".into())])));
        }
        assert_eq!(decode(&bad), Err("aor is missing or not a string".into()));
        let long = Value::object(vec![("type", "remove".into()), ("id", "x".repeat(600).into()), ("aor", "1".into())]);
        assert_eq!(decode(&long), Err("id is too long or holds control characters".into()));
    }

    #[test]
    fn of_two_copies_at_two_addresses_the_newer_wins_whatever_came_first() {
        let mut old = c("102", "sip:102@old", 100);
        old.registered = 10;
        let mut new = c("102", "sip:102@new", 100);
        new.registered = 20;
        // The newer one came in a snapshot, after the old one.
        let mut s = Store::default();
        s.apply("node2", Message::Set(old.clone()), 30);
        for part in snapshot(1, &[new.clone()]) {
            s.apply("node3", part, 30);
        }
        let owners: Vec<String> = s.all(30).into_iter().map(|r| r.owner).collect();
        assert_eq!(owners, ["node3"]);
        // The old one came last: it is not kept.
        let mut s = Store::default();
        s.apply("node3", Message::Set(new), 30);
        for part in snapshot(1, &[old]) {
            s.apply("node2", part, 30);
        }
        let owners: Vec<String> = s.all(30).into_iter().map(|r| r.owner).collect();
        assert_eq!(owners, ["node3"]);
    }

    #[test]
    fn a_phone_registered_on_two_nodes_at_one_address_is_kept_from_both() {
        let mut s = Store::default();
        s.apply("node2", Message::Set(c("102", "sip:102@a", 100)), 10);
        s.apply("node3", Message::Set(c("102", "sip:102@a", 100)), 10);
        let owners: Vec<String> = s.for_endpoints(&["102".into()], 10).into_iter().map(|r| r.owner).collect();
        assert_eq!(owners, ["node2", "node3"]);
        s.retain_owners(&["node3"]);
        assert_eq!(s.len(), 1, "node2 is no longer a peer");
    }

    #[test]
    fn a_snapshot_replaces_what_its_sender_published_and_a_lost_part_changes_nothing() {
        let mut s = Store::default();
        s.apply("node2", Message::Set(c("101", "sip:101@a", 100)), 10);
        let contacts: Vec<Contact> = (0..20).map(|i| c(&format!("2{i:02}"), &format!("sip:x{i}@b"), 100)).collect();
        let parts = snapshot(5, &contacts);
        assert_eq!(parts.len(), 3);
        for p in parts.clone() {
            s.apply("node2", p, 10);
        }
        assert_eq!(s.len(), 20, "101 was not in the snapshot");
        // A part lost: nothing changes.
        s.apply("node2", parts[0].clone(), 10);
        s.apply("node2", parts[2].clone(), 10);
        assert_eq!(s.len(), 20);
        let empty = snapshot(6, &[]);
        assert_eq!(empty.len(), 1);
        s.apply("node2", empty[0].clone(), 10);
        assert!(s.is_empty());
    }

    #[test]
    fn a_contact_goes_at_expiry_on_removal_and_when_the_phone_registers_elsewhere() {
        let mut s = Store::default();
        s.apply("node2", Message::Set(c("102", "sip:102@a", 100)), 10);
        s.apply("node3", Message::Set(c("103", "sip:103@b", 50)), 10);
        assert_eq!(s.for_endpoints(&["102".into()], 10).len(), 1);
        assert_eq!(s.for_endpoints(&["103".into()], 60).len(), 0, "expired");
        assert_eq!(s.expire(60), 1);
        // 102 registers on node3 from another address: node2's copy is
        // stale, and node2's snapshots (its registrar still holds it) do
        // not bring it back.
        let mut moved = c("102", "sip:102@moved", 200);
        moved.registered = 20;
        s.apply("node3", Message::Set(moved.clone()), 20);
        let r = s.for_endpoints(&["102".into()], 20);
        assert_eq!((r.len(), r[0].owner.as_str()), (1, "node3"));
        for part in snapshot(9, &[c("102", "sip:102@a", 100)]) {
            s.apply("node2", part, 21);
        }
        assert_eq!(s.for_endpoints(&["102".into()], 21).len(), 1, "{s:?}");
        // ... unless the phone registers there again.
        let mut back = c("102", "sip:102@a", 100);
        back.registered = 22;
        s.apply("node2", Message::Set(back), 22);
        let r = s.for_endpoints(&["102".into()], 22);
        assert_eq!((r.len(), r[0].owner.as_str()), (1, "node2"));
        // ... and here.
        let mut here = c("102", "sip:102@here", 100);
        here.registered = 23;
        assert_eq!(s.registered_here(&here), 1);
        assert!(s.for_endpoints(&["102".into()], 22).is_empty());
        s.apply("node2", Message::Set(c("104", "sip:104@a", 100)), 20);
        let id = c("104", "sip:104@a", 0).id;
        assert_eq!(s.apply("node2", Message::Remove { id, aor: "104".into() }, 20), 1, "un-REGISTER");
        assert!(s.is_empty());
        s.apply("node2", Message::Set(c("105", "sip:105@a", 5)), 20);
        assert!(s.is_empty(), "already expired when it came");
    }
}

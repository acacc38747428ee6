//! res_cluster.conf: from the sections and keys Asterisk's parser read, to a
//! checked configuration, or an error that names file, line and key.

mod text;

use std::collections::HashMap;
use std::fmt;

pub use text::parse_text;

use super::channel_name::Technology;
use super::dialopts::DialOptions;
use super::eid::Eid;
use super::seconds::Seconds;
use super::status::DialStatus;
use super::template::DialTemplate;

pub const FILE_NAME: &str = "res_cluster.conf";
pub const GENERAL: &str = "general";

/// One `key = value` as read from the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEntry {
    pub key: String,
    pub value: String,
    /// The file it came from (differs from the main file under #include).
    pub file: String,
    pub line: u32,
    /// Copied from a template: the section's own setting of the key wins.
    pub inherited: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawSection {
    pub name: String,
    /// Asterisk templates (`[name](!)`) only lend their keys to other sections.
    pub template: bool,
    pub entries: Vec<RawEntry>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawConfig {
    pub file: String,
    pub sections: Vec<RawSection>,
}

/// What the configuration falls back on when a key is absent, and what the
/// running Asterisk can do.
#[derive(Clone, Debug)]
pub struct Defaults {
    /// asterisk.conf's `systemname`.
    pub system_name: String,
    /// The machine's host name, when asterisk.conf names no system.
    pub host_name: String,
    /// Whether this Asterisk's Dial reads fractional timeouts (see
    /// `version`); when not, a fractional `ring_timeout` is dialled rounded
    /// up, with a warning.
    pub dial_reads_fractions: bool,
}

impl Default for Defaults {
    fn default() -> Defaults {
        Defaults { system_name: String::new(), host_name: String::new(), dial_reads_fractions: true }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Peers one after another, in the order of the file.
    Sequential,
    /// All live peers at once; the first to answer wins.
    Parallel,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Sequential => "sequential",
            Strategy::Parallel => "parallel",
        }
    }
}

/// How the legs of a forwarded call are marked (see `peer_leg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegMarking {
    /// Dial's own options and the inheritable hop header where this Asterisk
    /// has PJSIP_INHERITABLE_HEADER; the pre-dial handler otherwise.
    Auto,
    /// Always the pre-dial handler.
    PreDial,
}

impl LegMarking {
    pub fn as_str(self) -> &'static str {
        match self {
            LegMarking::Auto => "auto",
            LegMarking::PreDial => "predial",
        }
    }
}

/// Whether ClusterDial knows where phones are before it dials a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Locate {
    /// Peers are hunted: asked in turn (or all at once) until one answers.
    Off,
    /// Peers' device states, shared by PJSIP publication, say where each
    /// phone is (see `locate`).
    DevState,
}

impl Locate {
    pub fn as_str(self) -> &'static str {
        match self {
            Locate::Off => "off",
            Locate::DevState => "devstate",
        }
    }
}

/// What makes a call or a publication from a peer the peer's, beyond the
/// endpoint Asterisk identified it as (usually by its source address, which
/// a sender over UDP can forge).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trust {
    /// The peer's calls must arrive over one of this node's TLS transports
    /// (its endpoint dials over TLS; certificates are checked both ways by
    /// the transports). A call on the peer's endpoint that arrived any other
    /// way is an ordinary caller's.
    pub tls: bool,
    /// The peer's endpoint authenticates every request (`auth =` in
    /// pjsip.conf): Asterisk challenges its calls and publications alike.
    pub auth: bool,
}

impl Trust {
    pub fn describe(self) -> &'static str {
        match (self.tls, self.auth) {
            (false, false) => "address",
            (true, false) => "tls",
            (false, true) => "auth",
            (true, true) => "tls,auth",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The section name: the peer's node name.
    pub name: String,
    pub dial: DialTemplate,
    /// What calls to and from this peer travel over: the technology of
    /// `dial` (PJSIP when that is neither PJSIP nor IAX2, a Local channel say).
    pub technology: Technology,
    /// The endpoint calls from this peer arrive on: a PJSIP endpoint, or the
    /// iax.conf user (and peer) of that name.
    pub endpoint: String,
    /// The endpoint calls to this peer leave on, when `dial` names one.
    pub outbound_endpoint: Option<String>,
    /// The outbound-publish (pjsip.conf) that sends this node's device
    /// states to the peer; a refresh request to the peer goes through it.
    pub outbound_publish: String,
    /// The peer's entity ID, when configured: it must agree with the one its
    /// publications carry.
    pub entity_id: Option<Eid>,
    pub trust: Trust,
    /// With replicate_contacts: the pjsip.conf outbound-publish (event
    /// res-cluster-contacts) that sends this node's registrations to the peer.
    pub contacts_publish: String,
}

impl Peer {
    /// Whether a leg on endpoint `endpoint` of `tech` is a leg to this peer.
    pub fn owns_leg(&self, tech: Technology, endpoint: &str) -> bool {
        tech == self.technology && self.outbound_endpoint.as_deref().unwrap_or(&self.endpoint) == endpoint
    }

    /// The endpoint whose state (and qualify) speaks for this peer, as
    /// (technology, name): the one calls to it leave on.
    pub fn watched_endpoint(&self) -> (&str, &str) {
        (self.technology.as_str(), self.outbound_endpoint.as_deref().unwrap_or(&self.endpoint))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    pub node_name: String,
    pub local_dial: DialTemplate,
    pub ring_timeout: Seconds,
    pub dial_options: DialOptions,
    pub callerid_prefix: String,
    pub fallback_on: Vec<DialStatus>,
    pub strategy: Strategy,
    pub peer_timeout: Seconds,
    pub holddown: Seconds,
    pub peer_leg_marking: LegMarking,
    pub locate: Locate,
    /// Write the route so far (CLUSTERROUTE) into the CDR's userfield
    /// before each Dial and at the end.
    pub route_to_userfield: bool,
    /// Publish this node's registrations to the peers, keep theirs, and dial
    /// a down peer's phones from here (see `replica`).
    pub replicate_contacts: bool,
    pub peers: Vec<Peer>,
    /// Whether this Asterisk's Dial reads fractional timeouts.
    pub dial_reads_fractions: bool,
    /// What the file asks for that this Asterisk gives differently, for the
    /// log (a WARNING each, at load and reload).
    pub warnings: Vec<String>,
}

impl ClusterConfig {
    pub fn falls_back_on(&self, status: DialStatus) -> bool {
        self.fallback_on.contains(&status)
    }

    /// A timeout as this Asterisk's Dial must be given it: as it is, or
    /// rounded up to whole seconds when Dial reads no fractions.
    pub fn dial_timeout(&self, t: Seconds) -> Seconds {
        if self.dial_reads_fractions {
            t
        } else {
            t.ceil()
        }
    }

    /// The peer whose calls arrive on endpoint `endpoint` of `tech`.
    pub fn peer_by_endpoint(&self, tech: Technology, endpoint: &str) -> Option<&Peer> {
        self.peers.iter().find(|p| p.technology == tech && p.endpoint == endpoint)
    }
}

pub const DEFAULT_LOCAL_DIAL: &str = "PJSIP/${EXTEN}";
pub const DEFAULT_RING_TIMEOUT_MS: u64 = 20_000;
pub const DEFAULT_PREFIX: &str = "9999";
pub const DEFAULT_FALLBACK_ON: [DialStatus; 2] = [DialStatus::ChanUnavail, DialStatus::Congestion];
pub const DEFAULT_PEER_TIMEOUT_MS: u64 = 1_000;
pub const DEFAULT_HOLDDOWN_MS: u64 = 30_000;
/// The statuses `fallback_on` may name: the local attempt's failures.
pub const FALLBACK_CHOICES: [DialStatus; 4] =
    [DialStatus::ChanUnavail, DialStatus::Congestion, DialStatus::Busy, DialStatus::NoAnswer];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<u32>,
    pub section: Option<String>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        write!(f, ":")?;
        if let Some(section) = &self.section {
            write!(f, " [{section}]")?;
        }
        if let Some(key) = &self.key {
            write!(f, " {key}:")?;
        }
        write!(f, " {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

pub const GENERAL_KEYS: [&str; 13] = [
    "node_name",
    "local_dial",
    "ring_timeout",
    "dial_options",
    "callerid_prefix",
    "fallback_on",
    "strategy",
    "peer_timeout",
    "holddown",
    "peer_leg_marking",
    "locate",
    "route_to_userfield",
    "replicate_contacts",
];
pub const PEER_KEYS: [&str; 7] = ["type", "dial", "endpoint", "outbound_publish", "entity_id", "trust", "contacts_publish"];

/// Checks every section and key; the first fault found is returned.
pub fn build(raw: &RawConfig, defaults: &Defaults) -> Result<ClusterConfig, ConfigError> {
    let mut seen_sections: HashMap<&str, ()> = HashMap::new();
    let mut general: Option<Section> = None;
    let mut peer_sections = Vec::new();
    for raw_section in raw.sections.iter().filter(|s| !s.template) {
        let section = Section::new(raw, raw_section)?;
        if seen_sections.insert(raw_section.name.as_str(), ()).is_some() {
            return Err(section.error(None, "section appears twice; merge the two".into()));
        }
        if raw_section.name == GENERAL {
            section.only_keys(&GENERAL_KEYS, "[general] takes")?;
            general = Some(section);
        } else {
            section.only_keys(&PEER_KEYS, "peer sections take")?;
            peer_sections.push(section);
        }
    }

    let general = general.unwrap_or_else(|| Section::empty(raw));
    let node_name = match general.get("node_name") {
        Some(e) => {
            check_name(&e.value).map_err(|m| general.error(Some(e), m))?;
            e.value.clone()
        }
        None => default_node_name(defaults).ok_or_else(|| {
            general.error(None, "node_name is not set and asterisk.conf names no systemname; set node_name".into())
        })?,
    };
    let local_dial = match general.get("local_dial") {
        Some(e) => DialTemplate::parse(&e.value).map_err(|m| general.error(Some(e), m))?,
        None => DialTemplate::parse(DEFAULT_LOCAL_DIAL).expect("default template is valid"),
    };
    let ring_timeout = general.seconds("ring_timeout", DEFAULT_RING_TIMEOUT_MS, 1)?;
    let dial_options = match general.get("dial_options") {
        Some(e) => DialOptions::parse(e.value.trim()).map_err(|m| general.error(Some(e), m))?,
        None => DialOptions::default(),
    };
    let callerid_prefix = match general.get("callerid_prefix") {
        Some(e) => {
            let v = e.value.trim();
            if v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'*' | b'#' | b'+')) {
                return Err(general.error(Some(e), format!("'{v}' is not a prefix of at most 20 digits, *, # or +")));
            }
            v.to_string()
        }
        None => DEFAULT_PREFIX.to_string(),
    };
    let fallback_on = match general.get("fallback_on") {
        Some(e) => parse_fallback(&e.value).map_err(|m| general.error(Some(e), m))?,
        None => DEFAULT_FALLBACK_ON.to_vec(),
    };
    let strategy = match general.get("strategy") {
        Some(e) => match e.value.trim().to_ascii_lowercase().as_str() {
            "sequential" => Strategy::Sequential,
            "parallel" => Strategy::Parallel,
            other => {
                return Err(general.error(Some(e), format!("'{other}' is not a strategy; use sequential or parallel")))
            }
        },
        None => Strategy::Sequential,
    };
    let peer_timeout = general.seconds("peer_timeout", DEFAULT_PEER_TIMEOUT_MS, 100)?;
    let holddown = general.seconds("holddown", DEFAULT_HOLDDOWN_MS, 1_000)?;
    let peer_leg_marking = match general.get("peer_leg_marking") {
        Some(e) => match e.value.trim().to_ascii_lowercase().as_str() {
            "auto" => LegMarking::Auto,
            "predial" => LegMarking::PreDial,
            other => return Err(general.error(Some(e), format!("'{other}' is not a way to mark peer legs; use auto or predial"))),
        },
        None => LegMarking::Auto,
    };
    let locate = match general.get("locate") {
        Some(e) => match e.value.trim().to_ascii_lowercase().as_str() {
            "off" | "no" | "" => Locate::Off,
            "devstate" => Locate::DevState,
            other => return Err(general.error(Some(e), format!("'{other}' is not a way to locate phones; use off or devstate"))),
        },
        None => Locate::Off,
    };

    let route_to_userfield = general.yes_no("route_to_userfield")?;
    let replicate_contacts = general.yes_no("replicate_contacts")?;
    let mut warnings = Vec::new();
    if !defaults.dial_reads_fractions && !ring_timeout.is_whole() {
        warnings.push(format!(
            "ring_timeout = {ring_timeout}: this Asterisk's Dial reads whole seconds only (fractions from 20.17, 22.7, 23.1; none in 21), so calls ring for {} s",
            ring_timeout.ceil()
        ));
    }

    let mut peers: Vec<Peer> = Vec::new();
    for section in &peer_sections {
        let peer = build_peer(section)?;
        if peer.name == node_name {
            return Err(section.error(None, format!("'{}' is this node's own node_name; a node is not its own peer", peer.name)));
        }
        if let Some(other) = peers.iter().find(|p| p.technology == peer.technology && p.endpoint == peer.endpoint) {
            let e = section.get("endpoint");
            return Err(section.error(
                e,
                format!("endpoint '{}' already belongs to peer [{}]; each peer needs its own", peer.endpoint, other.name),
            ));
        }
        peers.push(peer);
    }

    Ok(ClusterConfig {
        node_name,
        local_dial,
        ring_timeout,
        dial_options,
        callerid_prefix,
        fallback_on,
        strategy,
        peer_timeout,
        holddown,
        peer_leg_marking,
        locate,
        route_to_userfield,
        replicate_contacts,
        peers,
        dial_reads_fractions: defaults.dial_reads_fractions,
        warnings,
    })
}

fn default_node_name(defaults: &Defaults) -> Option<String> {
    [&defaults.system_name, &defaults.host_name]
        .into_iter()
        .map(|n| n.trim())
        .find(|n| check_name(n).is_ok())
        .map(str::to_string)
}

/// Node names travel in a SIP header and in dialplan arguments.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!("'{name}' is not a node name (1 to 64 letters, digits, '_', '.', '-')"))
    }
}

fn parse_fallback(value: &str) -> Result<Vec<DialStatus>, String> {
    let mut out = Vec::new();
    for word in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        match DialStatus::parse(word).filter(|s| FALLBACK_CHOICES.contains(s)) {
            Some(s) if !out.contains(&s) => out.push(s),
            Some(_) => return Err(format!("'{word}' is listed twice")),
            None => return Err(format!("'{word}' is not one of chanunavail, congestion, busy, noanswer")),
        }
    }
    Ok(out)
}

fn parse_trust(value: &str) -> Result<Trust, String> {
    let mut trust = Trust::default();
    let mut address = false;
    for word in value.split(',').map(|w| w.trim().to_ascii_lowercase()).filter(|w| !w.is_empty()) {
        match word.as_str() {
            "tls" => trust.tls = true,
            "auth" => trust.auth = true,
            "address" => address = true,
            other => return Err(format!("'{other}' is not a way to trust a peer; use address, or tls and/or auth")),
        }
    }
    if address && trust != Trust::default() {
        return Err("address is trust by address alone; it does not go with tls or auth".into());
    }
    Ok(trust)
}

fn build_peer(section: &Section) -> Result<Peer, ConfigError> {
    let name = section.raw.name.clone();
    check_name(&name).map_err(|m| section.error(None, format!("section name {m}")))?;
    match section.get("type") {
        Some(e) if e.value.trim().eq_ignore_ascii_case("peer") => {}
        Some(e) => return Err(section.error(Some(e), format!("'{}' is not a section type; use type = peer", e.value.trim()))),
        None => return Err(section.missing("type", "every section but [general] is a peer and needs type = peer")),
    }
    let dial_entry = section.get("dial").ok_or_else(|| section.missing("dial", "e.g. dial = PJSIP/${EXTEN}@cluster-node2"))?;
    let dial = DialTemplate::parse(&dial_entry.value).map_err(|m| section.error(Some(dial_entry), m))?;
    let technology = dial.technology().unwrap_or(Technology::Pjsip);
    let outbound_endpoint = dial.endpoint().map(|(_, e)| e);
    if let (Technology::Iax2, Some(host)) = (technology, &outbound_endpoint) {
        if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
            return Err(section.error(
                Some(dial_entry),
                format!("'{dial}' names an address; name an iax.conf peer instead: its qualify is this peer's health, and its name how chan_iax2 knows the peer's calls"),
            ));
        }
    }
    let endpoint = match section.get("endpoint") {
        Some(e) => {
            let v = e.value.trim();
            // chan_iax2 ends a peer's name at a ':' (the port).
            let banned = if technology == Technology::Iax2 { "/@,;&$():" } else { "/@,;&$()" };
            let ok = !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic() && !banned.contains(c));
            if !ok {
                let what = match technology {
                    Technology::Pjsip => "a PJSIP endpoint name",
                    Technology::Iax2 => "an IAX2 peer name",
                };
                return Err(section.error(Some(e), format!("'{v}' is not {what}")));
            }
            v.to_string()
        }
        None => outbound_endpoint.clone().ok_or_else(|| {
            section.missing("endpoint", &format!("dial '{}' names no PJSIP endpoint or IAX2 peer to take it from; set endpoint", dial))
        })?,
    };
    let outbound_publish = section.outbound_publish("outbound_publish")?.unwrap_or_else(|| endpoint.clone());
    let entity_id = match section.get("entity_id") {
        Some(e) => Some(Eid::parse(&e.value).map_err(|m| section.error(Some(e), m))?),
        None => None,
    };
    let trust = match section.get("trust") {
        Some(e) => {
            let trust = parse_trust(&e.value).map_err(|m| section.error(Some(e), m))?;
            if technology == Technology::Iax2 && trust != Trust::default() {
                return Err(section.error(
                    Some(e),
                    "an IAX2 peer is trusted by the iax.conf user its calls authenticate as (its secret); trust = tls and auth are for PJSIP peers".into(),
                ));
            }
            trust
        }
        None => Trust::default(),
    };
    let contacts_publish = section.outbound_publish("contacts_publish")?.unwrap_or_else(|| format!("{outbound_publish}-contacts"));
    Ok(Peer { name, dial, technology, endpoint, outbound_endpoint, outbound_publish, entity_id, trust, contacts_publish })
}

/// One section, its keys checked for duplicates, with error helpers.
struct Section<'a> {
    file: &'a str,
    raw: &'a RawSection,
    keys: HashMap<&'a str, &'a RawEntry>,
}

impl<'a> Section<'a> {
    fn new(config: &'a RawConfig, raw: &'a RawSection) -> Result<Section<'a>, ConfigError> {
        let mut section = Section { file: &config.file, raw, keys: HashMap::new() };
        for entry in &raw.entries {
            match section.keys.get(entry.key.as_str()) {
                Some(first) if !first.inherited => {
                    return Err(section.error(Some(entry), format!("set twice (first on line {}); keep one", first.line)))
                }
                _ => {
                    section.keys.insert(entry.key.as_str(), entry);
                }
            }
        }
        Ok(section)
    }

    fn empty(config: &'a RawConfig) -> Section<'a> {
        static NONE: RawSection = RawSection { name: String::new(), template: false, entries: Vec::new() };
        Section { file: &config.file, raw: &NONE, keys: HashMap::new() }
    }

    fn get(&self, key: &str) -> Option<&'a RawEntry> {
        self.keys.get(key).copied()
    }

    fn only_keys(&self, allowed: &[&str], what: &str) -> Result<(), ConfigError> {
        for entry in &self.raw.entries {
            if !allowed.contains(&entry.key.as_str()) {
                return Err(self.error(Some(entry), format!("unknown key; {what} {}", allowed.join(", "))));
            }
        }
        Ok(())
    }

    /// A key naming a pjsip.conf outbound-publish; None when absent.
    fn outbound_publish(&self, key: &str) -> Result<Option<String>, ConfigError> {
        let Some(e) = self.get(key) else { return Ok(None) };
        let v = e.value.trim();
        let ok = !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic() && !"/@,;&$()".contains(c));
        if !ok {
            return Err(self.error(Some(e), format!("'{v}' is not the name of a pjsip.conf outbound-publish")));
        }
        Ok(Some(v.to_string()))
    }

    /// A yes/no key (Asterisk's ast_true/ast_false words), no when absent.
    fn yes_no(&self, key: &str) -> Result<bool, ConfigError> {
        match self.get(key) {
            Some(e) => match e.value.trim().to_ascii_lowercase().as_str() {
                "yes" | "true" | "on" | "1" | "y" | "t" => Ok(true),
                "no" | "false" | "off" | "0" | "n" | "f" | "" => Ok(false),
                other => Err(self.error(Some(e), format!("'{other}' is not yes or no"))),
            },
            None => Ok(false),
        }
    }

    fn seconds(&self, key: &str, default_ms: u64, min_ms: u64) -> Result<Seconds, ConfigError> {
        match self.get(key) {
            Some(e) => Seconds::parse(&e.value, min_ms).map_err(|m| self.error(Some(e), m)),
            None => Ok(Seconds::from_millis(default_ms)),
        }
    }

    fn section_name(&self) -> Option<String> {
        (!self.raw.name.is_empty()).then(|| self.raw.name.clone())
    }

    fn error(&self, entry: Option<&RawEntry>, message: String) -> ConfigError {
        let line = entry.map(|e| e.line).or_else(|| self.raw.entries.first().map(|e| e.line));
        let file = entry.map(|e| e.file.clone()).unwrap_or_else(|| self.file.to_string());
        ConfigError { file, line, section: self.section_name(), key: entry.map(|e| e.key.clone()), message }
    }

    fn missing(&self, key: &str, hint: &str) -> ConfigError {
        let mut e = self.error(None, format!("missing; {hint}"));
        e.key = Some(key.to_string());
        e
    }
}

#[cfg(test)]
mod tests;

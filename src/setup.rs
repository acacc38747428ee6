//! The facts `res_cluster_core::setup` checks, read out of res_pjsip's and
//! chan_iax2's configuration as it is now.

use res_cluster_core::channel_name::Technology;
use res_cluster_core::config::{ClusterConfig, Locate};
use res_cluster_core::setup::{EndpointFacts, PeerFacts};

use crate::ast::{pbx, sorcery};

/// This node's transports: (id, protocol, bind).
pub fn transports() -> Vec<(String, String, String)> {
    sorcery::objects("transport", None)
        .into_iter()
        .map(|t| {
            let protocol = t.get("protocol").unwrap_or("udp").to_ascii_lowercase();
            let bind = t.get("bind").unwrap_or_default().to_string();
            (t.id, protocol, bind)
        })
        .collect()
}

fn endpoint(name: &str) -> Option<EndpointFacts> {
    let e = sorcery::object("endpoint", name)?;
    let transport_protocol = e.get("transport").map(|t| {
        sorcery::object("transport", t).and_then(|t| t.get("protocol").map(str::to_ascii_lowercase)).unwrap_or_else(|| format!("{t} (no such transport)"))
    });
    Some(EndpointFacts { transport_protocol, inbound_auth: e.get("auth").is_some(), identify: identify(name) })
}

/// The networks the `identify` objects of `endpoint` match.
pub fn identify(endpoint: &str) -> Vec<String> {
    sorcery::objects("identify", Some(("endpoint", endpoint))).iter().flat_map(|i| i.all("match").into_iter().map(str::to_string)).collect()
}

/// Whether an AOR of `endpoint` has a qualify_frequency.
fn qualified(endpoint: &str) -> bool {
    let Some(e) = sorcery::object("endpoint", endpoint) else { return false };
    let aors = e.get("aors").unwrap_or_default().to_string();
    aors.split(',')
        .filter_map(|a| sorcery::object("aor", a.trim()))
        .any(|a| a.get("qualify_frequency").and_then(|q| q.trim().parse::<u32>().ok()).is_some_and(|q| q > 0))
}

pub fn facts(config: &ClusterConfig) -> Vec<PeerFacts> {
    config
        .peers
        .iter()
        .map(|p| {
            let mut f = PeerFacts::default();
            match p.technology {
                Technology::Pjsip => {
                    let outbound = p.outbound_endpoint.as_deref().unwrap_or(&p.endpoint);
                    f.outbound = endpoint(outbound);
                    if outbound != p.endpoint {
                        f.inbound = Some(endpoint(&p.endpoint));
                    }
                }
                Technology::Iax2 => {
                    let (_, peer) = p.watched_endpoint();
                    f.iax2_peer = Some(pbx::read_function_without_channel(&format!("IAXPEER({peer},status)")).is_some());
                }
            }
            if config.locate == Locate::DevState {
                f.outbound_publish = Some(sorcery::object("outbound-publish", &p.outbound_publish).is_some());
            }
            if config.replicate_contacts && p.technology == Technology::Pjsip {
                f.contacts_publish = Some(sorcery::object("outbound-publish", &p.contacts_publish).map(|o| o.get("event").unwrap_or_default().to_string()));
                f.qualified = Some(qualified(p.outbound_endpoint.as_deref().unwrap_or(&p.endpoint)));
            }
            f
        })
        .collect()
}

//! What happens on a leg to a peer before its INVITE leaves.
//!
//! ClusterDial hands Dial a pre-dial handler (option `b`) for peer legs. It
//! runs on the new outbound channel only, so the caller's own channel is never
//! touched: it adds the hop header naming this node, and puts the caller-ID
//! prefix in front of the number sent to the peer (the connected line, which
//! chan_pjsip turns into the From header), without an update to anyone.

pub const CONTEXT: &str = "res_cluster-peer-leg";
pub const EXTEN: &str = "s";
/// Carried by every forwarded INVITE; its presence stops any further forwarding.
pub const HOP_HEADER: &str = "X-Cluster-Hop";

/// The handler's priorities, 1 onwards: (application, data).
/// ARG1 is the forwarding node's name, ARG2 the caller-ID prefix.
pub fn handler_priorities() -> Vec<(&'static str, String)> {
    vec![
        ("Set", format!("PJSIP_HEADER(add,{HOP_HEADER})=${{ARG1}}")),
        ("Set", "CONNECTEDLINE(num,i)=${ARG2}${CONNECTEDLINE(num)}".to_string()),
        ("Return", String::new()),
    ]
}

/// The argument of Dial's `b` option that runs the handler.
pub fn predial_option(node_name: &str, prefix: &str) -> String {
    format!("{CONTEXT}^{EXTEN}^1({node_name}^{prefix})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handler_marks_the_hop_prefixes_the_number_and_returns() {
        let p = handler_priorities();
        assert_eq!(p[0], ("Set", "PJSIP_HEADER(add,X-Cluster-Hop)=${ARG1}".to_string()));
        assert_eq!(p[1].1, "CONNECTEDLINE(num,i)=${ARG2}${CONNECTEDLINE(num)}");
        assert_eq!(p.last().unwrap().0, "Return");
    }

    #[test]
    fn the_option_passes_node_and_prefix_as_arguments() {
        assert_eq!(predial_option("node1", "9999"), "res_cluster-peer-leg^s^1(node1^9999)");
        assert_eq!(predial_option("node1", ""), "res_cluster-peer-leg^s^1(node1^)");
    }
}

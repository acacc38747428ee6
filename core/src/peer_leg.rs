//! How a leg to a peer is marked before its INVITE leaves.
//!
//! Two marks travel with every forwarded call: the hop header naming this
//! node (its presence stops any further forwarding) and the caller-ID prefix
//! in front of the caller's number. Both are put on the peer leg only; the
//! caller's own channel, its CDR and its events keep the real number.

/// Carried by every forwarded INVITE.
pub const HOP_HEADER: &str = "X-Cluster-Hop";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegMark {
    /// The hop header's value: the forwarding node's name.
    pub hop: String,
    /// The number the peer is sent, when the caller has one and a prefix is set.
    pub caller_number: Option<String>,
}

pub fn mark(node_name: &str, prefix: &str, caller_number: Option<&str>) -> LegMark {
    let caller_number = caller_number
        .filter(|n| !n.is_empty() && !prefix.is_empty())
        .map(|n| super::callerid::add_prefix(prefix, n));
    LegMark { hop: node_name.to_string(), caller_number }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_the_hop_and_prefixes_the_number() {
        assert_eq!(mark("node1", "9999", Some("200")), LegMark { hop: "node1".into(), caller_number: Some("9999200".into()) });
    }

    #[test]
    fn no_number_or_no_prefix_leaves_the_number_alone() {
        assert_eq!(mark("node1", "9999", None).caller_number, None);
        assert_eq!(mark("node1", "9999", Some("")).caller_number, None);
        assert_eq!(mark("node1", "", Some("200")).caller_number, None);
        assert_eq!(mark("node1", "", Some("200")).hop, "node1", "the hop is marked whatever the prefix");
    }
}

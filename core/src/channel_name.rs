//! What a channel's name says about where it came from.

/// The PJSIP endpoint of a channel named by chan_pjsip (`PJSIP/<endpoint>-<8 hex digits>`).
pub fn pjsip_endpoint(channel_name: &str) -> Option<&str> {
    let rest = channel_name.strip_prefix("PJSIP/")?;
    let (endpoint, seq) = rest.rsplit_once('-')?;
    let is_seq = seq.len() == 8 && seq.bytes().all(|b| b.is_ascii_hexdigit());
    (is_seq && !endpoint.is_empty()).then_some(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_endpoint_out_of_a_pjsip_channel_name() {
        assert_eq!(pjsip_endpoint("PJSIP/cluster-node2-0000001a"), Some("cluster-node2"));
        assert_eq!(pjsip_endpoint("PJSIP/101-00000000"), Some("101"));
        assert_eq!(pjsip_endpoint("PJSIP/a-b-c-deadBEEF"), Some("a-b-c"));
    }

    #[test]
    fn other_channels_have_no_endpoint() {
        for name in ["Local/101@ctx-00000001;1", "PJSIP/101", "PJSIP/-00000001", "PJSIP/101-0001", "IAX2/x-00000001", ""] {
            assert_eq!(pjsip_endpoint(name), None, "{name}");
        }
    }
}

//! The caller-number rule of the recipe, done in both directions, and the
//! caller party as res_cluster reads it.
//!
//! A call leaving for a peer carries the caller's number behind
//! `callerid_prefix` (the peer's phones and logs can tell a cluster call at a
//! glance; dialplans written for the recipe rely on it). The prefix goes onto
//! the peer leg only (see `peer_leg`); the caller's own channel keeps its
//! number. On arrival the prefix comes off again, but only for a call from a
//! configured peer: anyone else's number is theirs, prefix or not.
//!
//! Numbers and names are bytes: Asterisk does not promise any encoding, and
//! what a peer sent is given back exactly, minus the prefix.

/// The caller party of a channel, as the shell reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallerId {
    /// None when not valid or empty.
    pub name: Option<Vec<u8>>,
    /// None when not valid or empty.
    pub number: Option<Vec<u8>>,
    /// The party's combined presentation (`ast_party_id_presentation`): the
    /// most restrictive of name and number.
    pub presentation: i32,
    /// The user tag (`CALLERID(tag)`), None when empty.
    pub tag: Option<Vec<u8>>,
}

/// The number a peer is sent for `number`.
pub fn add_prefix(prefix: &str, number: &[u8]) -> Vec<u8> {
    let mut out = prefix.as_bytes().to_vec();
    out.extend_from_slice(number);
    out
}

/// The number to restore on a call that arrived from a configured peer, or
/// None when there is nothing to strip.
pub fn strip_prefix(prefix: &str, number: &[u8]) -> Option<Vec<u8>> {
    if prefix.is_empty() {
        return None;
    }
    number.strip_prefix(prefix.as_bytes()).map(<[u8]>::to_vec)
}

// Presentation values, as asterisk/callerid.h defines them.
const PRES_NUMBER_TYPE: i32 = 0x03;
const PRES_RESTRICTION: i32 = 0x60;
const PRES_ALLOWED: i32 = 0x00;
const PRES_RESTRICTED: i32 = 0x20;

/// The name `ast_parse_caller_presentation` reads back as a presentation
/// with the same restriction as `presentation` (and the same screening,
/// where a name for that pair exists). Unknown restriction bits read as
/// unavailable, as `ast_party_id_presentation` does.
pub fn presentation_name(presentation: i32) -> &'static str {
    let screening = presentation & PRES_NUMBER_TYPE;
    match presentation & PRES_RESTRICTION {
        PRES_ALLOWED => ["allowed_not_screened", "allowed_passed_screen", "allowed_failed_screen", "allowed"][screening as usize],
        PRES_RESTRICTED => ["prohib_not_screened", "prohib_passed_screen", "prohib_failed_screen", "prohib"][screening as usize],
        _ => "unavailable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_undoes_add() {
        for n in [&b"101"[..], b"", b"9999", b"+4930123", b"\xe9\xff200"] {
            assert_eq!(strip_prefix("9999", &add_prefix("9999", n)).as_deref(), Some(n));
        }
    }

    #[test]
    fn strips_only_a_leading_prefix() {
        assert_eq!(strip_prefix("9999", b"99991234").as_deref(), Some(&b"1234"[..]));
        assert_eq!(strip_prefix("9999", b"1239999"), None);
        assert_eq!(strip_prefix("9999", b"999"), None);
    }

    #[test]
    fn an_empty_prefix_changes_nothing() {
        assert_eq!(add_prefix("", b"101"), b"101");
        assert_eq!(strip_prefix("", b"101"), None);
    }

    #[test]
    fn names_every_presentation_asterisk_can_read_back() {
        // The values of callerid.h's AST_PRES_* combinations.
        let cases = [
            (0x00, "allowed_not_screened"),
            (0x01, "allowed_passed_screen"),
            (0x02, "allowed_failed_screen"),
            (0x03, "allowed"),
            (0x20, "prohib_not_screened"),
            (0x21, "prohib_passed_screen"),
            (0x22, "prohib_failed_screen"),
            (0x23, "prohib"),
            (0x40, "unavailable"),
            (0x43, "unavailable"),
            (0x60, "unavailable"),
        ];
        for (value, name) in cases {
            assert_eq!(presentation_name(value), name, "{value:#x}");
        }
    }
}

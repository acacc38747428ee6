//! The caller-number rule of the recipe, done in both directions.
//!
//! A call leaving for a peer carries the caller's number behind
//! `callerid_prefix` (the peer's phones and logs can tell a cluster call at a
//! glance; dialplans written for the recipe rely on it). The prefix goes onto
//! the peer leg only (see `peer_leg`); the caller's own channel keeps its
//! number. On arrival the prefix comes off again, but only for a call from a
//! configured peer: anyone else's number is theirs, prefix or not.

/// The number a peer is sent for `number`.
pub fn add_prefix(prefix: &str, number: &str) -> String {
    format!("{prefix}{number}")
}

/// The number to restore on a call that arrived from a configured peer, or
/// None when there is nothing to strip.
pub fn strip_prefix(prefix: &str, number: &str) -> Option<String> {
    if prefix.is_empty() {
        return None;
    }
    number.strip_prefix(prefix).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_undoes_add() {
        for n in ["101", "", "9999", "+4930123"] {
            assert_eq!(strip_prefix("9999", &add_prefix("9999", n)).as_deref(), Some(n));
        }
    }

    #[test]
    fn strips_only_a_leading_prefix() {
        assert_eq!(strip_prefix("9999", "99991234").as_deref(), Some("1234"));
        assert_eq!(strip_prefix("9999", "1239999"), None);
        assert_eq!(strip_prefix("9999", "999"), None);
    }

    #[test]
    fn an_empty_prefix_changes_nothing() {
        assert_eq!(add_prefix("", "101"), "101");
        assert_eq!(strip_prefix("", "101"), None);
    }
}

//! What the running Asterisk's Dial can be given, from its version.
//!
//! Dial reads fractional timeouts ("2.5") from 20.17.0, 22.7.0 and 23.1.0
//! (no 21.x); before that it reads whole seconds with atoi, so "0.5" is 0,
//! which it takes for no timeout at all.

/// A release, as `ast_get_version()` names it: "22.10.1",
/// "certified-20.7-cert5", "22.11.0-rc1"; None for what names no release
/// (a build from git: "GIT-master-1234abc").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Release {
    pub major: u32,
    pub minor: u32,
}

impl Release {
    pub fn parse(version: &str) -> Option<Release> {
        let v = version.trim();
        let v = v.strip_prefix("certified-").or_else(|| v.strip_prefix("certified/")).unwrap_or(v);
        let mut parts = v.split(|c: char| !c.is_ascii_digit());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(Release { major, minor })
    }
}

/// Whether the Dial of Asterisk `version` reads fractional timeouts. A
/// version that names no release (a build from git) is taken for a recent
/// one.
pub fn dial_reads_fractions(version: &str) -> bool {
    let Some(r) = Release::parse(version) else { return true };
    match r.major {
        0..=19 => false,
        20 => r.minor >= 17,
        21 => false,
        22 => r.minor >= 7,
        23 => r.minor >= 1,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_from_20_17_22_7_23_1_and_never_in_21() {
        for (v, yes) in [
            ("20.16.0", false),
            ("20.17.0", true),
            ("21.12.3", false),
            ("22.6.0", false),
            ("22.7.0", true),
            ("22.10.1", true),
            ("22.11.0-rc1", true),
            ("23.0.0", false),
            ("23.1.0", true),
            ("24.0.0", true),
            ("18.20.0", false),
            ("certified-20.7-cert5", false),
            ("certified-22.8-cert1", true),
            ("GIT-master-0a1b2c3", true),
        ] {
            assert_eq!(dial_reads_fractions(v), yes, "{v}");
        }
    }
}

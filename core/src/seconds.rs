//! Durations written in seconds, as Dial and administrators write them ("20", "1.5").

use std::fmt;

/// A positive duration with millisecond resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seconds {
    millis: u64,
}

/// The longest duration res_cluster accepts anywhere: one day.
pub const MAX_MILLIS: u64 = 86_400_000;

impl Seconds {
    pub const fn from_millis(millis: u64) -> Seconds {
        Seconds { millis }
    }

    pub fn millis(self) -> u64 {
        self.millis
    }

    /// Parses a positive decimal number of seconds, at most three decimals,
    /// between `min_millis` and one day.
    pub fn parse(text: &str, min_millis: u64) -> Result<Seconds, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("is empty; expected a number of seconds".into());
        }
        let (whole, frac) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() && frac.is_empty() || !digits(whole) || !digits(frac) {
            return Err(format!("'{text}' is not a number of seconds"));
        }
        if frac.len() > 3 {
            return Err(format!("'{text}' has more than three decimals"));
        }
        if whole.len() > 6 {
            return Err(format!("'{text}' is longer than one day"));
        }
        let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| format!("'{text}' is not a number"))? };
        let mut frac_ms: u64 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| format!("'{text}' is not a number"))? };
        for _ in frac.len()..3 {
            frac_ms *= 10;
        }
        let millis = whole * 1000 + frac_ms;
        if millis < min_millis.max(1) {
            let min = Seconds::from_millis(min_millis.max(1));
            return Err(format!("'{text}' is too short; the least is {min} s"));
        }
        if millis > MAX_MILLIS {
            return Err(format!("'{text}' is longer than one day"));
        }
        Ok(Seconds { millis })
    }
}

impl Seconds {
    /// Whether it is a whole number of seconds.
    pub fn is_whole(self) -> bool {
        self.millis % 1000 == 0
    }

    /// Rounded up to whole seconds (what a Dial that reads whole seconds
    /// only is given, so that it waits at least as long).
    pub fn ceil(self) -> Seconds {
        Seconds { millis: self.millis.div_ceil(1000) * 1000 }
    }
}

/// Rendered the way Dial reads it: "20", "1.5", "0.25".
impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.millis / 1000;
        let frac = self.millis % 1000;
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let s = format!("{frac:03}");
            write!(f, "{whole}.{}", s.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_whole_and_fractional_seconds() {
        assert_eq!(Seconds::parse("20", 0).unwrap().millis(), 20_000);
        assert_eq!(Seconds::parse("1.5", 0).unwrap().millis(), 1_500);
        assert_eq!(Seconds::parse(".25", 0).unwrap().millis(), 250);
        assert_eq!(Seconds::parse("0.001", 0).unwrap().millis(), 1);
        assert_eq!(Seconds::parse(" 3 ", 0).unwrap().millis(), 3_000);
    }

    #[test]
    fn refuses_what_is_not_a_positive_duration() {
        for bad in ["", "0", "-1", "abc", "1e3", "1.2345", "1..2", ".", "86401", "9999999", "1,5", "0x10"] {
            assert!(Seconds::parse(bad, 0).is_err(), "{bad} was accepted");
        }
        assert!(Seconds::parse("0.05", 100).is_err());
        assert!(Seconds::parse("0.1", 100).is_ok());
    }

    #[test]
    fn rounds_up_to_whole_seconds() {
        assert_eq!(Seconds::from_millis(2_500).ceil(), Seconds::from_millis(3_000));
        assert_eq!(Seconds::from_millis(2_000).ceil(), Seconds::from_millis(2_000));
        assert_eq!(Seconds::from_millis(1).ceil(), Seconds::from_millis(1_000));
        assert!(Seconds::from_millis(2_000).is_whole() && !Seconds::from_millis(2_001).is_whole());
    }

    #[test]
    fn renders_as_dial_reads_it() {
        assert_eq!(Seconds::from_millis(20_000).to_string(), "20");
        assert_eq!(Seconds::from_millis(1_500).to_string(), "1.5");
        assert_eq!(Seconds::from_millis(250).to_string(), "0.25");
        assert_eq!(Seconds::from_millis(1).to_string(), "0.001");
    }
}

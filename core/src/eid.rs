//! Entity IDs: how Asterisk tells its nodes apart (`entityid` in
//! asterisk.conf, six bytes written as `xx:xx:xx:xx:xx:xx`).

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Eid([u8; 6]);

impl Eid {
    /// The six bytes of `struct ast_eid`.
    pub const fn from_bytes(bytes: [u8; 6]) -> Eid {
        Eid(bytes)
    }

    pub const fn bytes(&self) -> [u8; 6] {
        self.0
    }

    /// Reads `xx:xx:xx:xx:xx:xx` (hex digits, either case), as
    /// `ast_str_to_eid` does.
    pub fn parse(text: &str) -> Result<Eid, String> {
        let text = text.trim();
        let parts: Vec<&str> = text.split(':').collect();
        let bytes: Option<Vec<u8>> = (parts.len() == 6)
            .then(|| parts.iter().map(|p| (p.len() == 2).then(|| u8::from_str_radix(p, 16).ok()).flatten()).collect())
            .flatten();
        match bytes {
            Some(b) => Ok(Eid([b[0], b[1], b[2], b[3], b[4], b[5]])),
            None => Err(format!("'{text}' is not an entity ID (six hex bytes, e.g. 02:00:00:00:00:01)")),
        }
    }
}

impl fmt::Display for Eid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_its_six_bytes() {
        let e = Eid::parse("02:00:00:0a:bc:01").unwrap();
        assert_eq!(e.bytes(), [0x02, 0, 0, 0x0a, 0xbc, 0x01]);
        assert_eq!(Eid::from_bytes(e.bytes()), e);
        assert_eq!(Eid::from_bytes([0xff; 6]).to_string(), "ff:ff:ff:ff:ff:ff");
    }

    #[test]
    fn reads_and_writes_asterisks_form() {
        let e = Eid::parse("02:00:00:0A:bc:01").unwrap();
        assert_eq!(e.to_string(), "02:00:00:0a:bc:01");
        assert_eq!(Eid::parse(" 02:00:00:0a:bc:01 ").unwrap(), e);
    }

    #[test]
    fn refuses_anything_else() {
        for bad in ["", "02:00:00:00:00", "02:00:00:00:00:00:00", "0g:00:00:00:00:00", "2:00:00:00:00:00", "02-00-00-00-00-00"] {
            assert!(Eid::parse(bad).is_err(), "{bad}");
        }
    }
}

//! Dial-string templates such as `PJSIP/${EXTEN}@cluster-node2`.

use std::fmt;

use super::channel_name::Technology;

pub const PLACEHOLDER: &str = "${EXTEN}";

/// A dial string with `${EXTEN}` where the called extension goes; nothing else
/// is substituted, so a template is checked once, at configuration time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialTemplate {
    text: String,
}

impl DialTemplate {
    pub fn parse(text: &str) -> Result<DialTemplate, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("is empty; expected a dial string such as PJSIP/${EXTEN}".into());
        }
        if let Some(c) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("contains {:?}; a dial string has no blanks or control characters", c));
        }
        if text.contains(',') {
            return Err("contains ','; Dial would read the rest as its timeout and options".into());
        }
        if !text.contains(PLACEHOLDER) {
            return Err(format!("'{text}' does not contain {PLACEHOLDER}"));
        }
        let rest = text.replace(PLACEHOLDER, "");
        if rest.contains('$') {
            return Err(format!("'{text}': only {PLACEHOLDER} is substituted; remove the other '$'"));
        }
        for dest in text.split('&') {
            let tech = dest.split('/').next().unwrap_or("");
            if !dest.contains('/') || tech.is_empty() || !tech.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("'{dest}' is not of the form Technology/resource"));
            }
        }
        Ok(DialTemplate { text: text.to_string() })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The dial string for `exten`, which must already be validated.
    pub fn render(&self, exten: &str) -> String {
        self.text.replace(PLACEHOLDER, exten)
    }

    /// The technology of the first destination, when it is one a peer can be
    /// reached over.
    pub fn technology(&self) -> Option<Technology> {
        Technology::parse(self.text.split('&').next()?.split_once('/')?.0)
    }

    /// The endpoint the first destination goes out on, when the template
    /// fixes one:
    /// - PJSIP (`PJSIP/${EXTEN}@node2`, `PJSIP/node2/sip:${EXTEN}@host`):
    ///   chan_pjsip reads the resource up to the first '/', and the part after
    ///   an '@' in it names the endpoint;
    /// - IAX2 (`IAX2/node2/${EXTEN}`, `IAX2/user:secret@node2:4569/${EXTEN}`):
    ///   chan_iax2 reads `[user[:secret]@]peer[:port]` up to the first '/'.
    pub fn endpoint(&self) -> Option<(Technology, String)> {
        let tech = self.technology()?;
        let (_, resource) = self.text.split('&').next()?.split_once('/')?;
        let head = resource.split('/').next()?;
        let after_at = match head.split_once('@') {
            Some((_, rest)) => rest,
            None => head,
        };
        let endpoint = match tech {
            Technology::Pjsip => after_at,
            Technology::Iax2 => after_at.split(':').next()?,
        };
        (!endpoint.is_empty() && !endpoint.contains('$')).then(|| (tech, endpoint.to_string()))
    }
}

impl fmt::Display for DialTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_extension_into_every_placeholder() {
        let t = DialTemplate::parse("PJSIP/${EXTEN}&PJSIP/${EXTEN}-mobile").unwrap();
        assert_eq!(t.render("101"), "PJSIP/101&PJSIP/101-mobile");
    }

    #[test]
    fn finds_the_outbound_endpoint() {
        let ep = |s: &str| DialTemplate::parse(s).unwrap().endpoint();
        let pjsip = |e: &str| Some((Technology::Pjsip, e.to_string()));
        let iax2 = |e: &str| Some((Technology::Iax2, e.to_string()));
        assert_eq!(ep("PJSIP/${EXTEN}@cluster-node2"), pjsip("cluster-node2"));
        assert_eq!(ep("PJSIP/node2/sip:${EXTEN}@127.0.10.2"), pjsip("node2"));
        assert_eq!(ep("pjsip/${EXTEN}@n3&PJSIP/${EXTEN}@n4"), pjsip("n3"));
        assert_eq!(ep("PJSIP/${EXTEN}"), None);
        assert_eq!(ep("IAX2/node2/${EXTEN}"), iax2("node2"));
        assert_eq!(ep("iax2/user:secret@node2:4570/${EXTEN}@ctx"), iax2("node2"));
        assert_eq!(ep("IAX2/${EXTEN}"), None);
        assert_eq!(ep("Local/${EXTEN}@peers"), None);
        assert_eq!(DialTemplate::parse("iax2/n2/${EXTEN}").unwrap().technology(), Some(Technology::Iax2));
        assert_eq!(DialTemplate::parse("SIP/${EXTEN}@n2").unwrap().technology(), None);
    }

    #[test]
    fn refuses_broken_templates_with_a_reason() {
        let cases = [
            ("", "is empty"),
            ("PJSIP/101", "does not contain ${EXTEN}"),
            ("PJSIP/${EXTEN},20", "contains ','"),
            ("PJSIP/${EXTEN} x", "no blanks"),
            ("PJSIP/${EXTEN}@${PEER}", "only ${EXTEN}"),
            ("${EXTEN}", "Technology/resource"),
            ("PJSIP/${EXTEN}&${EXTEN}", "Technology/resource"),
            ("PJ SIP/${EXTEN}", "no blanks"),
        ];
        for (input, expected) in cases {
            let err = DialTemplate::parse(input).unwrap_err();
            assert!(err.contains(expected), "{input}: {err}");
        }
    }
}

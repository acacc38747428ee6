//! ClusterDial(exten[,timeout[,options]]): its arguments, checked before anything is dialled.

use std::fmt;

use super::dialopts::DialOptions;
use super::seconds::Seconds;

/// Asterisk's AST_MAX_EXTENSION counts the terminating NUL.
pub const MAX_EXTEN_LEN: usize = 79;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallArgs {
    pub exten: String,
    /// Overrides `ring_timeout` for this call.
    pub timeout: Option<Seconds>,
    /// Overrides `dial_options` for this call.
    pub options: Option<DialOptions>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgError {
    EmptyExten,
    ExtenTooLong { len: usize },
    ExtenChar { ch: char, position: usize },
    Timeout(String),
    Options(String),
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::EmptyExten => write!(f, "no extension given"),
            ArgError::ExtenTooLong { len } => {
                write!(f, "extension is {len} characters long; Asterisk's limit is {MAX_EXTEN_LEN}")
            }
            ArgError::ExtenChar { ch, position } => write!(
                f,
                "extension has {} at position {position}; only letters, digits and + * # . - _ are dialled",
                describe(*ch)
            ),
            ArgError::Timeout(why) => write!(f, "timeout {why}"),
            ArgError::Options(why) => write!(f, "options: {why}"),
        }
    }
}

fn describe(ch: char) -> String {
    if ch.is_control() || ch.is_whitespace() {
        format!("the character U+{:04X}", ch as u32)
    } else {
        format!("'{ch}'")
    }
}

/// Characters an extension may have. Everything else could change the dial
/// string the extension is put into (`&` adds a destination, `@` and `/` pick
/// another endpoint or URI, `,` `(` `)` `^` `|` reach Dial's other arguments,
/// `$` `{` `}` `[` `]` and quotes reach the dialplan's own parsers).
fn dialable(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || matches!(ch, '+' | '*' | '#' | '.' | '-' | '_')
}

pub fn check_exten(exten: &str) -> Result<(), ArgError> {
    if exten.is_empty() {
        return Err(ArgError::EmptyExten);
    }
    if let Some((i, ch)) = exten.chars().enumerate().find(|(_, c)| !dialable(*c)) {
        return Err(ArgError::ExtenChar { ch, position: i + 1 });
    }
    if exten.len() > MAX_EXTEN_LEN {
        return Err(ArgError::ExtenTooLong { len: exten.len() });
    }
    Ok(())
}

/// Splits the application data the way the syntax reads: the extension up to
/// the first comma, the timeout up to the second, the options after it.
pub fn parse(data: &str) -> Result<CallArgs, ArgError> {
    let mut parts = data.splitn(3, ',');
    let exten = parts.next().unwrap_or("");
    let timeout = parts.next().unwrap_or("").trim();
    let options = parts.next().unwrap_or("").trim();

    check_exten(exten)?;
    let timeout = if timeout.is_empty() { None } else { Some(Seconds::parse(timeout, 0).map_err(ArgError::Timeout)?) };
    let options = if options.is_empty() { None } else { Some(DialOptions::parse(options).map_err(ArgError::Options)?) };
    Ok(CallArgs { exten: exten.to_string(), timeout, options })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_three_forms() {
        let a = parse("101").unwrap();
        assert_eq!((a.exten.as_str(), a.timeout, a.options), ("101", None, None));
        let a = parse("101,30").unwrap();
        assert_eq!(a.timeout.unwrap().millis(), 30_000);
        let a = parse("+4930*12#,2.5,rt").unwrap();
        assert_eq!(a.exten, "+4930*12#");
        assert_eq!(a.timeout.unwrap().millis(), 2_500);
        assert_eq!(a.options.unwrap().to_string(), "rt");
        let a = parse("101,,tT").unwrap();
        assert_eq!(a.timeout, None);
        assert_eq!(a.options.unwrap().to_string(), "tT");
    }

    #[test]
    fn refuses_every_character_that_could_change_a_dial_string() {
        for ch in "&,@/()^|${}[]\"' \t\n\r\u{0}\u{7f};:<>\\?!%=~é".chars() {
            let exten = format!("10{ch}x");
            match parse(&exten) {
                Err(ArgError::ExtenChar { ch: c, position: 3 }) => assert_eq!(c, ch),
                // ',' ends the extension argument, leaving "10" and a bad timeout.
                Err(ArgError::Timeout(_)) if ch == ',' => {}
                other => panic!("{exten:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn refuses_the_known_injections() {
        for bad in ["101&PJSIP/102", "101@cluster-node2", "101/sip:102@127.0.20.102"] {
            assert!(matches!(parse(bad), Err(ArgError::ExtenChar { .. })), "{bad}");
        }
    }

    #[test]
    fn checks_length_at_asterisks_limit() {
        assert!(parse(&"1".repeat(MAX_EXTEN_LEN)).is_ok());
        assert_eq!(parse(&"1".repeat(MAX_EXTEN_LEN + 1)), Err(ArgError::ExtenTooLong { len: 80 }));
    }

    #[test]
    fn explains_each_refusal() {
        assert_eq!(parse("").unwrap_err().to_string(), "no extension given");
        assert_eq!(
            parse("1 2").unwrap_err().to_string(),
            "extension has the character U+0020 at position 2; only letters, digits and + * # . - _ are dialled"
        );
        assert_eq!(parse("101,abc").unwrap_err().to_string(), "timeout 'abc' is not a number of seconds");
        assert_eq!(parse("101,0").unwrap_err().to_string(), "timeout '0' is too short; the least is 0.001 s");
        assert!(parse("101,20,r(").unwrap_err().to_string().starts_with("options: "));
    }
}

//! Dial's option string ("rt", "U(sub^arg)b(ctx^s^1)"), checked before it
//! reaches Dial.

use std::fmt;

use super::dialsyntax;

#[derive(Clone, Debug, PartialEq, Eq)]
struct DialOption {
    letter: char,
    /// The text between the parentheses, without them.
    arg: Option<String>,
}

/// A well-formed Dial option string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DialOptions {
    items: Vec<DialOption>,
}

impl DialOptions {
    /// Accepts letters, each optionally followed by a parenthesised argument
    /// (nested parentheses allowed). Anything else would be read by Dial as a
    /// different argument or silently ignored, so it is refused.
    pub fn parse(text: &str) -> Result<DialOptions, String> {
        let mut items = Vec::new();
        let mut chars = text.char_indices().peekable();
        while let Some((pos, c)) = chars.next() {
            if !c.is_ascii_alphabetic() {
                return Err(format!("'{c}' at position {} is not a Dial option letter", pos + 1));
            }
            let mut arg = None;
            if let Some(&(open, '(')) = chars.peek() {
                chars.next();
                let mut depth = 1;
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err(format!("option '{c}': '(' at position {} is never closed", open + 1)),
                        Some((_, '(')) => {
                            depth += 1;
                            value.push('(');
                        }
                        Some((_, ')')) => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                            value.push(')');
                        }
                        Some((at, ch)) if ch.is_control() => {
                            return Err(format!("option '{c}': control character at position {}", at + 1))
                        }
                        Some((_, ch)) => value.push(ch),
                    }
                }
                arg = Some(value);
            }
            items.push(DialOption { letter: c, arg });
        }
        // Dial reads its options argument with Asterisk's own parsers, which
        // also take '\\' as an escape and '"' as a quote: it must read the
        // same options, as one argument.
        let args = dialsyntax::read_app_args(text.as_bytes());
        let read = match args.as_slice() {
            [one] => dialsyntax::read_options(one),
            _ => None,
        };
        let letters: Vec<u8> = items.iter().map(|o| o.letter as u8).collect();
        if read.map(|r| r.iter().map(|(l, _)| *l).collect::<Vec<u8>>()) != Some(letters) {
            return Err("Dial would not read these options as written (mind '\\', '\"', '[' and ']')".into());
        }
        Ok(DialOptions { items })
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether option `letter` is given, with or without an argument.
    pub fn has(&self, letter: char) -> bool {
        self.items.iter().any(|o| o.letter == letter)
    }

    /// The argument of option `letter`, as written (Dial unescapes it).
    pub fn arg(&self, letter: char) -> Option<&str> {
        self.items.iter().rev().find(|o| o.letter == letter).and_then(|o| o.arg.as_deref())
    }

}

impl fmt::Display for DialOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for o in &self.items {
            write!(f, "{}", o.letter)?;
            if let Some(arg) = &o.arg {
                write!(f, "({arg})")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_well_formed_strings() {
        for s in ["", "rt", "tTr", "U(sub^a^b)", "b(ctx^s^1(x^y))rt", "L(60000:30000)", "D(:1)"] {
            assert_eq!(DialOptions::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn finds_options_by_letter() {
        let o = DialOptions::parse("rf(\"Bob\" <7>)tU(x)").unwrap();
        assert!(o.has('f') && o.has('r') && !o.has('u'));
        assert_eq!(o.arg('f'), Some("\"Bob\" <7>"));
        assert_eq!(o.arg('r'), None);
    }

    #[test]
    fn refuses_what_dial_would_misread() {
        let cases = [
            ("r,t", "',' at position 2"),
            ("r t", "' ' at position 2"),
            ("U(sub", "never closed"),
            ("b(x(y)", "never closed"),
            ("(x)", "'(' at position 1"),
            ("r)", "')' at position 2"),
            ("9", "'9' at position 1"),
            ("U(a\nb)", "control character"),
            ("U(a\\(b),c)", "as written"),
            ("U(\\((x)),y)", "as written"),
        ];
        for (input, expected) in cases {
            let err = DialOptions::parse(input).unwrap_err();
            assert!(err.contains(expected), "{input}: {err}");
        }
    }
}

//! How Dial reads a forced caller ID out of its argument string, in both
//! directions.
//!
//! A caller ID put in Dial's `f()` option is read by three parsers in turn
//! (Asterisk 22, unchanged since 13):
//!
//! 1. `AST_STANDARD_APP_ARGS` (`__ast_app_separate_args` in main/app.c)
//!    splits Dial's argument string at commas outside parentheses, brackets
//!    and double quotes; it removes every double quote, and every backslash,
//!    keeping the character after a backslash as it is;
//! 2. `ast_app_parse_options64` (`parse_options` in main/app.c) takes the
//!    option's argument up to the matching parenthesis; when the argument
//!    does not start with a double quote it removes every backslash, keeping
//!    the character after it;
//! 3. `ast_callerid_parse` (main/callerid.c) splits `"name" <number>` at the
//!    last `<`, strips the quotes around the name and unescapes it
//!    (`ast_unescape_quoted`: a backslash keeps the character after it).
//!
//! `forced_callerid` writes a name and number so that they come out of the
//! three parsers byte for byte; the `read_*` functions are the parsers
//! themselves, used to read an administrator's own `f()` and, in the tests,
//! to prove the round trip.

/// Characters the argument splitter (1) treats specially.
const SPLITTER: &[u8] = b"\\\"()[],";
/// Characters the option parser (2) treats specially in an unquoted argument.
const OPTION_PARSER: &[u8] = b"\\()";

fn escape(text: &[u8], special: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 8);
    for &b in text {
        if special.contains(&b) {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// Text for an option's parentheses that reaches Dial as `text`, whatever
/// bytes it holds. A leading double quote is escaped too: the option parser
/// reads an argument that starts with one as a quoted string.
pub fn option_argument(text: &[u8]) -> Vec<u8> {
    let mut for_options = escape(text, OPTION_PARSER);
    if for_options.first() == Some(&b'"') {
        for_options.insert(0, b'\\');
    }
    escape(&for_options, SPLITTER)
}

/// The argument of Dial's `f()` that makes `name` and `number` the caller ID
/// of every new leg, or None when `number` holds a `<` (the caller-ID parser
/// splits at the last one, so such a number cannot be written).
///
/// The argument starts with a blank: the option parser then leaves the
/// quotes around the name for the caller-ID parser, which alone keeps blanks
/// at the ends of a name.
pub fn forced_callerid(name: Option<&[u8]>, number: &[u8]) -> Option<Vec<u8>> {
    if number.contains(&b'<') || number.is_empty() {
        return None;
    }
    let mut text = b" \"".to_vec();
    text.extend(escape(name.unwrap_or_default(), b"\\\""));
    text.extend_from_slice(b"\" <");
    text.extend_from_slice(number);
    text.push(b'>');
    Some(option_argument(&text))
}

/// Dial's arguments as the argument splitter (1) leaves them.
pub fn read_app_args(data: &[u8]) -> Vec<Vec<u8>> {
    let mut args = vec![Vec::new()];
    let (mut paren, mut bracket, mut quote) = (0u32, 0u32, false);
    let mut bytes = data.iter().copied();
    while let Some(b) = bytes.next() {
        match b {
            b'(' => paren += 1,
            b')' => paren = paren.saturating_sub(1),
            b'[' => bracket += 1,
            b']' => bracket = bracket.saturating_sub(1),
            b'"' => {
                quote = !quote;
                continue;
            }
            b'\\' => {
                if let Some(next) = bytes.next() {
                    args.last_mut().expect("never empty").push(next);
                }
                continue;
            }
            b',' if paren == 0 && bracket == 0 && !quote => {
                args.push(Vec::new());
                continue;
            }
            _ => {}
        }
        args.last_mut().expect("never empty").push(b);
    }
    args
}

/// Each option letter with its argument, as the option parser (2) reads an
/// options argument; None when a parenthesis is never closed (Dial then
/// refuses its options).
pub fn read_options(options: &[u8]) -> Option<Vec<(u8, Option<Vec<u8>>)>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < options.len() {
        let letter = options[i] & 0x7f;
        i += 1;
        if options.get(i) != Some(&b'(') {
            out.push((letter, None));
            continue;
        }
        i += 1;
        let quotes = options.get(i) == Some(&b'"');
        let (mut paren, mut quote, mut arg) = (1u32, false, Vec::new());
        loop {
            let b = *options.get(i)?;
            i += 1;
            match b {
                b'(' if !quote => paren += 1,
                b')' if !quote => {
                    paren -= 1;
                    if paren == 0 {
                        break;
                    }
                }
                b'"' if quotes => {
                    quote = !quote;
                    continue;
                }
                b'\\' if !quote => {
                    arg.push(*options.get(i)?);
                    i += 1;
                    continue;
                }
                b'\\' if options.get(i) == Some(&b'"') => {
                    arg.push(b'"');
                    i += 1;
                    continue;
                }
                b'\\' => {
                    arg.push(b'\\');
                    arg.push(*options.get(i)?);
                    i += 1;
                    continue;
                }
                _ => {}
            }
            arg.push(b);
        }
        out.push((letter, Some(arg)));
    }
    Some(out)
}

fn is_blank(b: u8) -> bool {
    // ast_strip: everything up to and including the blank, as a byte < 33.
    b < 33
}

fn strip(text: &[u8]) -> &[u8] {
    let start = text.iter().position(|&b| !is_blank(b)).unwrap_or(text.len());
    let end = text.iter().rposition(|&b| !is_blank(b)).map_or(start, |e| e + 1);
    &text[start..end.max(start)]
}

fn strip_quoted(text: &[u8]) -> &[u8] {
    let text = strip(text);
    if text.len() >= 2 && text[0] == b'"' && text[text.len() - 1] == b'"' {
        &text[1..text.len() - 1]
    } else if text == b"\"" {
        // A lone quote is both the opening and the closing one.
        &[]
    } else {
        text
    }
}

fn unescape(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.iter().copied();
    while let Some(b) = bytes.next() {
        if b == b'\\' {
            match bytes.next() {
                Some(next) => out.push(next),
                None => break,
            }
        } else {
            out.push(b);
        }
    }
    out
}

/// The caller ID parser (3) for the `"name" <number>` form: name and number,
/// each None when absent or empty. Other forms (a bare number, a bare name)
/// are read only as far as `f()` arguments need them: text without `<` is a
/// number when it is one, else a name.
pub fn read_callerid(text: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let quoted = strip(text).first() == Some(&b'"') && strip(text).last() == Some(&b'"');
    let inner = strip_quoted(text);
    let non_empty = |v: Vec<u8>| (!v.is_empty()).then_some(v);
    match inner.iter().rposition(|&b| b == b'<') {
        Some(lt) => {
            let rest = &inner[lt + 1..];
            let number = match rest.iter().rposition(|&b| b == b'>') {
                Some(gt) => &rest[..gt],
                None => rest,
            };
            let name = unescape(strip_quoted(&inner[..lt]));
            (non_empty(name), non_empty(number.to_vec()))
        }
        None => {
            let digits: Vec<u8> = inner.iter().copied().filter(|b| !b" ()-.".contains(b)).collect();
            let phone = !digits.is_empty() && digits.iter().all(|b| b.is_ascii_digit() || b"+*#".contains(b));
            if phone && !quoted {
                (None, Some(digits))
            } else {
                (non_empty(unescape(strip_quoted(inner))), None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Dial makes of `f(<arg>)` put in its options argument.
    fn through_dial(arg: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        let mut data = b"PJSIP/101@node2,20,rtf(".to_vec();
        data.extend_from_slice(arg);
        data.extend_from_slice(b")U(sub)");
        let args = read_app_args(&data);
        assert_eq!(args.len(), 3, "the caller ID stays inside the options argument: {:?}", String::from_utf8_lossy(&data));
        let options = read_options(&args[2]).expect("options parse");
        let letters: Vec<u8> = options.iter().map(|(l, _)| *l).collect();
        assert_eq!(letters, b"rtfU", "no option was cut short or made up");
        let f = options.iter().find(|(l, _)| *l == b'f').and_then(|(_, a)| a.clone()).expect("f has an argument");
        read_callerid(&f)
    }

    fn round_trip(name: &[u8], number: &[u8]) {
        let arg = forced_callerid(Some(name), number).expect("writable");
        let (n, num) = through_dial(&arg);
        assert_eq!(n.as_deref().unwrap_or_default(), name, "name {:?}", String::from_utf8_lossy(name));
        assert_eq!(num.as_deref(), Some(number), "number {:?}", String::from_utf8_lossy(number));
    }

    #[test]
    fn names_and_numbers_come_out_of_dial_byte_for_byte() {
        let names: &[&[u8]] = &[
            b"Caller 200",
            b"",
            b"O'Brien, Pat",
            b"\"quoted\"",
            b"a\\b",
            b"(paren",
            b"close)",
            b"[x] y",
            b"  blanks at both ends  ",
            b"<not a number>",
            b"\xe9t\xe9",
            b"\\",
            b"\"",
            b"tab\there",
            b"a\"b\\\"c(,)[,]",
        ];
        for name in names {
            for number in [&b"9999200"[..], b"+4930123", b"*#9", b"9999\xe9200", b"9999a b", b"99(9)", b"9,9"] {
                round_trip(name, number);
            }
        }
    }

    #[test]
    fn any_option_argument_comes_out_of_dial_as_it_went_in() {
        for text in [&b"\""[..], b"\"x\"", b"vip,(x)", b"\\", b"[a]", b" lead", b"\"(", b""] {
            let mut data = b"PJSIP/1,20,rs(".to_vec();
            data.extend(option_argument(text));
            data.extend_from_slice(b")t");
            let args = read_app_args(&data);
            assert_eq!(args.len(), 3, "{:?}", String::from_utf8_lossy(&data));
            let options = read_options(&args[2]).expect("Dial accepts the options");
            assert_eq!(options, vec![(b'r', None), (b's', Some(text.to_vec())), (b't', None)], "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn a_number_with_a_less_than_sign_cannot_be_written() {
        assert_eq!(forced_callerid(Some(b"x"), b"1<2"), None);
        assert_eq!(forced_callerid(Some(b"x"), b""), None);
    }

    #[test]
    fn no_name_comes_out_as_no_name() {
        let arg = forced_callerid(None, b"9999200").unwrap();
        assert_eq!(through_dial(&arg), (None, Some(b"9999200".to_vec())));
    }

    #[test]
    fn reads_what_administrators_write_in_f() {
        let read = |opts: &str| {
            let args = read_app_args(format!("PJSIP/1,20,{opts}").as_bytes());
            let options = read_options(&args[2]).unwrap();
            let f = options.into_iter().find(|(l, _)| *l == b'f').unwrap().1.unwrap();
            read_callerid(&f)
        };
        assert_eq!(read("f(\"Bob\" <777>)"), (Some(b"Bob".to_vec()), Some(b"777".to_vec())));
        assert_eq!(read("f(Bob <777>)"), (Some(b"Bob".to_vec()), Some(b"777".to_vec())));
        assert_eq!(read("f(777)"), (None, Some(b"777".to_vec())));
        assert_eq!(read("f(Reception)"), (Some(b"Reception".to_vec()), None));
    }

    #[test]
    fn the_splitter_and_option_parser_behave_as_asterisks() {
        assert_eq!(read_app_args(b"a,b(c,d),\"e,f\",g\\,h"), vec![b"a".to_vec(), b"b(c,d)".to_vec(), b"e,f".to_vec(), b"g,h".to_vec()]);
        assert_eq!(read_options(b"rf(x)U(a(b)c)"), Some(vec![(b'r', None), (b'f', Some(b"x".to_vec())), (b'U', Some(b"a(b)c".to_vec()))]));
        assert_eq!(read_options(b"f(\"a)b\")"), Some(vec![(b'f', Some(b"a)b".to_vec()))]));
        assert_eq!(read_options(b"f(x"), None);
    }
}

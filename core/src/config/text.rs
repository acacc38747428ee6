//! A reader for the plain subset of Asterisk's configuration syntax.
//!
//! Inside Asterisk the module reads its file with Asterisk's own parser (which
//! adds #include, templates and inheritance). This reader lets the checks in
//! `build` be driven from text without Asterisk: the tests, the fuzz target
//! and `make demo`'s config check use it.

use super::{ConfigError, RawConfig, RawEntry, RawSection};

pub fn parse_text(file: &str, text: &str) -> Result<RawConfig, ConfigError> {
    let mut config = RawConfig { file: file.to_string(), sections: Vec::new() };
    for (index, raw_line) in text.lines().enumerate() {
        let line = index as u32 + 1;
        let current = config.sections.last().map(|s| s.name.clone());
        let err = |message: String| ConfigError { file: file.to_string(), line: Some(line), section: current.clone(), key: None, message };
        let content = strip_comment(raw_line);
        let content = content.trim();
        if content.is_empty() {
            continue;
        }
        if let Some(rest) = content.strip_prefix('[') {
            let Some((name, tail)) = rest.split_once(']') else {
                return Err(err(format!("'{content}' opens a section but never closes it")));
            };
            let tail = tail.trim();
            let template = match tail {
                "" => false,
                "(!)" => true,
                t if t.starts_with('(') && t.ends_with(')') => {
                    return Err(err(format!("'{t}': section inheritance is read only by Asterisk's own parser")))
                }
                t => return Err(err(format!("'{t}' after the section name"))),
            };
            let name = name.trim();
            if name.is_empty() {
                return Err(err("empty section name".into()));
            }
            config.sections.push(RawSection { name: name.to_string(), template, entries: Vec::new() });
            continue;
        }
        let Some((key, value)) = content.split_once('=') else {
            return Err(err(format!("'{content}' is neither 'key = value' nor '[section]'")));
        };
        let value = value.strip_prefix('>').unwrap_or(value);
        let key = key.trim();
        if key.is_empty() {
            return Err(err("a value with no key".into()));
        }
        if config.sections.is_empty() {
            return Err(err(format!("'{key}' comes before any [section]")));
        }
        let section = config.sections.last_mut().expect("checked above");
        section.entries.push(RawEntry {
            key: key.to_string(),
            value: value.trim().to_string(),
            file: file.to_string(),
            line,
            inherited: false,
        });
    }
    Ok(config)
}

/// Asterisk ends a line at an unescaped ';' and turns "\;" into ';'.
fn strip_comment(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&';') => {
                out.push(';');
                chars.next();
            }
            ';' => break,
            c => out.push(c),
        }
    }
    out
}

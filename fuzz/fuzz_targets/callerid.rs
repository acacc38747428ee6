//! The identity a forwarded call's legs carry: whatever bytes the caller's
//! name, number and tag hold, and whatever Dial options are configured, Dial
//! reads back from the planned options exactly the caller's name, the
//! prefixed number and the tag, and no option is cut short or made up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use res_cluster_core::callerid::CallerId;
use res_cluster_core::dialopts::DialOptions;
use res_cluster_core::dialsyntax;
use res_cluster_core::peer_leg::{self, LegMark};

fuzz_target!(|data: &[u8]| {
    // name \0 number \0 tag \0 options (NUL cannot be in a C string).
    let mut parts = data.splitn(4, |&b| b == 0);
    let (name, number, tag) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let Ok(options) = std::str::from_utf8(parts.next().unwrap_or_default()) else { return };
    let Ok(options) = DialOptions::parse(options) else { return };
    if options.has('f') || options.has('u') || options.has('s') || options.has('b') {
        return;
    }
    let some = |b: &[u8]| (!b.is_empty()).then(|| b.to_vec());
    let caller = CallerId { name: some(name), number: some(number), presentation: 0x23, tag: some(tag) };
    let legs = peer_leg::plan("node1", "9999", &caller, &options, true, true);
    let mut app_data = b"PJSIP/1@n2,20,".to_vec();
    app_data.extend_from_slice(&legs.options);
    let args = dialsyntax::read_app_args(&app_data);
    assert_eq!(args.len(), 3, "{:?}", String::from_utf8_lossy(&app_data));
    match legs.mark {
        LegMark::PreDial { .. } => {
            assert!(number.contains(&b'<'), "the pre-dial handler only for a number Dial's f() cannot carry");
            return;
        }
        LegMark::Inherited { .. } => {}
        LegMark::Unmarked => panic!("the header is inheritable here: legs are always marked"),
    }
    let read = dialsyntax::read_options(&args[2]).expect("Dial accepts the options");
    // Dial keeps the last of an option given twice.
    let get = |l: u8| read.iter().rev().find(|(x, _)| *x == l).and_then(|(_, a)| a.clone());
    let Some(number) = caller.number else {
        assert!(get(b'f').is_none());
        return;
    };
    let (n, num) = dialsyntax::read_callerid(&get(b'f').expect("f() carries the identity"));
    assert_eq!(n, caller.name, "name");
    let mut prefixed = b"9999".to_vec();
    prefixed.extend_from_slice(&number);
    assert_eq!(num.as_deref(), Some(&prefixed[..]), "number");
    assert_eq!(get(b'u').as_deref(), Some(&b"prohib"[..]));
    assert_eq!(get(b's'), caller.tag, "tag");
    // The configured options, then f, u and (with a tag) s: nothing else.
    let letters: Vec<u8> = read.iter().map(|(l, _)| *l).collect();
    let written = dialsyntax::read_app_args(options.to_string().as_bytes());
    let configured = dialsyntax::read_options(&written[0]).expect("configured options parse");
    let mut expected: Vec<u8> = configured.iter().map(|(l, _)| *l).collect();
    expected.extend_from_slice(if caller.tag.is_some() { b"fus" } else { b"fu" });
    assert_eq!(letters, expected);
});

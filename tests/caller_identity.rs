//! The caller stays who they are: on the node that forwards a call, every
//! observer an administrator reads (CDR, CEL, AMI, the channel itself) shows
//! the caller's real number from the first event to the last; only the leg
//! to the peer carries the prefix, with the caller's name and presentation.

mod harness;

use std::time::Duration;

use harness::*;

fn nodes(net: &Net) -> Vec<Node> {
    nodes_marking(net, "auto")
}

/// Two nodes recording CDR and CEL, their peer legs marked as given.
fn nodes_marking(net: &Net, marking: &str) -> Vec<Node> {
    cluster(net, 2, |s| {
        s.records = true;
        s.general = format!("peer_leg_marking = {marking}");
        s.dialplan = "\
exten => _prv.,1,Set(CD_EXTEN=${EXTEN:3})
 same => n,Set(CALLERID(pres)=prohib)
 same => n,ClusterDial(${EXTEN:3})
 same => n,Hangup()
exten => _bytes.,1,Set(CD_EXTEN=${EXTEN:5})
 same => n,Set(CALLERID(num)=${URIDECODE(%E9%FF200)})
 same => n,ClusterDial(${EXTEN:5})
 same => n,Hangup()
; a forward that finds no one (104 is nowhere), a leg of the caller's own
; here, then a second forward the caller may transfer from
exten => _twice.,1,Set(CD_EXTEN=${EXTEN:5})
 same => n,ClusterDial(104)
 same => n,Dial(PJSIP/103,1)
 same => n,ClusterDial(${EXTEN:5},,T)
 same => n,Hangup()
"
        .into();
    })
}

fn get<'a>(event: &'a [(String, String)], key: &str) -> Option<&'a str> {
    event.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Waits until the caller's channel on `node` is in `state` ("Up",
/// "Ring"...) and returns its name.
fn caller_channel(node: &Node, state: &str) -> String {
    let found = poll(
        10 * SECOND,
        Duration::from_millis(50),
        || {
            let name = node.channel_named("PJSIP/200-")?;
            node.cli(&format!("core show channel {name}")).contains(&format!("State: {state}")).then_some(name)
        },
        Option::is_some,
    );
    found.unwrap_or_else(|| panic!("no caller channel in state {state} on {}:\n{}", node.name, node.cli("core show channels")))
}

/// What an administrator sees of the caller's channel while the call is up.
fn check_mid_call(node: &Node, ami: &mut Ami, channel: &str) {
    assert_eq!(ami.getvar(channel, "CALLERID(num)").as_deref(), Some("200"), "CALLERID(num) read over AMI during the call");
    let shown = node.cli(&format!("core show channel {channel}"));
    let line = shown.lines().find(|l| l.trim_start().starts_with("Caller ID:")).unwrap_or_default();
    assert_eq!(line.split(':').nth(1).map(str::trim), Some("200"), "core show channel during the call:\n{shown}");
}

/// Every observer on the forwarding node, after the call: AMI, CEL, CDR.
fn check_records(node: &Node, ami: &mut Ami, disposition: &str) {
    ami.drain(Duration::from_millis(500));
    let mut caller_events = 0;
    for event in &ami.events {
        // Any field naming the caller's channel (Channel, DestChannel,
        // TransfererChannel...) comes with that channel's caller number
        // under the same prefix.
        for (key, value) in event.iter().filter(|(k, v)| k.ends_with("Channel") && v.starts_with("PJSIP/200-")) {
            let prefix = key.trim_end_matches("Channel");
            if let Some(number) = get(event, &format!("{prefix}CallerIDNum")) {
                caller_events += 1;
                assert_eq!(number, "200", "{value} in {event:?}");
            }
        }
        if get(event, "Event") == Some("NewCallerid") {
            assert!(!get(event, "Channel").unwrap_or_default().starts_with("PJSIP/200-"), "caller ID changed on the caller's channel: {event:?}");
        }
    }
    assert!(caller_events > 5, "AMI showed the caller's channel: {:?}", ami.events);
    // The leg to the peer, and only it, carries the prefix.
    let leg = ami.events.iter().find(|e| get(e, "Event") == Some("DialBegin")).expect("a DialBegin to the peer");
    assert_eq!((get(leg, "DestChannel").map(|c| c.starts_with("PJSIP/cluster-node2-")), get(leg, "DestConnectedLineNum")), (Some(true), Some("9999200")));

    let cel = poll(5 * SECOND, Duration::from_millis(50), || node.cel_events(), |e| e.iter().any(|r| r[0] == "LINKEDID_END"));
    let mine: Vec<&Vec<String>> = cel.iter().filter(|r| r[1].starts_with("PJSIP/200-")).collect();
    for kind in ["CHAN_START", "HANGUP", "CHAN_END"] {
        assert!(mine.iter().any(|r| r[0] == kind), "CEL {kind} of the caller's channel: {cel:?}");
    }
    for r in &mine {
        assert_eq!(r[2], "200", "CEL {} of the caller's channel: {r:?}", r[0]);
    }
    if disposition == "ANSWERED" {
        for kind in ["ANSWER", "BRIDGE_ENTER", "BRIDGE_EXIT"] {
            assert!(mine.iter().any(|r| r[0] == kind), "CEL {kind} of the caller's channel: {cel:?}");
        }
    }

    let cdrs = poll(5 * SECOND, Duration::from_millis(50), || node.cdrs(), |c| !c.is_empty());
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    let cdr = &cdrs[0];
    // cdr_csv: accountcode, src, dst, dcontext, clid, channel, dstchannel, ...
    assert_eq!((cdr[1].as_str(), cdr[4].as_str()), ("200", "\"Caller 200\" <200>"), "CDR src and clid: {cdr:?}");
    assert!(cdr[6].starts_with("PJSIP/cluster-node2-"), "the CDR names the peer leg: {cdr:?}");
    assert_eq!(cdr[14], disposition, "{cdr:?}");
}

#[test]
fn an_answered_forwarded_call_leaves_the_callers_identity_alone() {
    answered_call_leaves_the_callers_identity_alone("auto");
}

#[test]
fn with_the_pre_dial_handler_too() {
    answered_call_leaves_the_callers_identity_alone("predial");
}

fn answered_call_leaves_the_callers_identity_alone(marking: &str) {
    let net = Net::allocate();
    let nodes = nodes_marking(&net, marking);
    let phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    let mut ami = Ami::connect(&nodes[0]);

    std::thread::scope(|s| {
        let call = s.spawn(|| call(&net, &nodes[0], "102", &CallOptions { hold_ms: 2_500, ..CallOptions::default() }));
        let channel = caller_channel(&nodes[0], "Up");
        check_mid_call(&nodes[0], &mut ami, &channel);
        assert!(call.join().expect("call").answered());
    });

    let here = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!((here[0].cluster.as_str(), here[0].raw.as_str(), here[0].cid.as_str()), ("ANSWER", "200", "200"), "CALLERID(num) after the call");
    check_records(&nodes[0], &mut ami, "ANSWERED");

    let there = nodes[1].wait_results(1, 5 * SECOND);
    assert_eq!((there[0].raw.as_str(), there[0].name.as_str()), ("9999200", "Caller%20200"), "the peer got the prefixed number and the name");
    assert_eq!(there[0].pres, here[0].pres, "and the presentation");
    assert_eq!(phone.caller_numbers(), vec!["200"]);
    assert_eq!(phone.caller_displays(), vec!["\"Caller 200\""]);
    let way = if marking == "predial" { "a pre-dial handler (peer_leg_marking = predial)" } else { "Dial options and an inherited header" };
    assert!(nodes[0].wait_log(&format!("peer legs are marked by {way}"), 5 * SECOND), "{}", nodes[0].log());
    assert!(nodes[0].cli("cluster show status").contains(&format!("Peer legs marked by: {way}")));
}

#[test]
fn an_unanswered_forwarded_call_leaves_the_callers_identity_alone() {
    let net = Net::allocate();
    let nodes = nodes(&net);
    let phone = Phone::register(&net, &nodes[1], "102", Behaviour::Ring);
    let mut ami = Ami::connect(&nodes[0]);

    std::thread::scope(|s| {
        // ClusterDial(102,3): rings 3 s on node2, then gives up.
        let call = s.spawn(|| call(&net, &nodes[0], "short102", &CallOptions::default()));
        poll(5 * SECOND, Duration::from_millis(50), || phone.invites().len(), |&n| n > 0);
        let channel = caller_channel(&nodes[0], "Ring");
        check_mid_call(&nodes[0], &mut ami, &channel);
        assert!(!call.join().expect("call").answered());
    });

    let here = nodes[0].wait_results(1, 10 * SECOND);
    assert_eq!((here[0].cluster.as_str(), here[0].cid.as_str()), ("NOANSWER", "200"), "CALLERID(num) after the call");
    check_records(&nodes[0], &mut ami, "NO ANSWER");
    let there = nodes[1].wait_results(1, 5 * SECOND);
    assert_eq!((there[0].raw.as_str(), there[0].name.as_str()), ("9999200", "Caller%20200"));
    assert_eq!(phone.caller_numbers(), vec!["200"]);
}

/// Undoes URIENCODE.
fn uri_decode(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() + 1 {
            if let Ok(v) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[test]
fn a_name_that_reads_like_syntax_and_a_withheld_number_arrive_as_they_left() {
    let net = Net::allocate();
    let nodes = nodes(&net);
    let phone = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    let mut ami = Ami::connect(&nodes[0]);

    // Quotes, backslashes, parentheses, a comma and brackets: every
    // character Dial's parsers read specially. (Asterisk keeps the SIP
    // escapes of a quoted display name in CALLERID(name), and escapes them
    // again when it sends one: such a name grows by its backslashes at
    // every hop, with or without res_cluster.)
    let tricky = r#""O\"Neil \\ (desk), [2]""#;
    let plain = r#""Front (desk), [2]""#;
    for display in [tricky, plain] {
        call(&net, &nodes[0], "102", &CallOptions { display: Some(display.into()), ..CallOptions::default() });
    }
    call(&net, &nodes[0], "prv102", &CallOptions::default());

    let here = nodes[0].wait_results(3, 5 * SECOND);
    let there = nodes[1].wait_results(3, 5 * SECOND);
    // Dial put the caller's name on the peer leg exactly (AMI shows both
    // with C escapes).
    ami.drain(Duration::from_millis(300));
    let dial = ami.events.iter().find(|e| get(e, "Event") == Some("DialBegin")).expect("DialBegin");
    let caller_name = String::from_utf8(uri_decode(&here[0].name)).expect("UTF-8");
    assert!(caller_name.contains('"') && caller_name.contains('\\') && caller_name.contains(",") && caller_name.contains(")"), "{caller_name}");
    assert!(get(dial, "CallerIDName").is_some_and(|n| n.contains("(desk), [2]")), "{dial:?}");
    assert_eq!(get(dial, "DestConnectedLineName"), get(dial, "CallerIDName"), "the peer leg's caller name is the caller's, byte for byte");
    assert_eq!(String::from_utf8(uri_decode(&there[1].name)).unwrap(), "Front (desk), [2]", "and arrives on the peer as it left");
    assert_eq!((there[0].raw.as_str(), there[1].raw.as_str()), ("9999200", "9999200"));
    assert_eq!(here[2].pres, "prohib", "{:?}", here[2]);
    assert_eq!(there[2].pres.split('_').next(), Some("prohib"), "a withheld number stays withheld: {:?}", there[2]);
    assert_eq!((there[2].raw.as_str(), there[2].cid.as_str()), ("9999200", "200"), "and still carries the prefix to the peer");
    assert_eq!(phone.caller_numbers(), vec!["200", "200", "anonymous"], "the phone on the peer is not shown the withheld number");
}

#[test]
fn a_number_that_is_not_utf8_comes_back_byte_for_byte() {
    let net = Net::allocate();
    let nodes = nodes(&net);
    let phone = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);

    // node2 forwards a caller whose number holds the bytes E9 FF.
    let report = call(&net, &nodes[1], "bytes101", &CallOptions::default());

    assert!(report.answered(), "{report:?}");
    let there = nodes[0].wait_results(1, 5 * SECOND);
    assert_eq!((there[0].raw.as_str(), there[0].cid.as_str()), ("9999%E9%FF200", "%E9%FF200"), "{:?}", there[0]);
    assert_eq!(phone.caller_numbers().iter().map(|n| n.to_uppercase()).collect::<Vec<_>>(), vec!["%E9%FF200"]);
}

#[test]
fn a_transfer_by_the_caller_passes_on_the_real_number() {
    let net = Net::allocate();
    let nodes = nodes(&net);
    let _far = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    let target = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);

    // 200 calls 102 (on node2) with Dial's T, then transfers it (*2) to 101
    // on node1: the transfer dials 101 with the caller's identity.
    // The transfer waits transferdigittimeout (3 s) for more digits: 101
    // could begin a longer extension of _X.
    let opts = CallOptions { transfer_to: Some("101".into()), hold_ms: 6_000, ..CallOptions::default() };
    let report = call(&net, &nodes[0], "move102", &opts);

    assert!(report.answered(), "{report:?}");
    let numbers = poll(5 * SECOND, Duration::from_millis(50), || target.caller_numbers(), |n| !n.is_empty());
    assert_eq!(numbers, vec!["200"], "the transfer target is shown the caller's own number");
    assert_eq!(target.invites()[0].header("X-Cluster-Hop"), None, "the hop header reached the peer leg only");
    let displays = target.caller_displays();
    assert_eq!(displays, vec!["\"Caller 200\""]);
}

#[test]
fn after_a_forward_the_caller_dials_again_and_no_later_leg_carries_the_hop_header() {
    let net = Net::allocate();
    let nodes = nodes(&net);
    let far = Phone::register(&net, &nodes[1], "102", Behaviour::Answer);
    let ringing = Phone::register(&net, &nodes[0], "103", Behaviour::Ring);
    let target = Phone::register(&net, &nodes[0], "101", Behaviour::Answer);

    // One channel: a forward to node2 (nobody there), a Dial of 103 here,
    // a second forward (102 answers on node2), then a transfer to 101 here.
    let opts = CallOptions { transfer_to: Some("101".into()), hold_ms: 6_000, ..CallOptions::default() };
    let report = call(&net, &nodes[0], "twice102", &opts);

    assert!(report.answered() && report.completed, "{report:?}\n{}", nodes[0].console());
    let mut node1 = nodes.into_iter().next().expect("node1");
    assert!(node1.running(), "node1 survived a leg made from a channel whose hop header was taken off:\n{}", node1.console());
    assert_eq!(ringing.invites().len(), 1, "103 was rung after the first forward");
    assert_eq!(ringing.invites()[0].header("X-Cluster-Hop"), None, "a leg made after the forward does not carry the hop header");
    assert_eq!(far.invites().len(), 1, "the second forward reached 102");
    let numbers = poll(5 * SECOND, Duration::from_millis(50), || target.caller_numbers(), |n| !n.is_empty());
    assert_eq!(numbers, vec!["200"], "the transfer reached 101");
    assert_eq!(target.invites()[0].header("X-Cluster-Hop"), None, "the transfer's leg does not carry the hop header of the second forward");
}

use super::*;

fn defaults() -> Defaults {
    Defaults { system_name: "node1".into(), host_name: "host".into(), ..Defaults::default() }
}

fn load(text: &str) -> Result<ClusterConfig, ConfigError> {
    build(&parse_text("res_cluster.conf", text)?, &defaults())
}

const FULL: &str = "\
; a complete file
[general]
node_name = alpha
local_dial = PJSIP/${EXTEN}&PJSIP/${EXTEN}-mobile
ring_timeout = 25
dial_options = rt
callerid_prefix = 8888
fallback_on = chanunavail, congestion, busy
strategy = parallel
peer_timeout = 0.5
holddown = 10
peer_leg_marking = predial
locate = devstate

[beta]
type = peer
dial = PJSIP/${EXTEN}@cluster-beta
endpoint = cluster-beta-in
outbound_publish = to-beta
entity_id = 02:00:00:00:00:02

[gamma]
type = peer
dial => PJSIP/gamma/sip:${EXTEN}@127.0.10.3   ; endpoint taken from here
";

#[test]
fn reads_every_key() {
    let c = load(FULL).unwrap();
    assert_eq!(c.node_name, "alpha");
    assert_eq!(c.local_dial.render("7"), "PJSIP/7&PJSIP/7-mobile");
    assert_eq!(c.ring_timeout.millis(), 25_000);
    assert_eq!(c.dial_options.to_string(), "rt");
    assert_eq!(c.callerid_prefix, "8888");
    assert_eq!(c.fallback_on, vec![DialStatus::ChanUnavail, DialStatus::Congestion, DialStatus::Busy]);
    assert_eq!(c.strategy, Strategy::Parallel);
    assert_eq!(c.peer_timeout.millis(), 500);
    assert_eq!(c.holddown.millis(), 10_000);
    assert_eq!(c.peer_leg_marking, LegMarking::PreDial);
    assert_eq!(c.locate, Locate::DevState);
    assert_eq!(c.peers.len(), 2);
    assert_eq!(c.peers[0].outbound_publish, "to-beta");
    assert_eq!(c.peers[0].entity_id.unwrap().to_string(), "02:00:00:00:00:02");
    assert_eq!(c.peers[1].outbound_publish, "gamma", "the endpoint's name by default");
    assert_eq!(c.peers[1].entity_id, None);
    assert_eq!(c.peers[0].name, "beta");
    assert_eq!(c.peers[0].endpoint, "cluster-beta-in");
    assert_eq!(c.peers[0].outbound_endpoint.as_deref(), Some("cluster-beta"));
    assert_eq!(c.peers[0].watched_endpoint(), ("PJSIP", "cluster-beta"));
    assert!(c.peers[0].owns_leg(Technology::Pjsip, "cluster-beta"));
    assert!(!c.peers[0].owns_leg(Technology::Iax2, "cluster-beta"));
    assert_eq!(c.peers[1].endpoint, "gamma");
    assert_eq!(c.peer_by_endpoint(Technology::Pjsip, "cluster-beta-in").unwrap().name, "beta");
    assert!(c.peer_by_endpoint(Technology::Iax2, "cluster-beta-in").is_none());
}

#[test]
fn a_peer_reached_over_iax2() {
    let c = load(
        "[general]\nnode_name = node1\n\
         [node2]\ntype = peer\ndial = IAX2/node2/${EXTEN}\n\
         [node3]\ntype = peer\ndial = IAX2/node1:secret@to-node3:4570/${EXTEN}@cluster\nendpoint = node3\n\
         [node4]\ntype = peer\ndial = PJSIP/${EXTEN}@node2\n",
    )
    .unwrap();
    let (n2, n3) = (&c.peers[0], &c.peers[1]);
    assert_eq!(c.peers[2].technology, Technology::Pjsip);
    assert_eq!((n2.technology, n2.endpoint.as_str()), (Technology::Iax2, "node2"));
    assert_eq!(n2.watched_endpoint(), ("IAX2", "node2"));
    assert!(n2.owns_leg(Technology::Iax2, "node2") && !n2.owns_leg(Technology::Pjsip, "node2"));
    assert_eq!((n3.endpoint.as_str(), n3.outbound_endpoint.as_deref()), ("node3", Some("to-node3")));
    assert_eq!(n3.watched_endpoint(), ("IAX2", "to-node3"));
    // A PJSIP endpoint and an IAX2 peer of the same name are different things.
    assert_eq!(c.peer_by_endpoint(Technology::Iax2, "node2").unwrap().name, "node2");
    assert_eq!(c.peer_by_endpoint(Technology::Pjsip, "node2").unwrap().name, "node4");

    let err = load("[node2]\ntype = peer\ndial = IAX2/node2/${EXTEN}\nendpoint = node2:4569\n").unwrap_err();
    assert!(err.to_string().contains("'node2:4569' is not an IAX2 peer name"), "{err}");
    let err = load("[node2]\ntype = peer\ndial = IAX2/${EXTEN}\n").unwrap_err();
    assert!(err.to_string().contains("names no PJSIP endpoint or IAX2 peer"), "{err}");
    for dial in ["IAX2/192.0.2.2/${EXTEN}", "IAX2/u:s@192.0.2.2:4569/${EXTEN}", "IAX2/[2001:db8::2]/${EXTEN}"] {
        let err = load(&format!("[node2]\ntype = peer\ndial = {dial}\nendpoint = node2\n")).unwrap_err();
        assert!(err.to_string().contains("names an address; name an iax.conf peer"), "{dial}: {err}");
    }
    let err = load("[a]\ntype = peer\ndial = IAX2/n2/${EXTEN}\n[b]\ntype = peer\ndial = iax2/n2/${EXTEN}@x\n").unwrap_err();
    assert!(err.to_string().contains("endpoint 'n2' already belongs to peer [a]"), "{err}");
}

#[test]
fn an_empty_file_means_the_defaults() {
    let c = load("").unwrap();
    assert_eq!(c.node_name, "node1");
    assert_eq!(c.local_dial.as_str(), "PJSIP/${EXTEN}");
    assert_eq!(c.ring_timeout.millis(), 20_000);
    assert!(c.dial_options.is_empty());
    assert_eq!(c.callerid_prefix, "9999");
    assert_eq!(c.fallback_on, vec![DialStatus::ChanUnavail, DialStatus::Congestion]);
    assert_eq!(c.strategy, Strategy::Sequential);
    assert_eq!(c.peer_timeout.millis(), 1_000);
    assert_eq!(c.holddown.millis(), 30_000);
    assert_eq!(c.peer_leg_marking, LegMarking::Auto);
    assert_eq!(c.locate, Locate::Off);
    assert!(c.peers.is_empty());
}

#[test]
fn node_name_falls_back_to_the_host_name() {
    let raw = parse_text("f", "").unwrap();
    let c = build(&raw, &Defaults { system_name: String::new(), host_name: "pbx-a".into(), ..Defaults::default() }).unwrap();
    assert_eq!(c.node_name, "pbx-a");
    let e = build(&raw, &Defaults::default()).unwrap_err();
    assert!(e.message.contains("set node_name"), "{e}");
}

#[test]
fn an_empty_prefix_and_an_empty_fallback_list_are_allowed() {
    let c = load("[general]\ncallerid_prefix =\nfallback_on =\n").unwrap();
    assert_eq!(c.callerid_prefix, "");
    assert!(c.fallback_on.is_empty());
}

#[test]
fn templates_lend_nothing_and_are_skipped() {
    let c = load("[base](!)\ntype = peer\n[general]\nnode_name = a\n").unwrap();
    assert!(c.peers.is_empty());
}

/// Each bad file with the exact message an administrator reads.
#[test]
fn every_bad_file_gets_its_own_clear_error() {
    let peer = "[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node2\n";
    let cases: Vec<(String, &str)> = vec![
        ("[general]\nnode_name = bad name\n".into(),
         "res_cluster.conf line 2: [general] node_name: 'bad name' is not a node name (1 to 64 letters, digits, '_', '.', '-')"),
        ("[general]\nring_timeout = soon\n".into(),
         "res_cluster.conf line 2: [general] ring_timeout: 'soon' is not a number of seconds"),
        ("[general]\nring_timeout = 0\n".into(),
         "res_cluster.conf line 2: [general] ring_timeout: '0' is too short; the least is 0.001 s"),
        ("[general]\nring_timeout = 100000\n".into(),
         "res_cluster.conf line 2: [general] ring_timeout: '100000' is longer than one day"),
        ("[general]\nlocal_dial = PJSIP/101\n".into(),
         "res_cluster.conf line 2: [general] local_dial: 'PJSIP/101' does not contain ${EXTEN}"),
        ("[general]\nlocal_dial = PJSIP/${EXTEN},30\n".into(),
         "res_cluster.conf line 2: [general] local_dial: contains ','; Dial would read the rest as its timeout and options"),
        ("[general]\ndial_options = r(\n".into(),
         "res_cluster.conf line 2: [general] dial_options: option 'r': '(' at position 2 is never closed"),
        ("[general]\ndial_options = r,t\n".into(),
         "res_cluster.conf line 2: [general] dial_options: ',' at position 2 is not a Dial option letter"),
        ("[general]\ncallerid_prefix = 99x\n".into(),
         "res_cluster.conf line 2: [general] callerid_prefix: '99x' is not a prefix of at most 20 digits, *, # or +"),
        ("[general]\nfallback_on = chanunavail, answer\n".into(),
         "res_cluster.conf line 2: [general] fallback_on: 'answer' is not one of chanunavail, congestion, busy, noanswer"),
        ("[general]\nfallback_on = busy,BUSY\n".into(),
         "res_cluster.conf line 2: [general] fallback_on: 'BUSY' is listed twice"),
        ("[general]\nstrategy = random\n".into(),
         "res_cluster.conf line 2: [general] strategy: 'random' is not a strategy; use sequential or parallel"),
        ("[general]\nlocate = dns\n".into(),
         "res_cluster.conf line 2: [general] locate: 'dns' is not a way to locate phones; use off or devstate"),
        ("[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@n2\nentity_id = 02:00:00:00:00\n".into(),
         "res_cluster.conf line 4: [node2] entity_id: '02:00:00:00:00' is not an entity ID (six hex bytes, e.g. 02:00:00:00:00:01)"),
        ("[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@n2\noutbound_publish = a/b\n".into(),
         "res_cluster.conf line 4: [node2] outbound_publish: 'a/b' is not the name of a pjsip.conf outbound-publish"),
        ("[general]\npeer_leg_marking = header\n".into(),
         "res_cluster.conf line 2: [general] peer_leg_marking: 'header' is not a way to mark peer legs; use auto or predial"),
        ("[general]\npeer_timeout = 0.05\n".into(),
         "res_cluster.conf line 2: [general] peer_timeout: '0.05' is too short; the least is 0.1 s"),
        ("[general]\nholddown = 0.5\n".into(),
         "res_cluster.conf line 2: [general] holddown: '0.5' is too short; the least is 1 s"),
        ("[general]\nring_timeout = 20\nring_timeout = 30\n".into(),
         "res_cluster.conf line 3: [general] ring_timeout: set twice (first on line 2); keep one"),
        ("[general]\nring_timout = 20\n".into(),
         "res_cluster.conf line 2: [general] ring_timout: unknown key; [general] takes node_name, local_dial, ring_timeout, dial_options, callerid_prefix, fallback_on, strategy, peer_timeout, holddown, peer_leg_marking, locate, route_to_userfield, replicate_contacts"),
        ("[node2]\ndial = PJSIP/${EXTEN}@cluster-node2\n".into(),
         "res_cluster.conf line 2: [node2] type: missing; every section but [general] is a peer and needs type = peer"),
        ("[node2]\ntype = friend\ndial = PJSIP/${EXTEN}@n2\n".into(),
         "res_cluster.conf line 2: [node2] type: 'friend' is not a section type; use type = peer"),
        ("[node2]\ntype = peer\n".into(),
         "res_cluster.conf line 2: [node2] dial: missing; e.g. dial = PJSIP/${EXTEN}@cluster-node2"),
        ("[node2]\ntype = peer\ndial = PJSIP/${EXTEN}\n".into(),
         "res_cluster.conf line 2: [node2] endpoint: missing; dial 'PJSIP/${EXTEN}' names no PJSIP endpoint or IAX2 peer to take it from; set endpoint"),
        ("[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@n2\nendpoint = a/b\n".into(),
         "res_cluster.conf line 4: [node2] endpoint: 'a/b' is not a PJSIP endpoint name"),
        ("[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@n2\ncontext = x\n".into(),
         "res_cluster.conf line 4: [node2] context: unknown key; peer sections take type, dial, endpoint, outbound_publish, entity_id, trust, contacts_publish"),
        ("[node1]\ntype = peer\ndial = PJSIP/${EXTEN}@n1\n".into(),
         "res_cluster.conf line 2: [node1] 'node1' is this node's own node_name; a node is not its own peer"),
        (format!("{peer}{peer}"),
         "res_cluster.conf line 5: [node2] section appears twice; merge the two"),
        (format!("{peer}[node3]\ntype = peer\ndial = PJSIP/${{EXTEN}}@other\nendpoint = cluster-node2\n"),
         "res_cluster.conf line 7: [node3] endpoint: endpoint 'cluster-node2' already belongs to peer [node2]; each peer needs its own"),
        ("[bad peer]\ntype = peer\ndial = PJSIP/${EXTEN}@x\n".into(),
         "res_cluster.conf line 2: [bad peer] section name 'bad peer' is not a node name (1 to 64 letters, digits, '_', '.', '-')"),
        ("node_name = x\n".into(),
         "res_cluster.conf line 1: 'node_name' comes before any [section]"),
        ("[general\n".into(),
         "res_cluster.conf line 1: '[general' opens a section but never closes it"),
        ("[general]\njust some words\n".into(),
         "res_cluster.conf line 2: [general] 'just some words' is neither 'key = value' nor '[section]'"),
        ("[general]\n= 5\n".into(),
         "res_cluster.conf line 2: [general] a value with no key"),
        ("[]\n".into(),
         "res_cluster.conf line 1: empty section name"),
        ("[general](base)\n".into(),
         "res_cluster.conf line 1: '(base)': section inheritance is read only by Asterisk's own parser"),
        ("[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@${PEER}\n".into(),
         "res_cluster.conf line 3: [node2] dial: 'PJSIP/${EXTEN}@${PEER}': only ${EXTEN} is substituted; remove the other '$'"),
    ];
    assert!(cases.len() >= 20);
    for (text, expected) in cases {
        match load(&text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => assert_eq!(e.to_string(), expected, "for:\n{text}"),
        }
    }
}

#[test]
fn an_error_under_include_names_the_included_file() {
    let raw = RawConfig {
        file: "res_cluster.conf".into(),
        sections: vec![RawSection {
            name: "general".into(),
            template: false,
            entries: vec![RawEntry {
                key: "strategy".into(),
                value: "x".into(),
                file: "cluster-extra.conf".into(),
                line: 7,
                inherited: false,
            }],
        }],
    };
    let e = build(&raw, &defaults()).unwrap_err();
    assert_eq!(e.to_string(), "cluster-extra.conf line 7: [general] strategy: 'x' is not a strategy; use sequential or parallel");
}

#[test]
fn comments_and_escaped_semicolons() {
    let c = load("[general] ; main\nnode_name = a ; trailing\ndial_options = U(x\\;y)\n").unwrap();
    assert_eq!(c.node_name, "a");
    assert_eq!(c.dial_options.to_string(), "U(x;y)");
}

#[test]
fn a_sections_own_key_overrides_its_templates() {
    let entry = |key: &str, value: &str, line, inherited| RawEntry {
        key: key.into(),
        value: value.into(),
        file: "res_cluster.conf".into(),
        line,
        inherited,
    };
    let raw = RawConfig {
        file: "res_cluster.conf".into(),
        sections: vec![RawSection {
            name: "node2".into(),
            template: false,
            entries: vec![
                entry("type", "peer", 2, true),
                entry("dial", "PJSIP/${EXTEN}@tmpl", 3, true),
                entry("dial", "PJSIP/${EXTEN}@own", 6, false),
            ],
        }],
    };
    let c = build(&raw, &defaults()).unwrap();
    assert_eq!(c.peers[0].endpoint, "own");
}

#[test]
fn a_peer_is_trusted_by_address_tls_or_auth() {
    let c = load(
        "[general]\nnode_name = node1\n\
         [node2]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node2\n\
         [node3]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node3\ntrust = tls\n\
         [node4]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node4\ntrust = auth, TLS\n\
         [node5]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node5\ntrust = auth\n",
    )
    .unwrap();
    let trust: Vec<&str> = c.peers.iter().map(|p| p.trust.describe()).collect();
    assert_eq!(trust, vec!["address", "tls", "tls,auth", "auth"]);
    for (bad, why) in [
        ("trust = certificate", "'certificate' is not a way to trust a peer; use address, or tls and/or auth"),
        ("trust = address, tls", "address is trust by address alone; it does not go with tls or auth"),
    ] {
        let text = format!("[general]\nnode_name = node1\n[node2]\ntype = peer\ndial = PJSIP/${{EXTEN}}@n2\n{bad}\n");
        let e = load(&text).unwrap_err().to_string();
        assert!(e.ends_with(why) && e.contains("[node2] trust:"), "{e}");
    }
    let e = load("[general]\nnode_name = node1\n[node2]\ntype = peer\ndial = IAX2/node2/${EXTEN}\ntrust = tls\n").unwrap_err();
    assert!(e.to_string().contains("an IAX2 peer is trusted by the iax.conf user"), "{e}");
}

#[test]
fn a_dial_that_reads_whole_seconds_gets_whole_seconds_and_the_log_says_so() {
    let raw = parse_text("res_cluster.conf", "[general]\nnode_name = n1\nring_timeout = 2.5\n").unwrap();
    let old = Defaults { dial_reads_fractions: false, ..defaults() };
    let c = build(&raw, &old).unwrap();
    assert_eq!(c.dial_timeout(c.ring_timeout).to_string(), "3");
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].starts_with("ring_timeout = 2.5: this Asterisk's Dial reads whole seconds only"), "{:?}", c.warnings);
    let c = build(&raw, &defaults()).unwrap();
    assert_eq!((c.dial_timeout(c.ring_timeout).to_string(), c.warnings.len()), ("2.5".to_string(), 0));
}

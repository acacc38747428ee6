use super::*;
use crate::callerid::CallerId;
use crate::locate::{Device, Report};
use crate::replica::Replica;
use crate::peer_leg::{HeaderSupport, LegMark};
use crate::config::{build, parse_text, Defaults};


fn config(extra_general: &str, peers: &[&str]) -> Arc<ClusterConfig> {
    let mut text = format!("[general]\nnode_name = node1\n{extra_general}\n");
    for p in peers {
        text.push_str(&format!("[{p}]\ntype = peer\ndial = PJSIP/${{EXTEN}}@cluster-{p}\n"));
    }
    Arc::new(build(&parse_text("t", &text).unwrap(), &Defaults::default()).unwrap())
}

fn caller(number: &str) -> CallerId {
    CallerId { name: Some(b"Caller 200".to_vec()), number: Some(number.as_bytes().to_vec()), presentation: 0x01, tag: None }
}

fn phone() -> Arrival {
    Arrival { technology: "PJSIP".into(), channel_name: "PJSIP/200-00000001".into(), caller: caller("200"), ..Default::default() }
}

fn with_number(number: &str) -> Arrival {
    Arrival { caller: caller(number), ..phone() }
}

fn from_peer(peer: &str, number: &str) -> Arrival {
    Arrival { channel_name: format!("PJSIP/cluster-{peer}-00000002"), ..with_number(number) }
}

/// Lets every peer through (or only those listed), and reports the hop
/// header given, counting how often it is asked; new legs inherit headers.
struct Gate(Option<Vec<&'static str>>, Option<&'static str>, u32);

impl Lookups for Gate {
    fn try_peer(&mut self, peer: &Peer) -> bool {
        self.0.as_ref().map_or(true, |allowed| allowed.contains(&peer.name.as_str()))
    }
    fn hop_header(&mut self) -> Option<String> {
        self.2 += 1;
        self.1.map(str::to_string)
    }
    fn header_support(&mut self) -> (HeaderSupport, bool) {
        (HeaderSupport::Inheritable, true)
    }
    fn locate(&mut self, _: &Peer, _: &[Device]) -> Report {
        Report::Unknown
    }
    fn pjsip_endpoint_exists(&mut self, _: &str) -> bool {
        false
    }
}

/// An Asterisk without PJSIP_INHERITABLE_HEADER.
struct OldAsterisk;

impl Lookups for OldAsterisk {
    fn try_peer(&mut self, _: &Peer) -> bool {
        true
    }
    fn hop_header(&mut self) -> Option<String> {
        None
    }
    fn header_support(&mut self) -> (HeaderSupport, bool) {
        (HeaderSupport::PerLeg, true)
    }
    fn locate(&mut self, _: &Peer, _: &[Device]) -> Report {
        Report::Unknown
    }
    fn pjsip_endpoint_exists(&mut self, _: &str) -> bool {
        false
    }
}

fn pjsip(endpoint: &str) -> (Technology, String) {
    (Technology::Pjsip, endpoint.to_string())
}

fn iax2_config() -> Arc<ClusterConfig> {
    let text = "[general]\nnode_name = node1\n[node2]\ntype = peer\ndial = IAX2/node2/${EXTEN}\n\
                [node3]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node3\n";
    Arc::new(build(&parse_text("t", text).unwrap(), &Defaults::default()).unwrap())
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

fn result(status: DialStatus) -> DialResult {
    DialResult { status: Some(status), elapsed_ms: 5, ..Default::default() }
}

fn expect_dial(plan: &mut CallPlan, gate: &mut Gate) -> DialRequest {
    match plan.next(gate) {
        Action::Dial(r) => r,
        other => panic!("expected a Dial, got {other:?}"),
    }
}

fn expect_finish(plan: &mut CallPlan, gate: &mut Gate) -> Outcome {
    match plan.next(gate) {
        Action::Finish(o) => o,
        other => panic!("expected the end, got {other:?}"),
    }
}

#[test]
fn the_hop_header_is_read_only_before_a_forward_and_only_once() {
    let mut plan = CallPlan::new(config("", &["node2", "node3"]), "101", phone());
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    assert_eq!(gate.2, 0, "not read for the local attempt");
    plan.record(result(DialStatus::ChanUnavail));
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    expect_dial(&mut plan, &mut gate);
    assert_eq!(gate.2, 1);

    let mut plan = CallPlan::new(config("", &["node2"]), "101", phone());
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::Answer));
    expect_finish(&mut plan, &mut gate);
    assert_eq!(gate.2, 0, "a call answered here never reads it");
}

#[test]
fn with_every_peer_down_the_hop_header_is_not_read() {
    let mut plan = CallPlan::new(config("", &["node2"]), "101", phone());
    let mut gate = Gate(Some(vec![]), Some("node3"), 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    let o = expect_finish(&mut plan, &mut gate);
    assert_eq!((o.status, o.forwarded, gate.2), (DialStatus::ChanUnavail, false, 0));
}

#[test]
fn a_local_phone_answers_and_nothing_is_forwarded() {
    let mut plan = CallPlan::new(config("", &["node2"]), "101", phone());
    let mut gate = Gate(None, None, 0);
    let r = expect_dial(&mut plan, &mut gate);
    assert_eq!(r, DialRequest { target: Target::Local, app_data: b"PJSIP/101,20".to_vec(), mark: None, watch: None, note: None });
    plan.record(DialResult { dial_rc: -1, ..result(DialStatus::Answer) });
    let o = expect_finish(&mut plan, &mut gate);
    assert_eq!((o.status, o.node.as_deref(), o.return_code), (DialStatus::Answer, Some("node1"), -1));
    assert!(o.answered_locally && !o.forwarded);
}

#[test]
fn an_absent_phone_is_found_on_the_peer() {
    let mut plan = CallPlan::new(config("", &["node2"]), "101", phone());
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    let r = expect_dial(&mut plan, &mut gate);
    assert_eq!(r.target, Target::Peers(vec!["node2".into()]));
    assert_eq!(text(&r.app_data), "PJSIP/101@cluster-node2,20,f( \\\"Caller 200\\\" <9999200>)u(allowed_passed_screen)");
    assert_eq!(r.mark, Some(LegMark::Inherited { hop: "node1".into() }));
    plan.record(DialResult { responded: vec![pjsip("cluster-node2")], ..result(DialStatus::Answer) });
    let o = expect_finish(&mut plan, &mut gate);
    assert_eq!((o.status, o.node.as_deref()), (DialStatus::Answer, Some("node2")));
    assert!(o.forwarded && o.answered_by_peer);
    assert_eq!(plan.take_observations(), vec![Observation::Responded { peer: "node2".into() }]);
}

#[test]
fn a_phone_nowhere_ends_chanunavail_after_one_forward() {
    let mut plan = CallPlan::new(config("", &["node2"]), "555", phone());
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    expect_dial(&mut plan, &mut gate);
    plan.record(DialResult { responded: vec![pjsip("cluster-node2")], ..result(DialStatus::ChanUnavail) });
    let o = expect_finish(&mut plan, &mut gate);
    assert_eq!((o.status, o.node, o.return_code), (DialStatus::ChanUnavail, None, 0));
    assert!(o.forwarded);
}

#[test]
fn a_call_from_a_peer_loses_the_prefix_and_is_never_sent_back() {
    let mut plan = CallPlan::new(config("", &["node2"]), "555", from_peer("node2", "9999200"));
    let mut gate = Gate(None, None, 0);
    assert_eq!(plan.next(&mut gate), Action::SetCallerNumber(b"200".to_vec()));
    assert_eq!(expect_dial(&mut plan, &mut gate).target, Target::Local);
    plan.record(result(DialStatus::ChanUnavail));
    let o = expect_finish(&mut plan, &mut gate);
    assert_eq!(o.status, DialStatus::ChanUnavail);
    assert_eq!((o.return_code, o.hangup_cause), (-1, Some(3)));
    assert!(o.loop_refused && !o.forwarded);
}

#[test]
fn a_peer_call_without_the_prefix_keeps_its_number() {
    let mut plan = CallPlan::new(config("", &["node2"]), "101", from_peer("node2", "200"));
    assert!(matches!(plan.next(&mut Gate(None, None, 0)), Action::Dial(_)));
}

#[test]
fn markers_stop_forwarding_without_touching_the_number() {
    for (arrival, header) in [
        (with_number("9999200"), Some("node3")),
        (Arrival { from_cluster: Some("1".into()), ..with_number("9999200") }, None),
    ] {
        let mut plan = CallPlan::new(config("", &["node2"]), "101", arrival);
        let mut gate = Gate(None, header, 0);
        assert_eq!(expect_dial(&mut plan, &mut gate).target, Target::Local);
        plan.record(result(DialStatus::ChanUnavail));
        let o = expect_finish(&mut plan, &mut gate);
        assert!(!o.forwarded && o.loop_refused);
        assert_eq!(o.hangup_cause, Some(3));
    }
}

#[test]
fn a_phone_dressed_as_a_cluster_call_is_forwarded_like_any_other() {
    let mut plan = CallPlan::new(config("", &["node2"]), "101", with_number("9999200"));
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    assert!(matches!(expect_dial(&mut plan, &mut gate).target, Target::Peers(_)));
}

#[test]
fn busy_and_no_answer_stay_local_by_default() {
    for status in [DialStatus::Busy, DialStatus::NoAnswer] {
        let mut plan = CallPlan::new(config("", &["node2"]), "101", phone());
        let mut gate = Gate(None, None, 0);
        expect_dial(&mut plan, &mut gate);
        plan.record(result(status));
        let o = expect_finish(&mut plan, &mut gate);
        assert_eq!((o.status, o.forwarded, o.return_code), (status, false, 0));
    }
}

#[test]
fn fallback_on_can_behave_like_the_recipe() {
    let mut plan = CallPlan::new(config("fallback_on = chanunavail,congestion,busy,noanswer", &["node2"]), "101", phone());
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::Busy));
    assert!(matches!(expect_dial(&mut plan, &mut gate).target, Target::Peers(_)));
}

#[test]
fn bad_arguments_dial_nothing() {
    for data in ["", "101&PJSIP/102", "101@cluster-node2", "101/sip:102@127.0.20.102", "101,x", "101,5,r("] {
        let mut plan = CallPlan::new(config("", &["node2"]), data, phone());
        let o = expect_finish(&mut plan, &mut Gate(None, None, 0));
        assert_eq!(o.status, DialStatus::InvalidArgs, "{data}");
        assert_eq!(o.return_code, 0);
        assert!(o.invalid.is_some());
        assert!(o.summary.contains("nothing dialled"));
    }
}

#[test]
fn timeout_and_options_arguments_override_the_configuration() {
    let c = config("ring_timeout = 30\ndial_options = rt\ncallerid_prefix =", &["node2"]);
    let mut plan = CallPlan::new(Arc::clone(&c), "101", phone());
    let mut gate = Gate(None, None, 0);
    assert_eq!(text(&expect_dial(&mut plan, &mut gate).app_data), "PJSIP/101,30,rt");
    plan.record(result(DialStatus::ChanUnavail));
    assert_eq!(text(&expect_dial(&mut plan, &mut gate).app_data), "PJSIP/101@cluster-node2,30,rt");

    let mut plan = CallPlan::new(c, "101,7.5,tb(mine^s^1)", phone());
    assert_eq!(text(&expect_dial(&mut plan, &mut gate).app_data), "PJSIP/101,7.5,tb(mine^s^1)");
    plan.record(result(DialStatus::ChanUnavail));
    assert_eq!(text(&expect_dial(&mut plan, &mut gate).app_data), "PJSIP/101@cluster-node2,7.5,tb(mine^s^1)");
}

#[test]
fn sequential_skips_peers_the_gate_refuses_and_learns_from_silence() {
    let mut plan = CallPlan::new(config("", &["node2", "node3", "node4"]), "101", phone());
    let mut gate = Gate(Some(vec!["node3", "node4"]), None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    assert_eq!(expect_dial(&mut plan, &mut gate).target, Target::Peers(vec!["node3".into()]));
    plan.record(DialResult { elapsed_ms: 1_001, silenced: vec!["node3".into()], ..result(DialStatus::ChanUnavail) });
    assert_eq!(plan.take_observations(), vec![Observation::Silent { peer: "node3".into(), waited_ms: 1_001 }]);
    assert_eq!(expect_dial(&mut plan, &mut gate).target, Target::Peers(vec!["node4".into()]));
    plan.record(DialResult { responded: vec![pjsip("cluster-node4")], ..result(DialStatus::Busy) });
    let o = expect_finish(&mut plan, &mut gate);
    assert_eq!(o.status, DialStatus::Busy, "a busy phone found outweighs the misses");
}

#[test]
fn a_quick_failure_after_a_response_or_a_hang_up_says_nothing_about_health() {
    let mut plan = CallPlan::new(config("", &["node2"]), "101", phone());
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    expect_dial(&mut plan, &mut gate);
    plan.record(DialResult { elapsed_ms: 3, caller_hung_up: true, ..result(DialStatus::ChanUnavail) });
    assert!(plan.take_observations().is_empty(), "the caller left before node2 could answer");
}

#[test]
fn parallel_rings_every_live_peer_in_one_dial() {
    let mut plan = CallPlan::new(config("strategy = parallel", &["node2", "node3", "node4"]), "101", phone());
    let mut gate = Gate(Some(vec!["node2", "node4"]), None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    let r = expect_dial(&mut plan, &mut gate);
    assert_eq!(r.target, Target::Peers(vec!["node2".into(), "node4".into()]));
    assert!(text(&r.app_data).starts_with("PJSIP/101@cluster-node2&PJSIP/101@cluster-node4,20,f("), "{}", text(&r.app_data));
    let watch = r.watch.expect("both peers are watched");
    assert_eq!(watch.after_ms, 1_000);
    assert_eq!(watch.peers.iter().map(|w| (w.peer.as_str(), w.endpoint.as_str())).collect::<Vec<_>>(), vec![("node2", "cluster-node2"), ("node4", "cluster-node4")]);
    plan.record(DialResult {
        responded: vec![pjsip("cluster-node4")],
        answered_endpoint: Some(pjsip("cluster-node4")),
        elapsed_ms: 1_500,
        silenced: vec!["node2".into()],
        ..result(DialStatus::Answer)
    });
    let o = expect_finish(&mut plan, &mut gate);
    assert_eq!(o.node.as_deref(), Some("node4"));
    assert_eq!(
        plan.take_observations(),
        vec![Observation::Silent { peer: "node2".into(), waited_ms: 1_500 }, Observation::Responded { peer: "node4".into() }]
    );
}

#[test]
fn no_live_peer_ends_the_call_at_once() {
    let mut plan = CallPlan::new(config("", &["node2", "node3"]), "101", phone());
    let mut gate = Gate(Some(vec![]), None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    let o = expect_finish(&mut plan, &mut gate);
    assert_eq!(o.status, DialStatus::ChanUnavail);
    assert!(!o.forwarded);
    assert!(o.summary.contains("no peer is available"));
}

#[test]
fn a_caller_who_hangs_up_ends_everything() {
    let mut plan = CallPlan::new(config("", &["node2"]), "101", phone());
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(DialResult { caller_hung_up: true, dial_rc: -1, ..result(DialStatus::Cancel) });
    let o = expect_finish(&mut plan, &mut gate);
    assert_eq!((o.status, o.return_code), (DialStatus::Cancel, -1));
}

#[test]
fn an_empty_prefix_still_marks_the_hop() {
    let mut plan = CallPlan::new(config("callerid_prefix =", &["node2"]), "101", phone());
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    let r = expect_dial(&mut plan, &mut gate);
    assert_eq!(r.mark, Some(LegMark::Inherited { hop: "node1".into() }));
    assert_eq!(text(&r.app_data), "PJSIP/101@cluster-node2,20", "no prefix, no forced caller ID");
}

#[test]
fn asking_twice_without_a_result_dials_nothing_more() {
    let mut plan = CallPlan::new(config("", &["node2"]), "101", phone());
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    let o = expect_finish(&mut plan, &mut gate);
    assert_eq!(o.status, DialStatus::Congestion);
}

#[test]
fn a_caller_who_leaves_with_a_digit_is_not_forwarded() {
    // Dial's option d: the digit is returned, the channel already moved there.
    let mut plan = CallPlan::new(config("", &["node2"]), "101,,d", phone());
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(DialResult { dial_rc: i32::from(b'5'), ..result(DialStatus::Cancel) });
    let o = expect_finish(&mut plan, &mut gate);
    assert_eq!((o.status, o.return_code, o.forwarded), (DialStatus::Cancel, 53, false));
    assert!(o.summary.contains("pressed '5'"), "{}", o.summary);
}

#[test]
fn a_failed_dial_with_the_caller_still_there_falls_back() {
    // Dial returns -1 with CONGESTION when the channels cannot be made
    // compatible; the caller is still up, so the peers are tried.
    let mut plan = CallPlan::new(config("", &["node2"]), "101", phone());
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(DialResult { dial_rc: -1, ..result(DialStatus::Congestion) });
    assert_eq!(expect_dial(&mut plan, &mut gate).target, Target::Peers(vec!["node2".into()]));
    plan.record(DialResult { dial_rc: -1, responded: vec![pjsip("cluster-node2")], ..result(DialStatus::Answer) });
    let o = expect_finish(&mut plan, &mut gate);
    assert_eq!((o.status, o.return_code), (DialStatus::Answer, -1));

    // With no peer to try, ClusterDial returns to the dialplan.
    let mut plan = CallPlan::new(config("", &[]), "101", phone());
    expect_dial(&mut plan, &mut gate);
    plan.record(DialResult { dial_rc: -1, ..result(DialStatus::Congestion) });
    let o = expect_finish(&mut plan, &mut gate);
    assert_eq!((o.status, o.return_code), (DialStatus::Congestion, 0));
}

#[test]
fn a_caller_who_hangs_up_while_peers_ring_ends_the_call() {
    let mut plan = CallPlan::new(config("", &["node2", "node3"]), "101", phone());
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    expect_dial(&mut plan, &mut gate);
    plan.record(DialResult { caller_hung_up: true, dial_rc: -1, ..result(DialStatus::Cancel) });
    let o = expect_finish(&mut plan, &mut gate);
    assert_eq!((o.status, o.return_code, o.forwarded), (DialStatus::Cancel, -1, true));
}

#[test]
fn without_inheritable_headers_the_pre_dial_handler_marks_the_legs() {
    let mut plan = CallPlan::new(config("dial_options = r", &["node2"]), "101", phone());
    expect_dial(&mut plan, &mut Gate(None, None, 0));
    plan.record(result(DialStatus::ChanUnavail));
    let Action::Dial(r) = plan.next(&mut OldAsterisk) else { panic!("a forward") };
    assert_eq!(text(&r.app_data), "PJSIP/101@cluster-node2,20,rb(res_cluster-peer-leg^s^1)");
    assert_eq!(r.mark, Some(LegMark::PreDial { hop: "node1".into(), prefix: Some("9999".into()) }));

    let mut plan = CallPlan::new(config("peer_leg_marking = predial", &["node2"]), "101", phone());
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    assert!(matches!(expect_dial(&mut plan, &mut gate).mark, Some(LegMark::PreDial { .. })), "the configuration asks for it");
}

#[test]
fn a_trusted_peers_number_is_restored_byte_for_byte() {
    let mut arrival = from_peer("node2", "");
    arrival.caller.number = Some(b"9999\xe9\xff200".to_vec());
    let mut plan = CallPlan::new(config("", &["node2"]), "101", arrival);
    assert_eq!(plan.next(&mut Gate(None, None, 0)), Action::SetCallerNumber(b"\xe9\xff200".to_vec()));
}


/// Reports set per peer, every peer usable, no hop header; records which
/// devices it was asked about.
struct Located(Vec<(&'static str, Report)>, Vec<String>, Vec<&'static str>);

impl Lookups for Located {
    fn try_peer(&mut self, peer: &Peer) -> bool {
        !self.2.contains(&peer.name.as_str())
    }
    fn hop_header(&mut self) -> Option<String> {
        None
    }
    fn header_support(&mut self) -> (HeaderSupport, bool) {
        (HeaderSupport::Inheritable, true)
    }
    fn pjsip_endpoint_exists(&mut self, name: &str) -> bool {
        name == "101@example.com"
    }
    fn locate(&mut self, peer: &Peer, devices: &[Device]) -> Report {
        self.1 = crate::locate::named(devices);
        self.0.iter().find(|(n, _)| *n == peer.name).map_or(Report::Unknown, |(_, r)| *r)
    }
}

fn peers_of(r: &DialRequest) -> Vec<String> {
    match &r.target {
        Target::Peers(p) => p.clone(),
        Target::Local | Target::Registrations(_) => vec![],
    }
}

#[test]
fn located_the_phone_is_dialled_on_its_node_only() {
    let c = config("locate = devstate", &["node2", "node3", "node4"]);
    let mut plan = CallPlan::new(c, "101", phone());
    let mut gate = Located(vec![("node2", Report::Absent), ("node3", Report::Absent), ("node4", Report::Present { age_ms: 50 })], vec![], vec![]);
    expect_dial_with(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    let r = expect_dial_with(&mut plan, &mut gate);
    assert_eq!(peers_of(&r), vec!["node4"], "one INVITE, to the node that has it");
    assert_eq!(gate.1, vec!["PJSIP/101"]);
    plan.record(DialResult { responded: vec![pjsip("cluster-node4")], ..result(DialStatus::Answer) });
    let o = finish_with(&mut plan, &mut gate);
    assert!(o.located && !o.hunted && !o.zero_invite && o.answered_by_peer);
}

#[test]
fn a_phone_every_peer_reports_absent_costs_no_invite() {
    let c = config("locate = devstate", &["node2", "node3"]);
    let mut plan = CallPlan::new(c, "555", phone());
    let mut gate = Located(vec![("node2", Report::Absent), ("node3", Report::Absent)], vec![], vec![]);
    expect_dial_with(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    let o = finish_with(&mut plan, &mut gate);
    assert_eq!((o.status, o.return_code, o.forwarded, o.zero_invite), (DialStatus::ChanUnavail, 0, false, true));
    assert!(o.summary.contains("registered on no peer (2 report it absent); no INVITE sent"), "{}", o.summary);
}

#[test]
fn newest_report_first_then_unknown_peers_are_hunted() {
    let c = config("locate = devstate", &["node2", "node3", "node4", "node5"]);
    let mut plan = CallPlan::new(c, "101", phone());
    let reports = vec![
        ("node2", Report::Unknown),
        ("node3", Report::Present { age_ms: 9_000 }),
        ("node4", Report::Absent),
        ("node5", Report::Present { age_ms: 10 }),
    ];
    let mut gate = Located(reports, vec![], vec![]);
    expect_dial_with(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    let order: Vec<Vec<String>> = (0..3)
        .map(|_| {
            let r = expect_dial_with(&mut plan, &mut gate);
            plan.record(DialResult { responded: vec![pjsip(&format!("cluster-{}", peers_of(&r)[0]))], ..result(DialStatus::ChanUnavail) });
            peers_of(&r)
        })
        .collect();
    assert_eq!(order, vec![vec!["node5"], vec!["node3"], vec!["node2"]], "the phone moved: node5's report is the newer");
    let o = finish_with(&mut plan, &mut gate);
    assert!(o.located && o.hunted);
    let stale: Vec<Observation> = plan.take_observations().into_iter().filter(|o| matches!(o, Observation::Stale { .. })).collect();
    assert_eq!(
        stale,
        vec![
            Observation::Stale { peer: "node5".into(), devices: vec!["PJSIP/101".into()] },
            Observation::Stale { peer: "node3".into(), devices: vec!["PJSIP/101".into()] }
        ],
        "a located peer that said not here is suspect; a hunted one is not"
    );
}

#[test]
fn parallel_rings_the_located_peers_at_once() {
    let c = config("locate = devstate\nstrategy = parallel", &["node2", "node3", "node4"]);
    let mut plan = CallPlan::new(c, "101", phone());
    let mut gate = Located(vec![("node2", Report::Present { age_ms: 1 }), ("node3", Report::Absent), ("node4", Report::Present { age_ms: 2 })], vec![], vec![]);
    expect_dial_with(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    assert_eq!(peers_of(&expect_dial_with(&mut plan, &mut gate)), vec!["node2", "node4"]);
}

#[test]
fn a_located_peer_that_is_down_is_not_dialled() {
    let c = config("locate = devstate", &["node2", "node3"]);
    let mut plan = CallPlan::new(c, "101", phone());
    let mut gate = Located(vec![("node2", Report::Present { age_ms: 1 }), ("node3", Report::Absent)], vec![], vec!["node2"]);
    expect_dial_with(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    let o = finish_with(&mut plan, &mut gate);
    assert_eq!((o.status, o.forwarded), (DialStatus::ChanUnavail, false));
    assert!(o.summary.contains("no peer is available"), "{}", o.summary);
}

#[test]
fn without_locate_no_report_is_asked_for() {
    let c = config("", &["node2"]);
    let mut plan = CallPlan::new(c, "101", phone());
    let mut gate = Located(vec![("node2", Report::Absent)], vec![], vec![]);
    expect_dial_with(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    assert_eq!(peers_of(&expect_dial_with(&mut plan, &mut gate)), vec!["node2"], "hunted as before");
    assert!(gate.1.is_empty());
}

fn expect_dial_with(plan: &mut CallPlan, lookups: &mut dyn Lookups) -> DialRequest {
    match plan.next(lookups) {
        Action::Dial(r) => r,
        other => panic!("expected a Dial, got {other:?}"),
    }
}

fn finish_with(plan: &mut CallPlan, lookups: &mut dyn Lookups) -> Outcome {
    match plan.next(lookups) {
        Action::Finish(o) => o,
        other => panic!("expected the end, got {other:?}"),
    }
}

#[test]
fn an_iax2_peer_gets_its_marks_from_the_pre_dial_handler() {
    let mut plan = CallPlan::new(iax2_config(), "101", phone());
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    let r = expect_dial(&mut plan, &mut gate);
    assert_eq!(r.target, Target::Peers(vec!["node2".into()]));
    // Even where PJSIP legs could inherit the header: no IAX2 leg would.
    assert_eq!(text(&r.app_data), "IAX2/node2/101,20,b(res_cluster-peer-leg^s^1)");
    assert_eq!(r.mark, Some(LegMark::PreDial { hop: "node1".into(), prefix: Some("9999".into()) }));
    plan.record(DialResult { answered_endpoint: Some((Technology::Iax2, "node2".into())), ..result(DialStatus::Answer) });
    let o = expect_finish(&mut plan, &mut gate);
    assert_eq!((o.status, o.node.as_deref()), (DialStatus::Answer, Some("node2")));
}

#[test]
fn an_iax2_peer_that_rang_out_is_not_taken_for_a_silent_one() {
    let mut plan = CallPlan::new(iax2_config(), "101", phone());
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    expect_dial(&mut plan, &mut gate);
    // No cause recorded, after the whole peer timeout: chan_iax2 records
    // none for a live peer either, unless it rejects or hangs up with one.
    plan.record(DialResult { elapsed_ms: 5_000, ..result(DialStatus::Congestion) });
    assert_eq!(plan.take_observations(), vec![]);
    // Over PJSIP the silence watch tells.
    let r = expect_dial(&mut plan, &mut gate);
    assert_eq!(r.target, Target::Peers(vec!["node3".into()]));
    assert_eq!(r.watch.map(|w| w.peers.len()), Some(1));
    plan.record(DialResult { elapsed_ms: 5_000, silenced: vec!["node3".into()], ..result(DialStatus::NoAnswer) });
    assert_eq!(plan.take_observations(), vec![Observation::Silent { peer: "node3".into(), waited_ms: 5_000 }]);
    expect_finish(&mut plan, &mut gate);

    let mut plan = CallPlan::new(iax2_config(), "101", phone());
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    expect_dial(&mut plan, &mut gate);
    // A rejection with a cause is an answer.
    plan.record(DialResult { responded: vec![(Technology::Iax2, "node2".into())], ..result(DialStatus::Congestion) });
    assert_eq!(plan.take_observations(), vec![Observation::Responded { peer: "node2".into() }]);
}

#[test]
fn a_call_from_an_iax2_peer_is_a_cluster_call() {
    let arrival = Arrival { technology: "IAX2".into(), channel_name: "IAX2/node2-3".into(), ..with_number("9999200") };
    let mut plan = CallPlan::new(iax2_config(), "555", arrival.clone());
    let mut gate = Gate(None, None, 0);
    assert_eq!(plan.next(&mut gate), Action::SetCallerNumber(b"200".to_vec()));
    assert_eq!(plan.next(&mut gate), Action::EmptyArrivedMarker(Technology::Iax2));
    assert_eq!(expect_dial(&mut plan, &mut gate).target, Target::Local);
    plan.record(result(DialStatus::ChanUnavail));
    let o = expect_finish(&mut plan, &mut gate);
    assert!(o.loop_refused && !o.forwarded);
}

#[test]
fn only_a_trusted_iax2_arrival_has_its_marker_emptied() {
    let mut gate = Gate(None, None, 0);
    // A PJSIP peer: headers are not passed on by themselves.
    let mut plan = CallPlan::new(iax2_config(), "555", Arrival { channel_name: "PJSIP/cluster-node3-00000001".into(), ..with_number("9999200") });
    assert_eq!(plan.next(&mut gate), Action::SetCallerNumber(b"200".to_vec()));
    assert_eq!(expect_dial(&mut plan, &mut gate).target, Target::Local);
    // An IAX2 phone: what it sent is its own business, and read before a forward.
    let phone = Arrival { technology: "IAX2".into(), channel_name: "IAX2/201-9".into(), ..with_number("201") };
    let mut plan = CallPlan::new(iax2_config(), "555", phone);
    assert_eq!(expect_dial(&mut plan, &mut gate).target, Target::Local);
}

#[test]
fn a_peer_that_responded_is_not_silent_however_long_it_rang() {
    let mut plan = CallPlan::new(config("", &["node2"]), "101", phone());
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    let r = expect_dial(&mut plan, &mut gate);
    assert_eq!(text(&r.app_data), "PJSIP/101@cluster-node2,20,f( \\\"Caller 200\\\" <9999200>)u(allowed_passed_screen)", "no progress timeout for Dial");
    // 100 Trying, then a phone that rang after 2 s and was answered.
    plan.record(DialResult { elapsed_ms: 9_000, responded: vec![pjsip("cluster-node2")], ..result(DialStatus::Answer) });
    assert_eq!(plan.take_observations(), vec![Observation::Responded { peer: "node2".into() }]);
    // Unanswered after the whole ring time, having responded: not silent.
    let mut plan = CallPlan::new(config("", &["node2"]), "101", phone());
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    expect_dial(&mut plan, &mut gate);
    plan.record(DialResult { elapsed_ms: 20_000, responded: vec![pjsip("cluster-node2")], ..result(DialStatus::NoAnswer) });
    assert_eq!(plan.take_observations(), vec![Observation::Responded { peer: "node2".into() }]);
}

#[test]
fn an_iax2_peer_is_not_watched_and_whole_seconds_go_to_an_old_dial() {
    let mut plan = CallPlan::new(iax2_config(), "101", phone());
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    assert_eq!(expect_dial(&mut plan, &mut gate).watch, None, "chan_iax2 records no response to tell silence by");

    let text_config = "[general]\nnode_name = node1\n[node2]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node2\n";
    let old = Defaults { dial_reads_fractions: false, ..Defaults::default() };
    let c = Arc::new(build(&parse_text("t", text_config).unwrap(), &old).unwrap());
    let mut plan = CallPlan::new(c, "101,2.5", phone());
    let r = expect_dial(&mut plan, &mut gate);
    assert!(text(&r.app_data).starts_with("PJSIP/101,3"), "{}", text(&r.app_data));
    assert!(r.note.is_some_and(|n| n.contains("timeout 2.5 is dialled as 3 s")));
}

#[test]
fn a_cluster_calls_own_phone_legs_are_watched_for_silence_and_a_phones_are_not() {
    let mut plan = CallPlan::new(config("", &["node2"]), "101", from_peer("node2", "9999200"));
    let mut gate = Gate(None, None, 0);
    assert_eq!(plan.next(&mut gate), Action::SetCallerNumber(b"200".to_vec()));
    let r = expect_dial(&mut plan, &mut gate);
    assert_eq!(r.watch, Some(SilenceWatch { after_ms: 1_000, peers: vec![], phones: true }));
    let mut plan = CallPlan::new(config("", &["node2"]), "101", phone());
    assert_eq!(expect_dial(&mut plan, &mut gate).watch, None, "a phone's own call dials its phones as Dial does");
}

#[test]
fn the_route_says_where_the_call_went_and_why() {
    let c = config("locate = devstate", &["node2", "node3", "node4", "node5"]);
    let mut plan = CallPlan::new(c, "101", phone());
    let mut gate = Located(
        vec![("node2", Report::Absent), ("node3", Report::Present { age_ms: 10 }), ("node4", Report::Unknown), ("node5", Report::Present { age_ms: 50 })],
        vec![],
        vec!["node3"],
    );
    expect_dial_with(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    let r = expect_dial_with(&mut plan, &mut gate);
    assert_eq!(peers_of(&r), vec!["node5"], "node3 is down: skipped");
    plan.record(DialResult { silenced: vec!["node5".into()], elapsed_ms: 1_000, ..result(DialStatus::ChanUnavail) });
    let r = expect_dial_with(&mut plan, &mut gate);
    assert_eq!(peers_of(&r), vec!["node4"]);
    plan.record(DialResult { responded: vec![pjsip("cluster-node4")], ..result(DialStatus::Answer) });
    let o = finish_with(&mut plan, &mut gate);
    assert_eq!(o.route, "local:CHANUNAVAIL,node2:absent,node3:located,node4:hunted,node5:located,node3:down,node5:silent,node4:ANSWER");

    let mut plan = CallPlan::new(config("", &["node2"]), "555", from_peer("node2", "9999200"));
    let mut gate = Gate(None, None, 0);
    plan.next(&mut gate);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    assert_eq!(expect_finish(&mut plan, &mut gate).route, "from:node2,local:CHANUNAVAIL");
}

/// Peers up or down, and the registrations they published.
struct Replicated {
    down: Vec<&'static str>,
    registrations: Vec<Replica>,
}

impl Lookups for Replicated {
    fn try_peer(&mut self, peer: &Peer) -> bool {
        !self.down.contains(&peer.name.as_str())
    }
    fn hop_header(&mut self) -> Option<String> {
        None
    }
    fn header_support(&mut self) -> (HeaderSupport, bool) {
        (HeaderSupport::Inheritable, true)
    }
    fn locate(&mut self, _: &Peer, _: &[Device]) -> Report {
        Report::Unknown
    }
    fn pjsip_endpoint_exists(&mut self, _: &str) -> bool {
        false
    }
    fn registrations(&mut self, endpoints: &[String]) -> Vec<Replica> {
        self.registrations.iter().filter(|r| endpoints.contains(&r.contact.endpoint)).cloned().collect()
    }
    fn peer_down(&mut self, peer: &str) -> bool {
        self.down.contains(&peer)
    }
}

fn registration(owner: &str, endpoint: &str, uri: &str) -> Replica {
    let contact = crate::replica::Contact {
        id: format!("{endpoint};@{owner}"),
        aor: endpoint.into(),
        endpoint: endpoint.into(),
        uri: uri.into(),
        expires: u64::MAX,
        via_addr: String::new(),
        via_port: 0,
        path: String::new(),
        user_agent: String::new(),
        registered: 0,
    };
    Replica { owner: owner.into(), reach: crate::replica::reach(&contact), contact }
}

#[test]
fn a_down_peers_phone_is_dialled_through_its_registration_and_only_then() {
    let c = config("replicate_contacts = yes", &["node2", "node3"]);
    let mut gate = Replicated { down: vec!["node2"], registrations: vec![registration("node2", "102", "sip:102@192.0.2.5:5060")] };
    let mut plan = CallPlan::new(Arc::clone(&c), "102", phone());
    expect_dial_with(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    let r = expect_dial_with(&mut plan, &mut gate);
    assert_eq!(peers_of(&r), vec!["node3"], "node2 is down: skipped; node3 is hunted");
    plan.record(DialResult { responded: vec![pjsip("cluster-node3")], ..result(DialStatus::ChanUnavail) });
    let r = expect_dial_with(&mut plan, &mut gate);
    assert_eq!(r.target, Target::Registrations(vec!["node2".into()]));
    assert_eq!(text(&r.app_data), "PJSIP/102/sip:102@192.0.2.5:5060,20");
    assert_eq!(r.mark, None, "the phone's own leg: no prefix, no hop header");
    assert!(r.watch.as_ref().is_some_and(|w| w.phones), "a registration whose phone is gone is given up at peer_timeout");
    plan.record(result(DialStatus::Answer));
    let o = finish_with(&mut plan, &mut gate);
    assert!(o.via_registration && o.status == DialStatus::Answer, "{o:?}");
    assert_eq!(o.route, "local:CHANUNAVAIL,node2:down,node3:CHANUNAVAIL,registration:ANSWER");

    // node2 up: its registration is never dialled from here.
    let mut gate = Replicated { down: vec![], registrations: vec![registration("node2", "102", "sip:102@192.0.2.5:5060")] };
    let mut plan = CallPlan::new(Arc::clone(&c), "102", phone());
    expect_dial_with(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    for _ in 0..2 {
        let r = expect_dial_with(&mut plan, &mut gate);
        assert!(matches!(r.target, Target::Peers(_)));
        plan.record(DialResult { responded: vec![pjsip("cluster-node2"), pjsip("cluster-node3")], ..result(DialStatus::ChanUnavail) });
    }
    let o = finish_with(&mut plan, &mut gate);
    assert!(!o.via_registration && o.status == DialStatus::ChanUnavail, "{o:?}");
}

#[test]
fn a_registration_that_cannot_be_reached_from_here_is_named_not_dialled() {
    let c = config("replicate_contacts = yes", &["node2"]);
    let mut nat = registration("node2", "102", "sip:102@198.51.100.7:40001;x-ast-orig-host=10.0.0.5:5060");
    nat.reach = crate::replica::Reach::Nat;
    let mut gate = Replicated { down: vec!["node2"], registrations: vec![nat] };
    let mut plan = CallPlan::new(c, "102", phone());
    expect_dial_with(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    let o = finish_with(&mut plan, &mut gate);
    assert_eq!((o.status, o.via_registration), (DialStatus::ChanUnavail, false));
    assert_eq!(o.route, "local:CHANUNAVAIL,node2:down,registration(node2):nat");
}

#[test]
fn a_cluster_call_never_dials_registrations_and_off_means_off() {
    let mut gate = Replicated { down: vec!["node3"], registrations: vec![registration("node3", "102", "sip:102@192.0.2.5:5060")] };
    let mut plan = CallPlan::new(config("replicate_contacts = yes", &["node2", "node3"]), "102", from_peer("node2", "9999200"));
    plan.next(&mut gate);
    expect_dial_with(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    assert!(!finish_with(&mut plan, &mut gate).via_registration, "the forwarding node does that");
    let mut plan = CallPlan::new(config("", &["node2", "node3"]), "102", phone());
    expect_dial_with(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    let r = expect_dial_with(&mut plan, &mut gate);
    plan.record(DialResult { responded: vec![pjsip("cluster-node2")], ..result(DialStatus::ChanUnavail) });
    let _ = r;
    assert!(!finish_with(&mut plan, &mut gate).via_registration);
}

#[test]
fn parallel_rings_a_phone_registered_on_two_peers_once() {
    let c = config("replicate_contacts = yes\nstrategy = parallel", &["node2", "node3", "node4"]);
    let same = "sip:102@192.0.2.5:5060";
    let mut gate = Replicated {
        down: vec![],
        registrations: vec![registration("node2", "102", same), registration("node3", "102", same), registration("node4", "103", "sip:103@x")],
    };
    let mut plan = CallPlan::new(c, "102", phone());
    expect_dial_with(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    let r = expect_dial_with(&mut plan, &mut gate);
    assert_eq!(peers_of(&r), vec!["node2", "node4"], "node3 holds the same contact as node2; node4 holds nothing of 102");
}

#[test]
fn a_peer_that_refused_the_invite_below_sip_is_unreachable() {
    let mut plan = CallPlan::new(config("", &["node2"]), "102", phone());
    let mut gate = Gate(None, None, 0);
    expect_dial(&mut plan, &mut gate);
    plan.record(result(DialStatus::ChanUnavail));
    expect_dial(&mut plan, &mut gate);
    plan.record(DialResult { elapsed_ms: 2, ..result(DialStatus::ChanUnavail) });
    assert_eq!(plan.take_observations(), vec![Observation::Unreachable { peer: "node2".into() }]);
}

#[test]
fn a_phone_that_was_reached_is_not_rung_again_through_a_registration() {
    let c = config("replicate_contacts = yes", &["node2", "node3"]);
    for (status, rings_again) in [(DialStatus::Busy, false), (DialStatus::NoAnswer, false), (DialStatus::ChanUnavail, true)] {
        let mut gate = Replicated { down: vec!["node2"], registrations: vec![registration("node2", "102", "sip:102@192.0.2.5:5060")] };
        let mut plan = CallPlan::new(Arc::clone(&c), "102", phone());
        expect_dial_with(&mut plan, &mut gate);
        plan.record(result(DialStatus::ChanUnavail));
        // The phone registered on node3 as well, which rang it.
        let r = expect_dial_with(&mut plan, &mut gate);
        assert_eq!(peers_of(&r), vec!["node3"]);
        plan.record(DialResult { responded: vec![pjsip("cluster-node3")], ..result(status) });
        match plan.next(&mut gate) {
            Action::Dial(r) => assert!(rings_again && matches!(r.target, Target::Registrations(_)), "{status}: {r:?}"),
            Action::Finish(o) => assert!(!rings_again && o.status == status && !o.via_registration, "{status}: {o:?}"),
            other => panic!("{other:?}"),
        }
    }
}

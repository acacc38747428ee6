//! How a leg to a peer is marked before its INVITE leaves.
//!
//! Two marks travel with every forwarded call: the hop header naming this
//! node (its presence stops any further forwarding) and the caller-ID prefix
//! in front of the caller's number. Both are put on the peer legs only: the
//! calling channel's own caller party is never changed, so its CDR, its CEL
//! and AMI events, and whatever a transfer copies from it keep the real
//! number.
//!
//! Two ways to put them there, both Asterisk's own:
//! - Dial's options `f()` (forced caller ID, written so that Dial reads back
//!   exactly the caller's name and the prefixed number), `u()` (the caller's
//!   presentation) and `s()` (its tag), with the hop header inherited by
//!   each new PJSIP leg from `PJSIP_INHERITABLE_HEADER` on the calling
//!   channel. Costs nothing measurable; needs that function (Asterisk 20.19,
//!   22.9, 23.3 and later).
//! - A pre-dial handler (`b()`) that runs on each new leg before its INVITE
//!   is sent, adds the header there and puts the prefix in front of the
//!   leg's caller number. Works on every Asterisk, and for any number; Dial
//!   then holds the caller in autoservice while the handler runs, which
//!   costs about a millisecond per forwarded call.

use super::callerid::{self, CallerId};
use super::channel_name::Technology;
use super::config::LegMarking;
use super::dialopts::DialOptions;
use super::dialsyntax;

/// Carried by every forwarded INVITE.
pub const HOP_HEADER: &str = "X-Cluster-Hop";

/// The dialplan context res_cluster registers for its pre-dial handler.
pub const PREDIAL_CONTEXT: &str = "res_cluster-peer-leg";

/// What this Asterisk offers for putting a SIP header on new legs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderSupport {
    /// PJSIP_INHERITABLE_HEADER (and PJSIP_HEADER): 20.19, 22.9, 23.3 and later.
    Inheritable,
    /// PJSIP_HEADER only: older versions; the pre-dial handler adds it.
    PerLeg,
    /// Neither (res_pjsip_header_funcs is not loaded): no hop header.
    None,
}

impl HeaderSupport {
    pub fn of(inheritable: bool, per_leg: bool) -> HeaderSupport {
        match (inheritable, per_leg) {
            (true, _) => HeaderSupport::Inheritable,
            (false, true) => HeaderSupport::PerLeg,
            (false, false) => HeaderSupport::None,
        }
    }
}

/// Whether legs are marked through Dial's options and an inherited header
/// (else by the pre-dial handler).
pub fn inherits(configured: LegMarking, support: HeaderSupport) -> bool {
    configured == LegMarking::Auto && support == HeaderSupport::Inheritable
}

/// How peer legs are marked, for the log and `cluster show status`;
/// `pre_dial`: whether Dial's pre-dial handler can run (app_stack's Gosub is
/// registered).
pub fn describe(configured: LegMarking, support: HeaderSupport, pre_dial: bool) -> &'static str {
    match (configured, support) {
        (LegMarking::Auto, HeaderSupport::Inheritable) if pre_dial => "Dial options and an inherited header (PJSIP_INHERITABLE_HEADER)",
        (LegMarking::Auto, HeaderSupport::Inheritable) => {
            "Dial options and an inherited header (PJSIP_INHERITABLE_HEADER); app_stack is not loaded, so a caller number Dial's f() cannot carry goes to peers without the prefix"
        }
        _ if !pre_dial => UNMARKED,
        (LegMarking::Auto, HeaderSupport::PerLeg) => "a pre-dial handler (this Asterisk has no PJSIP_INHERITABLE_HEADER)",
        (LegMarking::PreDial, HeaderSupport::Inheritable | HeaderSupport::PerLeg) => "a pre-dial handler (peer_leg_marking = predial)",
        (_, HeaderSupport::None) => {
            "a pre-dial handler, without the hop header (res_pjsip_header_funcs is not loaded: loops are stopped by peer endpoints only)"
        }
    }
}

/// What `describe` says when legs cannot be marked at all.
pub const UNMARKED: &str = "nothing: Dial's pre-dial handler needs app_stack (Gosub), which is not loaded; forwarded calls carry neither the hop marker nor the prefix";

/// Whether the marking `describe` names leaves something out that a
/// cluster relies on (the hop header, the prefix): worth a WARNING.
pub fn degraded(support: HeaderSupport, pre_dial: bool) -> bool {
    support == HeaderSupport::None || !pre_dial
}

/// Why every forwarded call needs the pre-dial handler under this
/// configuration, if it does: the check made at load and reload, which
/// refuses a configuration whose legs would leave unmarked.
pub fn needs_pre_dial(configured: LegMarking, support: HeaderSupport, iax2_peer: Option<&str>) -> Option<String> {
    if let Some(peer) = iax2_peer {
        return Some(format!("peer {peer} is reached over IAX2, whose legs are marked by Dial's pre-dial handler"));
    }
    match (configured, support) {
        (LegMarking::PreDial, _) => Some("peer_leg_marking = predial".into()),
        (LegMarking::Auto, HeaderSupport::PerLeg) => Some("this Asterisk has no PJSIP_INHERITABLE_HEADER, so legs are marked by Dial's pre-dial handler".into()),
        (LegMarking::Auto, HeaderSupport::None) => Some("res_pjsip_header_funcs is not loaded, so legs are marked by Dial's pre-dial handler".into()),
        (LegMarking::Auto, HeaderSupport::Inheritable) => None,
    }
}

/// The dialplan expression that reads the hop marker on an incoming
/// channel of `tech`.
pub fn marker_to_read(tech: Technology) -> String {
    match tech {
        Technology::Pjsip => format!("PJSIP_HEADER(read,{HOP_HEADER})"),
        Technology::Iax2 => format!("IAXVAR({HOP_HEADER})"),
    }
}

/// The dialplan expression that puts the hop marker on a new leg of `tech`
/// (before its INVITE or NEW leaves): a header of the INVITE, or an IAX2
/// variable chan_iax2 sends in the NEW.
pub fn marker_to_write(tech: Technology) -> String {
    match tech {
        Technology::Pjsip => format!("PJSIP_HEADER(add,{HOP_HEADER})"),
        Technology::Iax2 => format!("IAXVAR({HOP_HEADER})"),
    }
}

/// How legs to IAX2 peers are marked, whatever the PJSIP side does.
pub const IAX2_MARKING: &str = "IAX2 peers: a pre-dial handler setting IAXVAR(X-Cluster-Hop)";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LegMark {
    /// The request's options carry the caller ID; the shell puts the hop
    /// header on the calling channel for the new legs to inherit.
    Inherited { hop: String },
    /// The request's options name the pre-dial handler; the shell hands it
    /// the hop and the prefix to put on each new leg.
    PreDial { hop: String, prefix: Option<String> },
    /// Neither can be done (no inheritable header, and no app_stack for the
    /// pre-dial handler): the legs leave as Dial makes them.
    Unmarked,
}

/// What a Dial to peers needs: its options argument and the mark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerLegs {
    /// Dial's options argument (bytes: a caller's name or number may be any).
    pub options: Vec<u8>,
    pub mark: LegMark,
}

/// The options and mark for the legs of a forwarded call.
///
/// `options`: the call's Dial options; `inherit_header`: whether the hop
/// header can be inherited (PJSIP_INHERITABLE_HEADER exists and the
/// configuration does not ask for the pre-dial handler); `pre_dial`: whether
/// Dial's pre-dial handler can run (app_stack is loaded).
pub fn plan(node_name: &str, prefix: &str, caller: &CallerId, options: &DialOptions, inherit_header: bool, pre_dial: bool) -> PeerLegs {
    let hop = node_name.to_string();
    // Dial keeps the last of an option given twice: res_cluster's own come
    // after the administrator's, which stay as they were written (and were
    // checked to read as written).
    let predial = || {
        let mut out = options.to_string().into_bytes();
        out.extend_from_slice(format!("b({PREDIAL_CONTEXT}^s^1)").as_bytes());
        PeerLegs { options: out, mark: LegMark::PreDial { hop: hop.clone(), prefix: (!prefix.is_empty()).then(|| prefix.to_string()) } }
    };
    if !inherit_header {
        return if pre_dial { predial() } else { PeerLegs { options: options.to_string().into_bytes(), mark: LegMark::Unmarked } };
    }
    let unchanged = PeerLegs { options: options.to_string().into_bytes(), mark: LegMark::Inherited { hop: hop.clone() } };
    if prefix.is_empty() {
        return unchanged;
    }
    // The identity the legs would carry without res_cluster: the forced one
    // when the administrator's options force one, else the caller's.
    let (name, number, own) = match options.arg('f') {
        Some(forced) => {
            let (name, number) = read_forced(forced);
            (name, number, false)
        }
        None => (caller.name.clone(), caller.number.clone(), true),
    };
    let Some(number) = number else { return unchanged };
    let Some(forced) = dialsyntax::forced_callerid(name.as_deref(), &callerid::add_prefix(prefix, &number)) else {
        return if pre_dial { predial() } else { unchanged };
    };
    let mut out = options.to_string().into_bytes();
    out.extend_from_slice(b"f(");
    out.extend(forced);
    out.push(b')');
    if own && !options.has('u') {
        out.extend_from_slice(format!("u({})", callerid::presentation_name(caller.presentation)).as_bytes());
    }
    if let (true, false, Some(tag)) = (own, options.has('s'), caller.tag.as_deref()) {
        out.extend_from_slice(b"s(");
        out.extend(dialsyntax::option_argument(tag));
        out.push(b')');
    }
    PeerLegs { options: out, mark: LegMark::Inherited { hop } }
}

/// An administrator's `f(...)` as Dial reads it.
fn read_forced(arg: &str) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let written = format!("f({arg})");
    let args = dialsyntax::read_app_args(written.as_bytes());
    let parsed = args.first().and_then(|a| dialsyntax::read_options(a)).unwrap_or_default();
    match parsed.into_iter().find(|(l, _)| *l == b'f').and_then(|(_, a)| a) {
        Some(a) => dialsyntax::read_callerid(&a),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(name: &str, number: &str) -> CallerId {
        CallerId {
            name: (!name.is_empty()).then(|| name.as_bytes().to_vec()),
            number: (!number.is_empty()).then(|| number.as_bytes().to_vec()),
            presentation: 0x01,
            tag: None,
        }
    }

    fn opts(s: &str) -> DialOptions {
        DialOptions::parse(s).unwrap()
    }

    /// The caller ID Dial reads out of the planned options.
    fn dial_reads(legs: &PeerLegs) -> (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>) {
        let mut data = b"PJSIP/1@n2,20,".to_vec();
        data.extend_from_slice(&legs.options);
        let args = dialsyntax::read_app_args(&data);
        assert_eq!(args.len(), 3, "{}", String::from_utf8_lossy(&data));
        let options = dialsyntax::read_options(&args[2]).expect("Dial accepts the options");
        // Dial keeps the last of an option given twice.
        let get = |l: u8| options.iter().rev().find(|(x, _)| *x == l).and_then(|(_, a)| a.clone());
        let (name, number) = get(b'f').map(|f| dialsyntax::read_callerid(&f)).unwrap_or((None, None));
        (name, number, get(b'u'))
    }

    #[test]
    fn the_caller_id_travels_in_dials_options_with_the_prefix() {
        let legs = plan("node1", "9999", &caller("Caller 200", "200"), &opts("rt"), true, true);
        assert_eq!(legs.mark, LegMark::Inherited { hop: "node1".into() });
        assert_eq!(String::from_utf8_lossy(&legs.options), "rtf( \\\"Caller 200\\\" <9999200>)u(allowed_passed_screen)");
        assert_eq!(dial_reads(&legs), (Some(b"Caller 200".to_vec()), Some(b"9999200".to_vec()), Some(b"allowed_passed_screen".to_vec())));
    }

    #[test]
    fn a_restricted_caller_stays_restricted() {
        let mut c = caller("Secret", "200");
        c.presentation = 0x23;
        let legs = plan("node1", "9999", &c, &opts(""), true, true);
        assert_eq!(dial_reads(&legs).2, Some(b"prohib".to_vec()));
    }

    #[test]
    fn the_tag_goes_along() {
        let mut c = caller("A", "200");
        c.tag = Some(b"vip,(x)".to_vec());
        let legs = plan("node1", "9999", &c, &opts(""), true, true);
        let mut data = b"PJSIP/1,20,".to_vec();
        data.extend_from_slice(&legs.options);
        let args = dialsyntax::read_app_args(&data);
        let options = dialsyntax::read_options(&args[2]).unwrap();
        assert!(options.contains(&(b's', Some(b"vip,(x)".to_vec()))), "{options:?}");
    }

    #[test]
    fn no_number_or_no_prefix_leaves_the_caller_id_to_dial() {
        let legs = plan("node1", "9999", &caller("A", ""), &opts("rt"), true, true);
        assert_eq!((legs.options, legs.mark), (b"rt".to_vec(), LegMark::Inherited { hop: "node1".into() }));
        let legs = plan("node1", "", &caller("A", "200"), &opts(""), true, true);
        assert_eq!((legs.options, legs.mark), (Vec::new(), LegMark::Inherited { hop: "node1".into() }), "the hop is marked whatever the prefix");
    }

    #[test]
    fn an_administrators_forced_caller_id_gets_the_prefix() {
        let legs = plan("node1", "9999", &caller("A", "200"), &opts("f(\"Desk\" <777>)r"), true, true);
        let (name, number, pres) = dial_reads(&legs);
        assert_eq!((name.as_deref(), number.as_deref(), pres), (Some(&b"Desk"[..]), Some(&b"9999777"[..]), None));
        let legs = plan("node1", "9999", &caller("A", "200"), &opts("f(777)u(prohib)"), true, true);
        let (_, number, pres) = dial_reads(&legs);
        assert_eq!((number.as_deref(), pres.as_deref()), (Some(&b"9999777"[..]), Some(&b"prohib"[..])), "the administrator's u() stays");
    }

    #[test]
    fn the_marking_follows_what_asterisk_offers_and_the_configuration() {
        assert!(inherits(LegMarking::Auto, HeaderSupport::of(true, true)));
        assert!(!inherits(LegMarking::Auto, HeaderSupport::of(false, true)));
        assert!(!inherits(LegMarking::PreDial, HeaderSupport::of(true, true)));
        assert!(!inherits(LegMarking::Auto, HeaderSupport::of(false, false)));
        assert!(describe(LegMarking::Auto, HeaderSupport::None, true).contains("without the hop header"));
        assert!(describe(LegMarking::PreDial, HeaderSupport::Inheritable, true).contains("peer_leg_marking = predial"));
        assert_eq!(describe(LegMarking::PreDial, HeaderSupport::Inheritable, false), UNMARKED);
        assert!(!degraded(HeaderSupport::Inheritable, true));
        assert!(degraded(HeaderSupport::None, true) && degraded(HeaderSupport::Inheritable, false));
        assert_eq!(needs_pre_dial(LegMarking::Auto, HeaderSupport::Inheritable, None), None);
        assert!(needs_pre_dial(LegMarking::Auto, HeaderSupport::Inheritable, Some("node3")).unwrap().contains("node3 is reached over IAX2"));
        assert!(needs_pre_dial(LegMarking::PreDial, HeaderSupport::Inheritable, None).unwrap().contains("peer_leg_marking = predial"));
        assert!(needs_pre_dial(LegMarking::Auto, HeaderSupport::None, None).unwrap().contains("res_pjsip_header_funcs"));
    }

    #[test]
    fn without_app_stack_the_pre_dial_handler_is_never_planned() {
        let legs = plan("node1", "9999", &caller("A", "200"), &opts("r"), false, false);
        assert_eq!((legs.options, legs.mark), (b"r".to_vec(), LegMark::Unmarked), "Dial would skip b() and log a warning per call");
        let legs = plan("node1", "9999", &caller("A", "2<00"), &opts(""), true, false);
        assert_eq!((legs.options, legs.mark), (Vec::new(), LegMark::Inherited { hop: "node1".into() }), "the hop header still goes; the number as it is");
    }

    #[test]
    fn without_the_inheritable_header_or_for_an_unwritable_number_the_pre_dial_handler_marks() {
        let legs = plan("node1", "9999", &caller("A", "200"), &opts("rb(mine^s^1)"), false, true);
        assert_eq!(String::from_utf8_lossy(&legs.options), "rb(mine^s^1)b(res_cluster-peer-leg^s^1)", "the last b() is the one Dial runs");
        assert_eq!(legs.mark, LegMark::PreDial { hop: "node1".into(), prefix: Some("9999".into()) });
        let legs = plan("node1", "9999", &caller("A", "2<00"), &opts(""), true, true);
        assert_eq!(legs.mark, LegMark::PreDial { hop: "node1".into(), prefix: Some("9999".into()) });
        let legs = plan("node1", "", &caller("A", "200"), &opts(""), false, true);
        assert_eq!(legs.mark, LegMark::PreDial { hop: "node1".into(), prefix: None });
    }
}

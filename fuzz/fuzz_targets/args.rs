//! ClusterDial's argument parser, and a whole call plan started from the
//! same bytes: never a panic, and nothing unsafe ever reaches a dial string.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use res_cluster_core::args::{self, MAX_EXTEN_LEN};
use res_cluster_core::config::{build, parse_text, ClusterConfig, Defaults, Peer};
use res_cluster_core::dialopts::DialOptions;
use res_cluster_core::dialsyntax;
use res_cluster_core::locate::{Device, Report};
use res_cluster_core::origin::Arrival;
use res_cluster_core::peer_leg::HeaderSupport;
use res_cluster_core::plan::{Action, CallPlan, DialResult, Lookups};
use res_cluster_core::status::DialStatus;

fn config() -> Arc<ClusterConfig> {
    static CONFIG: OnceLock<Arc<ClusterConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let text = "[general]\nnode_name = node1\nlocate = devstate\n\
                        [node2]\ntype = peer\ndial = PJSIP/${EXTEN}@cluster-node2\n\
                        [node3]\ntype = peer\ndial = IAX2/node3/${EXTEN}\n";
            Arc::new(build(&parse_text("f", text).unwrap(), &Defaults::default()).unwrap())
        })
        .clone()
}

struct Everything;

impl Lookups for Everything {
    fn try_peer(&mut self, _: &Peer) -> bool {
        true
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
    fn pjsip_endpoint_exists(&mut self, name: &str) -> bool {
        name.len() % 2 == 0
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match args::parse(text) {
        Ok(a) => {
            assert!(!a.exten.is_empty() && a.exten.len() <= MAX_EXTEN_LEN);
            assert!(a.exten.chars().all(|c| c.is_ascii_alphanumeric() || "+*#.-_".contains(c)));
            if let Some(o) = &a.options {
                assert_eq!(DialOptions::parse(&o.to_string()).as_ref(), Ok(o), "options round-trip");
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    // Drive a plan to its end, every Dial failing as "not here".
    let arrival = Arrival { technology: "PJSIP".into(), channel_name: "PJSIP/200-00000001".into(), ..Default::default() };
    let mut plan = CallPlan::new(config(), text, arrival);
    for _ in 0..10 {
        match plan.next(&mut Everything) {
            Action::Dial(request) => {
                // Read as Dial reads its argument string.
                let args = dialsyntax::read_app_args(&request.app_data);
                let dial = String::from_utf8_lossy(&args[0]);
                assert!(dial.starts_with("PJSIP/") || dial.starts_with("IAX2/"), "{dial}");
                assert!(!dial.contains('&'), "one destination per peer here: {dial}");
                assert!(args.len() <= 3, "no argument beyond the options: {args:?}");
                plan.record(DialResult { status: Some(DialStatus::ChanUnavail), elapsed_ms: 1, ..Default::default() });
            }
            Action::SetCallerNumber(_) | Action::EmptyArrivedMarker(_) => {}
            Action::Finish(_) => return,
        }
    }
    panic!("the plan did not finish");
});

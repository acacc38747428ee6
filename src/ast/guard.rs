//! Every entry point from Asterisk runs inside `entry`: a Rust panic is caught
//! at the boundary, logged as an ERROR, and turned into the entry point's
//! failure value. Unwinding into Asterisk's C frames would abort the PBX.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::log::{log, Level};

pub fn entry<R>(what: &str, on_panic: R, body: impl FnOnce() -> R) -> R {
    // AssertUnwindSafe: after a panic, nothing the body touched is used
    // again except through Mutex (which poisoning makes safe to inspect) or
    // state rebuilt on the next load.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(r) => r,
        Err(payload) => {
            log(
                Level::Error,
                file!(),
                line!(),
                what,
                &format!("res_cluster: internal error in {what}: {}; the request failed, Asterisk goes on", panic_message(&*payload)),
            );
            on_panic
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_string()
    }
}

//! Raw bindings: bindgen's view of the Asterisk headers plus the C shim.
//! Nothing outside `crate::ast` uses this module directly.
#![allow(non_upper_case_globals, non_camel_case_types, non_snake_case, dead_code, clippy::all)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

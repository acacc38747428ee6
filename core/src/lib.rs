//! The pure core: every decision res_cluster makes, with no Asterisk types.
//!
//! The module's FFI shell reads
//! facts out of Asterisk, hands them to this core, and carries out what comes
//! back. Everything here is tested with `cargo test` alone.

pub mod address;
pub mod args;
pub mod callerid;
pub mod channel_name;
pub mod config;
pub mod dialopts;
pub mod dialsyntax;
pub mod eid;
pub mod health;
pub mod json;
pub mod locate;
pub mod metrics;
pub mod origin;
pub mod peer_leg;
pub mod plan;
pub mod replica;
pub mod report;
pub mod seconds;
pub mod setup;
pub mod stats;
pub mod status;
pub mod template;
pub mod version;

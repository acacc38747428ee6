//! res_cluster: the Asterisk side of the module. Decisions are made in
//! `res_cluster_core`; this crate reads facts out of Asterisk and carries the
//! decisions out through it.
//!
//! `ast` wraps the Asterisk API (all the `unsafe` is there); `module` is what
//! the loader calls; `clusterdial` is the application; `commands` the CLI;
//! `runtime` the state shared between calls.

#[macro_use]
mod ast;
mod clusterdial;
mod commands;
mod heap;
mod locate;
mod module;
mod replication;
mod runtime;
mod setup;
mod silence;

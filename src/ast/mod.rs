//! Safe wrappers over the Asterisk API.
//!
//! `sys` is bindgen's output plus the C shim's declarations; only the modules
//! here call into it, each `unsafe` block with the reason it holds. Above this
//! module the code is safe Rust.

pub mod app;
pub mod channel;
pub mod cli;
pub mod config;
pub mod contacts;
pub mod devstate;
pub mod guard;
pub mod json;
pub mod log;
pub mod pbx;
pub mod prometheus;
pub mod regex;
pub mod sorcery;
pub mod manager;
pub mod endpoints;
mod sys;
mod text;

pub use sys::ast_channel as RawChannel;

/// What a module's load function answers the loader.
pub type LoadResult = sys::ast_module_load_result;
pub const LOAD_SUCCESS: LoadResult = sys::ast_module_load_result_AST_MODULE_LOAD_SUCCESS;
pub const LOAD_DECLINE: LoadResult = sys::ast_module_load_result_AST_MODULE_LOAD_DECLINE;

/// An application's argument string ("" for NULL).
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string valid for this call.
pub unsafe fn text_arg(ptr: *const std::os::raw::c_char) -> String {
    // SAFETY: forwarded contract.
    unsafe { text::borrowed(ptr) }.unwrap_or_default()
}

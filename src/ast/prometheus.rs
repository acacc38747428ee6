//! Metrics on res_prometheus's `/metrics`, through its scrape callback.

use std::os::raw::c_void;

use super::guard;
use super::sys;
use super::text::cstring;

/// What a scrape asks for: the exposition text to append.
pub type Source = fn() -> String;

static SOURCE: std::sync::OnceLock<Source> = std::sync::OnceLock::new();

unsafe extern "C" fn scrape(output: *mut c_void) {
    guard::entry("metrics scrape", (), || {
        let Some(source) = SOURCE.get() else { return };
        let text = cstring(&source());
        // SAFETY: `output` is the scrape's ast_str handle res_prometheus
        // passed to the callback, valid for this call; the text is copied.
        unsafe { sys::res_cluster_prometheus_append(output, text.as_ptr()) };
    })
}

/// Registered metrics; dropping unregisters them.
pub struct Metrics;

impl Metrics {
    /// Registers `source` with res_prometheus; None when res_prometheus is
    /// not running.
    pub fn register(source: Source) -> Result<Option<Metrics>, String> {
        let _ = SOURCE.set(source);
        // SAFETY: `scrape` is a 'static function; the shim's callback
        // structure is static and unregistered by Drop, before the module goes.
        match unsafe { sys::res_cluster_prometheus_register(Some(scrape)) } {
            1 => Ok(Some(Metrics)),
            0 => Ok(None),
            _ => Err("res_prometheus refused the metrics callback".into()),
        }
    }
}

impl Drop for Metrics {
    fn drop(&mut self) {
        // SAFETY: no arguments; waits for a scrape in progress to end.
        unsafe { sys::res_cluster_prometheus_unregister() }
    }
}

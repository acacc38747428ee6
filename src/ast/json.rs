//! Asterisk's JSON (ast_json, Jansson underneath), to and from the core's
//! JSON values: bodies are read and written by Asterisk, decided on by the
//! core.

use res_cluster_core::json::Value;

use super::sys;
use super::text::{borrowed, cstring};

/// Deeper than any body res_cluster sends: a body nested past it is refused
/// rather than walked.
const MAX_DEPTH: usize = 8;

/// Reads `json`, a value Asterisk lends for the call, into a core value;
/// None when it nests deeper than MAX_DEPTH.
///
/// # Safety
/// `json` is a valid ast_json that stays valid (and unchanged) for the call.
pub unsafe fn read(json: *mut sys::ast_json) -> Option<Value> {
    // SAFETY: forwarded contract.
    unsafe { read_at(json, 0) }
}

unsafe fn read_at(json: *mut sys::ast_json, depth: usize) -> Option<Value> {
    if json.is_null() || depth > MAX_DEPTH {
        return None;
    }
    // SAFETY (of every call below): `json` is valid for the call (the
    // caller's contract, or a borrowed child of such a value); the getters
    // return borrowed children and strings, copied before returning.
    unsafe {
        Some(match sys::ast_json_typeof(json) {
            sys::ast_json_type_AST_JSON_OBJECT => {
                let mut fields = Vec::new();
                let mut it = sys::ast_json_object_iter(json);
                while !it.is_null() {
                    let key = borrowed(sys::ast_json_object_iter_key(it)).unwrap_or_default();
                    let value = read_at(sys::ast_json_object_iter_value(it), depth + 1)?;
                    fields.push((key, value));
                    it = sys::ast_json_object_iter_next(json, it);
                }
                Value::Object(fields)
            }
            sys::ast_json_type_AST_JSON_ARRAY => {
                let n = sys::ast_json_array_size(json);
                let mut items = Vec::with_capacity(n.min(1024));
                for i in 0..n {
                    items.push(read_at(sys::ast_json_array_get(json, i), depth + 1)?);
                }
                Value::Array(items)
            }
            sys::ast_json_type_AST_JSON_STRING => Value::Str(borrowed(sys::ast_json_string_get(json)).unwrap_or_default()),
            sys::ast_json_type_AST_JSON_INTEGER => Value::Int(sys::ast_json_integer_get(json)),
            sys::ast_json_type_AST_JSON_REAL => Value::Real(sys::ast_json_real_get(json)),
            sys::ast_json_type_AST_JSON_TRUE => Value::Bool(true),
            sys::ast_json_type_AST_JSON_FALSE => Value::Bool(false),
            _ => Value::Null,
        })
    }
}

/// An ast_json of our own, released when dropped.
pub struct Json(*mut sys::ast_json);

impl Json {
    /// Builds Asterisk's JSON from a core value; None when Asterisk is out
    /// of memory.
    pub fn from_value(v: &Value) -> Option<Json> {
        // SAFETY: each constructor returns a new reference (or NULL), which
        // the Json takes; object_set and array_append steal the child's
        // reference, error or not, so the child is given up to them.
        unsafe {
            let raw = match v {
                Value::Null => sys::ast_json_null(),
                Value::Bool(b) => sys::ast_json_boolean(i32::from(*b)),
                Value::Int(i) => sys::ast_json_integer_create(*i),
                Value::Real(r) => sys::ast_json_real_create(*r),
                Value::Str(s) => sys::ast_json_string_create(cstring(s).as_ptr()),
                Value::Array(items) => {
                    let array = Json(sys::ast_json_array_create());
                    if array.0.is_null() {
                        return None;
                    }
                    for item in items {
                        let child = Json::from_value(item)?;
                        if sys::ast_json_array_append(array.0, child.into_raw()) != 0 {
                            return None;
                        }
                    }
                    array.into_raw()
                }
                Value::Object(fields) => {
                    let object = Json(sys::ast_json_object_create());
                    if object.0.is_null() {
                        return None;
                    }
                    for (k, item) in fields {
                        let child = Json::from_value(item)?;
                        if sys::ast_json_object_set(object.0, cstring(k).as_ptr(), child.into_raw()) != 0 {
                            return None;
                        }
                    }
                    object.into_raw()
                }
            };
            (!raw.is_null()).then_some(Json(raw))
        }
    }

    fn into_raw(self) -> *mut sys::ast_json {
        let raw = self.0;
        std::mem::forget(self);
        raw
    }

    pub fn as_ptr(&self) -> *mut sys::ast_json {
        self.0
    }
}

impl Drop for Json {
    fn drop(&mut self) {
        // SAFETY: a reference this value owns (or NULL, when Asterisk could
        // not allocate it, which ast_json_unref ignores), released once.
        unsafe { sys::ast_json_unref(self.0) }
    }
}

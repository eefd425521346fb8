//! Strings that many results repeat, converted once per result.
//!
//! `planRoutes` returns every route's plan, and routes share most of what they name: 1,000
//! routes list ~66,000 files read but ~4,300 distinct ones, and ~24,000 loaders of ~1,300
//! components. Creating a JS string per occurrence was the largest part of handing the plans to
//! JS. While such a result converts ([`shared_strings`]), each distinct string becomes one JS
//! string that every occurrence reuses (JS strings are immutable values: sharing is invisible to
//! JS). Outside of it these types convert like plain strings. napi-rs has no such cache, so it is
//! written here.
//!
//! Even so, making tens of thousands of objects one property at a time through Node-API costs
//! more than planning them. A [`StringTable`] writes a result as JSON text in which each shared
//! string is an index into a table of the distinct ones: `JSON.parse` in JS makes the objects at a
//! fraction of that cost, and `js/plans.js` puts the strings back.

use std::cell::RefCell;
use std::ptr;
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap as HashMap;

use napi::bindgen_prelude::{check_status, Result, ToNapiValue, TypeName, ValueType};
use napi::sys;
use serde::ser::{Serialize, SerializeSeq, Serializer};

thread_local! {
    /// The JS strings made during the current conversion, by content; `None` outside of one.
    /// The handles are valid for the callback that converts (one handle scope).
    static SHARED: RefCell<Option<HashMap<String, sys::napi_value>>> = const { RefCell::new(None) };
}

/// The string table of a packed text being written: each distinct shared string once, with its
/// index. Writers on several threads share it; each keeps the indices it has seen in a map of
/// its own, so the lock is taken once per distinct string per writer.
#[derive(Default)]
pub struct StringTable(Mutex<(HashMap<String, u32>, Vec<String>)>);

/// A writer's state: the table, and the indices this writer has seen.
type Writing = (Arc<StringTable>, HashMap<String, u32>);

thread_local! {
    /// While a value is written by [`StringTable::write`] on this thread.
    static WRITING: RefCell<Option<Writing>> = const { RefCell::new(None) };
}

impl StringTable {
    fn index(&self, text: &str) -> u32 {
        let mut table = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (indices, strings) = &mut *table;
        if let Some(&index) = indices.get(text) {
            return index;
        }
        let index = strings.len() as u32;
        strings.push(text.to_string());
        indices.insert(text.to_string(), index);
        index
    }

    /// `value` as JSON text with its shared strings as indices into this table; `seen` is the
    /// calling writer's map of indices, kept from one call to the next.
    pub fn write<T: Serialize>(
        self: &Arc<Self>,
        value: &T,
        seen: &mut HashMap<String, u32>,
    ) -> serde_json::Result<String> {
        WRITING.with(|w| *w.borrow_mut() = Some((Arc::clone(self), std::mem::take(seen))));
        let text = serde_json::to_string(value);
        if let Some((_, indices)) = WRITING.with(|w| w.borrow_mut().take()) {
            *seen = indices;
        }
        text
    }

    /// The packed text of values written with [`StringTable::write`], in order:
    /// `{"strings":[…],"value":[…]}`.
    pub fn finish(self: Arc<Self>, parts: &[String]) -> serde_json::Result<String> {
        let strings = {
            let table = self
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            serde_json::to_string(&table.1)?
        };
        let size = strings.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>() + 24;
        let mut out = String::with_capacity(size);
        out.push_str("{\"strings\":");
        out.push_str(&strings);
        out.push_str(",\"value\":[");
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(part);
        }
        out.push_str("]}");
        Ok(out)
    }
}

/// Writes one shared string: its index while a [`StringTable`] writes, else the text.
fn serialize_shared<S: Serializer>(
    text: &str,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    let index = WRITING.with(|w| {
        let mut writing = w.borrow_mut();
        let (table, seen) = writing.as_mut()?;
        if let Some(&index) = seen.get(text) {
            return Some(index);
        }
        let index = table.index(text);
        seen.insert(text.to_string(), index);
        Some(index)
    });
    match index {
        Some(index) => serializer.serialize_u32(index),
        None => serializer.serialize_str(text),
    }
}

/// Converts `value` with string sharing on (see the module docs).
///
/// # Safety
/// As `ToNapiValue::to_napi_value`: `env` is the current callback's environment.
pub unsafe fn shared_strings<T: ToNapiValue>(
    env: sys::napi_env,
    value: T,
) -> Result<sys::napi_value> {
    SHARED.with(|s| *s.borrow_mut() = Some(HashMap::default()));
    let out = unsafe { T::to_napi_value(env, value) };
    SHARED.with(|s| *s.borrow_mut() = None);
    out
}

/// One string, shared with its equals while a result converts.
unsafe fn string(env: sys::napi_env, text: &str) -> Result<sys::napi_value> {
    SHARED.with(|s| {
        let mut shared = s.borrow_mut();
        if let Some(&v) = shared.as_ref().and_then(|m| m.get(text)) {
            return Ok(v);
        }
        let mut value = ptr::null_mut();
        check_status!(
            unsafe {
                sys::napi_create_string_utf8(
                    env,
                    text.as_ptr().cast(),
                    text.len() as isize,
                    &mut value,
                )
            },
            "Failed to convert a Rust string into a JS string"
        )?;
        if let Some(map) = shared.as_mut() {
            map.insert(text.to_string(), value);
        }
        Ok(value)
    })
}

/// A string that results repeat (a component's id or path): `string` in TypeScript.
pub struct SharedString(pub String);

impl TypeName for SharedString {
    fn type_name() -> &'static str {
        "string"
    }
    fn value_type() -> ValueType {
        ValueType::String
    }
}

impl ToNapiValue for SharedString {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        unsafe { string(env, &val.0) }
    }
}

impl Serialize for SharedString {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serialize_shared(&self.0, serializer)
    }
}

/// A list of strings that results repeat (files read, component ids): `Array<string>`.
pub struct SharedStrings(pub Vec<String>);

impl TypeName for SharedStrings {
    fn type_name() -> &'static str {
        "Array<string>"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for SharedStrings {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let mut array = ptr::null_mut();
        check_status!(
            unsafe { sys::napi_create_array_with_length(env, val.0.len(), &mut array) },
            "Failed to create a JS array"
        )?;
        for (i, text) in val.0.iter().enumerate() {
            let value = unsafe { string(env, text) }?;
            check_status!(
                unsafe { sys::napi_set_element(env, array, i as u32, value) },
                "Failed to fill a JS array"
            )?;
        }
        Ok(array)
    }
}

impl Serialize for SharedStrings {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for text in &self.0 {
            seq.serialize_element(&SharedStr(text))?;
        }
        seq.end()
    }
}

/// One element of a [`SharedStrings`], borrowed.
struct SharedStr<'a>(&'a str);

impl Serialize for SharedStr<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serialize_shared(self.0, serializer)
    }
}

/// The routes' plans (`planRoutes`), converted with string sharing on.
pub struct RoutePlans(pub Vec<crate::types::RoutePlan>);

impl TypeName for RoutePlans {
    fn type_name() -> &'static str {
        "Array<RoutePlan>"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for RoutePlans {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        unsafe { shared_strings(env, val.0) }
    }
}

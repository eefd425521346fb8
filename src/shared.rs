//! Strings that many results repeat, converted once per result.
//!
//! `planRoutes` returns every route's plan, and routes share most of what they name: 1,000
//! routes list ~66,000 files read but ~4,300 distinct ones, and ~24,000 loaders of ~1,300
//! components. Creating a JS string per occurrence was the largest part of handing the plans to
//! JS. While such a result converts ([`shared_strings`]), each distinct string becomes one JS
//! string that every occurrence reuses (JS strings are immutable values: sharing is invisible to
//! JS). Outside of it these types convert like plain strings. napi-rs has no such cache, so it is
//! written here.

use std::cell::RefCell;
use std::ptr;

use rustc_hash::FxHashMap as HashMap;

use napi::bindgen_prelude::{check_status, Result, ToNapiValue, TypeName, ValueType};
use napi::sys;

thread_local! {
    /// The JS strings made during the current conversion, by content; `None` outside of one.
    /// The handles are valid for the callback that converts (one handle scope).
    static SHARED: RefCell<Option<HashMap<String, sys::napi_value>>> = const { RefCell::new(None) };
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

//! Functions beyond the official libextism API. They are declared in
//! include/extism-ext.h, so that include/extism.h stays the official header.

use crate::current_plugin::{current, ExtismCurrentPlugin};
use crate::guard::{guard, live};
use crate::plugin::ExtismPlugin;

/// The fuel the last call of `plugin` used, from placing its input to its
/// return. -1 when the plugin has no fuel limit, has not been called yet, is
/// running a call, or is NULL or not a plugin.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_fuel_consumed(plugin: *mut ExtismPlugin) -> i64 {
    guard(-1, || {
        let Some(p) = live(plugin) else { return -1 };
        let Ok(guard) = p.plugin.lock() else { return -1 };
        guard
            .fuel_consumed()
            .map(|fuel| i64::try_from(fuel).unwrap_or(i64::MAX))
            .unwrap_or(-1)
    })
}

/// Inside a host function: the nanoseconds left before the running call's
/// timeout (`timeout_ms`), 0 once it has passed. -1 when the plugin has no
/// timeout, or for NULL.
#[no_mangle]
pub unsafe extern "C" fn extism_current_plugin_time_remaining_ns(plugin: *mut ExtismCurrentPlugin) -> i64 {
    guard(-1, || {
        current(plugin)
            .and_then(|p| p.time_remaining())
            .map(|left| i64::try_from(left.as_nanos()).unwrap_or(i64::MAX))
            .unwrap_or(-1)
    })
}

//! Foreign handles are refused instead of used (the tag in each object, see
//! capi/src/guard.rs). A freed handle is refused the same way once free has
//! cleared its tag, but reading freed memory cannot be tested soundly here.

use std::ffi::CString;
use std::ptr::{null, null_mut};

use extism::*;

const WAT: &str = r#"(module (func (export "run") (result i32) (i32.const 0)))"#;

unsafe fn new_plugin() -> *mut ExtismPlugin {
    let p = extism_plugin_new(WAT.as_ptr(), WAT.len() as u64, null_mut(), 0, false, null_mut());
    assert!(!p.is_null());
    p
}

#[test]
fn foreign_pointers_are_refused() {
    unsafe {
        // Plausible-looking memory that is not one of our objects.
        let mut foreign = [0x4141_4141_4141_4141u64; 64];
        let fake = foreign.as_mut_ptr() as *mut ExtismPlugin;
        let name = CString::new("run").unwrap();
        assert_eq!(extism_plugin_call(fake, name.as_ptr(), null(), 0), -1);
        assert!(extism_plugin_error(fake).is_null());
        assert!(extism_plugin_id(fake).is_null());
        assert!(!extism_plugin_function_exists(fake, name.as_ptr()));
        assert!(extism_plugin_output_data(fake).is_null());
        assert!(!extism_plugin_cancel(fake as *const ExtismCancelHandle));
        extism_plugin_free(fake);
        extism_compiled_plugin_free(fake as *mut ExtismCompiledPlugin);
        extism_function_free(fake as *mut ExtismFunction);
        let mut err = null_mut();
        assert!(extism_plugin_new_from_compiled(fake as *const ExtismCompiledPlugin, &mut err).is_null());
        extism_plugin_new_error_free(err);
        // A plugin handle is not a compiled plugin, nor a function.
        let real = new_plugin();
        assert!(extism_plugin_new_from_compiled(real as *const ExtismCompiledPlugin, null_mut()).is_null());
        let list = [real as *const ExtismFunction];
        let mut err = null_mut();
        let p = extism_plugin_new(
            WAT.as_ptr(),
            WAT.len() as u64,
            list.as_ptr() as *mut _,
            1,
            false,
            &mut err,
        );
        assert!(p.is_null());
        extism_plugin_new_error_free(err);
        assert_eq!(
            extism_plugin_call(real, name.as_ptr(), null(), 0),
            0,
            "the real plugin is untouched"
        );
        extism_plugin_free(real);
        assert!(
            foreign.iter().all(|&w| w == 0x4141_4141_4141_4141),
            "foreign memory was not written"
        );
    }
}

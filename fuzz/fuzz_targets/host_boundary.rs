//! The host-function boundary of the C API: host functions with arbitrary
//! parameter and result types and counts (invalid type codes included), a
//! plugin whose import matches them or not, arbitrary argument values
//! (NaN payloads included), and callbacks that use the
//! `extism_current_plugin_*` functions. Checked: `extism_function_new`
//! refuses exactly the invalid types; plugin creation fails, with a message,
//! exactly when the import does not match; the callback receives the
//! declared count and types and the exact bits the plugin passed, with
//! results pre-filled with zeros of their types; the plugin receives the
//! exact bits the callback wrote; `free_user_data` runs exactly once, when
//! the last owner is gone.
#![no_main]

use std::ffi::{c_char, c_void, CStr};
use std::sync::atomic::{AtomicU32, Ordering};

use extism::*;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum T {
    I32,
    I64,
    F32,
    F64,
}

impl T {
    fn code(self) -> i32 {
        self as i32
    }
    fn wat(self) -> &'static str {
        ["i32", "i64", "f32", "f64"][self as usize]
    }
    fn ext(self) -> ExtismValType {
        [
            ExtismValType::I32,
            ExtismValType::I64,
            ExtismValType::F32,
            ExtismValType::F64,
        ][self as usize]
    }
    /// Bits as they are held: 32-bit types in the low half.
    fn mask(self, bits: u64) -> u64 {
        match self {
            T::I32 | T::F32 => bits & 0xffff_ffff,
            _ => bits,
        }
    }
    /// A constant of this type with these bits (floats through reinterpret, so NaN payloads survive).
    fn constant(self, bits: u64) -> String {
        match self {
            T::I32 => format!("(i32.const {})", bits as u32 as i32),
            T::I64 => format!("(i64.const {})", bits as i64),
            T::F32 => format!("(f32.reinterpret_i32 (i32.const {}))", bits as u32 as i32),
            T::F64 => format!("(f64.reinterpret_i64 (i64.const {}))", bits as i64),
        }
    }
    /// Compare the value on top of the stack (in local $v of this type) with `bits`.
    fn equals(self, local: &str, bits: u64) -> String {
        match self {
            T::I32 => format!("(i32.eq (local.get {local}) {})", T::I32.constant(bits)),
            T::I64 => format!("(i64.eq (local.get {local}) {})", T::I64.constant(bits)),
            T::F32 => format!(
                "(i32.eq (i32.reinterpret_f32 (local.get {local})) {})",
                T::I32.constant(bits)
            ),
            T::F64 => format!(
                "(i64.eq (i64.reinterpret_f64 (local.get {local})) {})",
                T::I64.constant(bits)
            ),
        }
    }
}

fn any_t(u: &mut Unstructured<'_>) -> Result<T> {
    Ok(*u.choose(&[T::I32, T::I64, T::F32, T::F64])?)
}

fn bits(u: &mut Unstructured<'_>) -> Result<u64> {
    Ok(match u.int_in_range(0..=5)? {
        0 => 0,
        1 => u64::MAX,
        2 => 0x7fc0_0001 | (u.arbitrary::<u32>()? as u64 & 0x3f_0000), // f32 NaNs with payloads
        3 => 0x7ff8_0000_0000_0001 | (u.arbitrary::<u64>()? & 0x0007_ffff_0000_0000), // f64 NaNs
        4 => 0x7f80_0001,                                              // a signalling f32 NaN
        _ => u.arbitrary()?,
    })
}

/// What the callback must see and write; shared with it through user_data.
struct Expect {
    params: Vec<(T, u64)>,
    results: Vec<(T, u64)>,
    /// Extism memory sizes to allocate, check and free inside the callback.
    allocs: Vec<u64>,
    /// Arbitrary handles to ask the length of and free (must not crash).
    probes: Vec<u64>,
    calls: AtomicU32,
    frees: AtomicU32,
    /// The first disagreement the callback saw (it must not panic across C).
    problem: std::sync::Mutex<Option<String>>,
}

unsafe extern "C" fn on_free(data: *mut c_void) {
    (*(data as *const Expect)).frees.fetch_add(1, Ordering::SeqCst);
}

unsafe extern "C" fn callback(
    plugin: *mut ExtismCurrentPlugin,
    inputs: *const ExtismVal,
    n_inputs: ExtismSize,
    outputs: *mut ExtismVal,
    n_outputs: ExtismSize,
    data: *mut c_void,
) {
    let e = &*(data as *const Expect);
    e.calls.fetch_add(1, Ordering::SeqCst);
    let problem = check_call(e, plugin, inputs, n_inputs, outputs, n_outputs);
    if let Some(p) = problem {
        e.problem.lock().unwrap().get_or_insert(p);
    }
}

unsafe fn check_call(
    e: &Expect,
    plugin: *mut ExtismCurrentPlugin,
    inputs: *const ExtismVal,
    n_inputs: ExtismSize,
    outputs: *mut ExtismVal,
    n_outputs: ExtismSize,
) -> Option<String> {
    if n_inputs != e.params.len() as u64 || n_outputs != e.results.len() as u64 {
        return Some(format!(
            "counts {n_inputs}/{n_outputs}, declared {}/{}",
            e.params.len(),
            e.results.len()
        ));
    }
    if (n_inputs > 0 && inputs.is_null()) || (n_outputs > 0 && outputs.is_null()) {
        return Some("NULL argument or result array".into());
    }
    for (i, &(t, want)) in e.params.iter().enumerate() {
        let v = *inputs.add(i);
        let got = t.mask(v.v.i64 as u64);
        if v.t != t.ext() || got != t.mask(want) {
            return Some(format!(
                "argument {i}: {:?} {got:#x}, the plugin passed {t:?} {:#x}",
                v.t,
                t.mask(want)
            ));
        }
    }
    for (i, &(t, want)) in e.results.iter().enumerate() {
        let slot = &mut *outputs.add(i);
        if slot.t != t.ext() || slot.v.i64 != 0 {
            return Some(format!(
                "result {i} not pre-filled with a zero {t:?}: {:?} {:#x}",
                slot.t, slot.v.i64
            ));
        }
        match t {
            T::I32 => slot.v.i32 = want as u32 as i32,
            T::I64 => slot.v.i64 = want as i64,
            T::F32 => slot.v.f32 = f32::from_bits(want as u32),
            T::F64 => slot.v.f64 = f64::from_bits(want),
        }
    }
    if !extism_current_plugin_host_context(plugin).is_null() {
        return Some("a host context without one being given".into());
    }
    for &n in &e.allocs {
        let h = extism_current_plugin_memory_alloc(plugin, n);
        if h == 0 {
            return Some(format!("alloc({n}) failed"));
        }
        if extism_current_plugin_memory_length(plugin, h) != n {
            return Some(format!("alloc({n}) = {h}: length differs"));
        }
        let base = extism_current_plugin_memory(plugin);
        if base.is_null() {
            return Some("no Extism memory".into());
        }
        std::ptr::write_bytes(base.add(h as usize), 0xa5, n as usize);
        extism_current_plugin_memory_free(plugin, h);
        extism_current_plugin_memory_free(plugin, h);
        if extism_current_plugin_memory_length(plugin, h) != 0 {
            return Some(format!("the freed block {h} still has a length"));
        }
    }
    for &h in &e.probes {
        let _ = extism_current_plugin_memory_length(plugin, h);
        extism_current_plugin_memory_free(plugin, h);
    }
    None
}

fn plugin_wat(namespace: &str, import_params: &[T], import_results: &[T], e: &Expect, calls: u32) -> String {
    let list = |ts: &[T]| ts.iter().map(|t| t.wat()).collect::<Vec<_>>().join(" ");
    let mut body = String::new();
    let mut locals = String::new();
    for (i, (t, _)) in e.results.iter().enumerate() {
        locals += &format!(" (local $r{i} {})", t.wat());
    }
    for _ in 0..calls {
        body += "    (call $f";
        for (i, t) in import_params.iter().enumerate() {
            let b = e.params.get(i).map_or(0, |p| p.1);
            body += &format!(" {}", t.constant(b));
        }
        body += ")\n";
        // Results are on the stack, the last on top.
        for (i, _) in e.results.iter().enumerate().rev() {
            body += &format!("    (local.set $r{i})\n");
        }
        for (i, &(t, b)) in e.results.iter().enumerate() {
            body += &format!(
                "    (if (i32.eqz {}) (then (return (i32.const {}))))\n",
                t.equals(&format!("$r{i}"), b),
                i + 1
            );
        }
    }
    format!(
        "(module\n  (import \"{namespace}\" \"f\" (func $f (param {}) (result {})))\n  (func (export \"run\") (result i32){locals}\n{body}    (i32.const 0)))\n",
        list(import_params),
        list(import_results)
    )
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    // The declared types, as raw codes (some outside I32..F64).
    let n_params = u.int_in_range(0..=6)?;
    let n_results = u.int_in_range(0..=3)?;
    let mut codes = Vec::new();
    for _ in 0..n_params + n_results {
        codes.push(if u.ratio(15, 16)? {
            any_t(u)?.code()
        } else {
            *u.choose(&[4, 5, 6, 7, -1, i32::MAX])?
        });
    }
    let null_params = n_params > 0 && u.ratio(1, 16)?;
    // A NULL parameter array means no parameters: its codes are never read.
    let first = if null_params { n_params } else { 0 };
    let declared: Option<Vec<T>> = codes
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if i < first {
                Some(T::I32)
            } else {
                [T::I32, T::I64, T::F32, T::F64].get(c as usize).copied()
            }
        })
        .collect();
    let mut e = Box::new(Expect {
        params: Vec::new(),
        results: Vec::new(),
        allocs: Vec::new(),
        probes: Vec::new(),
        calls: AtomicU32::new(0),
        frees: AtomicU32::new(0),
        problem: std::sync::Mutex::new(None),
    });
    let (params, results) = match &declared {
        Some(d) => {
            let p = if null_params {
                Vec::new()
            } else {
                d[..n_params].to_vec()
            };
            (p, d[n_params..].to_vec())
        }
        None => (Vec::new(), Vec::new()),
    };
    for &t in &params {
        e.params.push((t, bits(u)?));
    }
    for &t in &results {
        e.results.push((t, bits(u)?));
    }
    for _ in 0..u.int_in_range(0..=2)? {
        e.allocs.push(u.int_in_range(1..=100_000)?);
    }
    for _ in 0..u.int_in_range(0..=2)? {
        e.probes.push(u.arbitrary()?);
    }
    let custom_namespace = u.ratio(1, 8)?;
    // The plugin's import: the declared types, or others.
    let (import_params, import_results) = if u.ratio(7, 8)? {
        (params.clone(), results.clone())
    } else {
        let a = (0..u.int_in_range(0..=4)?)
            .map(|_| any_t(u))
            .collect::<Result<Vec<_>>>()?;
        let b = (0..u.int_in_range(0..=2)?)
            .map(|_| any_t(u))
            .collect::<Result<Vec<_>>>()?;
        (a, b)
    };
    // The import's namespace: the function's, or (one in eight) the other one.
    let import_custom = custom_namespace == u.ratio(7, 8)?;
    let import_namespace = if import_custom { "custom" } else { "extism:host/user" };
    let calls = u.int_in_range(1..=3)?;
    let wat = plugin_wat(import_namespace, &import_params, &import_results, &e, calls);

    let raw_codes: Vec<i32> = codes.clone();
    let data = &mut *e as *mut Expect as *mut c_void;
    let f = unsafe {
        extism_function_new(
            c"f".as_ptr(),
            if null_params {
                std::ptr::null()
            } else {
                raw_codes.as_ptr() as *const ExtismValType
            },
            n_params as u64,
            raw_codes[n_params..].as_ptr() as *const ExtismValType,
            n_results as u64,
            Some(callback),
            data,
            Some(on_free),
        )
    };
    if declared.is_none() {
        assert!(f.is_null(), "extism_function_new took the type codes {codes:?}");
        assert_eq!(
            e.frees.load(Ordering::SeqCst),
            1,
            "user data of a refused function freed once"
        );
        return Ok(());
    }
    assert!(!f.is_null(), "extism_function_new refused {codes:?}");
    if custom_namespace {
        unsafe { extism_function_set_namespace(f, c"custom".as_ptr()) };
    }
    let mut functions = [f as *const ExtismFunction];
    let mut err: *mut c_char = std::ptr::null_mut();
    let plugin = unsafe {
        extism_plugin_new(
            wat.as_ptr(),
            wat.len() as u64,
            functions.as_mut_ptr(),
            1,
            false,
            &mut err,
        )
    };
    unsafe { extism_function_free(f) };
    let matches = import_params == params && import_results == results && import_custom == custom_namespace;
    if plugin.is_null() {
        let text = if err.is_null() {
            String::new()
        } else {
            unsafe { CStr::from_ptr(err) }.to_string_lossy().into_owned()
        };
        unsafe { extism_plugin_new_error_free(err) };
        assert!(!matches, "a matching plugin was refused: {text}\n{wat}");
        assert!(!text.is_empty(), "creation failed without a message\n{wat}");
        assert_eq!(
            e.frees.load(Ordering::SeqCst),
            1,
            "user data freed once after a failed creation"
        );
        return Ok(());
    }
    assert!(matches, "a plugin whose import does not match was created\n{wat}");
    assert_eq!(
        e.frees.load(Ordering::SeqCst),
        0,
        "user data freed while the plugin holds the function"
    );
    for round in 0..2 {
        let rc = unsafe { extism_plugin_call(plugin, c"run".as_ptr(), std::ptr::null(), 0) };
        let error = unsafe { extism_plugin_error(plugin) };
        let error = (!error.is_null()).then(|| unsafe { CStr::from_ptr(error) }.to_string_lossy().into_owned());
        if let Some(p) = e.problem.lock().unwrap().take() {
            panic!("round {round}: the callback saw {p}\n{wat}");
        }
        assert_eq!(
            (rc, error.as_deref()),
            (0, None),
            "round {round}: the plugin got other results\n{wat}"
        );
        assert_eq!(
            e.calls.swap(0, Ordering::SeqCst),
            calls,
            "round {round}: callback calls\n{wat}"
        );
    }
    unsafe { extism_plugin_free(plugin) };
    assert_eq!(
        e.frees.load(Ordering::SeqCst),
        1,
        "user data freed once with the plugin"
    );
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});

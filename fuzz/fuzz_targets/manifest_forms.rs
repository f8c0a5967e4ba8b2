//! The JSON and TOML forms of the same manifest must agree: an arbitrary
//! manifest-shaped value (generated, or JSON text from the input) is
//! written as JSON and as TOML; both texts must parse to equal manifests or
//! both fail, through `Manifest::parse` and `classify`; and a manifest that
//! parsed must come back equal from its own JSON and TOML serializations.
//! (Values TOML cannot hold, such as null or integers above i64::MAX, have
//! no TOML form and are skipped.)
#![no_main]

use extism_core::source::{classify, Source};
use extism_core::Manifest;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Number, Value};

const KEYS: &[&str] = &[
    "wasm",
    "memory",
    "config",
    "allowed_hosts",
    "allowed_paths",
    "timeout_ms",
    "max_pages",
    "max_http_response_bytes",
    "max_var_bytes",
    "path",
    "data",
    "url",
    "name",
    "hash",
    "headers",
    "method",
    "ptr",
    "len",
    "main",
    "",
];
const STRINGS: &[&str] = &[
    "",
    "main",
    "a.wasm",
    "/tmp/x.wasm",
    "ro:/tmp",
    "https://example.com/a.wasm",
    "*.example.com",
    "AGFzbQEAAAA=",
    "AGFzbQEAAAA",
    "not base64!",
    "(module)",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "\"",
    "\\",
    "\n",
    "é",
    "\u{0}",
    "a.b",
    "[x]",
    "# not a comment",
    "1e3",
    "true",
];

fn string(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(if u.ratio(3, 4)? {
        u.choose(STRINGS)?.to_string()
    } else {
        u.arbitrary::<String>()?
    })
}

fn key(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(if u.ratio(7, 8)? {
        u.choose(KEYS)?.to_string()
    } else {
        string(u)?
    })
}

fn number(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(match u.int_in_range(0..=5)? {
        0 => Value::from(u.int_in_range(0..=70_000u64)?),
        1 => Value::from(u.arbitrary::<u64>()?),
        2 => Value::from(u.arbitrary::<i64>()?),
        3 => Value::from(u.arbitrary::<u32>()? as u64 + (1 << 32) - 2),
        4 => Number::from_f64(u.arbitrary::<f64>()?).map_or(Value::Null, Value::Number),
        _ => Value::from(u.int_in_range(0..=3u64)? as f64 + 0.0),
    })
}

fn value(u: &mut Unstructured<'_>, depth: u32) -> Result<Value> {
    let pick = if depth == 0 {
        u.int_in_range(0..=3)?
    } else {
        u.int_in_range(0..=7)?
    };
    Ok(match pick {
        0 => Value::Bool(u.arbitrary()?),
        1 => number(u)?,
        2 | 3 => Value::String(string(u)?),
        4 | 5 => object(u, depth - 1)?,
        6 => {
            let n = u.int_in_range(0..=3)?;
            Value::Array((0..n).map(|_| value(u, depth - 1)).collect::<Result<_>>()?)
        }
        _ => Value::Null,
    })
}

fn object(u: &mut Unstructured<'_>, depth: u32) -> Result<Value> {
    let mut map = Map::new();
    for _ in 0..u.int_in_range(0..=4)? {
        let k = key(u)?;
        let v = value(u, depth)?;
        map.insert(k, v);
    }
    Ok(Value::Object(map))
}

/// A manifest-shaped value: the top-level fields with values of about the right shape.
fn manifest(u: &mut Unstructured<'_>) -> Result<Value> {
    let mut map = Map::new();
    if u.ratio(3, 4)? {
        let n = u.int_in_range(0..=3)?;
        let mut wasm = Vec::new();
        for _ in 0..n {
            let mut entry = Map::new();
            let which = *u.choose(&["path", "data", "url"])?;
            entry.insert(
                which.to_string(),
                if which == "data" && u.ratio(1, 4)? {
                    let mut raw = Map::new();
                    raw.insert("ptr".into(), number(u)?);
                    raw.insert("len".into(), number(u)?);
                    Value::Object(raw)
                } else {
                    Value::String(string(u)?)
                },
            );
            for _ in 0..u.int_in_range(0..=2)? {
                let k = key(u)?;
                let v = value(u, 1)?;
                entry.insert(k, v);
            }
            wasm.push(Value::Object(entry));
        }
        map.insert("wasm".into(), Value::Array(wasm));
    }
    if u.ratio(1, 2)? {
        let mut memory = Map::new();
        for k in ["max_pages", "max_http_response_bytes", "max_var_bytes"] {
            if u.ratio(1, 2)? {
                memory.insert(k.into(), number(u)?);
            }
        }
        map.insert("memory".into(), Value::Object(memory));
    }
    if u.ratio(1, 2)? {
        let mut config = Map::new();
        for _ in 0..u.int_in_range(0..=3)? {
            let k = string(u)?;
            let v = if u.ratio(7, 8)? {
                Value::String(string(u)?)
            } else {
                value(u, 1)?
            };
            config.insert(k, v);
        }
        map.insert("config".into(), Value::Object(config));
    }
    if u.ratio(1, 3)? {
        let n = u.int_in_range(0..=3)?;
        map.insert(
            "allowed_hosts".into(),
            Value::Array((0..n).map(|_| string(u).map(Value::String)).collect::<Result<_>>()?),
        );
    }
    if u.ratio(1, 3)? {
        let mut paths = Map::new();
        for _ in 0..u.int_in_range(0..=2)? {
            let k = string(u)?;
            let v = string(u)?;
            paths.insert(k, Value::String(v));
        }
        map.insert("allowed_paths".into(), Value::Object(paths));
    }
    if u.ratio(1, 3)? {
        map.insert("timeout_ms".into(), number(u)?);
    }
    for _ in 0..u.int_in_range(0..=1)? {
        let k = key(u)?;
        let v = value(u, 2)?;
        map.insert(k, v);
    }
    Ok(Value::Object(map))
}

fn same(what: &str, a: &extism_core::Result<Manifest>, b: &extism_core::Result<Manifest>, json: &str, toml: &str) {
    match (a, b) {
        (Ok(a), Ok(b)) => assert_eq!(
            a, b,
            "{what}: the JSON and TOML forms parse differently\nJSON: {json}\nTOML: {toml}"
        ),
        (Err(_), Err(_)) => {}
        (a, b) => panic!(
            "{what}: one form parses, the other fails\nJSON: {json}\n -> {:?}\nTOML: {toml}\n -> {:?}",
            a.as_ref().map(|_| "ok").map_err(|e| e.message().to_string()),
            b.as_ref().map(|_| "ok").map_err(|e| e.message().to_string())
        ),
    }
}

fn classified(text: &str) -> extism_core::Result<Manifest> {
    match classify(text.as_bytes()) {
        Ok(Source::Manifest(m)) => Ok(*m),
        Ok(Source::Module(_)) => Err(extism_core::Error::host("classified as a module")),
        Err(e) => Err(e),
    }
}

fn round_trip(m: &Manifest) {
    let json = serde_json::to_string(m).expect("a manifest serializes to JSON");
    let back = Manifest::parse(&json).unwrap_or_else(|e| panic!("its own JSON does not parse: {e:?}\n{json}"));
    assert_eq!(&back, m, "JSON round trip\n{json}");
    // TOML cannot hold every manifest (integers above i64::MAX).
    if let Ok(toml) = toml::to_string(m) {
        let back = Manifest::parse(&toml).unwrap_or_else(|e| panic!("its own TOML does not parse: {e:?}\n{toml}"));
        assert_eq!(&back, m, "TOML round trip\n{toml}");
    }
}

fn quote_run(s: &str) -> bool {
    let (mut single, mut double) = (0, 0);
    for b in s.bytes() {
        single = if b == b'\'' { single + 1 } else { 0 };
        double = if b == b'"' { double + 1 } else { 0 };
        if single >= 255 || double >= 255 {
            return true;
        }
    }
    false
}

fn has_quote_run(v: &Value) -> bool {
    match v {
        Value::String(s) => quote_run(s),
        Value::Array(a) => a.iter().any(has_quote_run),
        Value::Object(m) => m.iter().any(|(k, v)| quote_run(k) || has_quote_run(v)),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let v = match data.split_first() {
        // JSON text from the input (the corpus of the `manifest` target fits here).
        Some((&0, rest)) => match serde_json::from_slice::<Value>(rest) {
            Ok(v) => v,
            Err(_) => return,
        },
        _ => match manifest(&mut Unstructured::new(data)) {
            Ok(v) => v,
            Err(_) => return,
        },
    };
    // toml_write 0.1.2 counts runs of quotes in a u8: 256 in a row overflow
    // it (a panic under debug assertions), in its serializer only.
    if has_quote_run(&v) {
        return;
    }
    let json = serde_json::to_string(&v).unwrap();
    let Ok(toml) = toml::to_string(&v) else { return };
    same(
        "Manifest::parse",
        &Manifest::parse(&json),
        &Manifest::parse(&toml),
        &json,
        &toml,
    );
    same("classify", &classified(&json), &classified(&toml), &json, &toml);
    let direct = serde_json::from_str::<Manifest>(&json);
    if let Ok(m) = Manifest::parse(&json) {
        assert_eq!(
            direct.as_ref().ok(),
            Some(&m),
            "Manifest::parse of JSON differs from serde_json\n{json}"
        );
        round_trip(&m);
    }
});

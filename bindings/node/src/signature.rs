//! Host function signatures, read from the imports that `CompiledPlugin::describe`
//! reports. JS host functions declare no types (SDK-SURFACES.md §2.5): each
//! takes the wasm type of the import it satisfies.

use extism_core::{CompiledPlugin, ValType};

/// A function type: parameters and results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signature {
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
}

impl Signature {
    pub fn result_names(&self) -> Vec<String> {
        self.results.iter().map(|t| type_name(*t).to_string()).collect()
    }
}

pub(crate) fn type_name(ty: ValType) -> &'static str {
    match ty {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        ValType::V128 => "v128",
        ValType::FuncRef => "funcref",
        ValType::ExternRef => "externref",
    }
}

/// The signature of the first function import `namespace::name` in any module
/// of `compiled`, if there is one.
///
/// `Err` names a type that host functions cannot take (v128, references).
pub(crate) fn import_signature(
    compiled: &CompiledPlugin,
    namespace: &str,
    name: &str,
) -> Result<Option<Signature>, String> {
    for module in compiled.describe() {
        for (m, n, ty) in &module.imports {
            if m == namespace && n == name && ty.starts_with("(func") {
                return parse_func_type(ty)
                    .map(Some)
                    .map_err(|t| format!("host function {namespace}::{name}: the import type {ty} uses `{t}`, which host functions cannot take"));
            }
        }
    }
    Ok(None)
}

/// Parse the `(func (param ..) (result ..))` text of `describe`.
/// `Err` carries the first token that is not a number type.
fn parse_func_type(text: &str) -> Result<Signature, String> {
    let spaced = text.replace('(', " ( ").replace(')', " ) ");
    let mut sig = Signature {
        params: Vec::new(),
        results: Vec::new(),
    };
    // Which list the value types seen now belong to.
    let mut target: Option<bool> = None; // Some(true) = params, Some(false) = results
    for token in spaced.split_whitespace() {
        match token {
            "(" | "func" => {}
            ")" => target = None,
            "param" => target = Some(true),
            "result" => target = Some(false),
            ty => {
                let Some(is_param) = target else { continue };
                // A named parameter (`$x`) carries no type of its own.
                if ty.starts_with('$') {
                    continue;
                }
                let value = match ty {
                    "i32" => ValType::I32,
                    "i64" => ValType::I64,
                    "f32" => ValType::F32,
                    "f64" => ValType::F64,
                    other => return Err(other.to_string()),
                };
                if is_param {
                    sig.params.push(value);
                } else {
                    sig.results.push(value);
                }
            }
        }
    }
    Ok(sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_func_types() {
        let s = parse_func_type("(func (param i64) (result i64))").unwrap();
        assert_eq!(s.params, vec![ValType::I64]);
        assert_eq!(s.results, vec![ValType::I64]);
        let s = parse_func_type("(func (param i32 f64) (param f32))").unwrap();
        assert_eq!(s.params, vec![ValType::I32, ValType::F64, ValType::F32]);
        assert!(s.results.is_empty());
        assert_eq!(parse_func_type("(func)").unwrap().params, vec![]);
        assert_eq!(parse_func_type("(func (param v128))").unwrap_err(), "v128");
    }
}

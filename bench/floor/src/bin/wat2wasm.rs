//! `wat2wasm IN.wat OUT.wasm`: the benchmark's WAT plugins as wasm binaries,
//! so that both runtimes are measured compiling wasm, not parsing text.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: wat2wasm IN.wat OUT.wasm");
        std::process::exit(2);
    };
    let wasm = wat::parse_file(input).unwrap_or_else(|e| {
        eprintln!("{input}: {e}");
        std::process::exit(1);
    });
    std::fs::write(output, wasm).unwrap_or_else(|e| {
        eprintln!("{output}: {e}");
        std::process::exit(1);
    });
}

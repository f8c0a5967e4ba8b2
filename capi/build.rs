// libextism.so gets a soname with the major version, so that `make install`
// can lay out libextism.so.X.Y.Z with the usual symlinks.
fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libextism.so.{major}");
}

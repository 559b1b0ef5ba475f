//! Link flags for the cdylib.

fn main() {
    // PHP's FFI unloads a library when the FFI object that loaded it is freed. The sender thread and the
    // pthread_atfork handler run this library's code for the life of the process, so it must never be
    // unmapped: mark it NODELETE, which makes dlclose() keep it loaded.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
    println!("cargo:rerun-if-changed=build.rs");
}

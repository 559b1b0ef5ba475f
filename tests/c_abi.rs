//! The C ABI from C and from PHP: tests/c/abi.c is compiled with gcc against include/rcemit.h and the
//! librcemit.so that cargo built for this test run, then run; PHP's FFI::cdef() must accept the header as is.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::edit;
use rcemit::feed::Feed;
use rcemit::payload;

/// Where cargo put the cdylib built with this test binary (target/<profile>/deps).
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().to_path_buf();
    assert!(
        dir.join("librcemit.so").exists(),
        "librcemit.so not found next to {}",
        exe.display()
    );
    dir
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rcemit-c-abi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn c_program_uses_the_header_and_library() {
    let lib = library_dir();
    let exe = scratch("abi");
    let build = Command::new("gcc")
        .args([
            "-std=c99",
            "-D_POSIX_C_SOURCE=200809L",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-o",
        ])
        .arg(&exe)
        .arg(root().join("tests/c/abi.c"))
        .arg("-I")
        .arg(root().join("include"))
        .arg("-L")
        .arg(&lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lrcemit")
        .output()
        .expect("gcc runs");
    assert!(
        build.status.success(),
        "gcc failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );

    let event = edit();
    let payload_file = scratch("payload.bin");
    let datagram_file = scratch("datagram.bin");
    std::fs::write(&payload_file, payload::encode(&event)).unwrap();
    // cargo's LD_LIBRARY_PATH would win over the rpath and may hold an older librcemit.so.
    let run = Command::new(&exe)
        .env_remove("LD_LIBRARY_PATH")
        .arg(&payload_file)
        .arg(&datagram_file)
        .output()
        .expect("the C program runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && stdout.contains("ok"),
        "C checks failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );

    // The datagram the C side received is the json formatter's output.
    let datagram = std::fs::read(&datagram_file).unwrap();
    let config = r#"{"uri": "udp://127.0.0.1:9", "format": "json", "canonical_server": "http://localhost",
        "server_name": "localhost", "script_path": "/w", "script": "/w/index.php", "wiki_id": "testwiki"}"#;
    let feed = Feed::from_json(config.as_bytes()).unwrap();
    assert!(stdout.contains("sent=3 format_panics=0"), "{stdout}");
    assert_eq!(datagram, feed.render(&event).unwrap());
}

#[test]
fn php_ffi_accepts_the_header_as_is() {
    // PHP is the oracle here: without it the test fails (`make test` installs it first).
    let version = Command::new("php")
        .arg("-v")
        .output()
        .expect("php is not installed; run scripts/install-deps.sh (make deps) first");
    assert!(version.status.success());
    let lib = library_dir().join("librcemit.so");
    let script = r#"
        $f = FFI::cdef(file_get_contents($argv[1]), $argv[2]);
        $stats = $f->new('rcemit_stats');
        $code = $f->rcemit_stats_read(FFI::addr($stats), FFI::sizeof($stats));
        $json = '{"uri": "udp://127.0.0.1:9", "format": "irc"}';
        $feed = $f->new('uint32_t');
        $open = $f->rcemit_feed_open($json, strlen($json), FFI::addr($feed));
        echo FFI::string($f->rcemit_version()), ' ', $f->rcemit_payload_version(), ' ', $code, ' ', $open, ' ',
            $feed->cdata, ' ', $stats->queue_capacity, "\n";
    "#;
    let out = Command::new("php")
        .args(["-d", "ffi.enable=1", "-r", script])
        .arg(root().join("include/rcemit.h"))
        .arg(&lib)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        format!(
            "{} {} 7100 7100 1 10000",
            env!("CARGO_PKG_VERSION"),
            rcemit::payload::VERSION
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

//! One writer per data directory: a second `fingertip serve`, or `fingertip simulate --lake`,
//! on a directory a server holds refuses with an error naming the holder's PID, and the first
//! server keeps every event it acknowledged.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fingertip_tests::acks::{all_ids, assert_exactly_once, post_fresh};
use fingertip_tests::server::{fingertip_bin, run};

use super::{FAST, fresh, start};

/// Runs `fingertip serve` on `data` and waits (up to 20 s) for it to exit; returns its exit
/// code and stderr, or `None` if it was still running (then it is killed).
pub fn second_server(data: &std::path::Path) -> Option<(i32, String)> {
    let mut child = Command::new(fingertip_bin())
        .args(["serve", "--data", data.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fingertip serve");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
            }
            return Some((status.code().unwrap_or(-1), stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// `fingertip simulate --lake DATA`: exit code and stderr.
pub fn simulate_into(data: &std::path::Path) -> (i32, String) {
    let (code, _, stderr) = run(&[
        "simulate",
        "--workers",
        "5",
        "--weeks",
        "1",
        "--lake",
        data.to_str().unwrap(),
    ]);
    (code, stderr)
}

#[test]
fn a_second_writer_is_refused_and_the_first_server_keeps_everything() {
    let (_tmp, data, token) = fresh();
    let first = start(&data, &FAST);
    let mut batches = post_fresh(&first, &token, 10, 20);
    let holder = format!("pid {}", first.pid());
    let (code, stderr) = second_server(&data).expect("a second server kept running");
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&holder),
        "the error names the holder: {stderr}"
    );
    let (code, stderr) = simulate_into(&data);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains(&holder), "{stderr}");
    batches.extend(post_fresh(&first, &token, 10, 20));
    assert_eq!(first.stop(), 0);
    println!("second server refused: {}", stderr.trim());
    assert_exactly_once(&data, &all_ids(&batches), &all_ids(&batches));
    // Once the first server is gone, the directory can be opened again.
    let again = start(&data, &FAST);
    assert_eq!(again.stop(), 0);
}

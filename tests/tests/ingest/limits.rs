//! Request limits, enforced before work is done: body size as sent (declared and streamed)
//! and after decompression (including decompression bombs, with the server's memory watched),
//! events per batch, the per-app rate limit, and slow clients (headers and bodies).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use fingertip_tests::events::{events, gzip, gzip_bomb, json_body, zstd, zstd_bomb};
use fingertip_tests::http::{self, Response, post_body, post_chunked, post_events};
use fingertip_tests::server::{Server, create_token, start_fresh};
use serde_json::json;

const JSON: &str = "application/json";

fn assert_error(r: &Response, status: u16, code: &str) {
    assert_eq!(
        r.status,
        status,
        "expected {status} {code}, got {}: {}",
        r.status,
        r.text()
    );
    assert_eq!(r.error_code(), code, "{}", r.text());
}

/// Peak resident memory of a process (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM value")
}

#[test]
fn bodies_over_the_limit_get_413_declared_streamed_or_decoded() {
    let env = [
        ("FINGERTIP__SERVER__MAX_BODY_BYTES", "4096"),
        ("FINGERTIP__SERVER__MAX_DECODED_BODY_BYTES", "65536"),
    ];
    let (_tmp, server, token) = start_fresh("attendance", &env);
    // Declared: only the headers are sent; the answer comes without waiting for the body.
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
    );
    let r = http::raw(server.addr, head.as_bytes()).unwrap();
    assert_error(&r, 413, "body_too_large");
    assert_eq!(r.header("connection"), Some("close"));
    // Streamed without a Content-Length: refused once the chunks pass the limit.
    let chunk = vec![b' '; 1000];
    let chunks: Vec<&[u8]> = (0..8).map(|_| &chunk[..]).collect();
    assert_error(
        &post_chunked(server.addr, &token, &chunks).unwrap(),
        413,
        "body_too_large",
    );
    // A small chunked body is fine.
    let small = json_body(&events(2));
    let r = post_chunked(server.addr, &token, &[&small[..10], &small[10..]]).unwrap();
    assert_eq!(r.status, 202, "{}", r.text());
    // Compressed under the limit, decompressed over it.
    let plain = vec![b' '; 70_000];
    for (enc, body) in [("gzip", gzip(&plain)), ("zstd", zstd(&plain))] {
        assert!(body.len() <= 4096, "{enc} body is {} bytes", body.len());
        assert_error(
            &post_body(server.addr, &token, JSON, Some(enc), &body).unwrap(),
            413,
            "body_too_large",
        );
    }
    // Uncompressed over the limit.
    assert_error(
        &post_body(server.addr, &token, JSON, None, &vec![b' '; 5000]).unwrap(),
        413,
        "body_too_large",
    );
    assert_eq!(server.stop(), 0);
}

#[test]
fn too_many_events_get_413() {
    let (_tmp, server, token) = start_fresh(
        "attendance",
        &[("FINGERTIP__SERVER__MAX_EVENTS_PER_BATCH", "5")],
    );
    let r = post_events(server.addr, &token, &json!({ "events": events(6) }));
    assert_error(&r, 413, "too_many_events");
    let r = post_events(server.addr, &token, &json!({ "events": events(5) }));
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(server.stop(), 0);
}

#[test]
fn decompression_bombs_are_refused_without_inflating_memory() {
    let env = [
        ("FINGERTIP__SERVER__MAX_BODY_BYTES", "2097152"),
        ("FINGERTIP__SERVER__MAX_DECODED_BODY_BYTES", "1048576"),
    ];
    let (_tmp, server, token) = start_fresh("attendance", &env);
    let r = post_events(server.addr, &token, &json!({ "events": events(3) }));
    assert_eq!(r.status, 202, "{}", r.text());
    let before = peak_rss_kib(server.pid());
    for (enc, bomb) in [("zstd", zstd_bomb(2048)), ("gzip", gzip_bomb(1024))] {
        assert!(bomb.len() <= 2 << 20, "{enc} bomb is {} bytes", bomb.len());
        let started = Instant::now();
        let r = post_body(server.addr, &token, JSON, Some(enc), &bomb).unwrap();
        assert_error(&r, 413, "body_too_large");
        println!(
            "{enc} bomb of {} bytes refused in {:?}",
            bomb.len(),
            started.elapsed()
        );
    }
    let after = peak_rss_kib(server.pid());
    println!("peak RSS before {before} KiB, after {after} KiB");
    assert!(
        after < before + 200 * 1024,
        "peak RSS grew from {before} KiB to {after} KiB"
    );
    assert_eq!(server.stop(), 0);
}

#[test]
fn an_app_over_its_rate_gets_429_with_retry_after() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let token = create_token(&data, "app", Some("attendance"));
    let other = create_token(&data, "app", Some("survey"));
    let env = [
        ("FINGERTIP__SERVER__RATE_LIMIT_EVENTS_PER_S", "10"),
        ("FINGERTIP__SERVER__RATE_LIMIT_BURST_EVENTS", "10"),
    ];
    let server = Server::start(&data, &env);
    let r = post_events(server.addr, &token, &json!({ "events": events(50) }));
    assert_eq!(
        r.status,
        202,
        "the burst allowance admits one request: {}",
        r.text()
    );
    let r = post_events(server.addr, &token, &json!({ "events": events(1) }));
    assert_error(&r, 429, "rate_limited");
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=5).contains(&retry), "Retry-After {retry}");
    // Other apps have their own bucket.
    let r = post_events(server.addr, &other, &json!({ "events": events(1) }));
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(server.stop(), 0);
}

#[test]
fn slow_headers_are_cut_off() {
    let (_tmp, server, token) = start_fresh(
        "attendance",
        &[("FINGERTIP__SERVER__HEADER_READ_TIMEOUT_MS", "300")],
    );
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let head =
        format!("POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nX-Slow: ");
    stream.write_all(head.as_bytes()).unwrap();
    // Trickle one byte every 100 ms for up to 10 s: the server must hang up long before.
    let started = Instant::now();
    let mut closed = false;
    while !closed && started.elapsed() < Duration::from_secs(10) {
        let mut buf = [0u8; 1024];
        closed = match stream.write_all(b"a").and_then(|_| stream.read(&mut buf)) {
            // Closed, or an error answer (408) before the close: both end the connection.
            Ok(_) => true,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        };
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        closed,
        "a client trickling its headers was not disconnected"
    );
    println!("slow headers cut off after {:?}", started.elapsed());
    // The server still answers others.
    let r = post_events(server.addr, &token, &json!({ "events": events(1) }));
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(server.stop(), 0);
}

#[test]
fn slow_bodies_get_408() {
    let (_tmp, server, token) = start_fresh(
        "attendance",
        &[("FINGERTIP__SERVER__BODY_READ_TIMEOUT_MS", "400")],
    );
    let body = json_body(&events(3));
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // Send the body a few bytes at a time, 100 ms apart, stopping when the server answers.
    let sender = stream.try_clone().unwrap();
    let body_len = body.len();
    let trickle = std::thread::spawn(move || {
        let mut sender = sender;
        for piece in body.chunks(4) {
            if sender.write_all(piece).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let r = http::read_response(&mut stream).expect("an answer");
    assert_error(&r, 408, "body_timeout");
    assert!(
        body_len / 4 * 100 > 2000,
        "the body must take far longer than the timeout"
    );
    drop(stream);
    trickle.join().unwrap();
    let r = post_events(server.addr, &token, &json!({ "events": events(1) }));
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(get_events_accepted(&server), 1.0);
    assert_eq!(server.stop(), 0);
}

fn get_events_accepted(server: &Server) -> f64 {
    http::get_metric(server.addr, "fingertip_events_accepted_total")
}

//! Memory faults: a 32 KiB gzip body holding 16.7 million tiny events is refused while it is
//! being parsed, without the server's memory growing past a bound; and when bodies in flight
//! would pass the memory budget, the server sheds with `429 overloaded` and `Retry-After`.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use fingertip_tests::acks::{assert_all_taken, peak_rss_kib, post};
use fingertip_tests::events::{events, json_body};
use fingertip_tests::http::{self, get_metric, post_body};
use fingertip_tests::server::{start_fresh, wait_until};

/// `{"events":[0,0,…]}` with `items` items, gzipped.
fn tiny_events_bomb(items: usize) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(b"{\"events\":[").unwrap();
    let chunk = "0,".repeat(1 << 16);
    for _ in 0..(items - 1) / (1 << 16) {
        enc.write_all(chunk.as_bytes()).unwrap();
    }
    for _ in 0..(items - 1) % (1 << 16) {
        enc.write_all(b"0,").unwrap();
    }
    enc.write_all(b"0]}").unwrap();
    enc.finish().unwrap()
}

#[test]
fn a_gzip_body_of_16_million_items_is_refused_with_bounded_memory() {
    let (_tmp, server, token) = start_fresh("attendance", &[]);
    let bomb = tiny_events_bomb(16_700_000);
    assert!(bomb.len() <= 40 << 10, "the bomb is {} bytes", bomb.len());
    let before = peak_rss_kib(server.pid());
    let (addr, t) = (server.addr, token.clone());
    let senders: Vec<_> = (0..2)
        .map(|_| {
            let (bomb, t) = (bomb.clone(), t.clone());
            std::thread::spawn(move || {
                post_body(addr, &t, "application/json", Some("gzip"), &bomb).unwrap()
            })
        })
        .collect();
    assert_eq!(http::get(server.addr, "/healthz", None).status, 200);
    for s in senders {
        let r = s.join().unwrap();
        assert!(
            matches!(
                (r.status, r.error_code().as_str()),
                (413, "too_many_events") | (429, "overloaded")
            ),
            "{} {}",
            r.status,
            r.text()
        );
    }
    let after = peak_rss_kib(server.pid());
    println!(
        "two {}-byte bombs of 16.7M items: peak RSS {} MiB before, {} MiB after",
        bomb.len(),
        before / 1024,
        after / 1024
    );
    assert!(after < 300 * 1024, "peak RSS {after} KiB");
    let batch = events(5);
    assert_all_taken(&post(&server, &token, &batch), 5);
    assert_eq!(server.stop(), 0);
}

#[test]
fn bodies_over_the_memory_budget_get_429_overloaded_with_retry_after() {
    let env = [("FINGERTIP__SERVER__MAX_IN_FLIGHT_BODY_BYTES", "1500000")];
    let (_tmp, server, token) = start_fresh("attendance", &env);
    // Each 700 kB request needs 1.4 MB at its peak (body + parsed events). A request whose
    // body is still arriving holds its declared length, leaving too little for another.
    let batch = events(10);
    let mut body = json_body(&batch);
    body.resize(700_000, b' ');
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).unwrap();
    slow.write_all(&body[..1000]).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || get_metric(
            server.addr,
            "fingertip_in_flight_body_bytes"
        ) >= 700_000.0),
        "the slow request never held its share of the budget"
    );
    let mut big = json_body(&events(10));
    big.resize(700_000, b' ');
    let r = post_body(server.addr, &token, "application/json", None, &big).unwrap();
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.error_code(), "overloaded", "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("1"));
    slow.write_all(&body[1000..]).unwrap();
    let done = http::read_response(&mut slow).unwrap();
    assert_eq!(assert_all_taken(&done, 10), (10, 0));
    let retried = post_body(server.addr, &token, "application/json", None, &big).unwrap();
    assert_eq!(
        assert_all_taken(&retried, 10),
        (10, 0),
        "the refused batch is taken later"
    );
    assert_eq!(server.stop(), 0);
}

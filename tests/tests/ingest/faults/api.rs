//! Smaller request faults of issue 9: the `Bearer` scheme in any case, and stacked or
//! repeated `Content-Encoding` refused with 415 (nothing stored).

use fingertip_tests::acks::assert_all_taken;
use fingertip_tests::events::{events, gzip, json_body};
use fingertip_tests::http::{self, get_metric};
use fingertip_tests::server::start_fresh;

#[test]
fn the_bearer_scheme_is_matched_in_any_case() {
    let (_tmp, server, token) = start_fresh("attendance", &[]);
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let auth = format!("{scheme} {token}");
        let r = http::request(
            server.addr,
            "POST",
            "/v1/events",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            &json_body(&events(2)),
        )
        .unwrap();
        assert_eq!(assert_all_taken(&r, 2), (2, 0), "{scheme}");
    }
    assert_eq!(server.stop(), 0);
}

#[test]
fn stacked_content_encodings_get_415() {
    let (_tmp, server, token) = start_fresh("attendance", &[]);
    let auth = format!("Bearer {token}");
    let body = gzip(&json_body(&events(2)));
    let stacked: [&[(&str, &str)]; 3] = [
        &[("Content-Encoding", "gzip, zstd")],
        &[("Content-Encoding", "gzip"), ("Content-Encoding", "zstd")],
        &[("Content-Encoding", "gzip"), ("Content-Encoding", "gzip")],
    ];
    for extra in stacked {
        let mut headers = vec![
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        headers.extend_from_slice(extra);
        let r = http::request(server.addr, "POST", "/v1/events", &headers, &body).unwrap();
        assert_eq!(r.status, 415, "{extra:?}: {}", r.text());
        assert_eq!(r.error_code(), "unsupported_encoding");
    }
    assert_eq!(
        get_metric(server.addr, "fingertip_events_accepted_total"),
        0.0
    );
    assert_eq!(server.stop(), 0);
}

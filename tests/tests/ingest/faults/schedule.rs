//! A seeded random schedule of faults under load: SIGKILL and SIGTERM, restarts with the clock
//! stepped forward and back, a second writer (server or `simulate --lake`) attempted while a
//! server runs, and writes failing as on a full disk (`RLIMIT_FSIZE`). At the end every
//! acknowledged event is in the lake exactly once.
//!
//! The seed is printed; `FINGERTIP_FAULT_SEED=<seed>` replays a schedule.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fingertip_tests::acks::{assert_all_taken, assert_exactly_once, post};
use fingertip_tests::events::{events, ids, json_body};
use fingertip_tests::http;
use fingertip_tests::server::Server;
use serde_json::Value;

use super::writer::{second_server, simulate_into};
use super::{FAST, fresh, start};

/// splitmix64: small, seedable, good enough to pick faults.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    std::env::var("FINGERTIP_FAULT_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            now.map_or(1, |d| d.as_nanos() as u64)
        })
}

#[derive(Default)]
struct Ledger {
    sent: BTreeSet<String>,
    acked: BTreeSet<String>,
    /// Batches without a 202 (server died, or 503): fate unknown until re-sent.
    unanswered: Vec<Vec<Value>>,
    /// A few acknowledged batches, re-sent after each restart: all duplicates.
    acked_batches: Vec<Vec<Value>>,
    statuses: std::collections::BTreeMap<String, u64>,
}

fn client(
    addr: std::net::SocketAddr,
    token: String,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
) {
    let auth = format!("Bearer {token}");
    while !stop.load(Relaxed) {
        let batch = events(20);
        ledger.lock().unwrap().sent.extend(ids(&batch));
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        let answer = http::request(addr, "POST", "/v1/events", &headers, &json_body(&batch));
        let mut l = ledger.lock().unwrap();
        let status = answer
            .as_ref()
            .map_or("conn".to_string(), |r| r.status.to_string());
        *l.statuses.entry(status).or_default() += 1;
        match answer {
            Ok(r) if r.status == 202 => {
                assert_all_taken(&r, batch.len());
                l.acked.extend(ids(&batch));
                if l.acked_batches.len() < 6 {
                    l.acked_batches.push(batch);
                }
            }
            Ok(r) if r.status == 503 => l.unanswered.push(batch),
            Ok(r) => panic!("unexpected answer {}: {}", r.status, r.text()),
            Err(_) => l.unanswered.push(batch),
        }
    }
}

/// Re-sends unanswered batches (accepted or duplicates) and a few acknowledged ones (all
/// duplicates).
fn resend(server: &Server, token: &str, ledger: &mut Ledger) {
    for batch in std::mem::take(&mut ledger.unanswered) {
        let r = post(server, token, &batch);
        if r.status == 503 {
            ledger.unanswered.push(batch);
            continue;
        }
        assert_all_taken(&r, batch.len());
        ledger.acked.extend(ids(&batch));
    }
    for batch in &ledger.acked_batches {
        let taken = assert_all_taken(&post(server, token, batch), batch.len());
        assert_eq!(
            taken,
            (0, batch.len() as u64),
            "an acknowledged batch was stored again"
        );
    }
}

/// `prlimit` from util-linux, if present.
fn limit_file_size(pid: u32) -> bool {
    Command::new("prlimit")
        .args(["--pid", &pid.to_string(), "--fsize=16384:16384"])
        .status()
        .is_ok_and(|s| s.success())
}

/// One round's fault while the load runs.
fn inject(rng: &mut Rng, server: &Server, data: &std::path::Path) -> &'static str {
    match rng.below(4) {
        0 => {
            let refused = second_server(data).expect("a second server kept running");
            assert_ne!(refused.0, 0, "a second server started: {}", refused.1);
            "second server refused"
        }
        1 => {
            let (code, stderr) = simulate_into(data);
            assert_ne!(code, 0, "simulate --lake wrote beside a server: {stderr}");
            "simulate --lake refused"
        }
        2 if limit_file_size(server.pid()) => "writes fail (RLIMIT_FSIZE)",
        _ => "none",
    }
}

#[test]
fn a_random_schedule_of_faults_keeps_every_acknowledged_event_exactly_once() {
    let seed = seed();
    println!("FINGERTIP_FAULT_SEED={seed} replays this schedule");
    let mut rng = Rng(seed);
    let (_tmp, data, token) = fresh();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    for round in 0..8 {
        let offset_s = [0, 0, 86_400, 3 * 86_400, 8 * 86_400][rng.below(5) as usize];
        let offset = offset_s.to_string();
        let mut env = FAST.to_vec();
        env.push(("FINGERTIP_TEST_CLOCK_OFFSET_S", &offset));
        let server = start(&data, &env);
        resend(&server, &token, &mut ledger.lock().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..3)
            .map(|_| {
                let (addr, token, ledger, stop) =
                    (server.addr, token.clone(), ledger.clone(), stop.clone());
                std::thread::spawn(move || client(addr, token, ledger, stop))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100 + rng.below(400)));
        let fault = inject(&mut rng, &server, &data);
        std::thread::sleep(Duration::from_millis(100 + rng.below(300)));
        let kill = rng.below(10) < 7;
        stop.store(true, Relaxed);
        if kill {
            server.kill();
        } else {
            // A graceful stop may fail its final compaction while writes fail: exit non-zero,
            // the WAL is kept and replayed.
            let code = server.stop();
            assert!(code == 0 || fault.starts_with("writes fail"), "exit {code}");
        }
        clients.into_iter().for_each(|c| c.join().expect("client"));
        let l = ledger.lock().unwrap();
        println!(
            "round {round}: clock {offset_s:+} s, fault: {fault}, end: {}, acked {}, unanswered batches {}",
            if kill { "SIGKILL" } else { "SIGTERM" },
            l.acked.len(),
            l.unanswered.len()
        );
    }
    let server = start(&data, &FAST);
    let mut l = ledger.lock().unwrap();
    resend(&server, &token, &mut l);
    assert!(l.unanswered.is_empty(), "some batches could not be re-sent");
    assert_eq!(server.stop(), 0);
    println!("answers: {:?}", l.statuses);
    assert!(
        l.acked.len() >= 500,
        "the load was too light: {}",
        l.acked.len()
    );
    assert_eq!(l.acked, l.sent, "every batch was acknowledged in the end");
    assert_exactly_once(&data, &l.acked, &l.sent);
}

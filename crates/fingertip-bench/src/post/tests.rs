//! The simulator's load generator against a stand-in server on loopback: tokens per app, both body
//! formats, a 429 with `Retry-After` that must be retried, and the 202 counts added up.
//! (The real server is tested end to end in the workspace `tests/`.)

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use bytes::Bytes;
use fingertip_sim::{App, SimOptions, events};

use super::{BodyFormat, LoadOptions, post_events};

fn options(workers: u32, weeks: u32, seed: u64) -> SimOptions {
    SimOptions {
        end_ms: 1_795_000_000_000,
        ..SimOptions::new(workers, weeks, seed)
    }
}
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

#[derive(Default)]
struct Seen {
    requests: AtomicU64,
    events: AtomicU64,
}

async fn handle(
    req: Request<Incoming>,
    seen: Arc<Seen>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let n = seen.requests.fetch_add(1, Relaxed);
    let token = req.headers()["authorization"].to_str().unwrap().to_string();
    let ndjson = req.headers()["content-type"] == "application/x-ndjson";
    let body = req.into_body().collect().await?.to_bytes();
    if n == 0 {
        let busy = Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header("retry-after", "0");
        return Ok(busy.body(Full::new(Bytes::new())).unwrap());
    }
    let events: Vec<serde_json::Value> = if ndjson {
        body.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    } else {
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        v["events"].as_array().unwrap().clone()
    };
    assert!(
        events
            .iter()
            .all(|e| token == format!("Bearer ft_{}", e["app_id"].as_str().unwrap()))
    );
    seen.events.fetch_add(events.len() as u64, Relaxed);
    let answer = format!(
        r#"{{"accepted":{},"duplicates":1,"rejected":[{{"index":0}}]}}"#,
        events.len() - 2
    );
    Ok(Response::builder()
        .status(StatusCode::ACCEPTED)
        .body(Full::new(Bytes::from(answer)))
        .unwrap())
}

async fn serve(seen: Arc<Seen>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = seen.clone();
            let service = hyper::service::service_fn(move |req| handle(req, seen.clone()));
            let io = hyper_util::rt::TokioIo::new(stream);
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(io, service));
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_every_event_with_its_apps_token() {
    for format in [BodyFormat::Json, BodyFormat::Ndjson] {
        let seen = Arc::new(Seen::default());
        let addr = serve(seen.clone()).await;
        let opts = options(30, 1, 9);
        let total = events(opts.clone()).count() as u64;
        let tokens = App::ALL
            .iter()
            .map(|a| (a.id().to_string(), format!("ft_{}", a.id())))
            .collect();
        let load = LoadOptions {
            concurrency: 3,
            batch_size: 40,
            format,
            ..LoadOptions::new(format!("http://{addr}/"), tokens)
        };
        let report = post_events(events(opts), load).await.unwrap();
        assert_eq!(report.events_sent, total);
        assert_eq!(seen.events.load(Relaxed), total);
        assert_eq!((report.failed_batches, report.retries), (0, 1));
        assert_eq!(report.accepted + report.duplicates + report.rejected, total);
        assert_eq!(report.duplicates, report.batches);
        assert_eq!(seen.requests.load(Relaxed), report.batches + 1);
    }
}

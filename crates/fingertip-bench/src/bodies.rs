//! Request bodies for the load generator: simulated events grouped by app into
//! `{"events": [...]}` bodies of a fixed size, generated once. Every request sends a copy of
//! one template with each event's id rewritten, so no two requests (of one run, or of runs
//! with different `run` tags) ever carry the same `event_id`, and patching costs a memcpy and
//! 16 hex digits per event.
//!
//! The id of event `k` of a connection becomes `xxxxxxxx-xxxx-xxxx-RRRR-CCCSSSSSSSSS`: the
//! template's first 16 hex digits, `R` the run tag, `C` the connection, `S` a per-connection
//! sequence number.

use std::collections::BTreeMap;
use std::sync::Arc;

use fingertip_sim::{Distribution, Population, SimOptions, encode_event};

/// One body of events of one app.
#[derive(Debug, Clone)]
pub struct Template {
    pub app_id: Arc<str>,
    pub json: Vec<u8>,
    /// Byte offset of each event's 36-character id inside `json`.
    pub id_offsets: Vec<usize>,
}

impl Template {
    pub fn events(&self) -> usize {
        self.id_offsets.len()
    }

    /// Writes the body into `out` with fresh ids from `ids`.
    pub fn render(&self, ids: &mut IdSource, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.json);
        for &at in &self.id_offsets {
            ids.write_next(&mut out[at + 19..at + 36]);
        }
    }
}

/// The id suffixes of one connection.
#[derive(Debug, Clone)]
pub struct IdSource {
    run: u16,
    connection: u16,
    seq: u64,
}

impl IdSource {
    /// `connection` must be below 4096 and unique within the run.
    pub fn new(run: u16, connection: u16) -> Self {
        Self {
            run,
            connection: connection & 0x0fff,
            seq: 0,
        }
    }

    /// Fills `slot` (`RRRR-CCCSSSSSSSSS`, 17 bytes) with the next id suffix.
    fn write_next(&mut self, slot: &mut [u8]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let tail = (u64::from(self.connection) << 36) | (self.seq & 0xf_ffff_ffff);
        self.seq += 1;
        for i in 0..4 {
            slot[i] = HEX[usize::from((self.run >> (12 - 4 * i)) & 0xf)];
        }
        slot[4] = b'-';
        for i in 0..12 {
            slot[5 + i] = HEX[((tail >> (44 - 4 * i)) & 0xf) as usize];
        }
    }

    pub fn issued(&self) -> u64 {
        self.seq
    }
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct BodyOptions {
    pub workers: u32,
    pub seed: u64,
    pub distribution: Distribution,
    /// Events per body.
    pub batch: usize,
    /// Stop after this many events.
    pub max_events: usize,
    /// Move every `started_at` into the hour before `now_ms` (live traffic: one date
    /// partition), keeping minutes and seconds; otherwise keep the simulated week.
    pub recent: bool,
    pub now_ms: i64,
}

/// Simulates one week ending at `now_ms` and cuts its events into per-app bodies of
/// `batch` events (the last partial body of each app is dropped).
pub fn simulate_bodies(options: &BodyOptions) -> Vec<Template> {
    let mut sim = SimOptions::new(options.workers, 1, options.seed);
    sim.distribution = options.distribution;
    sim.end_ms = options.now_ms - 60_000;
    let pop = Arc::new(Population::new(sim));
    let mut open: BTreeMap<Arc<str>, (String, Vec<usize>)> = BTreeMap::new();
    let mut out = Vec::new();
    let batch = options.batch.max(1);
    for mut e in fingertip_sim::EventStream::new(pop).take(options.max_events) {
        if options.recent {
            let age = (options.now_ms - e.started_at_ms).rem_euclid(3_600_000);
            e.started_at_ms = options.now_ms - 60_000 - age;
        }
        let (body, offsets) = open.entry(e.app_id.clone()).or_default();
        body.push_str(if offsets.is_empty() {
            "{\"events\":["
        } else {
            ","
        });
        offsets.push(body.len() + "{\"event_id\":\"".len());
        encode_event(&e, body);
        if offsets.len() == batch {
            let (mut body, offsets) =
                std::mem::take(&mut *open.entry(e.app_id.clone()).or_default());
            body.push_str("]}");
            out.push(Template {
                app_id: e.app_id.clone(),
                json: body.into_bytes(),
                id_offsets: offsets,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_bodies_parse_with_distinct_ids() {
        let options = BodyOptions {
            workers: 50,
            seed: 7,
            distribution: Distribution::Realistic,
            batch: 10,
            max_events: 2_000,
            recent: true,
            now_ms: 1_795_000_000_000,
        };
        let bodies = simulate_bodies(&options);
        assert!(!bodies.is_empty());
        let mut ids = IdSource::new(0xbeef, 3);
        let mut seen = std::collections::HashSet::new();
        let mut buf = Vec::new();
        for t in bodies.iter().cycle().take(bodies.len() * 2) {
            t.render(&mut ids, &mut buf);
            let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
            let events = v["events"].as_array().unwrap();
            assert_eq!(events.len(), 10);
            for e in events {
                let id = e["event_id"].as_str().unwrap();
                assert!(uuid::Uuid::try_parse(id).is_ok(), "{id}");
                assert!(id.contains("-beef-003"), "{id}");
                assert!(seen.insert(id.to_string()));
                assert_eq!(e["app_id"].as_str().unwrap(), &*t.app_id);
                let at =
                    fingertip_model::parse_rfc3339_ms(e["started_at"].as_str().unwrap()).unwrap();
                assert!(at <= options.now_ms - 60_000 && at > options.now_ms - 3_700_000);
            }
        }
        assert_eq!(ids.issued(), seen.len() as u64);
    }
}

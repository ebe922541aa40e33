//! The simulator's integration tests: determinism, validity against the model, the shape of
//! the population, the lake writer, and the true indices against hand-computed values.

mod truth_by_hand;

use std::collections::{HashMap, HashSet};

use arrow_array::{Array, RecordBatch, StringArray, TimestampMillisecondArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use fingertip_model::{Catalog, IncomingEvent, OrgUnitPolicy, ValidationConfig, Validator};
use fingertip_sim::{
    App, Distribution, EventType, Index, Population, SimOptions, Tier, TruthConfig, compute_truth,
    encode_event, events, write_ndjson,
};

/// 2026-11-18T05:46:40Z, a Wednesday.
const END_MS: i64 = 1_795_000_000_000;

fn options(workers: u32, weeks: u32, seed: u64) -> SimOptions {
    SimOptions {
        end_ms: END_MS,
        ..SimOptions::new(workers, weeks, seed)
    }
}

fn ndjson(options: SimOptions) -> Vec<u8> {
    let mut out = Vec::new();
    write_ndjson(events(options), &mut out).unwrap();
    out
}

#[test]
fn same_seed_same_bytes() {
    let a = ndjson(options(40, 2, 7));
    assert!(!a.is_empty());
    assert_eq!(a, ndjson(options(40, 2, 7)));
    assert_ne!(a, ndjson(options(40, 2, 8)));
    let adversarial = SimOptions {
        distribution: Distribution::Adversarial,
        ..options(40, 2, 7)
    };
    assert_eq!(ndjson(adversarial.clone()), ndjson(adversarial));
}

#[test]
fn every_event_passes_the_validator() {
    for distribution in [Distribution::Realistic, Distribution::Adversarial] {
        let opts = SimOptions {
            distribution,
            ..options(60, 3, 11)
        };
        let pop = Population::new(opts.clone());
        let codes = pop.org.units().map(|u| u.code.to_string());
        let config = ValidationConfig {
            max_past_age_s: 400 * 86_400,
            ..ValidationConfig::default()
        };
        let validator =
            Validator::new(Catalog::embedded(), OrgUnitPolicy::from_list(codes), config);
        let mut line = String::new();
        let mut seen_types = HashSet::new();
        for e in events(opts) {
            line.clear();
            encode_event(&e, &mut line);
            let incoming: IncomingEvent = serde_json::from_str(&line).unwrap();
            let valid = validator
                .validate(&incoming, END_MS)
                .unwrap_or_else(|r| panic!("{r:?}: {line}"));
            assert_eq!(valid.event_type, e.event_type.as_str());
            assert_eq!(valid.trigger, e.trigger);
            assert!(e.duration_s <= f64::from(e.event_type.max_duration_s()));
            assert!(e.started_at_ms <= END_MS && e.started_at_ms % 1000 == 0);
            seen_types.insert(e.event_type);
        }
        assert_eq!(seen_types.len(), EventType::ALL.len(), "{distribution:?}");
    }
}

#[test]
fn realistic_scale_and_shape() {
    let opts = options(500, 2, 3);
    let all: Vec<_> = events(opts).collect();
    let per_worker_week = all.len() as f64 / 1_000.0;
    assert!(
        (50.0..=80.0).contains(&per_worker_week),
        "{per_worker_week} events per worker-week"
    );
    let mut units_of: HashMap<&str, HashSet<&str>> = HashMap::new();
    let mut apps_of: HashMap<&str, HashSet<&str>> = HashMap::new();
    for e in &all {
        units_of
            .entry(&e.person_ref)
            .or_default()
            .insert(&e.org_unit);
        apps_of.entry(&e.person_ref).or_default().insert(&e.app_id);
    }
    assert!(units_of.values().all(|u| u.len() == 1));
    let mean_apps = apps_of.values().map(|a| a.len()).sum::<usize>() as f64 / apps_of.len() as f64;
    assert!(
        (4.0..=5.5).contains(&mean_apps),
        "{mean_apps} apps per worker"
    );
    let first = all.iter().map(|e| e.started_at_ms).min().unwrap();
    assert!(
        first >= END_MS - 15 * 86_400_000,
        "events lie within the weeks ending at `end`"
    );
}

#[test]
fn adversarial_spreads_persons_over_units_and_apps() {
    let opts = SimOptions {
        distribution: Distribution::Adversarial,
        ..options(300, 1, 3)
    };
    let townships = Population::new(opts.clone()).org.townships.len();
    let mut pairs = HashSet::new();
    let mut apps_of: HashMap<String, HashSet<String>> = HashMap::new();
    let mut n = 0;
    for e in events(opts) {
        pairs.insert((e.person_ref.clone(), e.org_unit.clone()));
        apps_of
            .entry(e.person_ref.to_string())
            .or_default()
            .insert(e.app_id.to_string());
        n += 1;
    }
    // About 67 events per person over 10 townships: nearly every (person, unit) pair occurs.
    let possible = (300 * townships) as f64;
    assert!(
        pairs.len() as f64 > 0.9 * possible,
        "{} pairs of {possible} for {n} events",
        pairs.len()
    );
    let all_apps = apps_of
        .values()
        .filter(|a| a.len() == App::ALL.len())
        .count();
    assert!(all_apps as f64 > 0.9 * apps_of.len() as f64);
}

#[test]
fn heavy_units_check_in_much_longer_than_light_ones() {
    let opts = options(3_000, 2, 5);
    let pop = Population::new(opts.clone());
    let tier: HashMap<String, Tier> = pop
        .org
        .townships
        .iter()
        .map(|t| (t.unit.code.to_string(), t.profile.tier))
        .collect();
    let truth = compute_truth(events(opts), TruthConfig::default());
    let mut by_tier: HashMap<Tier, Vec<f64>> = HashMap::new();
    for row in truth.rows().filter(|r| {
        r.index == Index::CheckinMinutesPerWorker && r.app_id == "*" && r.org_unit != "*"
    }) {
        by_tier
            .entry(tier[&row.org_unit])
            .or_default()
            .push(row.value);
    }
    let mean = |t: Tier| by_tier[&t].iter().sum::<f64>() / by_tier[&t].len() as f64;
    let (heavy, light) = (mean(Tier::Heavy), mean(Tier::Light));
    assert!(heavy > 3.0 * light, "heavy {heavy} light {light}");
    let dup = |unit: &str| {
        truth
            .rows()
            .find(|r| r.index == Index::DuplicateEntryRate && r.app_id == "*" && r.org_unit == unit)
            .map(|r| r.value)
    };
    let (mut barrier, mut other) = (Vec::new(), Vec::new());
    for t in &pop.org.townships {
        let target = if t.profile.data_barrier {
            &mut barrier
        } else {
            &mut other
        };
        target.extend(dup(&t.unit.code));
    }
    let avg = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        avg(&barrier) > 0.3 && avg(&other) < 0.1,
        "barrier {} other {}",
        avg(&barrier),
        avg(&other)
    );
}

#[test]
fn truth_outputs_parse() {
    let truth = compute_truth(events(options(30, 2, 1)), TruthConfig::default());
    let mut csv = Vec::new();
    let rows = truth.write_csv(&mut csv).unwrap();
    let text = String::from_utf8(csv).unwrap();
    assert_eq!(text.lines().count() as u64, rows + 1);
    assert!(text.starts_with("index,week,app_id,org_unit,value,numerator,denominator\n"));
    let mut json = Vec::new();
    truth.write_json(&mut json).unwrap();
    let parsed: Vec<serde_json::Value> = serde_json::from_slice(&json).unwrap();
    assert_eq!(parsed.len() as u64, rows);
    assert!(
        parsed
            .iter()
            .all(|r| r["week"].as_str().unwrap().contains("-W"))
    );
    let apps_rows: Vec<_> = truth
        .rows()
        .filter(|r| r.index == Index::AppsPerWorker)
        .collect();
    assert!(!apps_rows.is_empty() && apps_rows.iter().all(|r| r.app_id == "*"));
}

#[test]
fn lake_writer_writes_sorted_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(20, 1, 2);
    let total = events(opts.clone()).count() as u64;
    let lake_options = fingertip_sim::LakeOptions {
        rows_per_file: 50,
        max_buffered_rows: 200,
        ..Default::default()
    };
    let report = fingertip_sim::write_lake(events(opts), dir.path(), &lake_options).unwrap();
    assert_eq!(report.events, total);
    let files = parquet_files(&dir.path().join("events"));
    assert_eq!(files.len() as u64, report.files);
    let mut rows = 0;
    for f in &files {
        let batch = read_parquet(f);
        assert!(batch.num_rows() <= 50);
        rows += batch.num_rows() as u64;
        let text = f.to_string_lossy();
        let app = text
            .split("/app_id=")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap();
        assert!(text.contains("/date=2026-11-"), "{text}");
        let column = |name: &str| batch.column_by_name(name).unwrap().clone();
        let apps = column("app_id");
        let apps = apps.as_any().downcast_ref::<StringArray>().unwrap();
        assert!(apps.iter().all(|a| a == Some(app)));
        let units = column("org_unit");
        let units = units.as_any().downcast_ref::<StringArray>().unwrap();
        let units: Vec<_> = units.iter().map(Option::unwrap).collect();
        assert!(units.windows(2).all(|w| w[0] <= w[1]), "sorted by org_unit");
        let started = column("started_at");
        let started = started
            .as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .unwrap();
        assert!(
            started.iter().all(|t| t.unwrap() % 60_000 == 0),
            "coarsened to the minute"
        );
    }
    assert_eq!(rows, total);
    assert!(dir.path().join("keys/2026Q4.key").exists());
}

fn read_parquet(path: &std::path::Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(batches.len(), 1, "small files read as one batch");
    batches.pop().unwrap()
}

fn parquet_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(parquet_files(&path));
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    out
}

#[test]
fn org_units_csv_lists_every_event_unit() {
    let opts = options(200, 1, 4);
    let pop = Population::new(opts.clone());
    let mut csv = Vec::new();
    pop.org.write_csv(&mut csv).unwrap();
    let text = String::from_utf8(csv).unwrap();
    let codes: HashSet<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert!(events(opts).all(|e| codes.contains(&*e.org_unit)));
    assert!(text.lines().skip(1).all(|l| l.split(',').count() == 4));
}

/// `cargo test -p fingertip-sim --test sim throughput -- --ignored --nocapture`
#[test]
#[ignore = "prints generation, NDJSON and truth throughput; slow in debug builds"]
fn throughput() {
    let opts = options(20_000, 1, 1);
    let started = std::time::Instant::now();
    let n = events(opts.clone()).count();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "generated {n} events in {secs:.2} s: {:.0} events/s",
        n as f64 / secs
    );
    let started = std::time::Instant::now();
    write_ndjson(events(opts.clone()), std::io::sink()).unwrap();
    println!(
        "NDJSON: {:.0} events/s",
        n as f64 / started.elapsed().as_secs_f64()
    );
    let started = std::time::Instant::now();
    let truth = compute_truth(events(opts), TruthConfig::default());
    println!(
        "truth: {:.0} events/s ({} cells)",
        n as f64 / started.elapsed().as_secs_f64(),
        truth.cell_count()
    );
}

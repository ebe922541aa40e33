//! Property-based fuzzing (proptest, fixed case budget) of request body decoding: JSON, NDJSON,
//! OTLP (protobuf and JSON), gzip and zstd. Invariant: any body gives events or a clear error — never a panic, never
//! more than the limits allow (events, decoded bytes, budget). The committed corpus in
//! `fuzz/corpus/body/` (the 16.7-million-item gzip bomb among it) is replayed first.

use std::io::Write;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use crate::{BodyError, BodyFormat, Encoding, MemoryBudget, decode_body, parse_events};

const MAX_EVENTS: usize = 100;
const MAX_DECODED: usize = 64 << 10;

/// Decodes and parses `raw` under small limits; checks the limits held.
fn decode_and_parse(
    raw: &[u8],
    encoding: Encoding,
    format: BodyFormat,
) -> Result<usize, BodyError> {
    let budget = MemoryBudget::new(1 << 20);
    let mut charge = budget.charge(0)?;
    let body = decode_body(
        raw.to_vec().into(),
        encoding,
        MAX_DECODED.max(raw.len()),
        &mut charge,
    )?;
    assert!(budget.used() <= budget.limit());
    let events = parse_events(&body, format, MAX_EVENTS)?;
    assert!(events.len() <= MAX_EVENTS);
    for e in &events {
        assert!(
            e.data_elements
                .as_ref()
                .is_none_or(|d| d.len() <= fingertip_model::MAX_LIST_ITEMS + 1)
        );
    }
    Ok(events.len())
}

/// The encoding and format a corpus file's name says: `x.json`, `x.ndjson.gz`, `x.json.zst`,
/// `x.otlp.pb`, `x.otlp.json`.
fn kind(path: &Path) -> (Encoding, BodyFormat) {
    let name = path.file_name().unwrap().to_string_lossy();
    let encoding = match () {
        _ if name.ends_with(".gz") => Encoding::Gzip,
        _ if name.ends_with(".zst") => Encoding::Zstd,
        _ => Encoding::Identity,
    };
    let format = match () {
        _ if name.contains(".otlp.pb") => BodyFormat::OtlpProtobuf,
        _ if name.contains(".otlp.json") => BodyFormat::OtlpJson,
        _ if name.contains(".ndjson") => BodyFormat::Ndjson,
        _ => BodyFormat::Json,
    };
    (encoding, format)
}

#[test]
fn body_corpus_replays() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/body");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(files.len() >= 10, "corpus in {}", dir.display());
    for path in files {
        let (encoding, format) = kind(&path);
        let raw = std::fs::read(&path).unwrap();
        let result = decode_and_parse(&raw, encoding, format);
        println!("{}: {result:?}", path.display());
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Pieces of JSON that combine into near-valid bodies more often than random bytes do.
fn json_piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"events\"",
        "\"event_id\"",
        "\"data_elements\"",
        "0",
        "1e999",
        "-0",
        "\"x\"",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "null",
        "true",
        "{}",
        "[]",
        " ",
        "\n",
        "\"duration_s\"",
        "\"a\\\"b\"",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_as_any_body(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        encoding in prop::sample::select(vec![Encoding::Identity, Encoding::Gzip, Encoding::Zstd]),
        format in prop::sample::select(vec![
            BodyFormat::Json, BodyFormat::Ndjson, BodyFormat::OtlpProtobuf, BodyFormat::OtlpJson,
        ]),
    ) {
        let _ = decode_and_parse(&bytes, encoding, format);
    }

    #[test]
    fn near_json_bodies(pieces in proptest::collection::vec(json_piece(), 0..200), ndjson in any::<bool>()) {
        let text = format!("{{\"events\":[{}", pieces.concat());
        let format = if ndjson { BodyFormat::Ndjson } else { BodyFormat::Json };
        let plain = decode_and_parse(text.as_bytes(), Encoding::Identity, format);
        let zipped = decode_and_parse(&gzip(text.as_bytes()), Encoding::Gzip, format);
        prop_assert_eq!(plain.is_ok(), zipped.is_ok(), "gzip changes nothing");
    }

    #[test]
    fn compressed_bodies_round_trip_or_hit_the_limit(bytes in proptest::collection::vec(any::<u8>(), 0..(2 * MAX_DECODED))) {
        let budget = MemoryBudget::new(1 << 22);
        for (encoding, raw) in [
            (Encoding::Gzip, gzip(&bytes)),
            (Encoding::Zstd, zstd::encode_all(&bytes[..], 1).unwrap()),
        ] {
            let mut charge = budget.charge(0).unwrap();
            match decode_body(raw.into(), encoding, MAX_DECODED, &mut charge) {
                Ok(out) => prop_assert_eq!(&out[..], &bytes[..]),
                Err(e) => prop_assert_eq!(e, BodyError::TooLarge { limit: MAX_DECODED }),
            }
            prop_assert!(charge.bytes() <= MAX_DECODED);
        }
    }
}

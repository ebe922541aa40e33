//! The pipelines' bounding, checked exactly: whatever one person does, the vector of clipped
//! cell sums they contribute to has at most the norm the noise is scaled to — L2 under zCDP,
//! L1 under pure — at every level. (The empirical audit cannot see a small excess: at the
//! ε a zCDP pipeline run is judged at, 400 draws cannot separate the lakes; this test can.)

use std::sync::Arc;

use datafusion::arrow::array::{Float64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use fingertip_pipelines::bounded::{Norm, clipped_sums, value_unit};
use fingertip_pipelines::{Level, load_pipelines};
use fingertip_tests::stats::SplitMix;

/// A person-stage row: week, app, unit, value.
type Row = (&'static str, String, String, f64);

/// One person's person-stage rows.
fn person_stage(rows: &[Row]) -> MemTable {
    let schema = Arc::new(Schema::new(vec![
        Field::new("person", DataType::Utf8, false),
        Field::new("week", DataType::Utf8, false),
        Field::new("app_id", DataType::Utf8, false),
        Field::new("org_unit", DataType::Utf8, false),
        Field::new("numerator", DataType::Float64, false),
    ]));
    let col = |f: &dyn Fn(&Row) -> String| {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            col(&|_| "p".to_string()),
            col(&|r| r.0.to_string()),
            col(&|r| r.1.clone()),
            col(&|r| r.2.clone()),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap();
    MemTable::try_new(schema, vec![vec![batch]]).unwrap()
}

#[test]
fn one_persons_clipped_sums_stay_within_the_norm_bound_at_every_level() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let specs = load_pipelines(None).unwrap();
    let spec = specs
        .iter()
        .find(|s| s.name == "checkin_minutes_per_worker")
        .unwrap();
    let mut rng = SplitMix(0xb0_0d);
    for case in 0..40 {
        // A scattered person: 2 weeks × up to 6 apps × up to 3 units, values up to 10⁴ (far
        // above the weekly bound of 75) or, in every fourth case, small ones (never clipped).
        let small = case % 4 == 0;
        let mut rows = Vec::new();
        for week in ["2026-W45", "2026-W46"] {
            for a in 0..1 + rng.below(6) {
                for u in 0..1 + rng.below(3) {
                    let v = if small {
                        rng.below(4) as f64 * 0.5
                    } else {
                        rng.below(10_000) as f64 + 0.37
                    };
                    rows.push((week, format!("a{a}"), format!("u{u}"), v));
                }
            }
        }
        let ctx = SessionContext::new();
        ctx.register_table("person_stage", Arc::new(person_stage(&rows)))
            .unwrap();
        for norm in [Norm::L1, Norm::L2] {
            let bound = norm.bound(75.0, 2);
            let unit = value_unit(bound);
            for level in Level::all() {
                let sums = runtime
                    .block_on(clipped_sums(
                        &ctx,
                        spec,
                        level,
                        "numerator",
                        (norm, bound),
                        unit,
                    ))
                    .unwrap();
                let steps: Vec<f64> = sums.values().map(|s| *s as f64).collect();
                let size = match norm {
                    Norm::L1 => steps.iter().map(|s| s.abs()).sum::<f64>(),
                    Norm::L2 => steps.iter().map(|s| s * s).sum::<f64>().sqrt(),
                };
                assert!(
                    size <= bound / unit,
                    "case {case}, {norm:?}, {level:?}: norm {size} steps > bound {}",
                    bound / unit
                );
                if small {
                    // Within the bound: nothing is clipped, only truncated to whole steps.
                    let exact: f64 = rows.iter().map(|r| (r.3 / unit).trunc()).sum();
                    let total: f64 = steps.iter().sum();
                    assert!(
                        total >= exact - rows.len() as f64 && total <= exact + rows.len() as f64,
                        "case {case}: {total} vs {exact}"
                    );
                }
            }
        }
    }
}

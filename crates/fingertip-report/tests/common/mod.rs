//! A deterministic sample input shared by the integration tests and the `sample` example:
//! nine indices, eight weeks, five apps, forty org units, and some suppressed or empty cells.

#![allow(dead_code)]

use fingertip_report::{ALL, IndexInfo, IndexRow, PrivacySummary, ReportInput};

pub const APPS: [&str; 5] = [
    "duty-checkin",
    "study-points",
    "grid-reports",
    "case-tracker",
    "photo-proof",
];

/// (name, title, unit, typical value, description, clause, not measured)
const INDICES: [(&str, &str, &str, f64, &str, &str, &str); 9] = [
    (
        "burden_index",
        "Burden index (composite)",
        "score 0-100",
        55.0,
        "One number that combines the indices below, weighted as documented: 0 means no measured burden, 100 means every component is at or above its reference level.",
        "Overall: apps must not add work without a clear purpose (Notice §1).",
        "Burden that apps do not record, and whether the work was useful.",
    ),
    (
        "checkin_minutes_per_worker",
        "Check-in minutes per worker",
        "minutes per worker per week",
        45.0,
        "Minutes per active worker per week spent on mandatory check-ins (clocking in, location check-ins).",
        "No mandatory check-ins beyond attendance (Notice §3.1).",
        "Check-ins done on paper or in apps that do not report.",
    ),
    (
        "compliance_minutes_per_worker",
        "Compliance minutes per worker",
        "minutes per worker per week",
        310.0,
        "Minutes per active worker per week spent on any app activity that was mandatory.",
        "Total mandatory app time must be proportionate (Notice §2).",
        "Voluntary use, and time away from the app spent preparing what it asks for.",
    ),
    (
        "forced_use_share",
        "Forced use share",
        "share of sessions",
        0.62,
        "Of all app sessions and logins, the share that were mandatory or triggered by a reminder.",
        "Apps may not require daily logins or activity quotas (Notice §3.2).",
        "Whether voluntary sessions were useful.",
    ),
    (
        "proof_uploads_per_worker",
        "Proof uploads per worker",
        "uploads per worker per week",
        12.0,
        "Proof screenshots and photos uploaded per active worker per week.",
        "No routine proof-of-work screenshots (Notice §3.4).",
        "Proof sent through chat groups instead of the app.",
    ),
    (
        "duplicate_entry_rate",
        "Duplicate data entry",
        "share of entries",
        0.31,
        "Of the data items workers typed in, the share that the same worker had already typed into another app that week (the data-barrier index).",
        "Data entered once must be shared, not re-entered (Notice §4).",
        "Re-entry on paper or in spreadsheets.",
    ),
    (
        "apps_per_worker",
        "Apps per worker",
        "apps per worker",
        5.4,
        "How many different government apps an active worker used in the week, on average.",
        "Apps for the same task must be merged (Notice §5).",
        "Apps that do not report to Fingertip. Only published for all apps together.",
    ),
    (
        "after_hours_demand_share",
        "After-hours demands",
        "share of work-group demands",
        0.36,
        "Of the demands posted in work groups, the share posted outside working hours (Mon-Fri 08:00-18:00).",
        "No work-group demands outside working hours (Notice §3.5).",
        "Demands sent by phone call or in person.",
    ),
    (
        "rankings_published",
        "Published rankings",
        "rankings per week",
        3.0,
        "How many rankings of staff or units the apps published in the week.",
        "Apps must not publish rankings of staff (Notice §3.6).",
        "Rankings shared as screenshots outside the apps.",
    ),
];

pub fn weeks() -> Vec<String> {
    (38..=45).map(|w| format!("2026-W{w:02}")).collect()
}

pub fn org_units() -> Vec<String> {
    (1..=40).map(|u| format!("OU-31{u:02}")).collect()
}

/// A deterministic value in [0, 1) from a few integers.
fn noise(seed: u64) -> f64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x % 10_000) as f64 / 10_000.0
}

fn row(index: &str, week: &str, app: &str, unit: &str, value: f64, half_width: f64) -> IndexRow {
    IndexRow {
        index: index.into(),
        week: week.into(),
        app_id: app.into(),
        org_unit: unit.into(),
        value: Some(value),
        ci_low: Some(value - half_width),
        ci_high: Some(value + half_width),
        epsilon: 0.05,
        suppressed: false,
        clause: String::new(),
    }
}

fn suppressed(index: &str, week: &str, app: &str, unit: &str) -> IndexRow {
    IndexRow {
        value: None,
        ci_low: None,
        ci_high: None,
        suppressed: true,
        ..row(index, week, app, unit, 0.0, 0.0)
    }
}

fn index_rows(number: usize, name: &str, typical: f64) -> Vec<IndexRow> {
    let weeks = weeks();
    let mut rows = Vec::new();
    for (w, week) in weeks.iter().enumerate() {
        let seed = (number * 1000 + w) as u64;
        if name == "rankings_published" && w == 3 {
            rows.push(suppressed(name, week, ALL, ALL));
            continue;
        }
        let trend = 1.0 + 0.04 * w as f64;
        let v = typical * trend * (0.92 + 0.16 * noise(seed));
        rows.push(row(name, week, ALL, ALL, v, typical * 0.05));
    }
    let latest = weeks.last().expect("weeks");
    if name != "apps_per_worker" {
        for (a, app) in APPS.iter().enumerate() {
            let seed = (number * 1000 + 100 + a) as u64;
            if a == 4 && name == "duplicate_entry_rate" {
                rows.push(suppressed(name, latest, app, ALL));
                continue;
            }
            let v = typical * (0.4 + 1.2 * noise(seed));
            rows.push(row(name, latest, app, ALL, v, typical * 0.1));
        }
    }
    for (u, unit) in org_units().iter().enumerate() {
        let seed = (number * 1000 + 500 + u) as u64;
        if u % 13 == 5 {
            rows.push(suppressed(name, latest, ALL, unit));
            continue;
        }
        let v = typical * (0.3 + 1.4 * noise(seed));
        rows.push(row(name, latest, ALL, unit, v, typical * 0.18));
    }
    rows
}

pub fn sample() -> ReportInput {
    let indices: Vec<IndexInfo> = INDICES
        .iter()
        .map(
            |&(name, title, unit, _, description, clause, not_measured)| IndexInfo {
                name: name.into(),
                title: title.into(),
                unit: unit.into(),
                description: description.into(),
                clause: clause.into(),
                not_measured: not_measured.into(),
                higher_is_worse: true,
            },
        )
        .collect();
    let rows = INDICES
        .iter()
        .enumerate()
        .flat_map(|(n, &(name, _, _, typical, ..))| index_rows(n, name, typical))
        .collect();
    ReportInput {
        title: "Front-line app burden: oversight report, Q4 2026".into(),
        generated_at: "2026-11-10 08:00 (UTC+8)".into(),
        weeks: weeks(),
        indices,
        rows,
        privacy: PrivacySummary {
            epsilon_this_run: 2.5,
            delta_this_run: 1e-7,
            epsilon_spent_in_epoch: 6.0,
            epsilon_total_per_epoch: 20.0,
            epochs: vec!["2026Q4".into()],
            min_persons: 10,
            privacy_unit:
                "one staff member, across all apps, within one key epoch (a calendar quarter)"
                    .into(),
        },
    }
}

//! The true indices of a tiny hand-built event set, each value computed by hand from
//! docs/indices.md. Times are local Asia/Shanghai (UTC+8); week 2026-W45 is Mon 2 – Sun 8 Nov.
//!
//! Persons P1 (unit u1), P2 (u2), P3 (u1 and u2). Apps: A attendance, B household-survey,
//! C poverty-registry, S study, W work-groups.

use std::sync::Arc;

use fingertip_model::Trigger::{self, Mandatory, Reminder, Unknown, Voluntary};
use fingertip_sim::EventType::{self, *};
use fingertip_sim::{Index, SimEvent, Truth, TruthConfig, compute_truth};

fn ev(
    (person, app, unit): (&str, &str, &str),
    ty: EventType,
    trigger: Trigger,
    local: &str,
    duration: f64,
    elements: &[&str],
) -> SimEvent {
    let ms = fingertip_model::parse_rfc3339_ms(&format!("{local}+08:00")).unwrap();
    SimEvent {
        event_id: ms as u128,
        person_ref: person.into(),
        app_id: app.into(),
        org_unit: unit.into(),
        event_type: ty,
        trigger,
        started_at_ms: ms,
        duration_s: duration,
        data_elements: elements.iter().map(|e| Arc::from(*e)).collect(),
    }
}

/// One event per line: (person, app, unit), type, trigger, local start, seconds, elements.
#[rustfmt::skip]
fn events() -> Vec<SimEvent> {
    let (a, b, c, s, w) = ("attendance", "household-survey", "poverty-registry", "study", "work-groups");
    vec![
        ev(("P1", a, "u1"), CheckIn, Mandatory, "2026-11-02T08:30:00", 120.0, &[]),
        ev(("P1", a, "u1"), ProofUpload, Mandatory, "2026-11-02T08:35:00", 300.0, &[]),
        ev(("P1", b, "u1"), FormSubmit, Mandatory, "2026-11-02T10:00:00", 600.0, &["hh.size", "hh.income"]),
        ev(("P1", c, "u1"), FormSubmit, Reminder, "2026-11-03T11:00:00", 900.0, &["hh.size", "pr.cause"]),
        ev(("P1", a, "u1"), Session, Voluntary, "2026-11-03T09:00:00", 60.0, &[]),
        ev(("P2", w, "u2"), CheckIn, Mandatory, "2026-11-02T07:50:00", 60.0, &[]),
        ev(("P2", b, "u2"), Login, Mandatory, "2026-11-04T09:00:00", 30.0, &[]),
        ev(("P2", b, "u2"), FormSubmit, Voluntary, "2026-11-04T09:05:00", 300.0, &["hh.size", "hh.size"]),
        // Wednesday evening, Thursday 08:00 (inside), Thursday 18:00 (outside), Saturday.
        ev(("P2", w, "u2"), GroupDemand, Mandatory, "2026-11-04T19:30:00", 600.0, &[]),
        ev(("P2", w, "u2"), GroupDemand, Reminder, "2026-11-05T08:00:00", 120.0, &[]),
        ev(("P2", w, "u2"), GroupDemand, Voluntary, "2026-11-05T18:00:00", 30.0, &[]),
        ev(("P2", w, "u2"), GroupDemand, Mandatory, "2026-11-07T10:00:00", 60.0, &[]),
        ev(("P3", s, "u1"), RankingPublished, Unknown, "2026-11-02T09:00:00", 0.0, &[]),
        ev(("P3", s, "u1"), StudySession, Mandatory, "2026-11-02T09:10:00", 1800.0, &[]),
        ev(("P3", c, "u2"), FormSubmit, Mandatory, "2026-11-02T14:00:00", 1200.0, &["hh.income"]),
        ev(("P3", b, "u1"), FormSubmit, Mandatory, "2026-11-03T14:00:00", 600.0, &["hh.income", "hh.phone"]),
        // Sunday 23:59 local is still W45 (15:59 UTC); Monday 00:01 local is W46.
        ev(("P1", a, "u1"), CheckIn, Mandatory, "2026-11-08T23:59:00", 60.0, &[]),
        ev(("P1", a, "u1"), CheckIn, Mandatory, "2026-11-09T00:01:00", 90.0, &[]),
    ]
}

fn truth() -> Truth {
    compute_truth(events(), TruthConfig::default())
}

#[track_caller]
fn check(t: &Truth, index: Index, week: &str, app: &str, unit: &str, expected: f64) {
    let row = t
        .get(index, week, app, unit)
        .unwrap_or_else(|| panic!("no {index:?} for {week} {app} {unit}"));
    assert!(
        (row.value - expected).abs() < 1e-12,
        "{index:?} {week} {app} {unit}: {} != {expected}",
        row.value
    );
    assert!((row.numerator / row.denominator - row.value).abs() < 1e-12);
}

const W45: &str = "2026-W45";

#[test]
fn per_worker_minutes_and_counts() {
    let t = truth();
    use Index::*;
    // A(W45, u1) = {P1, P3}, A(W45, u2) = {P2, P3}, A(W45, *) = {P1, P2, P3}.
    check(
        &t,
        CheckinMinutesPerWorker,
        W45,
        "attendance",
        "u1",
        3.0 / 2.0,
    );
    check(
        &t,
        CheckinMinutesPerWorker,
        W45,
        "work-groups",
        "u2",
        1.0 / 2.0,
    );
    check(&t, CheckinMinutesPerWorker, W45, "*", "*", 4.0 / 3.0);
    check(&t, CheckinMinutesPerWorker, W45, "attendance", "*", 1.0);
    check(
        &t,
        CheckinMinutesPerWorker,
        W45,
        "household-survey",
        "u1",
        0.0,
    );
    check(
        &t,
        CheckinMinutesPerWorker,
        "2026-W46",
        "attendance",
        "u1",
        1.5,
    );
    check(
        &t,
        ComplianceMinutesPerWorker,
        W45,
        "attendance",
        "u1",
        8.0 / 2.0,
    );
    check(
        &t,
        ComplianceMinutesPerWorker,
        W45,
        "poverty-registry",
        "u1",
        0.0,
    );
    check(&t, ComplianceMinutesPerWorker, W45, "*", "u1", 58.0 / 2.0);
    check(&t, ComplianceMinutesPerWorker, W45, "*", "u2", 32.5 / 2.0);
    check(
        &t,
        ComplianceMinutesPerWorker,
        W45,
        "household-survey",
        "*",
        20.5 / 3.0,
    );
    check(&t, ComplianceMinutesPerWorker, W45, "*", "*", 90.5 / 3.0);
    check(&t, ProofUploadsPerWorker, W45, "attendance", "u1", 0.5);
    check(&t, ProofUploadsPerWorker, W45, "*", "*", 1.0 / 3.0);
    check(&t, RankingsPublished, W45, "study", "u1", 1.0);
    check(&t, RankingsPublished, W45, "attendance", "u1", 0.0);
    check(&t, AppsPerWorker, W45, "*", "u1", 3.0);
    check(&t, AppsPerWorker, W45, "*", "u2", 2.5);
    check(&t, AppsPerWorker, W45, "*", "*", 8.0 / 3.0);
    check(&t, AppsPerWorker, "2026-W46", "*", "*", 1.0);
    assert!(t.get(AppsPerWorker, W45, "attendance", "u1").is_none());
}

#[test]
fn shares() {
    let t = truth();
    use Index::*;
    check(&t, ForcedUseShare, W45, "attendance", "u1", 0.0);
    check(&t, ForcedUseShare, W45, "household-survey", "u2", 1.0);
    check(&t, ForcedUseShare, W45, "*", "*", 0.5);
    assert!(
        t.get(ForcedUseShare, W45, "work-groups", "u2").is_none(),
        "no session or login"
    );
    check(&t, AfterHoursDemandShare, W45, "work-groups", "u2", 0.75);
    check(&t, AfterHoursDemandShare, W45, "*", "*", 0.75);
    assert!(
        t.get(AfterHoursDemandShare, W45, "attendance", "u1")
            .is_none()
    );
}

#[test]
fn duplicate_entries_across_apps() {
    let t = truth();
    use Index::DuplicateEntryRate as D;
    // P1 typed hh.size in B and C; P3 typed hh.income in C (unit u2) and B (unit u1);
    // P2 typed hh.size twice, but only in B: not a duplicate.
    check(&t, D, W45, "household-survey", "u1", 2.0 / 4.0);
    check(&t, D, W45, "poverty-registry", "u1", 1.0 / 2.0);
    check(&t, D, W45, "household-survey", "u2", 0.0);
    check(&t, D, W45, "poverty-registry", "u2", 1.0);
    check(&t, D, W45, "*", "u1", 3.0 / 6.0);
    check(&t, D, W45, "*", "u2", 1.0 / 3.0);
    check(&t, D, W45, "household-survey", "*", 2.0 / 6.0);
    check(&t, D, W45, "poverty-registry", "*", 2.0 / 3.0);
    check(&t, D, W45, "*", "*", 4.0 / 9.0);
    assert!(t.get(D, W45, "attendance", "u1").is_none(), "no entries");
}

#[test]
fn burden_index_renormalizes_over_defined_components() {
    let t = truth();
    // All seven components defined: 100 × (1/45 + 2·(181/6)/600 + 1/2 + 1/60 + 8/9 + 1 + 1) / 8.
    check(
        &t,
        Index::BurdenIndex,
        W45,
        "*",
        "*",
        100.0 * (6351.0 / 1800.0) / 8.0,
    );
    // No forced-use or duplicate component: weights 1 + 2 + 1 + 1 + 1 = 6.
    check(
        &t,
        Index::BurdenIndex,
        W45,
        "work-groups",
        "u2",
        100.0 * (617.0 / 600.0) / 6.0,
    );
    let row = t.get(Index::BurdenIndex, W45, "*", "*").unwrap();
    assert_eq!(row.denominator, 8.0);
}

#[test]
fn cells_and_rows() {
    let t = truth();
    // 15 cells in W45 (7 app × unit, 2 all-apps, 5 all-units, 1 total) and 4 in W46.
    assert_eq!(t.cell_count(), 19);
    assert_eq!(t.rows().count(), 120);
    let first = t.rows().next().unwrap();
    assert_eq!(
        (
            first.week.as_str(),
            first.app_id.as_str(),
            first.org_unit.as_str()
        ),
        (W45, "*", "*")
    );
}

#[test]
fn working_hours_and_time_zone_are_configurable() {
    let utc = TruthConfig {
        tz: chrono_tz::UTC,
        work_start_hour: 9,
        ..TruthConfig::default()
    };
    let t = compute_truth(events(), utc);
    // In UTC the Monday 00:01 (+08:00) check-in falls on Sunday, in W45.
    check(
        &t,
        Index::CheckinMinutesPerWorker,
        W45,
        "attendance",
        "u1",
        4.5 / 2.0,
    );
    assert!(
        t.get(
            Index::CheckinMinutesPerWorker,
            "2026-W46",
            "attendance",
            "u1"
        )
        .is_none()
    );
    // UTC times: Wed 11:30 and Thu 10:00 are inside 09–18; Thu 00:00 and Sat 02:00 are not.
    check(
        &t,
        Index::AfterHoursDemandShare,
        W45,
        "work-groups",
        "u2",
        0.5,
    );
    // P2's Monday 07:50 (+08:00) check-in is on Sunday in UTC: W44.
    check(
        &t,
        Index::CheckinMinutesPerWorker,
        "2026-W44",
        "work-groups",
        "u2",
        1.0,
    );
}

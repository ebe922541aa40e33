use super::*;

fn pure(epsilon_total: f64, delta_total: f64) -> BudgetConfig {
    BudgetConfig {
        epsilon_total,
        delta_total,
        accounting: Accounting::Pure,
    }
}

fn zcdp(epsilon_total: f64, delta_total: f64) -> BudgetConfig {
    BudgetConfig {
        epsilon_total,
        delta_total,
        accounting: Accounting::Zcdp,
    }
}

fn spend(eps: f64, epochs: &[&str]) -> Spend {
    Spend::new(
        "alice",
        "f".into(),
        "events",
        epochs.iter().map(|s| s.to_string()).collect(),
        eps,
        0.0,
        "q",
    )
}

#[test]
fn spends_until_the_total_then_refuses_with_the_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), &pure(1.0, 1e-5)).unwrap();
    ledger.charge(spend(0.6, &["2026Q4"])).unwrap();
    let err = ledger
        .charge(spend(0.6, &["2026Q4"]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ε=0.6") && err.contains("0.4 remains") && err.contains("2026Q4"),
        "{err}"
    );
    ledger.charge(spend(0.4, &["2026Q4"])).unwrap();
    let s = ledger.status("events", &[]).unwrap();
    assert_eq!(s.epochs[0].epsilon_spent, 1.0);
    assert_eq!(s.epochs[0].by_principal["alice"], 1.0);
}

#[test]
fn multi_epoch_spends_charge_every_epoch_and_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), &pure(1.0, 1e-5)).unwrap();
    ledger
        .set_total("events", Some("2026Q3"), 0.5, None)
        .unwrap();
    assert!(ledger.charge(spend(0.7, &["2026Q3", "2026Q4"])).is_err());
    ledger.charge(spend(0.5, &["2026Q3", "2026Q4"])).unwrap();
    let s = ledger.status("events", &[]).unwrap();
    let spent: Vec<(String, f64)> = s
        .epochs
        .iter()
        .map(|e| (e.epoch.clone(), e.epsilon_remaining))
        .collect();
    assert_eq!(spent, vec![("2026Q3".into(), 0.0), ("2026Q4".into(), 0.5)]);
}

#[test]
fn torn_tail_is_cut_and_damage_stops_spending() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), &pure(5.0, 1e-5)).unwrap();
    ledger.charge(spend(1.0, &["e"])).unwrap();
    let path = dir.path().join("ledger/ledger.jsonl");
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"0badc0de {\"kind\":\"sp").unwrap();
    ledger.charge(spend(1.0, &["e"])).unwrap();
    assert_eq!(
        ledger.status("events", &[]).unwrap().epochs[0].epsilon_spent,
        2.0
    );
    let text = fs::read_to_string(&path)
        .unwrap()
        .replacen("alice", "mallory", 1);
    fs::write(&path, text).unwrap();
    assert!(matches!(
        ledger.charge(spend(0.1, &["e"])),
        Err(LedgerError::Damaged { line: 1, .. })
    ));
}

#[test]
fn no_spend_however_small_passes_an_exhausted_total() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), &pure(1.0, 1e-5)).unwrap();
    for _ in 0..10 {
        ledger.charge(spend(0.1, &["e"])).unwrap();
    }
    for tiny in [1e-9, 1e-12, 1e-300, f64::MIN_POSITIVE] {
        assert!(
            matches!(
                ledger.charge(spend(tiny, &["e"])),
                Err(LedgerError::Insufficient { .. })
            ),
            "{tiny}"
        );
    }
    let b = &ledger.status("events", &[]).unwrap().epochs[0];
    assert_eq!((b.epsilon_spent, b.epsilon_remaining), (1.0, 0.0));
    ledger.set_total("events", None, 0.0, None).unwrap();
    assert!(ledger.charge(spend(1e-12, &["f"])).is_err());
    // A spend rounds up: a billion spends of 1e-18 would each be charged 1e-9.
    ledger.set_total("events", None, 2e-9, None).unwrap();
    ledger.charge(spend(1e-18, &["g"])).unwrap();
    ledger.charge(spend(1e-18, &["g"])).unwrap();
    assert!(ledger.charge(spend(1e-18, &["g"])).is_err());
}

#[test]
fn ledgers_without_units_are_read_rounding_up() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), &BudgetConfig::default()).unwrap();
    let mut old = spend(0.25, &["e"]);
    (old.epsilon_units, old.delta_units) = (0, 0);
    let json = serde_json::to_string(&Entry::Spend(old))
        .unwrap()
        .replace(",\"epsilon_units\":0,\"delta_units\":0", "")
        .replace(",\"accounting\":\"zcdp\"", "")
        .replace("\"kind\":\"charge\"", "\"kind\":\"spend\"");
    assert!(json.contains("\"kind\":\"spend\""), "{json}");
    assert!(!json.contains("units"), "{json}");
    let line = format!("{:08x} {json}\n", crc32(json.as_bytes()));
    fs::write(dir.path().join("ledger/ledger.jsonl"), line).unwrap();
    let b = &ledger.status("events", &[]).unwrap().epochs[0];
    assert_eq!(b.units.epsilon_spent, 250_000_000);
    assert_eq!(b.epsilon_remaining, 29.75);
}

#[test]
fn crc_matches_the_standard() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}

#[test]
fn zcdp_adds_rho_and_refuses_by_the_converted_total() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), &zcdp(30.0, 1e-4)).unwrap();
    let b = &ledger.status("events", &["e".into()]).unwrap().epochs[0];
    assert_eq!(b.accounting, Accounting::Zcdp);
    assert_eq!(b.conversion_delta, 5e-5);
    // The ρ total converts back to the ε total at the conversion δ.
    let back = epsilon_of_rho(b.rho_total, b.conversion_delta);
    assert!(back <= 30.0 && back > 29.999, "{back}");
    // Pure ε = 0.5 releases cost ρ = 0.125 each: more fit than the 60 of basic composition.
    // Bounded: a ledger that never refused would fail the count, not hang.
    let n = (0..1_000)
        .take_while(|_| ledger.charge(spend(0.5, &["e"])).is_ok())
        .count();
    let b = &ledger.status("events", &[]).unwrap().epochs[0];
    assert_eq!(n, (b.rho_total / 0.125).floor() as usize, "{b:?}");
    assert!(n > 60, "{n}");
    assert!(b.epsilon_spent <= 30.0 && b.epsilon_spent > 29.0, "{b:?}");
    assert_eq!(b.by_principal["alice"], b.rho_spent);
    // What remains can be spent exactly; then nothing, however small, passes.
    let mut rest = spend(0.0, &["e"]);
    rest.rho_units = (b.units.rho_total - b.units.rho_spent) as u64;
    ledger.charge(rest).unwrap();
    for tiny in [1e-9, 1e-12, 1e-300] {
        let err = ledger.charge(spend(0.0, &["e"]).with_rho(tiny));
        assert!(
            matches!(err, Err(LedgerError::Insufficient { .. })),
            "{tiny}"
        );
        let err = ledger.charge(spend(tiny, &["e"]));
        assert!(
            matches!(err, Err(LedgerError::Insufficient { .. })),
            "{tiny}"
        );
    }
    let err = ledger.charge(spend(0.1, &["e"])).unwrap_err().to_string();
    assert!(
        err.contains("needs ρ=0.005")
            && err.contains("0 remains")
            && err.contains("ε=30 at δ=0.00005"),
        "{err}"
    );
}

#[test]
fn a_few_large_releases_fit_fewer_than_under_basic_composition() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), &zcdp(30.0, 1e-4)).unwrap();
    let n = (0..1_000)
        .take_while(|_| ledger.charge(spend(1.0, &["e"])).is_ok())
        .count();
    // ρ = 0.5 each; documented in docs/privacy.md.
    assert!((15..30).contains(&n), "{n}");
}

#[test]
fn gaussian_spends_need_a_zcdp_epoch_and_epochs_keep_their_first_accounting() {
    let dir = tempfile::tempdir().unwrap();
    let old = Ledger::open(dir.path(), &pure(20.0, 1e-5)).unwrap();
    old.charge(spend(1.0, &["old"])).unwrap();
    let ledger = Ledger::open(dir.path(), &zcdp(20.0, 1e-5)).unwrap();
    let gaussian = spend(0.0, &["old"]).with_rho(0.01);
    assert!(matches!(
        ledger.charge(gaussian),
        Err(LedgerError::NotZcdp { .. })
    ));
    // A spend over both: each epoch is checked under its own accounting.
    ledger.charge(spend(1.0, &["old", "new"])).unwrap();
    ledger.charge(spend(0.0, &["new"]).with_rho(0.25)).unwrap();
    let s = ledger.status("events", &[]).unwrap();
    let (old_b, new_b) = (&s.epochs[1], &s.epochs[0]);
    assert_eq!((old_b.epoch.as_str(), new_b.epoch.as_str()), ("old", "new"));
    assert_eq!(old_b.accounting, Accounting::Pure);
    assert_eq!(old_b.epsilon_spent, 2.0);
    assert_eq!(new_b.accounting, Accounting::Zcdp);
    assert_eq!(new_b.rho_spent, 0.75);
    assert_eq!(
        ledger
            .accounting("events", &["old".into(), "new".into()])
            .unwrap(),
        [Accounting::Pure, Accounting::Zcdp]
    );
    // The first line records the accounting it opened its epoch with (lines written before
    // zCDP have none and read as pure: `ledgers_without_units_are_read_rounding_up`), and
    // spends are `charge` lines, which binaries from before zCDP cannot parse.
    let text = fs::read_to_string(dir.path().join("ledger/ledger.jsonl")).unwrap();
    let first = text.lines().next().unwrap();
    assert!(first.contains("\"accounting\":\"pure\"") && first.contains("\"kind\":\"charge\""));
}

#[test]
fn partition_selection_delta_has_half_the_total() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), &zcdp(30.0, 1e-4)).unwrap();
    let with_delta = |d: f64| {
        let mut s = spend(0.1, &["e"]);
        s.delta = d;
        s.delta_units = amount::delta_units(d, Round::Up).unwrap();
        s
    };
    ledger.charge(with_delta(4e-5)).unwrap();
    let err = ledger.charge(with_delta(2e-5)).unwrap_err().to_string();
    assert!(err.contains("and δ=0.00002"), "{err}");
}

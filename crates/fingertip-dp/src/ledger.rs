//! The privacy budget ledger: per key epoch and dataset, a total ε (and δ) and every spend.
//!
//! `<data>/ledger/ledger.jsonl` is append-only; each line is `<crc32 hex> <json>`. A spend is
//! checked, appended and fsynced while holding an exclusive lock on `<data>/ledger/ledger.lock`
//! (shared by every process on the data directory), and only then may the answer it pays for
//! be returned. So concurrent queries cannot overspend, a refused query spends nothing, and a
//! crash never loses a spend whose answer was seen. A torn last line (a spend whose answer was
//! never returned) is cut off before the next append; a damaged line anywhere else stops all
//! spending until an operator looks at it.
//!
//! Budgets are kept in exact integer units ([`crate::amount`]): a spend is compared with
//! what remains as integers, so a run of tiny spends cannot pass an exhausted total.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::amount::{self, DELTA_UNITS, EPSILON_UNITS, Round};

/// `[budget]` in `fingertip.toml`: the defaults for epochs whose total was not set with
/// `fingertip budget --set-total`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    /// Total ε per key epoch and dataset.
    pub epsilon_total: f64,
    /// Total δ per key epoch and dataset.
    pub delta_total: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            epsilon_total: 30.0,
            delta_total: 1e-4,
        }
    }
}

/// One charge to the budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    pub time: String,
    /// Who asked: a token id, `cli:<user>`, or `pipeline:<name>`.
    pub principal: String,
    /// [`fingerprint`] of what was asked.
    pub fingerprint: String,
    pub dataset: String,
    /// Every key epoch whose data the release could touch; each is charged in full.
    pub epochs: Vec<String>,
    pub epsilon: f64,
    pub delta: f64,
    /// A short description for people (e.g. the SQL, truncated).
    #[serde(default)]
    pub what: String,
    /// What is charged: ε in units of 1e-9, rounded up (absent in ledgers written before
    /// exact amounts; derived from `epsilon` then).
    #[serde(default)]
    pub epsilon_units: u64,
    /// δ in units of 1e-18, rounded up.
    #[serde(default)]
    pub delta_units: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Entry {
    SetTotal {
        time: String,
        dataset: String,
        epoch: Option<String>,
        epsilon_total: f64,
        delta_total: Option<f64>,
    },
    Spend(Spend),
}

/// The budget of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochBudget {
    pub epoch: String,
    pub epsilon_total: f64,
    pub epsilon_spent: f64,
    pub epsilon_remaining: f64,
    pub delta_total: f64,
    pub delta_spent: f64,
    pub spends: usize,
    /// ε spent per principal.
    pub by_principal: BTreeMap<String, f64>,
    /// The exact amounts the ledger compares (ε in 1e-9, δ in 1e-18 units).
    #[serde(skip)]
    pub units: Units,
}

/// An epoch's budget in exact units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Units {
    pub epsilon_total: u128,
    pub epsilon_spent: u128,
    pub delta_total: u128,
    pub delta_spent: u128,
}

impl Units {
    /// ε units left (0 when overspent, which the ledger never allows).
    pub fn epsilon_remaining(&self) -> u128 {
        self.epsilon_total.saturating_sub(self.epsilon_spent)
    }

    fn delta_remaining(&self) -> u128 {
        self.delta_total.saturating_sub(self.delta_spent)
    }
}

/// The budget of one dataset, per epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetStatus {
    pub dataset: String,
    pub epochs: Vec<EpochBudget>,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "privacy budget exhausted in key epoch {epoch}: this release needs ε={requested}{delta_note}, \
         {spent} of the epoch's ε={total} is already spent and {remaining} remains"
    )]
    Insufficient {
        epoch: String,
        requested: f64,
        spent: f64,
        remaining: f64,
        total: f64,
        delta_note: String,
    },
    #[error(
        "the ledger {path} is damaged at line {line}; no budget can be spent until it is repaired"
    )]
    Damaged { path: PathBuf, line: usize },
    #[error("ledger I/O on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("invalid budget: {0}")]
    Invalid(String),
}

/// A hex digest identifying a release request (SQL, parameters).
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The ledger of one data directory.
#[derive(Debug, Clone)]
pub struct Ledger {
    dir: PathBuf,
    default_epsilon_total: f64,
    default_delta_total: f64,
}

impl Ledger {
    /// Opens `<data>/ledger/`; the config's totals apply to epochs without a set total.
    pub fn open(data_dir: &Path, config: &BudgetConfig) -> Result<Self, LedgerError> {
        let dir = data_dir.join("ledger");
        fs::create_dir_all(&dir).map_err(|source| LedgerError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(Self {
            dir,
            default_epsilon_total: config.epsilon_total,
            default_delta_total: config.delta_total,
        })
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("ledger.jsonl")
    }

    fn io(&self, path: &Path) -> impl FnOnce(io::Error) -> LedgerError + '_ {
        let path = path.to_path_buf();
        move |source| LedgerError::Io { path, source }
    }

    /// Runs `f` under the cross-process ledger lock.
    fn locked<T>(&self, f: impl FnOnce() -> Result<T, LedgerError>) -> Result<T, LedgerError> {
        let path = self.dir.join("ledger.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(self.io(&path))?;
        lock.lock().map_err(self.io(&path))?;
        let out = f();
        let _ = lock.unlock();
        out
    }

    /// Reads the valid entries and the byte length they end at (a torn tail is excluded).
    fn read(&self) -> Result<(Vec<Entry>, u64), LedgerError> {
        let path = self.log_path();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(source) => return Err(LedgerError::Io { path, source }),
        };
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let mut entries = Vec::new();
        for (i, line) in bytes[..complete]
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .enumerate()
        {
            let entry = parse_line(line).ok_or_else(|| LedgerError::Damaged {
                path: path.clone(),
                line: i + 1,
            })?;
            entries.push(entry);
        }
        Ok((entries, complete as u64))
    }

    fn append(&self, entry: &Entry, valid_len: u64) -> Result<(), LedgerError> {
        let path = self.log_path();
        let json = serde_json::to_string(entry).map_err(|e| LedgerError::Invalid(e.to_string()))?;
        let line = format!("{:08x} {json}\n", crc32(json.as_bytes()));
        let created = !path.exists();
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(self.io(&path))?;
        if file.metadata().map_err(self.io(&path))?.len() != valid_len {
            file.set_len(valid_len).map_err(self.io(&path))?;
        }
        io::Seek::seek(&mut file, io::SeekFrom::Start(valid_len)).map_err(self.io(&path))?;
        file.write_all(line.as_bytes())
            .and_then(|_| file.sync_data())
            .map_err(self.io(&path))?;
        if created {
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(self.io(&self.dir))?;
        }
        Ok(())
    }

    /// Charges `spend` to each of its epochs if every one of them can afford it; durable on
    /// return. Otherwise nothing is charged.
    pub fn charge(&self, spend: Spend) -> Result<(), LedgerError> {
        let Some((eps, delta)) = spend.units() else {
            return Err(LedgerError::Invalid(format!(
                "cannot spend ε={} δ={}",
                spend.epsilon, spend.delta
            )));
        };
        self.locked(|| {
            let (entries, valid_len) = self.read()?;
            let status = self.summarize(&entries, &spend.dataset, &spend.epochs);
            for b in &status.epochs {
                let over_eps = u128::from(eps) > b.units.epsilon_remaining();
                let over_delta = u128::from(delta) > b.units.delta_remaining();
                if over_eps || over_delta {
                    return Err(insufficient(&spend, b, over_delta));
                }
            }
            self.append(&Entry::Spend(spend), valid_len)
        })
    }

    /// Sets the total ε (and optionally δ) of one epoch, or of every epoch without its own.
    pub fn set_total(
        &self,
        dataset: &str,
        epoch: Option<&str>,
        epsilon_total: f64,
        delta_total: Option<f64>,
    ) -> Result<(), LedgerError> {
        if !(epsilon_total.is_finite() && epsilon_total >= 0.0)
            || delta_total.is_some_and(|d| !(0.0..1.0).contains(&d))
        {
            return Err(LedgerError::Invalid(
                "ε total must be ≥ 0 and δ total in [0, 1)".into(),
            ));
        }
        self.locked(|| {
            let (_, valid_len) = self.read()?;
            let entry = Entry::SetTotal {
                time: now(),
                dataset: dataset.into(),
                epoch: epoch.map(Into::into),
                epsilon_total,
                delta_total,
            };
            self.append(&entry, valid_len)
        })
    }

    /// The budget of `dataset` in `epochs` and in every epoch the ledger mentions.
    pub fn status(&self, dataset: &str, epochs: &[String]) -> Result<BudgetStatus, LedgerError> {
        let (entries, _) = self.locked(|| self.read())?;
        let mut all: Vec<String> = epochs.to_vec();
        for e in &entries {
            match e {
                Entry::Spend(s) if s.dataset == dataset => all.extend(s.epochs.iter().cloned()),
                Entry::SetTotal {
                    dataset: d,
                    epoch: Some(ep),
                    ..
                } if d == dataset => all.push(ep.clone()),
                _ => {}
            }
        }
        all.sort();
        all.dedup();
        Ok(self.summarize(&entries, dataset, &all))
    }

    /// Every spend, oldest first.
    pub fn spends(&self) -> Result<Vec<Spend>, LedgerError> {
        let (entries, _) = self.locked(|| self.read())?;
        Ok(entries
            .into_iter()
            .filter_map(|e| {
                if let Entry::Spend(s) = e {
                    Some(s)
                } else {
                    None
                }
            })
            .collect())
    }

    fn summarize(&self, entries: &[Entry], dataset: &str, epochs: &[String]) -> BudgetStatus {
        let epochs = epochs
            .iter()
            .map(|epoch| self.epoch_budget(entries, dataset, epoch))
            .collect();
        BudgetStatus {
            dataset: dataset.into(),
            epochs,
        }
    }

    fn epoch_budget(&self, entries: &[Entry], dataset: &str, epoch: &str) -> EpochBudget {
        let (mut eps_total, mut delta_total) =
            (self.default_epsilon_total, self.default_delta_total);
        let (mut specific, mut spends) = (false, 0);
        let mut units = Units::default();
        let mut by_principal: BTreeMap<String, u128> = BTreeMap::new();
        for e in entries {
            match e {
                Entry::SetTotal {
                    dataset: d,
                    epoch: ep,
                    epsilon_total,
                    delta_total: dt,
                    ..
                } if d == dataset => {
                    let applies = match ep {
                        Some(ep) => ep == epoch,
                        None => !specific,
                    };
                    if applies {
                        specific |= ep.is_some();
                        eps_total = *epsilon_total;
                        delta_total = dt.unwrap_or(delta_total);
                    }
                }
                Entry::Spend(s) if s.dataset == dataset && s.epochs.iter().any(|x| x == epoch) => {
                    // A line that passed its checksum but holds no valid amount is charged
                    // as the whole budget: it can only make the ledger stricter.
                    let (eps, delta) = s.units().unwrap_or((u64::MAX, u64::MAX));
                    units.epsilon_spent += u128::from(eps);
                    units.delta_spent += u128::from(delta);
                    spends += 1;
                    *by_principal.entry(s.principal.clone()).or_insert(0) += u128::from(eps);
                }
                _ => {}
            }
        }
        units.epsilon_total = total_units(amount::epsilon_units(eps_total, Round::Down));
        units.delta_total = total_units(amount::delta_units(delta_total, Round::Down));
        let eps = |u: u128| amount::from_units(u, EPSILON_UNITS);
        EpochBudget {
            epoch: epoch.into(),
            epsilon_total: eps_total,
            epsilon_spent: eps(units.epsilon_spent),
            epsilon_remaining: eps(units.epsilon_remaining()),
            delta_total,
            delta_spent: amount::from_units(units.delta_spent, DELTA_UNITS),
            spends,
            by_principal: by_principal.into_iter().map(|(p, u)| (p, eps(u))).collect(),
            units,
        }
    }
}

fn total_units(units: Option<u64>) -> u128 {
    units.map_or(0, u128::from)
}

fn insufficient(spend: &Spend, b: &EpochBudget, over_delta: bool) -> LedgerError {
    let delta_note = if over_delta {
        format!(
            " and δ={} (δ spent {}, total {})",
            spend.delta, b.delta_spent, b.delta_total
        )
    } else {
        String::new()
    };
    LedgerError::Insufficient {
        epoch: b.epoch.clone(),
        requested: spend.epsilon,
        spent: round9(b.epsilon_spent),
        remaining: round9(b.epsilon_remaining),
        total: b.epsilon_total,
        delta_note,
    }
}

fn parse_line(line: &[u8]) -> Option<Entry> {
    let text = std::str::from_utf8(line).ok()?;
    let (crc, json) = text.split_once(' ')?;
    if u32::from_str_radix(crc, 16).ok()? != crc32(json.as_bytes()) {
        return None;
    }
    serde_json::from_str(json).ok()
}

/// CRC-32 (IEEE), bitwise: the ledger is small and this keeps the crate's dependencies lean.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn round9(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

/// Now, RFC 3339 UTC.
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Spend {
    /// A spend stamped now.
    pub fn new(
        principal: &str,
        fingerprint: String,
        dataset: &str,
        epochs: Vec<String>,
        epsilon: f64,
        delta: f64,
        what: &str,
    ) -> Self {
        let what: String = what.chars().take(500).collect();
        Self {
            time: now(),
            principal: principal.into(),
            fingerprint,
            dataset: dataset.into(),
            epochs,
            epsilon,
            delta,
            what,
            epsilon_units: amount::epsilon_units(epsilon, Round::Up).unwrap_or(0),
            delta_units: amount::delta_units(delta, Round::Up).unwrap_or(0),
        }
    }

    /// The exact (ε, δ) units charged, or `None` when the amounts are not valid. Ledgers
    /// written before exact amounts have no units: they are derived, rounding up.
    fn units(&self) -> Option<(u64, u64)> {
        let eps = amount::epsilon_units(self.epsilon, Round::Up)?;
        let delta = amount::delta_units(self.delta, Round::Up)?;
        if delta >= DELTA_UNITS {
            return None;
        }
        Some((eps.max(self.epsilon_units), delta.max(self.delta_units)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let ledger = Ledger::open(
            dir.path(),
            &BudgetConfig {
                epsilon_total: 1.0,
                delta_total: 1e-5,
            },
        )
        .unwrap();
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
        let ledger = Ledger::open(
            dir.path(),
            &BudgetConfig {
                epsilon_total: 1.0,
                delta_total: 1e-5,
            },
        )
        .unwrap();
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
        let ledger = Ledger::open(
            dir.path(),
            &BudgetConfig {
                epsilon_total: 5.0,
                delta_total: 1e-5,
            },
        )
        .unwrap();
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
        let ledger = Ledger::open(
            dir.path(),
            &BudgetConfig {
                epsilon_total: 1.0,
                delta_total: 1e-5,
            },
        )
        .unwrap();
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
            .replace(",\"epsilon_units\":0,\"delta_units\":0", "");
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
}

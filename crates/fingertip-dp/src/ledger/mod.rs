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
//! what remains as integers, so a run of tiny spends cannot pass an exhausted total. How spends
//! add up — ρ under zCDP (the default) or ε under basic composition — is
//! [`crate::accounting`]'s; an epoch keeps the accounting of its first spend.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::accounting::{
    Accounting, RHO_UNITS, conversion_delta, epsilon_of_rho, rho_for_epsilon,
    rho_units_of_epsilon_units,
};
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
    /// How spends compose in epochs that have none yet: `zcdp` (default) or `pure`.
    pub accounting: Accounting,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            epsilon_total: 30.0,
            delta_total: 1e-4,
            accounting: Accounting::Zcdp,
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
    /// The ρ of the release's zCDP part (discrete Gaussian noise), on top of its pure
    /// (`epsilon`) and approximate (`delta`) parts. Only epochs under zCDP accept it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rho: f64,
    /// ρ in units of 1e-12, rounded up.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub rho_units: u64,
    /// The accounting of the epochs this spend opened (ledgers written before zCDP: pure).
    #[serde(default = "legacy_accounting")]
    pub accounting: Accounting,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn is_zero_u64(x: &u64) -> bool {
    *x == 0
}

fn legacy_accounting() -> Accounting {
    Accounting::Pure
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
    /// Written as `charge` since zCDP accounting: a binary from before it would read a zCDP
    /// spend (ε = 0, its cost in `rho`) as free, so it must not parse these lines at all — it
    /// then finds the ledger damaged and stops spending. Lines written before are `spend`.
    #[serde(rename = "charge", alias = "spend")]
    Spend(Spend),
}

/// The budget of one epoch, in both views: (ε, δ), and under zCDP the ρ the ledger adds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochBudget {
    pub epoch: String,
    pub accounting: Accounting,
    pub epsilon_total: f64,
    /// Under zCDP: the ε the ρ spent converts to at `conversion_delta`.
    pub epsilon_spent: f64,
    pub epsilon_remaining: f64,
    pub delta_total: f64,
    /// δ spent by approximate releases (partition selection).
    pub delta_spent: f64,
    /// Under zCDP: the δ that converts ρ to ε (half of `delta_total`); 0 under pure.
    pub conversion_delta: f64,
    /// Under zCDP: the ρ the (ε, δ) total allows, spent and left; 0 under pure.
    pub rho_total: f64,
    pub rho_spent: f64,
    pub rho_remaining: f64,
    pub spends: usize,
    /// What each principal spent, in the epoch's measure (ρ under zCDP, ε under pure).
    pub by_principal: BTreeMap<String, f64>,
    /// The exact amounts the ledger compares (ε in 1e-9, δ in 1e-18 units).
    #[serde(skip)]
    pub units: Units,
}

/// An epoch's budget in exact units (ε 1e-9, δ 1e-18, ρ 1e-12). Under zCDP, `delta_total`
/// is what partition selection may spend (the total less the conversion share).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Units {
    pub epsilon_total: u128,
    pub epsilon_spent: u128,
    pub delta_total: u128,
    pub delta_spent: u128,
    pub rho_total: u128,
    pub rho_spent: u128,
}

impl Units {
    /// ε units left (0 when overspent, which the ledger never allows).
    pub fn epsilon_remaining(&self) -> u128 {
        self.epsilon_total.saturating_sub(self.epsilon_spent)
    }

    fn delta_remaining(&self) -> u128 {
        self.delta_total.saturating_sub(self.delta_spent)
    }

    fn rho_remaining(&self) -> u128 {
        self.rho_total.saturating_sub(self.rho_spent)
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
        "privacy budget exhausted in key epoch {epoch}: this release needs {measure}={requested}{delta_note}, \
         {spent} of the epoch's {measure}={total}{total_note} is already spent and {remaining} remains"
    )]
    Insufficient {
        epoch: String,
        /// `ε` or `ρ`: what the epoch's accounting adds.
        measure: &'static str,
        requested: f64,
        spent: f64,
        remaining: f64,
        total: f64,
        total_note: String,
        delta_note: String,
    },
    #[error(
        "key epoch {epoch} uses pure ε accounting, which cannot charge a zCDP release (ρ={rho}); \
         run it with Laplace noise or start zCDP accounting in a new epoch"
    )]
    NotZcdp { epoch: String, rho: f64 },
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
    default_accounting: Accounting,
}

impl Ledger {
    /// Opens `<data>/ledger/`; the config's totals apply to epochs without a set total.
    pub fn open(data_dir: &Path, config: &BudgetConfig) -> Result<Self, LedgerError> {
        let dir = fingertip_model::DataDir::new(data_dir).ledger();
        fs::create_dir_all(&dir).map_err(|source| LedgerError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(Self {
            dir,
            default_epsilon_total: config.epsilon_total,
            default_delta_total: config.delta_total,
            default_accounting: config.accounting,
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
        let Some(cost) = spend.units() else {
            return Err(LedgerError::Invalid(format!(
                "cannot spend ε={} δ={} ρ={}",
                spend.epsilon, spend.delta, spend.rho
            )));
        };
        self.locked(|| {
            let (entries, valid_len) = self.read()?;
            let status = self.summarize(&entries, &spend.dataset, &spend.epochs);
            for b in &status.epochs {
                check_affordable(&spend, &cost, b)?;
            }
            // An epoch's accounting is that of its first spend: the default when it was made.
            let mut spend = spend;
            spend.accounting = self.default_accounting;
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
        let mut accounting = None;
        let mut spent = Cost::default();
        let mut by_principal: BTreeMap<String, Cost> = BTreeMap::new();
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
                    accounting.get_or_insert(s.accounting);
                    // A line that passed its checksum but holds no valid amount is charged
                    // as the whole budget: it can only make the ledger stricter.
                    let cost = s.units().unwrap_or(Cost::MAX);
                    spent.add(&cost);
                    by_principal
                        .entry(s.principal.clone())
                        .or_default()
                        .add(&cost);
                    spends += 1;
                }
                _ => {}
            }
        }
        let accounting = accounting.unwrap_or(self.default_accounting);
        let totals = Totals::new(accounting, eps_total, delta_total);
        let units = Units {
            epsilon_total: total_units(amount::epsilon_units(eps_total, Round::Down)),
            epsilon_spent: spent.epsilon,
            delta_total: total_units(amount::delta_units(totals.approx_delta, Round::Down)),
            delta_spent: spent.delta,
            rho_total: (totals.rho * RHO_UNITS as f64).floor() as u128,
            rho_spent: spent.rho,
        };
        let eps = |u: u128| amount::from_units(u, EPSILON_UNITS);
        let rho = |u: u128| amount::from_units(u, RHO_UNITS);
        let (epsilon_spent, epsilon_remaining) = match accounting {
            Accounting::Pure => (eps(units.epsilon_spent), eps(units.epsilon_remaining())),
            Accounting::Zcdp => {
                let spent = round9(epsilon_of_rho(rho(units.rho_spent), totals.conversion));
                (spent, round9((eps_total - spent).max(0.0)))
            }
        };
        let measure = |c: &Cost| match accounting {
            Accounting::Pure => eps(c.epsilon),
            Accounting::Zcdp => rho(c.rho),
        };
        EpochBudget {
            epoch: epoch.into(),
            accounting,
            epsilon_total: eps_total,
            epsilon_spent,
            epsilon_remaining,
            delta_total,
            delta_spent: amount::from_units(units.delta_spent, DELTA_UNITS),
            conversion_delta: totals.conversion,
            rho_total: rho(units.rho_total),
            rho_spent: rho(units.rho_spent),
            rho_remaining: rho(units.rho_remaining()),
            spends,
            by_principal: by_principal
                .iter()
                .map(|(p, c)| (p.clone(), measure(c)))
                .collect(),
            units,
        }
    }

    /// The accounting each of `epochs` uses (that of its first spend, or the default).
    pub fn accounting(
        &self,
        dataset: &str,
        epochs: &[String],
    ) -> Result<Vec<Accounting>, LedgerError> {
        let status = self.status(dataset, epochs)?;
        Ok(epochs
            .iter()
            .map(|e| {
                status
                    .epochs
                    .iter()
                    .find(|b| &b.epoch == e)
                    .map_or(self.default_accounting, |b| b.accounting)
            })
            .collect())
    }
}

/// What an epoch's (ε, δ) total allows under its accounting.
struct Totals {
    /// ρ under zCDP (0 under pure).
    rho: f64,
    /// The δ that converts ρ to ε (0 under pure).
    conversion: f64,
    /// The δ approximate releases may spend.
    approx_delta: f64,
}

impl Totals {
    fn new(accounting: Accounting, epsilon_total: f64, delta_total: f64) -> Self {
        match accounting {
            Accounting::Pure => Self {
                rho: 0.0,
                conversion: 0.0,
                approx_delta: delta_total,
            },
            Accounting::Zcdp => {
                let conversion = conversion_delta(delta_total);
                Self {
                    rho: rho_for_epsilon(epsilon_total, conversion),
                    conversion,
                    approx_delta: delta_total - conversion,
                }
            }
        }
    }
}

/// A spend's cost in exact units: its pure ε part, approximate δ and zCDP ρ part.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    epsilon: u128,
    delta: u128,
    rho: u128,
}

impl Cost {
    const MAX: Cost = Cost {
        epsilon: u64::MAX as u128,
        delta: u64::MAX as u128,
        rho: u64::MAX as u128,
    };

    /// Adds one spend's cost; its pure part also adds ε²/2 to ρ (per spend: the square of a
    /// sum would overcharge).
    fn add(&mut self, spend: &Cost) {
        let pure_rho = rho_units_of_epsilon_units(spend.epsilon.min(u128::from(u64::MAX)) as u64);
        self.epsilon = self.epsilon.saturating_add(spend.epsilon);
        self.delta = self.delta.saturating_add(spend.delta);
        self.rho = self.rho.saturating_add(spend.rho).saturating_add(pure_rho);
    }
}

fn total_units(units: Option<u64>) -> u128 {
    units.map_or(0, u128::from)
}

/// Refuses `spend` (of exact `cost`) if epoch `b` cannot afford it under its accounting.
fn check_affordable(spend: &Spend, cost: &Cost, b: &EpochBudget) -> Result<(), LedgerError> {
    let mut all = Cost::default();
    all.add(cost);
    let over_delta = all.delta > b.units.delta_remaining();
    let over = match b.accounting {
        Accounting::Pure if cost.rho > 0 => {
            return Err(LedgerError::NotZcdp {
                epoch: b.epoch.clone(),
                rho: spend.rho,
            });
        }
        Accounting::Pure => all.epsilon > b.units.epsilon_remaining(),
        Accounting::Zcdp => all.rho > b.units.rho_remaining(),
    };
    if over || over_delta {
        return Err(insufficient(spend, &all, b, over_delta));
    }
    Ok(())
}

fn insufficient(spend: &Spend, cost: &Cost, b: &EpochBudget, over_delta: bool) -> LedgerError {
    let delta_note = if over_delta {
        format!(
            " and δ={} (δ spent {}, total {})",
            spend.delta, b.delta_spent, b.delta_total
        )
    } else {
        String::new()
    };
    let (measure, requested, spent, remaining, total, total_note) = match b.accounting {
        Accounting::Pure => (
            "ε",
            spend.epsilon,
            b.epsilon_spent,
            b.epsilon_remaining,
            b.epsilon_total,
            String::new(),
        ),
        Accounting::Zcdp => (
            "ρ",
            amount::from_units(cost.rho, RHO_UNITS),
            b.rho_spent,
            b.rho_remaining,
            b.rho_total,
            format!(
                " (ε={} at δ={} under zCDP)",
                b.epsilon_total, b.conversion_delta
            ),
        ),
    };
    LedgerError::Insufficient {
        epoch: b.epoch.clone(),
        measure,
        requested: round9(requested),
        spent: round9(spent),
        remaining: round9(remaining),
        total: round9(total),
        total_note,
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
            rho: 0.0,
            rho_units: 0,
            accounting: Accounting::default(),
        }
    }

    /// A spend whose release also has a zCDP part of `rho_units` (units of 1e-12).
    pub fn with_rho_units(mut self, rho_units: u128) -> Self {
        self.rho_units = u64::try_from(rho_units).unwrap_or(u64::MAX);
        self.rho = amount::from_units(rho_units, RHO_UNITS);
        self
    }

    /// A spend whose release also has a zCDP part of `rho` (discrete Gaussian noise).
    pub fn with_rho(mut self, rho: f64) -> Self {
        self.rho = rho;
        self.rho_units = amount::to_units(rho, RHO_UNITS, Round::Up).unwrap_or(u64::MAX);
        self
    }

    /// The exact units charged, or `None` when the amounts are not valid. Ledgers written
    /// before exact amounts have no units: they are derived, rounding up.
    fn units(&self) -> Option<Cost> {
        let eps = amount::epsilon_units(self.epsilon, Round::Up)?;
        let delta = amount::delta_units(self.delta, Round::Up)?;
        let rho = amount::to_units(self.rho, RHO_UNITS, Round::Up)?;
        if delta >= DELTA_UNITS {
            return None;
        }
        Some(Cost {
            epsilon: u128::from(eps.max(self.epsilon_units)),
            delta: u128::from(delta.max(self.delta_units)),
            rho: u128::from(rho.max(self.rho_units)),
        })
    }
}

#[cfg(test)]
mod tests;

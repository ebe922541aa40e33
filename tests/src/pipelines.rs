//! Pipeline runs for the end-to-end tests: data directories filled by the simulator (whose
//! exact indices are known), pipeline directories copied from `pipelines/` with their ε scaled
//! or with one deliberate defect, the runner as the `fingertip` binary builds it, and the
//! published outputs read back.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fingertip_anonymize::EpochScheme;
use fingertip_dp::{BudgetConfig, Ledger};
use fingertip_model::Catalog;
use fingertip_pipelines::{
    Domain, IndexRow, PipelineError, PipelinesConfig, RunRequest, RunSummary, Runner,
};
use fingertip_sim::{App, EventStream, LakeOptions, Population, SimOptions, Truth, TruthConfig};

/// Sunday 2026-11-15, 23:00 in Asia/Shanghai (15:00 UTC): simulated weeks end with 2026-W46.
pub const END: &str = "2026-11-15T15:00:00Z";
/// The two weeks a two-week simulation ending at [`END`] covers.
pub const WEEKS: [&str; 2] = ["2026-W45", "2026-W46"];

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

/// The shipped pipeline files.
pub fn repo_pipelines() -> PathBuf {
    repo_root().join("pipelines")
}

/// (index, week, app_id, org_unit): the key of one published or true value.
pub type Key = (String, String, String, String);

/// A simulated population written into a data directory, with its exact indices.
pub struct Simulated {
    pub pop: Arc<Population>,
    pub truth: Truth,
}

impl Simulated {
    /// The apps and townships: public, as registered app tokens and the org-unit table make them.
    pub fn domain(&self) -> Domain {
        let apps = App::ALL.iter().map(|a| a.id().to_string()).collect();
        let units = self
            .pop
            .org
            .townships
            .iter()
            .map(|t| t.unit.code.to_string())
            .collect();
        Domain {
            apps: Some(apps),
            units: Some(units),
        }
    }

    /// Every true value by key.
    pub fn truth_values(&self) -> HashMap<Key, f64> {
        self.truth
            .rows()
            .map(|r| {
                (
                    (r.index.as_str().to_string(), r.week, r.app_id, r.org_unit),
                    r.value,
                )
            })
            .collect()
    }
}

/// Simulates `workers` staff over `weeks` weeks ending at [`END`], writes the events into the
/// lake of `data` (anonymized with its keys) and the org-unit table into
/// `<data>/dimensions/org_units.csv`, and computes the true indices.
pub fn simulate(data: &Path, workers: u32, weeks: u32, seed: u64) -> Simulated {
    let mut options = SimOptions::new(workers, weeks, seed);
    options.end_ms = fingertip_model::parse_rfc3339_ms(END).expect("END");
    let pop = Arc::new(Population::new(options));
    std::fs::create_dir_all(data.join("dimensions")).expect("dimensions dir");
    let csv = std::fs::File::create(data.join("dimensions").join("org_units.csv"))
        .expect("org_units.csv");
    pop.org.write_csv(csv).expect("write org units");
    fingertip_sim::write_lake(EventStream::new(pop.clone()), data, &LakeOptions::default())
        .expect("write lake");
    let truth = fingertip_sim::compute_truth(EventStream::new(pop.clone()), TruthConfig::default());
    Simulated { pop, truth }
}

/// Copies every `*.toml` of `pipelines/` into `to` with each `epsilon = x` multiplied by
/// `factor`; returns the ε of one run of the copies.
pub fn copy_pipelines(to: &Path, factor: f64) -> f64 {
    std::fs::create_dir_all(to).expect("pipelines dir");
    let mut total = 0.0;
    for (name, text) in pipeline_files() {
        let mut out = String::new();
        for line in text.lines() {
            match line
                .strip_prefix("epsilon = ")
                .and_then(|v| v.trim().parse::<f64>().ok())
            {
                Some(eps) => {
                    total += eps * factor;
                    out.push_str(&format!("epsilon = {:?}\n", eps * factor));
                }
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        std::fs::write(to.join(name), out).expect("write pipeline copy");
    }
    total
}

/// The shipped pipeline files: (file name, text), sorted by name.
pub fn pipeline_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(repo_pipelines())
        .expect("pipelines/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).expect("read pipeline"),
            )
        })
        .collect();
    files.sort();
    files
}

/// The ε one run of the shipped pipelines spends.
pub fn shipped_epsilon() -> f64 {
    shipped_epsilons().iter().sum()
}

/// The ρ a shipped run is charged under zCDP: Σ ε²/2 over the shipped pipelines.
pub fn shipped_rho() -> f64 {
    shipped_epsilons().iter().map(|e| e * e / 2.0).sum()
}

fn shipped_epsilons() -> Vec<f64> {
    pipeline_files()
        .iter()
        .flat_map(|(_, t)| {
            t.lines()
                .filter_map(|l| l.strip_prefix("epsilon = ")?.trim().parse::<f64>().ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Copies the shipped pipelines into `to` unchanged, then rewrites `file` with `edit`; returns
/// the path of the edited file. Panics when `edit` leaves the file unchanged.
pub fn broken_copy(to: &Path, file: &str, edit: impl FnOnce(&str) -> String) -> PathBuf {
    copy_pipelines(to, 1.0);
    let path = to.join(file);
    let text = std::fs::read_to_string(&path).expect("pipeline copy");
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit of {file} changed nothing");
    std::fs::write(&path, edited).expect("write broken copy");
    path
}

/// The runner of a data directory as `fingertip pipeline run` builds it with no
/// `fingertip.toml` (default pipelines config, embedded catalog, quarterly key epochs), with a
/// budget of `epsilon_total` per key epoch.
pub fn runner(data: &Path, domain: Domain, epsilon_total: f64) -> Runner {
    let budget = BudgetConfig {
        epsilon_total,
        ..BudgetConfig::default()
    };
    runner_with(data, domain, &budget)
}

/// Like [`runner`], with a whole budget configuration (e.g. pure accounting).
pub fn runner_with(data: &Path, domain: Domain, budget: &BudgetConfig) -> Runner {
    let ledger = Ledger::open(data, budget).expect("ledger");
    Runner::new(
        data,
        PipelinesConfig::default(),
        Catalog::embedded(),
        ledger,
        EpochScheme::Quarter,
        domain,
    )
}

/// Runs `runner` over `weeks` on a fresh multi-threaded runtime.
pub fn run(
    runner: &Runner,
    out: &Path,
    weeks: &[&str],
    pipelines: Option<&Path>,
) -> Result<(Vec<IndexRow>, RunSummary), PipelineError> {
    let request = RunRequest {
        out: out.to_path_buf(),
        weeks: weeks.iter().map(|w| w.to_string()).collect(),
        pipelines: pipelines.map(Path::to_path_buf),
        principal: "pipeline:test".into(),
        progress: false,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(runner.run(&request))
}

/// Registers an app token for every simulated app (`fingertip token create`), which makes the
/// apps a public domain for `fingertip pipeline run`.
pub fn create_app_tokens(data: &Path) {
    for app in App::ALL {
        crate::server::create_token(data, "app", Some(app.id()));
    }
}

/// The roll-up level of a cell: `app_unit`, `unit` (all apps), `app` (all units) or `all`.
pub fn level(app_id: &str, org_unit: &str) -> &'static str {
    match (app_id == "*", org_unit == "*") {
        (false, false) => "app_unit",
        (true, false) => "unit",
        (false, true) => "app",
        (true, true) => "all",
    }
}

/// A published value with its interval (not suppressed, value and interval present).
pub fn published(row: &IndexRow) -> Option<(f64, f64, f64)> {
    match (row.suppressed, row.value, row.ci_low, row.ci_high) {
        (false, Some(v), Some(lo), Some(hi)) => Some((v, lo, hi)),
        _ => None,
    }
}

/// How many published cells of one index have a true value, and how many of their intervals
/// hold it, overall and by level.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    pub cells: usize,
    pub covered: usize,
    pub by_level: BTreeMap<&'static str, (usize, usize)>,
}

impl Coverage {
    pub fn rate(&self) -> f64 {
        self.covered as f64 / self.cells.max(1) as f64
    }

    /// `level covered/cells` for every level, e.g. `all 2/2, app 11/12, …`.
    pub fn levels(&self) -> String {
        self.by_level
            .iter()
            .map(|(l, (c, n))| format!("{l} {c}/{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Coverage per index of the published cells that have a true value.
pub fn coverage(rows: &[IndexRow], truth: &HashMap<Key, f64>) -> BTreeMap<String, Coverage> {
    let mut out: BTreeMap<String, Coverage> = BTreeMap::new();
    for row in rows {
        let Some((_, lo, hi)) = published(row) else {
            continue;
        };
        let Some(t) = truth.get(&(
            row.index.clone(),
            row.week.clone(),
            row.app_id.clone(),
            row.org_unit.clone(),
        )) else {
            continue;
        };
        let hit = lo - 1e-9 <= *t && *t <= hi + 1e-9;
        let c = out.entry(row.index.clone()).or_default();
        c.cells += 1;
        c.covered += usize::from(hit);
        let l = c
            .by_level
            .entry(level(&row.app_id, &row.org_unit))
            .or_default();
        l.0 += usize::from(hit);
        l.1 += 1;
    }
    out
}

/// Parses CSV text (RFC 4180: quoted fields may hold commas, quotes and line breaks).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            ('\r', false) => {}
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

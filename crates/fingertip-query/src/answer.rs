//! What a researcher gets back: rows, per-column noise metadata, per-row 95% intervals, and
//! what the release cost. Rendered as JSON, CSV or a terminal table; `batches` holds the same
//! rows as Arrow (for Arrow Flight SQL, which adds the intervals and metadata).

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::bounds::ResolvedBounds;
use fingertip_dp::EpochBudget;

/// How one output column was produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ColumnMeta {
    pub name: String,
    /// `group_key`, `persons`, `count`, `sum`, `avg`, `quantile`, `scaled` (an exact affine
    /// function of one of those, e.g. a unit conversion) or `derived`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    /// Noise scale in the column's units (for `avg`: of the numerator sum).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_scale: Option<f64>,
    /// Half-width of the 95% interval from noise alone (when the same for every row).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci95_half_width: Option<f64>,
    /// The row value range used for clamping, when the column aggregates a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_range: Option<[f64; 2]>,
    /// A person's total per group was clamped to this range (sums and averages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contribution_range: Option<[f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A DP answer.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub columns: Vec<ColumnMeta>,
    pub rows: Vec<Map<String, Value>>,
    /// Per row, `{column: [low, high]}` for every noisy column with an interval.
    pub intervals: Vec<Map<String, Value>>,
    pub epsilon_spent: f64,
    pub delta_spent: f64,
    pub epochs: Vec<String>,
    pub bounds: ResolvedBounds,
    pub groups_released: usize,
    /// Groups that passed partition selection but had a noisy person count below
    /// `min_persons`, and were withheld.
    pub groups_suppressed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition_threshold: Option<i64>,
    pub min_persons: u32,
    /// The budget of the charged epochs after this release.
    pub budget: Vec<EpochBudget>,
    /// `rows` as Arrow, in the same order: the released values with their SQL types.
    #[serde(skip)]
    pub schema: SchemaRef,
    #[serde(skip)]
    pub batches: Vec<RecordBatch>,
}

impl ColumnMeta {
    /// True for noisy columns that carry a 95% interval (`persons`, `count`, `sum`, `avg`,
    /// `scaled`).
    pub fn has_interval(&self) -> bool {
        !matches!(self.kind, "group_key" | "derived" | "quantile")
    }
}

impl Answer {
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// CSV with a `<col>_ci_low`, `<col>_ci_high` pair after each noisy column.
    pub fn to_csv(&self) -> String {
        let header: Vec<String> = self.columns.iter().flat_map(|c| self.headers(c)).collect();
        let mut out = header
            .iter()
            .map(|h| csv_field(h))
            .collect::<Vec<_>>()
            .join(",")
            + "\n";
        for (row, ci) in self.rows.iter().zip(&self.intervals) {
            let cells: Vec<String> = self
                .columns
                .iter()
                .flat_map(|c| self.cells(c, row, ci))
                .map(|s| csv_field(&s))
                .collect();
            out += &(cells.join(",") + "\n");
        }
        out
    }

    /// A table for terminals.
    pub fn to_table(&self) -> String {
        let header: Vec<String> = self.columns.iter().flat_map(|c| self.headers(c)).collect();
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .zip(&self.intervals)
            .map(|(r, ci)| {
                self.columns
                    .iter()
                    .flat_map(|c| self.cells(c, r, ci))
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].chars().count())
                    .chain([header[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        let mut out = line(&header) + "\n";
        out += &(widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  ")
            + "\n");
        for r in &rows {
            out += &(line(r) + "\n");
        }
        out += &format!(
            "\n{} row(s); ε spent {} (δ {}) in epoch(s) {}; {} group(s) withheld below {} persons\n",
            self.rows.len(),
            self.epsilon_spent,
            self.delta_spent,
            self.epochs.join(", "),
            self.groups_suppressed,
            self.min_persons
        );
        out
    }

    fn headers(&self, c: &ColumnMeta) -> Vec<String> {
        let mut h = vec![c.name.clone()];
        if c.has_interval() {
            h.push(format!("{}_ci_low", c.name));
            h.push(format!("{}_ci_high", c.name));
        }
        h
    }

    fn cells(
        &self,
        c: &ColumnMeta,
        row: &Map<String, Value>,
        ci: &Map<String, Value>,
    ) -> Vec<String> {
        let text = |v: Option<&Value>| match v {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n
                .as_f64()
                .map(format_number)
                .unwrap_or_else(|| n.to_string()),
            Some(other) => other.to_string(),
        };
        let mut cells = vec![text(row.get(&c.name))];
        if c.has_interval() {
            let pair = ci.get(&c.name).and_then(Value::as_array);
            cells.push(text(pair.and_then(|p| p.first())));
            cells.push(text(pair.and_then(|p| p.get(1))));
        }
        cells
    }
}

fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x:.3}")
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

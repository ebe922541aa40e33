//! Headline numbers: the latest week's all-apps/all-units value of every index, and which app
//! and which org unit carry the highest `burden_index`, with a plain statement of whether the
//! leader is clearly apart from the runner-up. Apps and units are ranked; people never are.

use crate::html::{escape, lead_para, para, table};
use crate::model::{IndexInfo, ReportInput};
use crate::select::{self, Cell, Comparison, Dimension, Labeled};
use crate::text::{self, Scale};

/// The composite index whose leaders the headline names.
const COMPOSITE: &str = "burden_index";

pub(super) fn section(input: &ReportInput, latest: &str) -> String {
    let mut out = format!(
        "<section id=\"headline\">\n<h2>Headline numbers: week {}</h2>\n",
        escape(latest)
    );
    out.push_str(
        "<p>All apps and all org units together. Every value comes with a 95% interval \
         because random noise is added to protect privacy; see \
         <a href=\"#how-to-read\">how to read an interval</a>.</p>\n",
    );
    out.push_str(&totals(input, latest));
    if let Some(info) = input.indices.iter().find(|i| i.name == COMPOSITE) {
        out.push_str(&leaders(input, info, latest));
    }
    out.push_str("</section>\n");
    out
}

fn totals(input: &ReportInput, latest: &str) -> String {
    let rows: Vec<Vec<String>> = input
        .indices
        .iter()
        .map(|info| total_row(input, info, latest))
        .collect();
    table(
        &format!("All apps and all org units, week {latest}"),
        &["Index", "Value", "95% interval", "Unit"],
        &rows,
    )
}

fn total_row(input: &ReportInput, info: &IndexInfo, latest: &str) -> Vec<String> {
    let rows = select::rows_of(&input.rows, &info.name);
    let scale = Scale::of(&info.unit);
    let (value, interval) = cell_texts(select::total(&rows, latest), scale);
    vec![info.title.clone(), value, interval, info.unit.clone()]
}

/// The value and interval columns for a cell.
pub(super) fn cell_texts(cell: Cell, scale: Scale) -> (String, String) {
    match cell {
        Cell::Value(e) => (
            text::number(e.value, scale),
            text::interval(&e, scale).unwrap_or_else(|| "not published".to_owned()),
        ),
        Cell::Suppressed => ("suppressed (too few people)".to_owned(), String::new()),
        Cell::NoValue => ("no value published".to_owned(), String::new()),
    }
}

fn leaders(input: &ReportInput, info: &IndexInfo, latest: &str) -> String {
    let rows = select::rows_of(&input.rows, &info.name);
    let mut out = format!(
        "<h3>Where the burden is highest ({}, week {})</h3>\n",
        escape(&info.title),
        escape(latest)
    );
    for (dim, kind) in [(Dimension::Apps, "app"), (Dimension::OrgUnits, "org unit")] {
        let c = select::compare(&rows, info, latest, dim);
        out.push_str(&para(None, &leader_sentence(&c, info, kind)));
        if !c.suppressed.is_empty() {
            let what = (kind, if kind == "app" { "apps" } else { "org units" });
            let lead = format!(
                "Not ranked, suppressed (too few people), {}:",
                super::count(c.suppressed.len(), what)
            );
            out.push_str(&lead_para(
                "suppressed keys",
                &lead,
                &c.suppressed.join(", "),
            ));
        }
    }
    out
}

fn leader_sentence(c: &Comparison, info: &IndexInfo, kind: &str) -> String {
    let scale = Scale::of(&info.unit);
    let est = |l: &Labeled| match l.cell {
        Cell::Value(e) => text::estimate(&e, scale),
        _ => String::new(),
    };
    match c.shown.as_slice() {
        [] => format!("No {kind} has a published value this week."),
        [only] => format!(
            "Only one {kind} has a published value: {}, {}.",
            only.label,
            est(only)
        ),
        [first, second, ..] => format!(
            "The {kind} with the highest burden is {}: {}. {}",
            first.label,
            est(first),
            runner_up(first, second, info.higher_is_worse, kind, scale)
        ),
    }
}

fn runner_up(
    first: &Labeled,
    second: &Labeled,
    higher_is_worse: bool,
    kind: &str,
    scale: Scale,
) -> String {
    let (Some(a), Some(b)) = (first.cell.estimate(), second.cell.estimate()) else {
        return String::new();
    };
    let apart = if higher_is_worse {
        a.low() > b.high()
    } else {
        a.high() < b.low()
    };
    let next = format!(
        "the next {kind}'s ({}: {})",
        second.label,
        text::estimate(&b, scale)
    );
    if apart {
        format!("Its interval is clearly apart from {next}, so the difference is meaningful.")
    } else {
        format!("Its interval overlaps {next}, so the two cannot be told apart with confidence.")
    }
}

//! One section per index: what it measures, the clause it evidences and what it does not
//! measure; the weekly trend; the latest week across apps and across org units. Every
//! suppressed or empty cell is named under its chart, and the numbers behind each chart are in
//! a collapsed table.

use super::headline::cell_texts;
use super::{count, key_list};
use crate::charts::{ChartText, compare, trend};
use crate::error::ReportError;
use crate::html::{details, escape, figure, lead_para, para, table};
use crate::model::{IndexInfo, IndexRow, ReportInput};
use crate::select::{self, Cell, Comparison, Dimension, Labeled, MAX_BARS};
use crate::text::{self, Scale};

/// The element id of index section `number`.
pub(super) fn anchor(number: usize) -> String {
    format!("index-{number}")
}

/// Everything a section's parts need.
struct Ctx<'a> {
    info: &'a IndexInfo,
    number: usize,
    rows: Vec<&'a IndexRow>,
    scale: Scale,
}

pub(super) fn section(
    input: &ReportInput,
    info: &IndexInfo,
    number: usize,
    weeks: &[String],
) -> Result<String, ReportError> {
    let ctx = Ctx {
        info,
        number,
        rows: select::rows_of(&input.rows, &info.name),
        scale: Scale::of(&info.unit),
    };
    let latest = weeks.last().ok_or(ReportError::NoWeeks)?;
    let mut out = intro(&ctx);
    out.push_str(&latest_line(&ctx, latest));
    out.push_str(&trend_block(&ctx, weeks)?);
    for dim in [Dimension::Apps, Dimension::OrgUnits] {
        out.push_str(&comparison_block(&ctx, latest, dim)?);
    }
    out.push_str("</section>\n");
    Ok(out)
}

fn intro(ctx: &Ctx<'_>) -> String {
    let info = ctx.info;
    let direction = if info.higher_is_worse {
        "higher means more burden"
    } else {
        "lower means more burden"
    };
    format!(
        "<section class=\"index\" id=\"{}\">\n<h2>{}</h2>\n\
         <p class=\"meta\">Index <code>{}</code> · unit: {} · {direction}</p>\n{}\
         <dl>\n<dt>Policy clause it evidences</dt>\n<dd>{}</dd>\n\
         <dt>What it does not measure</dt>\n<dd>{}</dd>\n</dl>\n",
        anchor(ctx.number),
        escape(&info.title),
        escape(&info.name),
        escape(&info.unit),
        para(None, &info.description),
        escape(&info.clause),
        escape(&info.not_measured),
    )
}

fn latest_line(ctx: &Ctx<'_>, latest: &str) -> String {
    let value = match select::total(&ctx.rows, latest) {
        Cell::Value(e) => text::estimate(&e, ctx.scale),
        Cell::Suppressed => "suppressed (too few people)".to_owned(),
        Cell::NoValue => "no value published".to_owned(),
    };
    format!(
        "<p class=\"latest\">Week {}, all apps and all org units: <strong>{}</strong></p>\n",
        escape(latest),
        escape(&value)
    )
}

fn trend_block(ctx: &Ctx<'_>, weeks: &[String]) -> Result<String, ReportError> {
    let points = select::trend(&ctx.rows, weeks);
    let title = format!(
        "{}: weekly trend, all apps and all org units",
        ctx.info.title
    );
    let id = format!("chart-{}-trend", ctx.number);
    let svg = trend::trend(&chart_text(ctx, &id, &title), &points)?;
    let mut out = String::from("<h3>Weekly trend, all apps and all org units</h3>\n");
    out.push_str(&figure(
        &svg,
        "Dots: the value for each week. Vertical lines: the 95% interval. A cross on the \
         axis marks a week without a published value.",
    ));
    out.push_str(&gap_lists(&points, ("week", "weeks")));
    out.push_str(&details(
        "Numbers behind this chart",
        &numbers_table(&title, "Week", &points, ctx.scale, false),
    ));
    Ok(out)
}

/// The suppressed and empty cells of a trend, listed by name.
fn gap_lists(points: &[Labeled], what: (&str, &str)) -> String {
    let named = |want: Cell| -> Vec<String> {
        points
            .iter()
            .filter(|p| p.cell == want)
            .map(|p| p.label.clone())
            .collect()
    };
    let comparison = Comparison {
        suppressed: named(Cell::Suppressed),
        no_value: named(Cell::NoValue),
        ..Comparison::default()
    };
    gap_paragraphs(&comparison, what)
}

/// Paragraphs naming the suppressed and the empty cells; `what` is (singular, plural).
fn gap_paragraphs(c: &Comparison, what: (&str, &str)) -> String {
    let mut out = String::new();
    if !c.suppressed.is_empty() {
        let lead = format!(
            "Suppressed (too few people), {}:",
            count(c.suppressed.len(), what)
        );
        out.push_str(&lead_para(
            "suppressed keys",
            &lead,
            &key_list(&c.suppressed),
        ));
    }
    if !c.no_value.is_empty() {
        let lead = format!("No value published, {}:", count(c.no_value.len(), what));
        out.push_str(&lead_para("note keys", &lead, &key_list(&c.no_value)));
    }
    out
}

fn comparison_block(ctx: &Ctx<'_>, latest: &str, dim: Dimension) -> Result<String, ReportError> {
    let (one, many, others) = names(dim);
    let c = select::compare(&ctx.rows, ctx.info, latest, dim);
    let mut out = format!("<h3>By {one}, week {}, {others}</h3>\n", escape(latest));
    if c.is_empty() {
        out.push_str(&para(
            Some("note"),
            &format!(
                "No values by {one} are published for this index; it is only published for \
                 all {many} together."
            ),
        ));
        return Ok(out);
    }
    let title = format!("{} by {one}, week {latest}, {others}", ctx.info.title);
    if !c.shown.is_empty() {
        out.push_str(&comparison_figure(ctx, &c, &title, dim)?);
    }
    out.push_str(&hidden_note(ctx.info, &c, (one, many)));
    out.push_str(&gap_paragraphs(&c, (one, many)));
    out.push_str(&uncertain_note(&c, (one, many)));
    if !c.shown.is_empty() {
        let table = numbers_table(&title, column(dim), &c.shown, ctx.scale, true);
        out.push_str(&details("Numbers behind this chart", &table));
    }
    Ok(out)
}

/// Singular and plural name of the compared key, and what the other key is fixed to.
fn names(dim: Dimension) -> (&'static str, &'static str, &'static str) {
    match dim {
        Dimension::Apps => ("app", "apps", "all org units together"),
        Dimension::OrgUnits => ("org unit", "org units", "all apps together"),
    }
}

/// The compared key as a column header.
fn column(dim: Dimension) -> &'static str {
    match dim {
        Dimension::Apps => "App",
        Dimension::OrgUnits => "Org unit",
    }
}

fn comparison_figure(
    ctx: &Ctx<'_>,
    c: &Comparison,
    title: &str,
    dim: Dimension,
) -> Result<String, ReportError> {
    let (one, many, _) = names(dim);
    let id = format!("chart-{}-{}", ctx.number, many.replace(' ', "-"));
    let svg = compare::comparison(&chart_text(ctx, &id, title), &c.shown)?;
    let order = if ctx.info.higher_is_worse {
        "highest first"
    } else {
        "lowest (most burden) first"
    };
    let caption = format!(
        "Bars: the value for each {one}, {order}. Black lines: the 95% interval. Where two \
         {many}' intervals overlap, they cannot be told apart with confidence."
    );
    Ok(figure(&svg, &caption))
}

/// The org units too uncertain to draw, named, and where to read them instead.
fn uncertain_note(c: &Comparison, what: (&str, &str)) -> String {
    if c.too_uncertain.is_empty() {
        return String::new();
    }
    let lead = format!(
        "Too uncertain to compare, {} (the 95% interval is wider than half the value either \
         way, or than ±25 points for a share); the finest level informative for them is the \
         all-units value above — larger org units or a larger ε make them comparable:",
        count(c.too_uncertain.len(), what)
    );
    lead_para("note keys", &lead, &key_list(&c.too_uncertain))
}

fn hidden_note(info: &IndexInfo, c: &Comparison, (one, many): (&str, &str)) -> String {
    if c.hidden == 0 {
        return String::new();
    }
    let (shown_as, rest) = if info.higher_is_worse {
        ("highest", "lower")
    } else {
        ("lowest", "higher")
    };
    let (noun, verb) = if c.hidden == 1 {
        (one, "is")
    } else {
        (many, "are")
    };
    para(
        Some("note"),
        &format!(
            "Showing the {MAX_BARS} {many} with the {shown_as} values; {} more {noun} with \
             {rest} values {verb} not shown.",
            c.hidden
        ),
    )
}

fn chart_text<'a>(ctx: &'a Ctx<'_>, id: &'a str, title: &'a str) -> ChartText<'a> {
    ChartText {
        id,
        title,
        unit: &ctx.info.unit,
        scale: ctx.scale,
    }
}

/// The numbers behind a chart: key, value, interval and ε, optionally with a rank.
fn numbers_table(
    caption: &str,
    key: &str,
    cells: &[Labeled],
    scale: Scale,
    ranked: bool,
) -> String {
    let rows: Vec<Vec<String>> = cells
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let (value, interval) = cell_texts(l.cell, scale);
            let eps = l.epsilon.map(text::epsilon).unwrap_or_default();
            let mut row = vec![l.label.clone(), value, interval, eps];
            if ranked {
                row.insert(0, (i + 1).to_string());
            }
            row
        })
        .collect();
    let mut header = vec![key, "Value", "95% interval", "ε spent"];
    if ranked {
        header.insert(0, "Rank");
    }
    table(caption, &header, &rows)
}

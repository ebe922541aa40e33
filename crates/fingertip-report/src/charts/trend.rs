//! The weekly trend chart of an index's all-apps/all-units value: dots joined by a line, a
//! whisker for each week's 95% interval, and a labelled marker on the axis for each week that
//! was suppressed or has no value (so no week silently disappears).

use plotters::prelude::*;
use plotters::style::FontTransform;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    Area, CAP, ChartText, FONT, GRID, INK, MUTED, SUPPRESSED, WHISKER, fail, render, text_style,
    value_range,
};
use crate::error::ReportError;
use crate::select::{Cell, Labeled};
use crate::text;

const HEIGHT: u32 = 340;

/// One x position of the trend: the week's index and its cell.
type Week<'a> = (usize, &'a Labeled);

/// The trend chart of `weeks` (one entry per week, in order; at least one).
pub(crate) fn trend(meta: &ChartText<'_>, weeks: &[Labeled]) -> Result<String, ReportError> {
    render(meta, (super::WIDTH, HEIGHT), |root| draw(root, meta, weeks))
}

fn draw(root: &Area<'_>, meta: &ChartText<'_>, weeks: &[Labeled]) -> Result<(), ReportError> {
    let err = fail(meta.title);
    let last = weeks.len().saturating_sub(1);
    let y = value_range(weeks.iter().filter_map(|w| w.cell.estimate()), 0.08);
    let mut chart = ChartBuilder::on(root)
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d((0..last).into_segmented(), y.clone())
        .map_err(&err)?;
    let x_label = |v: &SegmentValue<usize>| week_label(v, weeks);
    let y_label = |v: &f64| text::tick(*v, meta.scale);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .x_labels(weeks.len().min(13))
        .y_labels(6)
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .x_desc("ISO week")
        .y_desc(meta.unit)
        .label_style((FONT, super::FONT_SIZE))
        .axis_desc_style((FONT, super::FONT_SIZE))
        .draw()
        .map_err(&err)?;
    let indexed: Vec<Week<'_>> = weeks.iter().enumerate().collect();
    for run in runs(&indexed) {
        chart
            .draw_series(LineSeries::new(run, INK.stroke_width(2)))
            .map_err(&err)?;
    }
    chart
        .draw_series(indexed.iter().filter_map(|w| whisker(*w)))
        .map_err(&err)?;
    let cap = |i: usize, y: f64| {
        EmptyElement::at((SegmentValue::CenterOf(i), y))
            + PathElement::new(vec![(-CAP, 0), (CAP, 0)], WHISKER.stroke_width(1))
    };
    let caps = |&(i, w): &Week<'_>| {
        let (lo, hi) = w.cell.estimate()?.interval?;
        Some([cap(i, lo), cap(i, hi)])
    };
    chart
        .draw_series(indexed.iter().filter_map(caps).flatten())
        .map_err(&err)?;
    chart
        .draw_series(indexed.iter().filter_map(|w| dot(*w)))
        .map_err(&err)?;
    let gap_marker = |&(i, w): &Week<'_>| {
        let (word, color) = gap_word(w.cell)?;
        let style = text_style(color)
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Left, VPos::Center));
        Some(
            EmptyElement::at((SegmentValue::CenterOf(i), y.start))
                + Cross::new((0, -8), 5, color.stroke_width(2))
                + Text::new(word, (0, -20), style),
        )
    };
    chart
        .draw_series(indexed.iter().filter_map(gap_marker))
        .map_err(&err)?;
    Ok(())
}

/// The week label under a tick (only ticks at a week's centre are labelled).
fn week_label(v: &SegmentValue<usize>, weeks: &[Labeled]) -> String {
    match v {
        SegmentValue::CenterOf(i) => weeks.get(*i).map(|w| w.label.clone()).unwrap_or_default(),
        _ => String::new(),
    }
}

/// Consecutive weeks with values, each drawn as one line (gaps stay gaps).
fn runs(weeks: &[Week<'_>]) -> Vec<Vec<(SegmentValue<usize>, f64)>> {
    let mut out: Vec<Vec<_>> = vec![Vec::new()];
    for (i, w) in weeks {
        match (w.cell.estimate(), out.last_mut()) {
            (Some(e), Some(run)) => run.push((SegmentValue::CenterOf(*i), e.value)),
            (None, Some(run)) if !run.is_empty() => out.push(Vec::new()),
            _ => {}
        }
    }
    out.retain(|run| run.len() > 1);
    out
}

fn whisker((i, w): Week<'_>) -> Option<PathElement<(SegmentValue<usize>, f64)>> {
    let (lo, hi) = w.cell.estimate()?.interval?;
    let x = SegmentValue::CenterOf(i);
    Some(PathElement::new(
        vec![(x.clone(), lo), (x, hi)],
        WHISKER.stroke_width(1),
    ))
}

fn dot((i, w): Week<'_>) -> Option<Circle<(SegmentValue<usize>, f64), i32>> {
    let e = w.cell.estimate()?;
    Some(Circle::new(
        (SegmentValue::CenterOf(i), e.value),
        4,
        INK.filled(),
    ))
}

/// The word and colour marking a week without a published value.
fn gap_word(cell: Cell) -> Option<(&'static str, RGBColor)> {
    match cell {
        Cell::Value(_) => None,
        Cell::Suppressed => Some(("suppressed", SUPPRESSED)),
        Cell::NoValue => Some(("no value", MUTED)),
    }
}

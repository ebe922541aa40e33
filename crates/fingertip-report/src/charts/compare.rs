//! The comparison chart across apps or org units: one horizontal bar per key, worst at the top,
//! a whisker for the 95% interval and the value written at the end. Suppressed keys are not
//! drawn here; the HTML lists them under the chart.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    Area, BAR, CAP, ChartText, FONT, GRID, WHISKER, fail, render, short_label, text_style,
    value_range,
};
use crate::error::ReportError;
use crate::select::{Estimate, Labeled};
use crate::text;

const ROW_HEIGHT: u32 = 28;
const FRAME_HEIGHT: u32 = 84;

type Coord = (f64, SegmentValue<usize>);
/// One bar: its row from the bottom (0 = lowest) and its estimate.
type Row = (usize, Estimate);

/// The comparison chart of `bars` (worst first, at least one, all with values).
pub(crate) fn comparison(meta: &ChartText<'_>, bars: &[Labeled]) -> Result<String, ReportError> {
    let height = FRAME_HEIGHT + ROW_HEIGHT * u32::try_from(bars.len()).unwrap_or(u32::MAX / 64);
    render(meta, (super::WIDTH, height), |root| draw(root, meta, bars))
}

fn draw(root: &Area<'_>, meta: &ChartText<'_>, bars: &[Labeled]) -> Result<(), ReportError> {
    let err = fail(meta.title);
    let n = bars.len();
    let rows: Vec<Row> = bars
        .iter()
        .enumerate()
        .filter_map(|(rank, b)| Some((n - 1 - rank, b.cell.estimate()?)))
        .collect();
    let x = value_range(rows.iter().map(|(_, e)| *e), 0.16);
    let mut chart = ChartBuilder::on(root)
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(label_area(bars))
        // At least two rows: plotters maps a one-value range (0..0) to a single pixel row, and
        // the bar's margins then give it a negative height.
        .build_cartesian_2d(x, (0..n.saturating_sub(1).max(1)).into_segmented())
        .map_err(&err)?;
    let y_label = |v: &SegmentValue<usize>| row_label(v, bars);
    let x_label = |v: &f64| text::tick(*v, meta.scale);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .y_labels(n)
        .x_labels(8)
        .y_label_formatter(&y_label)
        .x_label_formatter(&x_label)
        .x_desc(meta.unit)
        .label_style((FONT, super::FONT_SIZE))
        .axis_desc_style((FONT, super::FONT_SIZE))
        .draw()
        .map_err(&err)?;
    chart.draw_series(rows.iter().map(bar)).map_err(&err)?;
    chart
        .draw_series(rows.iter().filter_map(whisker))
        .map_err(&err)?;
    let cap = |x: f64, row: usize| {
        EmptyElement::at((x, SegmentValue::CenterOf(row)))
            + PathElement::new(vec![(0, -CAP), (0, CAP)], WHISKER.stroke_width(2))
    };
    let caps = |&(row, e): &Row| e.interval.map(|(lo, hi)| [cap(lo, row), cap(hi, row)]);
    chart
        .draw_series(rows.iter().filter_map(caps).flatten())
        .map_err(&err)?;
    let style = text_style(WHISKER).pos(Pos::new(HPos::Left, VPos::Center));
    let value_text = |r: &Row| {
        EmptyElement::at(value_anchor(r))
            + Text::new(text::number(r.1.value, meta.scale), (8, 0), style.clone())
    };
    chart
        .draw_series(rows.iter().map(value_text))
        .map_err(&err)?;
    Ok(())
}

/// Room for the longest (shortened) label, roughly 7 px a character.
fn label_area(bars: &[Labeled]) -> u32 {
    let longest = bars
        .iter()
        .map(|b| short_label(&b.label).chars().count())
        .max()
        .unwrap_or(0);
    u32::try_from(longest * 7 + 16)
        .unwrap_or(u32::MAX)
        .clamp(60, 240)
}

/// The key written beside a bar (bars are numbered from the bottom).
fn row_label(v: &SegmentValue<usize>, bars: &[Labeled]) -> String {
    match v {
        SegmentValue::CenterOf(row) => bars
            .len()
            .checked_sub(row + 1)
            .and_then(|rank| bars.get(rank))
            .map(|b| short_label(&b.label))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn bar(&(row, e): &Row) -> Rectangle<Coord> {
    let mut rect = Rectangle::new(
        [
            (0.0, SegmentValue::Exact(row)),
            (e.value, SegmentValue::Exact(row + 1)),
        ],
        BAR.filled(),
    );
    rect.set_margin(5, 5, 0, 0);
    rect
}

fn whisker(&(row, e): &Row) -> Option<PathElement<Coord>> {
    let (lo, hi) = e.interval?;
    let y = SegmentValue::CenterOf(row);
    Some(PathElement::new(
        vec![(lo, y.clone()), (hi, y)],
        WHISKER.stroke_width(2),
    ))
}

/// Where a bar's value is written: right of the bar or its whisker, whichever ends further
/// right.
fn value_anchor(&(row, e): &Row) -> Coord {
    (e.value.max(e.high()).max(0.0), SegmentValue::CenterOf(row))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::Cell;
    use crate::text::Scale;

    fn labeled(label: &str, value: f64) -> Labeled {
        Labeled {
            label: label.to_string(),
            cell: Cell::Value(Estimate {
                value,
                interval: Some((value - 3.0, value + 3.0)),
            }),
            epsilon: Some(0.1),
        }
    }

    /// Browsers reject (and log) negative sizes; noise can leave any number of bars.
    #[test]
    fn no_bar_has_a_negative_size_whatever_the_number_of_bars() {
        let meta = ChartText {
            id: "c",
            title: "t",
            unit: "u",
            scale: Scale::Number,
        };
        for n in 1..=5 {
            let bars: Vec<Labeled> = (0..n)
                .map(|i| labeled(&format!("unit-{i}"), 4.0 - 3.0 * i as f64))
                .collect();
            let svg = comparison(&meta, &bars).expect("renders");
            assert!(svg.matches("<rect").count() > n, "{n} bars:\n{svg}");
            for attr in ["height=\"-", "width=\"-", "height=\"0\""] {
                assert!(!svg.contains(attr), "{n} bars: {attr} in\n{svg}");
            }
        }
    }
}

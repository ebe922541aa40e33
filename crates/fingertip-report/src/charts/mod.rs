//! Charts, drawn with plotters' SVG backend into strings: the weekly trend
//! ([`trend::trend`]) and the comparison across apps or org units ([`compare::comparison`]).
//!
//! This module owns *how a chart looks*: sizes, colours, value ranges, interval whiskers, and
//! the accessible wrapper (`role="img"` and a `<title>`) added to each plotters SVG. Plotting
//! errors become [`ReportError::Chart`]; nothing here panics on a drawing failure.

pub(crate) mod compare;
pub(crate) mod trend;

use std::ops::Range;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::ReportError;
use crate::html::escape;
use crate::select::Estimate;
use crate::text::Scale;

/// Chart width in SVG user units; CSS scales it down on narrow screens.
pub(crate) const WIDTH: u32 = 880;
/// Font family for chart text: the reader's own sans-serif font, nothing fetched.
const FONT: &str = "sans-serif";
/// Font size handed to plotters (the SVG backend writes size / 1.24, about 14px).
const FONT_SIZE: u32 = 17;
/// Dots and lines (dark blue, 8:1 against white).
const INK: RGBColor = RGBColor(31, 78, 121);
/// Bars (mid blue, above 4:1 against white).
const BAR: RGBColor = RGBColor(74, 127, 176);
/// Interval whiskers.
const WHISKER: RGBColor = RGBColor(34, 34, 34);
/// Grid lines.
const GRID: RGBColor = RGBColor(222, 222, 222);
/// Markers and text for suppressed cells (dark orange, 5:1 against white).
const SUPPRESSED: RGBColor = RGBColor(166, 77, 0);
/// Text for cells without a value.
const MUTED: RGBColor = RGBColor(96, 96, 96);
/// Half-length of a whisker's end mark, in pixels.
const CAP: i32 = 5;

/// What every chart needs besides its data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChartText<'a> {
    /// Unique element id for the chart's `<title>`.
    pub id: &'a str,
    /// Plain-text title (escaped here).
    pub title: &'a str,
    /// Axis description for the values (escaped by plotters).
    pub unit: &'a str,
    /// How values are written on the axis.
    pub scale: Scale,
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Converts any plotters error into a [`ReportError::Chart`] for the chart titled `title`.
fn fail<E: std::fmt::Display>(title: &str) -> impl Fn(E) -> ReportError + '_ {
    move |e| ReportError::chart(title, e)
}

/// Draws one chart of `size` into a string and makes it accessible.
fn render(
    meta: &ChartText<'_>,
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> Result<(), ReportError>,
) -> Result<String, ReportError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(fail(meta.title))?;
        draw(&root)?;
        root.present().map_err(fail(meta.title))?;
    }
    accessible(&svg, meta)
}

/// Adds `role="img"`, `aria-labelledby` and a `<title>` to the SVG plotters produced.
fn accessible(svg: &str, meta: &ChartText<'_>) -> Result<String, ReportError> {
    let open_end = svg
        .starts_with("<svg ")
        .then(|| svg.find('>'))
        .flatten()
        .ok_or_else(|| ReportError::chart(meta.title, "unexpected SVG output"))?;
    let id = escape(meta.id);
    Ok(format!(
        "{} role=\"img\" aria-labelledby=\"{id}\">\n<title id=\"{id}\">{}</title>{}",
        &svg[..open_end],
        escape(meta.title),
        &svg[open_end + 1..]
    ))
}

/// The value axis range: covers 0, every value and every interval, with headroom on top
/// (`top_pad`, a fraction of the span) for labels.
fn value_range(estimates: impl Iterator<Item = Estimate>, top_pad: f64) -> Range<f64> {
    let (lo, hi) = estimates.fold((0.0_f64, 0.0_f64), |(lo, hi), e| {
        (lo.min(e.low()).min(e.value), hi.max(e.high()).max(e.value))
    });
    let hi = if hi - lo > f64::EPSILON { hi } else { lo + 1.0 };
    let span = hi - lo;
    let bottom = if lo < 0.0 { lo - span * 0.05 } else { lo };
    bottom..hi + span * top_pad
}

/// Shortens a label for an axis (full names are in the tables).
fn short_label(label: &str) -> String {
    const MAX: usize = 30;
    if label.chars().count() <= MAX {
        return label.to_owned();
    }
    let mut s: String = label.chars().take(MAX - 1).collect();
    s.push('…');
    s
}

fn text_style(color: RGBColor) -> TextStyle<'static> {
    (FONT, FONT_SIZE).into_font().color(&color)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_covers_zero_values_and_intervals() {
        let e = Estimate {
            value: 5.0,
            interval: Some((-1.0, 9.0)),
        };
        let r = value_range(std::iter::once(e), 0.1);
        assert!(r.start < -1.0 && r.end >= 9.0);
        let r = value_range(std::iter::empty(), 0.1);
        assert!(r.start == 0.0 && r.end > 1.0);
    }

    #[test]
    fn title_is_added_and_escaped() {
        let meta = ChartText {
            id: "c1",
            title: "a <b>",
            unit: "u",
            scale: Scale::Number,
        };
        let svg = accessible("<svg width=\"1\">\n</svg>", &meta).expect("wraps");
        assert!(svg.starts_with("<svg width=\"1\" role=\"img\" aria-labelledby=\"c1\">"));
        assert!(svg.contains("<title id=\"c1\">a &lt;b&gt;</title>"));
        assert!(accessible("<g>", &meta).is_err());
    }

    #[test]
    fn long_labels_are_shortened() {
        assert_eq!(short_label("abc"), "abc");
        assert_eq!(short_label(&"x".repeat(40)).chars().count(), 30);
    }
}

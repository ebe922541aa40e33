//! Words and numbers for readers who are not statisticians: number formatting (percentages for
//! shares, sensible decimals otherwise), ε and δ in plain terms, and how to read an interval.
//!
//! Everything here returns plain text (no markup); the HTML layer escapes it like any other
//! string. Nothing here sees input strings.

use crate::select::Estimate;

/// How an index's values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scale {
    /// A share in 0..1, written as a percentage.
    Percent,
    /// Any other quantity, written with a few significant decimals.
    Number,
}

impl Scale {
    /// The scale of a unit: units that start with "share" are percentages.
    pub fn of(unit: &str) -> Scale {
        if unit.trim().to_ascii_lowercase().starts_with("share") {
            Scale::Percent
        } else {
            Scale::Number
        }
    }
}

/// `v` written for a reader, e.g. `12.3`, `0.42`, `1250` or `23.4%`.
pub(crate) fn number(v: f64, scale: Scale) -> String {
    let s = match scale {
        Scale::Percent => format!("{:.1}%", v * 100.0),
        Scale::Number if v.abs() >= 100.0 => format!("{v:.0}"),
        Scale::Number if v.abs() >= 10.0 => format!("{v:.1}"),
        Scale::Number => format!("{v:.2}"),
    };
    without_negative_zero(s)
}

/// A shorter form for chart axes (fewer decimals).
pub(crate) fn tick(v: f64, scale: Scale) -> String {
    let s = match scale {
        Scale::Percent => format!("{:.0}%", v * 100.0),
        Scale::Number if v.abs() >= 10.0 || v == v.trunc() => format!("{v:.0}"),
        Scale::Number => format!("{v:.1}"),
    };
    without_negative_zero(s)
}

fn without_negative_zero(s: String) -> String {
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| matches!(c, '0' | '.' | '%')) => rest.to_owned(),
        _ => s,
    }
}

/// The interval alone, e.g. `10.1 to 14.5`.
pub(crate) fn interval(e: &Estimate, scale: Scale) -> Option<String> {
    e.interval
        .map(|(lo, hi)| format!("{} to {}", number(lo, scale), number(hi, scale)))
}

/// A value with its interval, e.g. `12.3 (95% interval 10.1 to 14.5)`.
pub(crate) fn estimate(e: &Estimate, scale: Scale) -> String {
    match interval(e, scale) {
        Some(i) => format!("{} (95% interval {i})", number(e.value, scale)),
        None => format!("{} (no interval published)", number(e.value, scale)),
    }
}

/// ε written compactly: `1`, `0.5`, `0.125`, or `2e-4` when very small.
pub(crate) fn epsilon(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.001 {
        return format!("{v:e}");
    }
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// δ in scientific notation with a "1 in N" reading, e.g. `1e-7 (about 1 in 10,000,000)`.
pub(crate) fn delta(v: f64) -> String {
    if v <= 0.0 {
        return "0 (no chance of the guarantee failing)".to_owned();
    }
    let one_in = (1.0 / v).round().max(1.0);
    format!("{v:e} (about 1 in {})", thousands(one_in))
}

fn thousands(v: f64) -> String {
    let digits = format!("{v:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What ε means, for this run's ε.
pub(crate) fn epsilon_meaning(eps: f64) -> String {
    format!(
        "ε (epsilon) measures how much the published numbers can reveal about any one person. \
         Whatever anyone concludes from this report, the odds of that conclusion change by at \
         most a factor of e^ε (e ≈ 2.718) whether or not a particular person's data was included; for this \
         run (ε = {}) that factor is {}. Smaller ε means more noise and more privacy. Each \
         release spends ε from a fixed budget per key epoch; once the budget is used up, \
         nothing more is released about that epoch.",
        epsilon(eps),
        factor(eps.exp())
    )
}

fn factor(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.2}")
    } else {
        format!("about {}", thousands(v))
    }
}

/// What δ means.
pub(crate) const DELTA_MEANING: &str = "δ (delta) is the small probability that the ε \
     guarantee does not hold. It is kept far smaller than one divided by the number of people \
     in the data.";

/// What suppression means, for `min_persons`.
pub(crate) fn suppression(min_persons: u32) -> String {
    format!(
        "A group (an app, an org unit or a week) with fewer than {min_persons} people, counted \
         with noise, is not published. It is shown as \"suppressed (too few people)\", never \
         silently left out."
    )
}

/// How to read an interval, one paragraph per point.
pub(crate) const HOW_TO_READ: [&str; 4] = [
    "Every number in this report has random noise added to protect privacy. The 95% interval \
     is the range that contains the true value 95 times out of 100 given that noise. It covers \
     only the privacy noise, not other errors (for example an app that does not report all \
     of its use).",
    "A difference between two apps, two org units or two weeks is only meaningful if their \
     intervals are clearly apart. If the intervals overlap, treat the two values as not \
     distinguishable.",
    "Near zero (or near 100% for a share) the noise can push a value slightly below zero or \
     above 100%; read it as \"about zero\" (or \"about all\").",
    "Charts show the value as a bar or dot and the interval as a thin line with end marks.",
];

/// The report's principle, stated once at the top.
pub(crate) const PRINCIPLE: &str = "This report ranks the apps and organisational units that \
     impose work on front-line staff, never the staff themselves. No number in it describes \
     or identifies an individual person.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number(0.234, Scale::Percent), "23.4%");
        assert_eq!(number(-0.0001, Scale::Number), "0.00");
        assert_eq!(number(-0.0001, Scale::Percent), "0.0%");
        assert_eq!(number(12.345, Scale::Number), "12.3");
        assert_eq!(number(1234.5, Scale::Number), "1234");
        assert_eq!(tick(0.5, Scale::Percent), "50%");
        assert_eq!(tick(2.5, Scale::Number), "2.5");
        assert_eq!(tick(-0.0, Scale::Number), "0");
    }

    #[test]
    fn privacy_numbers() {
        assert_eq!(epsilon(1.0), "1");
        assert_eq!(epsilon(0.125), "0.125");
        assert_eq!(epsilon(0.0002), "2e-4");
        assert_eq!(delta(1e-7), "1e-7 (about 1 in 10,000,000)");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(999.0), "999");
    }

    #[test]
    fn units() {
        assert_eq!(Scale::of("share"), Scale::Percent);
        assert_eq!(Scale::of("Share of sessions"), Scale::Percent);
        assert_eq!(Scale::of("minutes per worker per week"), Scale::Number);
    }
}

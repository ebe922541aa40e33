//! The report's sections in reading order: header and contents, headline numbers
//! ([`headline`]), one section per index ([`index`]), privacy and how to read the numbers
//! ([`privacy`]), and a footer.
//!
//! This module owns *what the reader sees and in which order*. It takes numbers from
//! [`crate::select`], words from [`crate::text`], charts from [`crate::charts`] and builds
//! markup only through [`crate::html`], which escapes every input string.

mod headline;
mod index;
mod privacy;

use crate::error::ReportError;
use crate::html::{escape, para};
use crate::model::ReportInput;
use crate::text;

/// The report body for `input`, whose weeks, sorted, are `weeks` (at least one).
pub(crate) fn body(input: &ReportInput, weeks: &[String]) -> Result<String, ReportError> {
    let latest = weeks.last().ok_or(ReportError::NoWeeks)?;
    let mut out = header(input, weeks);
    out.push_str(&contents(input));
    out.push_str(&headline::section(input, latest));
    for (number, info) in input.indices.iter().enumerate() {
        out.push_str(&index::section(input, info, number, weeks)?);
    }
    out.push_str(&privacy::section(&input.privacy));
    out.push_str(FOOTER);
    Ok(out)
}

fn header(input: &ReportInput, weeks: &[String]) -> String {
    let first = weeks.first().map_or("", String::as_str);
    let last = weeks.last().map_or("", String::as_str);
    let period = if first == last {
        format!("ISO week {first}")
    } else {
        format!("ISO weeks {first} to {last}")
    };
    format!(
        "<header>\n<h1>{}</h1>\n{}{}</header>\n",
        escape(&input.title),
        para(
            Some("meta"),
            &format!(
                "Generated {}. Covers {period}. Privacy budget used by this run: ε = {}, \
                 δ = {} (see the privacy section).",
                input.generated_at,
                text::epsilon(input.privacy.epsilon_this_run),
                text::delta(input.privacy.delta_this_run),
            )
        ),
        para(Some("principle"), text::PRINCIPLE),
    )
}

fn contents(input: &ReportInput) -> String {
    let mut out = String::from(
        "<nav aria-label=\"Contents\">\n<h2>Contents</h2>\n<ol>\n\
         <li><a href=\"#headline\">Headline numbers</a></li>\n",
    );
    for (number, info) in input.indices.iter().enumerate() {
        out.push_str(&format!(
            "<li><a href=\"#{}\">{}</a></li>\n",
            index::anchor(number),
            escape(&info.title)
        ));
    }
    out.push_str(
        "<li><a href=\"#privacy\">Privacy, and how to read the numbers</a></li>\n</ol>\n</nav>\n",
    );
    out
}

/// "1 week", "3 weeks": `n` with the singular or plural of `what`.
fn count(n: usize, (one, many): (&str, &str)) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Keys (apps, org units, weeks) as one comma-separated line.
fn key_list(keys: &[String]) -> String {
    keys.join(", ")
}

const FOOTER: &str = "<footer>\n<p>This file is self-contained: it loads nothing from the \
     network and needs no JavaScript. Charts are drawn as inline SVG; the numbers behind each \
     chart are in the table under it.</p>\n</footer>\n";

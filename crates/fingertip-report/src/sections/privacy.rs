//! The privacy section: the budget this run used (ε, δ), the epoch's spent and total budget,
//! the privacy unit, the suppression threshold, what ε means in plain words and how to read an
//! interval.

use crate::html::{escape, para};
use crate::model::PrivacySummary;
use crate::text;

pub(super) fn section(p: &PrivacySummary) -> String {
    let mut out = String::from(
        "<section id=\"privacy\">\n<h2>Privacy, and how to read the numbers</h2>\n\
         <h3>Privacy budget</h3>\n",
    );
    out.push_str(&budget_table(p));
    out.push_str("<h3>What ε and δ mean</h3>\n");
    out.push_str(&para(None, &text::epsilon_meaning(p.epsilon_this_run)));
    out.push_str(&para(None, text::DELTA_MEANING));
    out.push_str("<h3>Who is protected</h3>\n");
    out.push_str(&para(
        None,
        &format!(
            "The privacy unit is {}. The guarantee above holds for each such unit: adding or \
             removing all of one person's events in an epoch changes what this report shows \
             only within the limits set by ε and δ.",
            p.privacy_unit
        ),
    ));
    out.push_str(&para(None, &text::suppression(p.min_persons)));
    out.push_str("<h3 id=\"how-to-read\">How to read an interval</h3>\n");
    for point in text::HOW_TO_READ {
        out.push_str(&para(None, point));
    }
    out.push_str("</section>\n");
    out
}

fn budget_table(p: &PrivacySummary) -> String {
    let mut out = String::from("<table>\n<caption>Budget used</caption>\n<tbody>\n");
    let rows = [
        (
            "ε (epsilon) used by this run",
            escape(&text::epsilon(p.epsilon_this_run)),
        ),
        (
            "δ (delta) used by this run",
            escape(&text::delta(p.delta_this_run)),
        ),
        ("ε spent in this epoch, of the total", epoch_budget(p)),
        ("Key epochs covered", escape(&p.epochs.join(", "))),
        ("Privacy unit", escape(&p.privacy_unit)),
        (
            "Smallest group published",
            escape(&format!("{} people", p.min_persons)),
        ),
    ];
    for (label, value_html) in rows {
        out.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{value_html}</td></tr>\n",
            escape(label)
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// "3.2 of 10 (32%)" with a bar; the bar is decorative, the text carries the numbers.
fn epoch_budget(p: &PrivacySummary) -> String {
    let spent = text::epsilon(p.epsilon_spent_in_epoch);
    let total = text::epsilon(p.epsilon_total_per_epoch);
    if p.epsilon_total_per_epoch <= 0.0 {
        return escape(&format!("{spent} of {total}"));
    }
    let share = (p.epsilon_spent_in_epoch / p.epsilon_total_per_epoch * 100.0).clamp(0.0, 100.0);
    format!(
        "{} <div class=\"budget\" aria-hidden=\"true\"><span style=\"width: {share:.1}%\"></span></div>",
        escape(&format!("{spent} of {total} ({share:.0}% used)"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> PrivacySummary {
        PrivacySummary {
            epsilon_this_run: 0.75,
            delta_this_run: 1e-6,
            epsilon_spent_in_epoch: 3.0,
            epsilon_total_per_epoch: 12.0,
            epochs: vec!["2026Q4".into()],
            min_persons: 15,
            privacy_unit: "one <person>".into(),
        }
    }

    #[test]
    fn states_budget_and_escapes_unit() {
        let html = section(&summary());
        assert!(html.contains("<td>0.75</td>"));
        assert!(html.contains("3 of 12 (25% used)"));
        assert!(html.contains("width: 25.0%"));
        assert!(html.contains("fewer than 15 people"));
        assert!(html.contains("one &lt;person&gt;") && !html.contains("<person>"));
    }
}

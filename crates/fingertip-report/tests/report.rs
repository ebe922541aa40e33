//! Integration tests of the rendered report: self-containment, charts per index, privacy
//! statements, suppressed cells, escaping, refusals. (That a real browser loads a real run's
//! report without a console message is checked end to end in `tests/tests/pipelines/outputs.rs`.)

mod common;

use fingertip_report::{ALL, IndexRow, ReportError, ReportInput, render_html};

const SVG_XMLNS: &str = "xmlns=\"http://www.w3.org/2000/svg\"";

fn render(input: &ReportInput) -> String {
    render_html(input).expect("sample renders")
}

/// The part of the page that belongs to the index section with `name`.
fn section_of<'a>(html: &'a str, name: &str) -> &'a str {
    let marker = format!("<code>{name}</code>");
    let at = html.find(&marker).expect("index section present");
    let start = html[..at].rfind("<section").expect("section start");
    let end = html[at..].find("</section>").expect("section end") + at;
    &html[start..end]
}

#[test]
fn is_one_self_contained_document() {
    let html = render(&common::sample());
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<html").count(), 1);
    assert_eq!(html.matches("</html>").count(), 1);
    let lower = html.to_ascii_lowercase();
    for banned in [
        "<script", "<link", "<img", "<iframe", "<object", "<embed", "@import", "url(",
    ] {
        assert!(!lower.contains(banned), "page contains {banned}");
    }
    let svgs = lower.matches("<svg").count();
    assert_eq!(lower.matches(SVG_XMLNS).count(), svgs);
    let rest = lower.replace(SVG_XMLNS, "");
    assert!(!rest.contains("http://") && !rest.contains("https://"));
    assert!(!rest.contains("src=") && !rest.contains("href=\"/"));
    assert!(html.contains("Content-Security-Policy") && html.contains("default-src 'none'"));
}

#[test]
fn every_index_has_charts_with_titles() {
    let input = common::sample();
    let html = render(&input);
    for info in &input.indices {
        let section = section_of(&html, &info.name);
        let svgs = section.matches("<svg").count();
        assert!(svgs >= 2, "{} has {svgs} charts", info.name);
        assert_eq!(section.matches("<title id=").count(), svgs);
        assert!(section.contains(&format!("<h2>{}</h2>", info.title)));
        assert!(section.contains(&info.clause) && section.contains(&info.not_measured));
    }
    assert_eq!(
        html.matches("<svg").count(),
        html.matches("role=\"img\"").count()
    );
}

#[test]
fn states_the_privacy_budget() {
    let html = render(&common::sample());
    assert!(html.contains("ε (epsilon) used by this run</th><td>2.5</td>"));
    assert!(html.contains("1e-7 (about 1 in 10,000,000)"));
    assert!(html.contains("6 of 20 (30% used)"));
    assert!(html.contains("fewer than 10 people"));
    assert!(html.contains("How to read an interval"));
    assert!(html.contains("2026Q4"));
}

#[test]
fn headline_names_the_most_burdened_app_and_unit() {
    let html = render(&common::sample());
    let start = html.find("id=\"headline\"").expect("headline");
    let headline = &html[start..start + html[start..].find("</section>").expect("end")];
    assert!(headline.contains("The app with the highest burden is "));
    assert!(headline.contains("The org unit with the highest burden is "));
    assert!(headline.contains("Forced use share"));
}

#[test]
fn suppressed_cells_are_listed_not_dropped() {
    let html = render(&common::sample());
    assert!(html.contains("suppressed (too few people)"));
    let rankings = section_of(&html, "rankings_published");
    assert!(rankings.contains("Suppressed (too few people), 1 week:</strong> 2026-W41"));
    assert!(
        rankings.contains(">\nsuppressed\n</text>"),
        "trend chart marks the week"
    );
    let dup = section_of(&html, "duplicate_entry_rate");
    assert!(dup.contains("Suppressed (too few people), 1 app:</strong> photo-proof"));
    for unit in ["OU-3106", "OU-3119", "OU-3132"] {
        assert!(dup.contains(unit), "{unit} listed");
    }
}

#[test]
fn suppressed_values_are_never_printed() {
    let mut input = common::sample();
    let row = input
        .rows
        .iter_mut()
        .find(|r| r.suppressed)
        .expect("a suppressed row");
    row.value = Some(987.654);
    row.ci_low = Some(900.5);
    row.ci_high = Some(1000.25);
    let html = render(&input);
    assert!(!html.contains("987") && !html.contains("900.5") && !html.contains("1000"));
}

#[test]
fn long_unit_lists_are_capped_with_a_note() {
    let input = common::sample();
    let html = render(&input);
    let section = section_of(&html, "burden_index");
    // 40 units, 3 suppressed, 4 whose interval is wider than half their value: 33 values,
    // 25 shown.
    assert!(section.contains(
        "Showing the 25 org units with the highest values; 8 more org units with lower values \
         are not shown."
    ));
    assert!(section.contains("Too uncertain to compare, 4 org units"));
}

#[test]
fn index_without_per_app_rows_says_so() {
    let html = render(&common::sample());
    let section = section_of(&html, "apps_per_worker");
    assert!(section.contains("No values by app are published for this index"));
    assert_eq!(section.matches("<svg").count(), 2);
}

#[test]
fn input_strings_are_escaped() {
    let mut input = common::sample();
    let evil = "<script>alert(1)</script>";
    input.title = format!("Report {evil}");
    input.indices[0].title = format!("Burden {evil}");
    input.indices[0].description = format!("\"><img src=x onerror=alert(1)> {evil}");
    input.privacy.privacy_unit = evil.to_owned();
    input.privacy.epochs = vec![evil.to_owned()];
    for row in input.rows.iter_mut().filter(|r| r.app_id == "photo-proof") {
        row.app_id = evil.to_owned();
    }
    for row in input.rows.iter_mut().filter(|r| r.org_unit == "OU-3120") {
        row.org_unit = "\"><img src=x onerror=alert(1)>".to_owned();
    }
    let html = render(&input);
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script") && !lower.contains("<img"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
}

#[test]
fn broken_input_is_refused() {
    let base = common::sample();
    let mut unknown = base.clone();
    unknown.rows[0].index = "nope".into();
    assert!(matches!(
        render_html(&unknown),
        Err(ReportError::UnknownIndex { .. })
    ));
    let mut week = base.clone();
    week.rows[0].week = "2027-W01".into();
    assert!(matches!(
        render_html(&week),
        Err(ReportError::UnknownWeek { .. })
    ));
    let mut nan = base.clone();
    nan.rows[0].value = Some(f64::NAN);
    assert!(matches!(
        render_html(&nan),
        Err(ReportError::InvalidNumber { .. })
    ));
    let mut dup = base.clone();
    dup.rows.push(dup.rows[0].clone());
    assert!(matches!(
        render_html(&dup),
        Err(ReportError::DuplicateCell { .. })
    ));
    let mut bad_week = base;
    bad_week.weeks.push("2026-W7".into());
    assert!(matches!(
        render_html(&bad_week),
        Err(ReportError::InvalidWeek { .. })
    ));
}

#[test]
fn sparse_inputs_still_render() {
    let mut input = common::sample();
    input.weeks = vec!["2026-W45".into()];
    input
        .rows
        .retain(|r| r.week == "2026-W45" && r.app_id == ALL && r.org_unit == ALL);
    let html = render(&input);
    assert!(html.contains("No values by org unit are published"));
    for row in &mut input.rows {
        *row = IndexRow {
            value: None,
            ci_low: None,
            ci_high: None,
            suppressed: true,
            ..row.clone()
        };
    }
    let html = render(&input);
    assert!(html.matches("<svg").count() >= input.indices.len());
    input.rows.clear();
    assert!(
        render_html(&input)
            .expect("renders")
            .contains("no value published")
    );
}

#[test]
fn input_round_trips_through_json() {
    let input = common::sample();
    let json = serde_json::to_string(&input).expect("serializes");
    let back: ReportInput = serde_json::from_str(&json).expect("deserializes");
    // serde_json's default float parser may differ from the input in the last bit, so numbers
    // are compared with a tolerance and everything else exactly.
    let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-12 * a.abs().max(1.0),
        (a, b) => a == b,
    };
    assert!(back.title == input.title && back.weeks == input.weeks);
    assert!(back.indices == input.indices && back.privacy == input.privacy);
    assert_eq!(back.rows.len(), input.rows.len());
    for (a, b) in back.rows.iter().zip(&input.rows) {
        assert!(
            (&a.index, &a.week, &a.app_id, &a.org_unit)
                == (&b.index, &b.week, &b.app_id, &b.org_unit)
        );
        assert!(a.suppressed == b.suppressed && close(Some(a.epsilon), Some(b.epsilon)));
        assert!(
            close(a.value, b.value) && close(a.ci_low, b.ci_low) && close(a.ci_high, b.ci_high)
        );
    }
}

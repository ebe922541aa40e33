//! The HTML layer: escaping, the page shell (inline CSS, a Content-Security-Policy that forbids
//! every fetch and every script) and the small building blocks the sections share.
//!
//! Every string that comes from the input goes through [`escape`] before it reaches the page;
//! the builders here take plain text and escape it themselves, so callers cannot forget.

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// A paragraph of plain text, optionally with a class.
pub(crate) fn para(class: Option<&str>, text: &str) -> String {
    match class {
        Some(c) => format!("<p class=\"{c}\">{}</p>\n", escape(text)),
        None => format!("<p>{}</p>\n", escape(text)),
    }
}

/// A paragraph that starts with a bold lead-in, e.g. "Suppressed (too few people): a, b".
pub(crate) fn lead_para(class: &str, lead: &str, text: &str) -> String {
    format!(
        "<p class=\"{class}\"><strong>{}</strong> {}</p>\n",
        escape(lead),
        escape(text)
    )
}

/// A table with a caption, plain-text header cells and rows of plain-text cells; the first cell
/// of each row is its row header.
pub(crate) fn table(caption: &str, header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "<table>\n<caption>{}</caption>\n<thead><tr>",
        escape(caption)
    );
    for h in header {
        out.push_str(&format!("<th scope=\"col\">{}</th>", escape(h)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str(&table_row(row));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

fn table_row(cells: &[String]) -> String {
    let mut out = String::from("<tr>");
    for (i, cell) in cells.iter().enumerate() {
        if i == 0 {
            out.push_str(&format!("<th scope=\"row\">{}</th>", escape(cell)));
        } else {
            out.push_str(&format!("<td>{}</td>", escape(cell)));
        }
    }
    out.push_str("</tr>\n");
    out
}

/// Wraps `inner` in a collapsed `<details>` with a plain-text summary.
pub(crate) fn details(summary: &str, inner: &str) -> String {
    format!(
        "<details>\n<summary>{}</summary>\n{inner}</details>\n",
        escape(summary)
    )
}

/// A figure: an SVG produced by the charts module and a plain-text caption.
pub(crate) fn figure(svg: &str, caption: &str) -> String {
    format!(
        "<figure>\n{svg}<figcaption>{}</figcaption>\n</figure>\n",
        escape(caption)
    )
}

/// The whole document around an already-built `body`.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"fingertip-report\">\n\
         <title>{}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

/// Nothing may be fetched and no script may run; only the inline stylesheet and inline style
/// attributes are allowed.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                   form-action 'none'; base-uri 'none'";

const CSS: &str = r#":root { color-scheme: light; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
  color: #1a1a1a; background: #fff; max-width: 60rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
h1 { font-size: 1.8rem; line-height: 1.25; margin: .5rem 0 .75rem; }
h2 { font-size: 1.4rem; border-bottom: 2px solid #1f4e79; padding-bottom: .2rem; margin-top: 2.75rem; }
h3 { font-size: 1.1rem; margin: 1.75rem 0 .5rem; }
a { color: #1f4e79; }
p, dd, li { max-width: 48rem; }
.principle { border-left: 4px solid #1f4e79; background: #eef3f8; padding: .6rem .9rem; }
.meta, .note, figcaption { color: #444; }
figcaption { font-size: .92rem; margin-top: .25rem; }
figure { margin: .75rem 0; }
svg { display: block; max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { padding: .3rem .7rem; border-bottom: 1px solid #d6d6d6; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #888; }
td { font-variant-numeric: tabular-nums; }
td.suppressed, .suppressed { color: #8a3f00; }
.latest strong { font-size: 1.15rem; }
dl { margin: .5rem 0; }
dt { font-weight: 600; }
dd { margin: 0 0 .5rem 0; }
code { font-family: ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: .9em;
  background: #f2f2f2; padding: 0 .2em; overflow-wrap: anywhere; }
.keys { overflow-wrap: anywhere; }
.budget { height: .9rem; width: 16rem; max-width: 100%; background: #e6e6e6; border: 1px solid #888; margin-top: .3rem; }
.budget span { display: block; height: 100%; background: #1f4e79; }
details { margin: .25rem 0 1rem; }
summary { color: #1f4e79; cursor: pointer; }
nav ol { padding-left: 1.5rem; }
footer { margin-top: 3rem; font-size: .9rem; color: #444; border-top: 1px solid #ccc; padding-top: .5rem; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  nav { display: none; }
  section.index { break-before: page; }
  figure, table, .budget { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
  .budget, .budget span { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  summary { display: none; }
}
@media print { details::details-content { content-visibility: visible; display: contents; } }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn tables_escape_cells() {
        let t = table("c", &["<h>"], &[vec!["<r>".to_owned(), "<d>".to_owned()]]);
        assert!(t.contains("&lt;h&gt;") && t.contains("&lt;r&gt;") && t.contains("&lt;d&gt;"));
        assert!(!t.contains("<r>"));
    }
}

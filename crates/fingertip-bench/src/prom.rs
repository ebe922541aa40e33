//! Reading plain counters and gauges out of Prometheus text (`GET /metrics`).

/// The value of the sample named exactly `name` (no labels), if present.
pub fn value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
}

/// The value of `name{label="value"}`.
pub fn labelled(text: &str, name: &str, label: &str, label_value: &str) -> Option<f64> {
    let key = format!("{name}{{{label}=\"{label_value}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(key.as_str()))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_samples() {
        let text = "# HELP a x\n# TYPE a counter\na 12\na_sum 3\nreq{status=\"202\"} 7\n";
        assert_eq!(super::value(text, "a"), Some(12.0));
        assert_eq!(super::value(text, "a_sum"), Some(3.0));
        assert_eq!(super::value(text, "b"), None);
        assert_eq!(super::labelled(text, "req", "status", "202"), Some(7.0));
    }
}

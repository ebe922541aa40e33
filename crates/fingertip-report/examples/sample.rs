//! Writes the sample report: `cargo run -p fingertip-report --example sample -- out.html`.

#[path = "../tests/common/mod.rs"]
mod common;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sample-report.html".to_owned());
    let html = fingertip_report::render_html(&common::sample())?;
    std::fs::write(&path, html)?;
    println!("wrote {path}");
    Ok(())
}

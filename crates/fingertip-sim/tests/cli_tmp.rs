#[path = "../../fingertip/src/simulate.rs"]
mod simulate;

use clap::Parser;

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    args: simulate::SimulateArgs,
}

#[test]
fn cli_writes_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    let cli = Cli::try_parse_from([
        "x",
        "--workers",
        "50",
        "--weeks",
        "2",
        "--seed",
        "3",
        "--distribution",
        "adversarial",
        "--end",
        "2026-11-18T05:46:40Z",
        "--out",
        &p("ev.ndjson"),
        "--truth",
        &p("truth"),
        "--org-units",
        &p("units.csv"),
        "--lake",
        &p("data"),
    ])
    .unwrap();
    simulate::run(cli.args).unwrap();
    for f in [
        "ev.ndjson",
        "truth.csv",
        "truth.json",
        "units.csv",
        "data/keys",
    ] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    assert!(Cli::try_parse_from(["x", "--distribution", "nope"]).is_err());
    assert!(Cli::try_parse_from(["x", "--target", "http://x"]).is_err());
    assert!(simulate::run(Cli::try_parse_from(["x"]).unwrap().args).is_err());
}

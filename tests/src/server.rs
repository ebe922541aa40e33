//! The real `fingertip` binary as a child process.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `fingertip` binary of this build (built by `cargo test --workspace`).
pub fn fingertip_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("fingertip");
    assert!(bin.exists(), "{} is missing: run `cargo build -p fingertip` (or `cargo test --workspace`)", bin.display());
    bin
}

/// Runs `fingertip ARGS` to completion; returns (status code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(fingertip_bin()).args(args).env("RUST_LOG", "info").output().expect("run fingertip");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Creates a token and returns it (the last line of stdout).
pub fn create_token(data: &Path, role: &str, app_id: Option<&str>) -> String {
    let mut args = vec!["token", "create", "--data", data.to_str().unwrap(), "--role", role];
    if let Some(app) = app_id {
        args.extend(["--app-id", app]);
    }
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, 0, "token create failed: {stderr}");
    stdout.lines().last().expect("token line").trim().to_string()
}

/// A running `fingertip serve`.
#[derive(Debug)]
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub data: PathBuf,
    pub log: PathBuf,
}

impl Server {
    /// Starts `fingertip serve --data DATA --listen 127.0.0.1:0` with extra environment.
    pub fn start(data: &Path, env: &[(&str, &str)]) -> Server {
        Self::start_with(data, env, |_| {})
    }

    /// Like [`Server::start`], letting the caller adjust the command (e.g. resource limits).
    pub fn start_with(data: &Path, env: &[(&str, &str)], adjust: impl FnOnce(&mut Command)) -> Server {
        std::fs::create_dir_all(data).expect("data dir");
        let log = data.with_extension(format!("log{}", std::process::id()));
        let log_file = std::fs::OpenOptions::new().create(true).append(true).open(&log).expect("log file");
        let mut cmd = Command::new(fingertip_bin());
        cmd.args(["serve", "--data", data.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "debug")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        adjust(&mut cmd);
        let mut child = cmd.spawn().expect("spawn fingertip serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read listen line");
        let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}; log: {}", std::fs::read_to_string(&log).unwrap_or_default())).parse().expect("address");
        Server { child, addr, data: data.to_path_buf(), log }
    }

    /// SIGTERM, then wait; returns the exit code.
    pub fn stop(mut self) -> i32 {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "server did not stop within 60 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

//! The real `fingertip` binary as a child process.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `fingertip` binary of this build (built by `cargo test --workspace`).
pub fn fingertip_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("fingertip");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p fingertip` (or `cargo test --workspace`)",
        bin.display()
    );
    bin
}

/// Runs `fingertip ARGS` to completion; returns (status code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(fingertip_bin())
        .args(args)
        .env("RUST_LOG", "info")
        .output()
        .expect("run fingertip");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Creates a token and returns it (the last line of stdout).
pub fn create_token(data: &Path, role: &str, app_id: Option<&str>) -> String {
    let mut args = vec![
        "token",
        "create",
        "--data",
        data.to_str().unwrap(),
        "--role",
        role,
    ];
    if let Some(app) = app_id {
        args.extend(["--app-id", app]);
    }
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, 0, "token create failed: {stderr}");
    stdout
        .lines()
        .last()
        .expect("token line")
        .trim()
        .to_string()
}

/// The id of a token (`ft_<id>_<secret>`), as `fingertip token revoke` takes it.
pub fn token_id(token: &str) -> &str {
    token.split('_').nth(1).expect("a fingertip token")
}

/// `fingertip token revoke --data DATA ID`.
pub fn revoke_token(data: &Path, token: &str) {
    let (code, _, stderr) = run(&[
        "token",
        "revoke",
        "--data",
        data.to_str().unwrap(),
        token_id(token),
    ]);
    assert_eq!(code, 0, "token revoke failed: {stderr}");
}

/// Polls `cond` every 20 ms for up to `timeout`; true once it holds.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `fingertip serve`.
#[derive(Debug)]
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub data: PathBuf,
    pub log: PathBuf,
    /// Length of the log file when this run started (earlier runs append to the same file).
    log_start: usize,
    /// Everything the server printed on stdout (read all along, so the pipe never closes).
    stdout: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `fingertip serve --data DATA --listen 127.0.0.1:0` with extra environment.
    pub fn start(data: &Path, env: &[(&str, &str)]) -> Server {
        Self::start_with(data, env, |_| {})
    }

    /// Like [`Server::start`], letting the caller adjust the command (e.g. resource limits).
    pub fn start_with(
        data: &Path,
        env: &[(&str, &str)],
        adjust: impl FnOnce(&mut Command),
    ) -> Server {
        std::fs::create_dir_all(data).expect("data dir");
        let log = data.with_extension(format!("log{}", std::process::id()));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let log_start = log_file.metadata().map(|m| m.len() as usize).unwrap_or(0);
        let mut cmd = Command::new(fingertip_bin());
        cmd.args([
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "debug")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file));
        adjust(&mut cmd);
        let mut child = cmd.spawn().expect("spawn fingertip serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read listen line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "unexpected first line {line:?}; log: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })
            .parse()
            .expect("address");
        let captured = Arc::new(Mutex::new(line));
        let sink = captured.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Server {
            child,
            addr,
            data: data.to_path_buf(),
            log,
            log_start,
            stdout: captured,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything printed on stdout so far.
    pub fn stdout_text(&self) -> String {
        self.stdout
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The buffer stdout is captured into, to read after [`Server::stop`].
    pub fn stdout_buffer(&self) -> Arc<Mutex<String>> {
        self.stdout.clone()
    }

    /// The log lines of this run only.
    pub fn run_log(&self) -> String {
        let all = std::fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(all.get(self.log_start..).unwrap_or_default()).into_owned()
    }

    /// Log lines (JSON objects) of this run whose `message` contains `needle`.
    pub fn log_events(&self, needle: &str) -> Vec<serde_json::Value> {
        self.run_log()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["message"].as_str().is_some_and(|m| m.contains(needle)))
            .collect()
    }

    /// SIGTERM, then wait; returns the exit code.
    pub fn stop(mut self) -> i32 {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
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

impl Drop for Server {
    /// A test that fails half-way leaves no server behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A fresh data directory `<tmp>/data` (the log goes next to it, inside the same temporary
/// directory), an app token for `app`, and a server started on it with extra environment.
pub fn start_fresh(app: &str, env: &[(&str, &str)]) -> (tempfile::TempDir, Server, String) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let token = create_token(&data, "app", Some(app));
    let server = Server::start(&data, env);
    (tmp, server, token)
}

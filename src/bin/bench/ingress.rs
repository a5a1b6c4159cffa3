//! The ingress under test: the real `switchyard serve --role ingress` binary as a child
//! process, configured only through its environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// How long the ingress may take to answer `/readyz` with 200 after starting.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long it may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The `switchyard` binary next to this executable (both are in `target/release`).
pub fn default_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("locating the bench executable")?;
    let dir = me
        .parent()
        .context("the bench executable has no directory")?;
    Ok(dir.join("switchyard"))
}

/// A free port on 127.0.0.1 (free when asked; the child binds it right after).
pub fn free_local_addr() -> anyhow::Result<SocketAddr> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    probe.local_addr().context("finding a free port")
}

pub struct Ingress {
    child: Option<Child>,
    pid: u32,
    pub addr: SocketAddr,
}

impl Ingress {
    /// Start the binary with exactly `env` (plus `PATH`) in a neutral working directory, so
    /// neither the caller's environment nor a `.env` file changes what is measured.
    pub fn spawn(binary: &Path, addr: SocketAddr, env: &[(&str, String)]) -> anyhow::Result<Self> {
        anyhow::ensure!(
            binary.is_file(),
            "{} not found; run `cargo build --release --bins` first (or pass --ingress-bin)",
            binary.display()
        );
        let mut command = Command::new(binary);
        command
            .args(["serve", "--role", "ingress"])
            .env_clear()
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        command.env("BIND_ADDR", addr.to_string());
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Self {
            pid: child.id(),
            child: Some(child),
            addr,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Poll `GET /readyz` until it answers 200 (database and broker reachable).
    pub async fn wait_ready(&mut self) -> anyhow::Result<Duration> {
        let child = &mut self.child;
        wait_until_ready(self.addr, || match child.as_mut() {
            Some(child) => match child.try_wait().context("checking the ingress")? {
                Some(status) => anyhow::bail!("the ingress exited during start-up: {status}"),
                None => Ok(()),
            },
            None => Ok(()),
        })
        .await
    }

    /// SIGTERM (graceful shutdown), then SIGKILL if it does not exit in time.
    pub async fn stop(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        let Some(mut child) = self.child.take() else {
            return Ok(None);
        };
        if let Some(status) = child.try_wait().context("checking the ingress")? {
            return Ok(Some(status));
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .stderr(Stdio::null())
            .status();
        let asked = Instant::now();
        while asked.elapsed() < STOP_TIMEOUT {
            if let Some(status) = child.try_wait().context("waiting for the ingress")? {
                return Ok(Some(status));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        child.kill().context("killing the ingress")?;
        let status = child.wait().context("waiting for the killed ingress")?;
        anyhow::bail!("the ingress ignored SIGTERM for {STOP_TIMEOUT:?}; killed ({status})")
    }
}

impl Drop for Ingress {
    /// Last resort when the run ends early (error or Ctrl-C): never leave the child running.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.pid.to_string()])
                .stderr(Stdio::null())
                .status();
            let asked = Instant::now();
            while asked.elapsed() < Duration::from_secs(5) {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Poll `GET /readyz` of the ingress at `addr` until it answers 200, failing early when
/// `alive` says the process is gone; how long it took.
pub async fn wait_until_ready(
    addr: SocketAddr,
    mut alive: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<Duration> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .context("building the readiness client")?;
    let url = format!("http://{addr}/readyz");
    let started = Instant::now();
    let mut last = String::from("no answer yet");
    while started.elapsed() < READY_TIMEOUT {
        alive()?;
        match client.get(&url).send().await {
            Ok(response) if response.status().is_success() => return Ok(started.elapsed()),
            Ok(response) => last = format!("answered {}", response.status()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the ingress was not ready within {READY_TIMEOUT:?} ({last})")
}

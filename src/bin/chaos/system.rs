//! The system under test: one ingress and several workers, each the real `switchyard serve`
//! binary as a child process with its own log file, which the faults kill with SIGKILL and
//! start again.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// How long a process may take to stop after SIGTERM at the end of the run.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// One `switchyard serve --role <role>` process (restartable).
pub struct Service {
    role: &'static str,
    /// Which of its role (workers are numbered).
    index: usize,
    binary: PathBuf,
    env: Vec<(String, String)>,
    log_dir: PathBuf,
    child: Option<Child>,
    /// Starts so far, to name the log files.
    starts: usize,
}

impl Service {
    pub fn new(
        role: &'static str,
        index: usize,
        binary: &Path,
        env: Vec<(String, String)>,
        log_dir: &Path,
    ) -> Self {
        Self {
            role,
            index,
            binary: binary.to_owned(),
            env,
            log_dir: log_dir.to_owned(),
            child: None,
            starts: 0,
        }
    }

    pub fn name(&self) -> String {
        format!("{}-{}", self.role, self.index)
    }

    /// Start the process with exactly its environment (plus `PATH`), in a neutral directory
    /// so no `.env` file is read; its output goes to `<log dir>/<name>.<start>.log`.
    pub fn start(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.child.is_none(), "{} is already running", self.name());
        self.starts += 1;
        let log_path = self
            .log_dir
            .join(format!("{}.{}.log", self.name(), self.starts));
        let log =
            File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let mut command = Command::new(&self.binary);
        command
            .args(["serve", "--role", self.role])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("sharing the log file")?)
            .stderr(log);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL: no shutdown hook runs, nothing is flushed or handed back.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child
                .kill()
                .with_context(|| format!("killing {}", self.name()))?;
            child.wait().context("reaping the killed process")?;
        }
        Ok(())
    }

    /// SIGTERM and wait for the graceful stop (SIGKILL after [`STOP_TIMEOUT`]); whether it
    /// stopped in time and cleanly.
    pub async fn stop(&mut self) -> anyhow::Result<bool> {
        let Some(mut child) = self.child.take() else {
            return Ok(true);
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let asked = Instant::now();
        while asked.elapsed() < STOP_TIMEOUT {
            if let Some(status) = child.try_wait().context("waiting for the process")? {
                return Ok(status.success());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        child
            .kill()
            .context("killing a process that ignored SIGTERM")?;
        child.wait().context("reaping the killed process")?;
        Ok(false)
    }

    /// Fail if the process exited by itself.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(child) = self.child.as_mut()
            && let Some(status) = child.try_wait().context("checking a process")?
        {
            anyhow::bail!(
                "{} exited on its own ({status}); see its log in {}",
                self.name(),
                self.log_dir.display()
            );
        }
        Ok(())
    }
}

impl Drop for Service {
    /// The run ended early (an error, Ctrl-C): never leave a process behind.
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// Wait until the ingress answers `GET /readyz` with 200 (database and broker reachable);
/// how long that took.
pub async fn wait_ready(ingress: &mut Service, addr: SocketAddr) -> anyhow::Result<Duration> {
    crate::bench_ingress::wait_until_ready(addr, || ingress.check_alive()).await
}

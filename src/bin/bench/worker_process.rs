//! The real `switchyard serve --role worker` as a child process of a benchmark, configured
//! only by the environment it is given, and stopped however the run ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::Context;

/// The switchyard binary next to the running benchmark (or `explicit`).
pub fn switchyard_binary(explicit: Option<&PathBuf>) -> anyhow::Result<PathBuf> {
    let binary = match explicit {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("executable directory")?
            .join("switchyard"),
    };
    anyhow::ensure!(
        binary.is_file(),
        "{} not found: cargo build --release --bins",
        binary.display()
    );
    Ok(binary)
}

/// A running worker, killed when dropped.
pub struct WorkerProcess(Child);

impl WorkerProcess {
    /// Start a worker with exactly `env` (plus `PATH`), logging warnings only.
    pub fn spawn(binary: &Path, env: &[(&str, String)]) -> anyhow::Result<Self> {
        let mut command = Command::new(binary);
        command
            .args(["serve", "--role", "worker"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Self(child))
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    pub fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

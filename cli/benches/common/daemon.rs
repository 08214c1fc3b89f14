//! A running `communs node run` for the benchmarks, and the commands they
//! ask it.
// kill(2): stopping a node as Ctrl-C would.
#![allow(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// `communs init` of a data directory, named `bench`.
pub(crate) fn init(binary: &Path, home: &Path) -> anyhow::Result<()> {
    let status = Command::new(binary)
        .arg("--home")
        .arg(home)
        .args(["init", "--name", "bench"])
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("communs init failed");
    }
    Ok(())
}

/// A running `communs node run` on loopback.
pub(crate) struct Daemon {
    child: Child,
    pub(crate) home: PathBuf,
}

impl Daemon {
    pub(crate) fn start(binary: &Path, home: &Path, extra: &[&str]) -> anyhow::Result<Daemon> {
        let _ = std::fs::remove_file(home.join("api.json"));
        let child = Command::new(binary)
            .arg("--home")
            .arg(home)
            .args(["node", "run", "--listen", "/ip4/127.0.0.1/tcp/0", "--api", "127.0.0.1:0", "--no-mdns", "--no-dht"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(home.with_extension("log"))?)
            .spawn()
            .context("starting communs node run")?;
        let daemon = Daemon { child, home: home.to_owned() };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !home.join("api.json").exists() {
            if Instant::now() > deadline {
                bail!("the node at {} did not start", home.display());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(daemon)
    }

    /// Its listen address with its peer id.
    pub(crate) fn address(&self, binary: &Path) -> anyhow::Result<String> {
        let status = status(binary, &self.home)?;
        let listen = status["listen"][0].as_str().context("no listen address")?;
        let peer = status["peer_id"].as_str().context("no peer id")?;
        Ok(format!("{listen}/p2p/{peer}"))
    }

    /// Stops it as Ctrl-C would, and waits for it.
    pub(crate) fn stop(mut self) -> anyhow::Result<()> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait()?;
        if !status.success() {
            bail!("the node at {} exited with {status}", self.home.display());
        }
        Ok(())
    }
}

impl Daemon {
    /// Kills it, with no chance to finish anything.
    pub(crate) fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `communs node status --json`.
pub(crate) fn status(binary: &Path, home: &Path) -> anyhow::Result<serde_json::Value> {
    let output = Command::new(binary).arg("--home").arg(home).args(["--json", "node", "status"]).output()?;
    if !output.status.success() {
        bail!("communs node status failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

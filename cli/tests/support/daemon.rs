//! A running `communs node run` for tests, and waiting for what it does.
// Signals to the node processes (kill(2)).
#![allow(unsafe_code)]

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::Node;

/// A running `communs node run`; stopped with SIGTERM when dropped.
pub(crate) struct Daemon {
    pub node: Node,
    pub child: Child,
    /// Its listen address with its peer id: what others bootstrap from.
    pub addr: String,
}

impl Daemon {
    #[track_caller]
    pub(crate) fn start(node: &Node, extra: &[&str]) -> Daemon {
        let _ = std::fs::remove_file(node.home.join("api.json"));
        let mut args = vec!["node", "run", "--listen", "/ip4/127.0.0.1/tcp/0", "--api", "127.0.0.1:0", "--no-mdns"];
        args.extend_from_slice(extra);
        let child = node
            .command(&args)
            .env("RUST_LOG", "info,communs_node=debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(node.home.with_extension("log")).expect("log file"))
            .spawn()
            .expect("communs node run starts");
        let node = Node { home: node.home.clone() };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !node.home.join("api.json").exists() {
            assert!(Instant::now() < deadline, "the node did not start: {}", log(&node));
            std::thread::sleep(Duration::from_millis(20));
        }
        let status = node.json(&["node", "status"]);
        let addr = format!(
            "{}/p2p/{}",
            status["listen"][0].as_str().expect("listen"),
            status["peer_id"].as_str().expect("id")
        );
        Daemon { node, child, addr }
    }

    pub(crate) fn peers(&self) -> Vec<String> {
        let peers = self.node.json(&["peers"]);
        peers.as_array().expect("peers").iter().map(|p| p["peer_id"].as_str().expect("id").to_owned()).collect()
    }

    pub(crate) fn peer_id(&self) -> String {
        self.addr.rsplit('/').next().expect("peer id").to_owned()
    }

    /// Stops the node as Ctrl-C would, and waits for it.
    pub(crate) fn stop(mut self) -> Node {
        self.terminate();
        Node { home: self.node.home.clone() }
    }

    fn terminate(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "the node exited with {status}: {}", log(&self.node));
                return;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the node did not stop within 20 s of SIGTERM: {}", log(&self.node));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
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

pub(crate) fn log(node: &Node) -> String {
    std::fs::read_to_string(node.home.with_extension("log")).unwrap_or_default()
}

/// Polls `check` until it holds, for up to `secs` seconds.
#[track_caller]
pub(crate) fn eventually(secs: u64, what: &str, check: impl FnMut() -> bool) {
    eventually_every(Duration::from_millis(50), secs, what, check);
}

/// [`eventually`] with `pause` between checks, for a check that costs
/// the node work (a status listing thousands of designs).
#[track_caller]
pub(crate) fn eventually_every(pause: Duration, secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(pause);
    }
}

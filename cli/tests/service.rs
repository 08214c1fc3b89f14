//! `communs node run` as a system service: started the way systemd starts
//! it (a data directory and a configuration file named by the environment,
//! a notify socket the test listens on, a watchdog, stderr as journald's
//! stream), and reconfigured with SIGHUP.
#![cfg(unix)]
// Signals to the node processes (kill(2)).
#![allow(unsafe_code)]

mod support;

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A tiers-lieu's configuration on loopback: everything `node run` needs,
/// no flag.
fn service_config(extra_network: &str) -> String {
    format!(
        "api = \"127.0.0.1:0\"\n\n[network]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\nmdns = false\ndht = false\nseed_all = true\n{extra_network}"
    )
}

/// `communs node run` with no argument but its environment, as the unit
/// starts it; its stderr goes to `log`.
fn service(home: &Path, config: &Path, log: &Path) -> Command {
    let mut command = Command::new(support::binary());
    command
        .args(["node", "run"])
        .env("COMMUNS_HOME", home)
        .env("COMMUNS_CONFIG", config)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .env_remove("JOURNAL_STREAM")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"));
    command
}

/// A node process killed if the test ends before it stopped it (a
/// failed assertion must not leave a node running).
struct Reaped(Child);

impl std::ops::Deref for Reaped {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn sigterm(child: &Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
}

fn api_address(home: &Path) -> String {
    let running: Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("api.json")).expect("api.json")).expect("json");
    running["api"].as_str().expect("api").to_owned()
}

/// The next message on the manager's socket, as text.
fn receive(manager: &UnixDatagram) -> String {
    let mut message = [0u8; 256];
    let n = manager.recv(&mut message).expect("a message from the node");
    String::from_utf8_lossy(&message[..n]).into_owned()
}

/// A fresh data directory, a configuration file elsewhere: the node makes
/// its identity, says READY=1, then WATCHDOG=1 at half the interval while
/// it answers, and its log lines carry journald's priority prefixes.
#[test]
fn a_service_starts_from_its_config_file_alone_keeps_the_watchdog_fed_and_logs_for_journald() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("var/lib/communs");
    let config = dir.path().join("etc/communs/config.toml");
    std::fs::create_dir_all(config.parent().expect("etc")).expect("etc");
    std::fs::write(&config, service_config("")).expect("config");
    let socket_path = dir.path().join("notify.sock");
    let manager = UnixDatagram::bind(&socket_path).expect("the manager's socket");
    manager.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let log = dir.path().join("journal");
    std::fs::write(&log, "").expect("log file");
    let stream = std::fs::metadata(&log).expect("log metadata");
    let watchdog = Duration::from_millis(400);

    // The same inode: `service` truncates the file, it does not replace it.
    let mut child = Reaped(
        service(&home, &config, &log)
            .env("NOTIFY_SOCKET", &socket_path)
            .env("WATCHDOG_USEC", watchdog.as_micros().to_string())
            .env("JOURNAL_STREAM", format!("{}:{}", stream.dev(), stream.ino()))
            .spawn()
            .expect("communs node run starts"),
    );
    assert_eq!(receive(&manager), "READY=1");
    let answer = support::http::get(&api_address(&home), "/v1/node");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(home.join("identity.key").exists(), "node run made the identity of a fresh data directory");
    assert!(!home.join("config.toml").exists(), "the configuration stays where it was named");

    // The first at once (it may have waited in the socket), then half the
    // interval apart, give or take the scheduler.
    assert_eq!(receive(&manager), "WATCHDOG=1");
    let start = Instant::now();
    for _ in 0..3 {
        assert_eq!(receive(&manager), "WATCHDOG=1");
    }
    let elapsed = start.elapsed();
    assert!(elapsed >= watchdog && elapsed < watchdog * 4, "3 keep-alives in {elapsed:?}");

    sigterm(&child);
    let mut last = receive(&manager);
    while last == "WATCHDOG=1" {
        last = receive(&manager);
    }
    assert_eq!(last, "STOPPING=1");
    assert!(child.wait().expect("it exits").success());

    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.lines().any(|line| line.starts_with("<6>") && line.contains("created identity")), "{text}");
    for line in text.lines() {
        let priority = line.strip_prefix('<').and_then(|rest| rest.split_once('>')).map(|(n, _)| n);
        assert!(matches!(priority, Some("3" | "4" | "6" | "7")), "a line without a priority: {line:?}\n{text}");
        assert!(!line.contains("INFO") && !line.contains("\u{1b}["), "no level word, no colour: {line:?}");
    }
}

/// Another process's watchdog (`WATCHDOG_PID`), or stderr that is not the
/// journal's stream: no keep-alives, plain log lines.
#[test]
fn a_watchdog_meant_for_another_process_and_a_stale_journal_stream_are_ignored() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("home");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, service_config("")).expect("config");
    let socket_path = dir.path().join("notify.sock");
    let manager = UnixDatagram::bind(&socket_path).expect("the manager's socket");
    manager.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let log = dir.path().join("log");
    let mut child = Reaped(
        service(&home, &config, &log)
            .env("NOTIFY_SOCKET", &socket_path)
            .env("WATCHDOG_USEC", "200000")
            .env("WATCHDOG_PID", "1")
            .env("JOURNAL_STREAM", "1:1")
            .spawn()
            .expect("communs node run starts"),
    );
    assert_eq!(receive(&manager), "READY=1");
    manager.set_read_timeout(Some(Duration::from_secs(1))).expect("timeout");
    let mut message = [0u8; 64];
    assert!(manager.recv(&mut message).is_err(), "no WATCHDOG=1 for another process's watchdog");
    manager.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    sigterm(&child);
    assert_eq!(receive(&manager), "STOPPING=1");
    assert!(child.wait().expect("it exits").success());
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains(" INFO ") && !text.contains("<6>"), "plain lines: {text}");
}

/// SIGHUP: a bootstrap peer added to the file is dialled while the node
/// runs, and a change that needs a restart is logged as such (and not
/// applied: the API stays where it was).
#[test]
fn sighup_dials_a_bootstrap_peer_added_to_the_config_and_logs_what_needs_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let peer = support::daemon::Daemon::start(&support::Node::init(dir.path(), "peer"), &["--no-dht"]);
    let home = dir.path().join("service");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, service_config("")).expect("config");
    let log = dir.path().join("service.log");
    let mut child = Reaped(service(&home, &config, &log).spawn().expect("communs node run starts"));
    let node = support::Node { home: home.clone() };
    support::daemon::eventually(20, "the service answers", || home.join("api.json").exists());
    let api = api_address(&home);
    assert!(!node.json(&["peers"]).to_string().contains(&peer.peer_id()), "not connected before the reload");

    // A new peer, limits, and a new API port.
    let edited = service_config(&format!(
        "bootstrap = [\"{}\"]\nmax_upload_bytes_per_second = \"5MB\"\n\n[storage]\nmax_bytes = \"1GB\"\n",
        peer.addr
    ))
    .replace("127.0.0.1:0", "127.0.0.1:1");
    std::fs::write(&config, edited).expect("config");
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    support::daemon::eventually(20, "the service connects to the new bootstrap peer", || {
        node.json(&["peers"]).to_string().contains(&peer.peer_id())
    });
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains("reloaded network.bootstrap: dialling"), "{text}");
    assert!(text.contains("in force after a restart: api"), "{text}");
    // The limits hold from the reload on.
    assert!(text.contains("reloaded network.max_upload_bytes_per_second: 5000000 B/s"), "{text}");
    assert!(text.contains("reloaded storage.max_bytes: 1000000000 bytes"), "{text}");
    assert_eq!(node.json(&["node", "status"])["storage"]["max_bytes"], 1_000_000_000u64);
    assert_eq!(api_address(&home), api, "the API stays until a restart");
    assert_eq!(support::http::get(&api, "/v1/node").status, 200);

    // A file that does not parse changes nothing, and says so.
    std::fs::write(&config, "[network]\nseeds_all = true\n").expect("config");
    // SAFETY: as above.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    support::daemon::eventually(20, "the bad file is reported", || {
        std::fs::read_to_string(&log).expect("log").contains("configuration not reloaded, the one in force stays")
    });
    assert!(node.json(&["peers"]).to_string().contains(&peer.peer_id()), "still connected");
    sigterm(&child);
    assert!(child.wait().expect("it exits").success(), "{}", std::fs::read_to_string(&log).unwrap_or_default());
}

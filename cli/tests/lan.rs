//! A fablab LAN on one machine: network namespaces joined by a kernel
//! bridge, a `communs node run` in each, finding each other by mDNS only
//! (no bootstrap, no DHT), all started at the same instant, as laptops are
//! after a power cut. Needs root and `ip` (iproute2); skipped with a
//! message where namespaces cannot be made.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Node, binary};

/// Namespaces `{name}-hub` (the bridge) and `{name}-1`… (one host each),
/// deleted on drop.
struct Lan {
    name: String,
    hosts: usize,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl Lan {
    fn new(hosts: usize) -> Result<Lan, String> {
        // Short and unique (per process, and per test within it):
        // interface names have 15 bytes at most.
        static LANS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let lan = LANS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("cl{}x{lan}", std::process::id() % 100_000);
        let hub = format!("{name}-hub");
        ip(&["netns", "add", &hub])?;
        // From here on, dropped (namespaces deleted) whatever fails.
        let mut lan = Lan { name: name.clone(), hosts: 0 };
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &hub, "link", "set", "br0", "up"])?;
        for i in 1..=hosts {
            let host = format!("{name}-{i}");
            ip(&["netns", "add", &host])?;
            lan.hosts = i;
            let port = format!("v{i}");
            ip(&["-n", &host, "link", "add", "eth0", "type", "veth", "peer", "name", &port, "netns", &hub])?;
            ip(&["-n", &hub, "link", "set", &port, "master", "br0"])?;
            ip(&["-n", &hub, "link", "set", &port, "up"])?;
            ip(&["-n", &host, "addr", "add", &format!("10.77.0.{i}/24"), "dev", "eth0"])?;
            ip(&["-n", &host, "link", "set", "eth0", "up"])?;
            ip(&["-n", &host, "link", "set", "lo", "up"])?;
        }
        Ok(lan)
    }

    fn host(&self, i: usize) -> String {
        format!("{}-{i}", self.name)
    }

    /// `communs` with `args`, run in host `i`'s namespace on `node`.
    fn communs(&self, i: usize, node: &Node, args: &[&str]) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.host(i), binary(), "--home"]).arg(&node.home).args(args);
        command.env_remove("COMMUNS_HOME");
        command
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for i in 1..=self.hosts {
            let _ = ip(&["netns", "del", &self.host(i)]);
        }
        let _ = ip(&["netns", "del", &format!("{}-hub", self.name)]);
    }
}

/// The peers host `i`'s node is connected to, or none if it does not
/// answer yet.
fn peers(lan: &Lan, i: usize, node: &Node) -> usize {
    let Ok(out) = lan.communs(i, node, &["--json", "peers"]).output() else { return 0 };
    serde_json::from_slice::<serde_json::Value>(&out.stdout).ok().and_then(|v| v.as_array().map(Vec::len)).unwrap_or(0)
}

/// `communs node run` in host `i`'s namespace, mDNS only, its log in
/// `log`.
fn start(lan: &Lan, i: usize, node: &Node, log: std::path::PathBuf) -> Child {
    let log = std::fs::File::create(log).expect("log");
    lan.communs(i, node, &["node", "run", "--listen", "/ip4/0.0.0.0/tcp/4517", "--api", "127.0.0.1:0", "--no-dht"])
        .env("RUST_LOG", "info,communs_node=debug")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("communs node run starts")
}

struct Running(Vec<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Ten laptops on one LAN, started together, mDNS only: every node is
/// connected to every other within 10 s, in each of 20 trials. Before,
/// both sides of a pair dialled from their listening port at once, the
/// crossing dials became one TCP connection whose Noise handshake failed
/// on both ends, and nothing dialled again (on an emulated LAN 25 pairs of
/// 30 never connected); and nodes that started mDNS before they listened
/// answered each other with no address, then stopped asking for 5
/// minutes (3 or 4 nodes of 10 apart after 10 s in every trial).
#[test]
fn laptops_started_together_on_a_lan_all_find_each_other_by_mdns() {
    const HOSTS: usize = 10;
    const TRIALS: usize = 20;
    let lan = match Lan::new(HOSTS) {
        Ok(lan) => lan,
        Err(e) => {
            eprintln!("skipped: cannot make network namespaces here ({e})");
            return;
        }
    };
    let dir = tempfile::tempdir().expect("tmp");
    let nodes: Vec<Node> = (1..=HOSTS).map(|i| Node::init(dir.path(), &format!("laptop{i}"))).collect();
    for trial in 0..TRIALS {
        for node in &nodes {
            let _ = std::fs::remove_file(node.home.join("api.json"));
        }
        let started = Instant::now();
        let running = Running(
            nodes
                .iter()
                .enumerate()
                .map(|(at, node)| start(&lan, at + 1, node, node.home.with_extension(format!("log{trial}"))))
                .collect(),
        );
        loop {
            let connected: Vec<usize> = nodes.iter().enumerate().map(|(at, n)| peers(&lan, at + 1, n)).collect();
            if connected.iter().all(|&n| n == HOSTS - 1) {
                break;
            }
            if started.elapsed() >= Duration::from_secs(10) {
                let worst = (0..HOSTS).min_by_key(|&at| connected[at]).expect("hosts");
                let log = std::fs::read_to_string(nodes[worst].home.with_extension(format!("log{trial}")));
                // The logs outlive the test's folder.
                let kept = std::env::temp_dir().join(format!("communs-lan-{}", std::process::id()));
                let _ = std::fs::create_dir_all(&kept);
                for (at, node) in nodes.iter().enumerate() {
                    let _ = std::fs::copy(
                        node.home.with_extension(format!("log{trial}")),
                        kept.join(format!("laptop{}.log", at + 1)),
                    );
                }
                panic!(
                    "trial {trial}: after 10 s, peers per node {connected:?}; logs in {}; log of laptop{}:\n{}",
                    kept.display(),
                    worst + 1,
                    log.unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!("trial {trial}: {HOSTS} nodes all connected {:.1} s after start", started.elapsed().as_secs_f64());
        drop(running);
    }
}

/// Two laptops connected on the LAN; one's link goes down long enough for
/// their connection to die (pings unanswered), then comes back: they are
/// connected again within 10 s, by themselves. Before, the dead connection
/// lingered for minutes, and nothing redialled for 5.
#[test]
fn laptops_whose_link_went_down_and_came_back_reconnect_within_10_s() {
    let lan = match Lan::new(2) {
        Ok(lan) => lan,
        Err(e) => {
            eprintln!("skipped: cannot make network namespaces here ({e})");
            return;
        }
    };
    let dir = tempfile::tempdir().expect("tmp");
    let nodes: Vec<Node> = (1..=2).map(|i| Node::init(dir.path(), &format!("laptop{i}"))).collect();
    let _running = Running(
        nodes.iter().enumerate().map(|(at, node)| start(&lan, at + 1, node, node.home.with_extension("log"))).collect(),
    );
    let connected = |expected: usize| (0..2).all(|at| peers(&lan, at + 1, &nodes[at]) == expected);
    let wait = |what: &str, secs: u64, expected: usize| {
        let since = Instant::now();
        while !connected(expected) {
            assert!(since.elapsed() < Duration::from_secs(secs), "{what} within {secs} s");
            std::thread::sleep(Duration::from_millis(100));
        }
        since.elapsed()
    };
    wait("connected", 10, 1);
    ip(&["-n", &lan.host(2), "link", "set", "eth0", "down"]).expect("link down");
    wait("the dead connection closed on both sides", 30, 0);
    ip(&["-n", &lan.host(2), "link", "set", "eth0", "up"]).expect("link up");
    let took = wait("reconnected", 10, 1);
    eprintln!("reconnected {:.1} s after the link came back", took.as_secs_f64());
}

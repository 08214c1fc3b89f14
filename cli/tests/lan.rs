//! A fablab LAN on one machine: network namespaces joined by a kernel
//! bridge, or by a userspace switch that delays every frame by 0.5 to
//! 3 ms (this kernel has no netem), a `communs node run` in each, finding
//! each other by mDNS only (no bootstrap, no DHT), all started at the same
//! instant, as laptops are after a power cut. Needs root, `ip` (iproute2)
//! and `/dev/net/tun`; skipped with a message where namespaces cannot be
//! made.
// The switch reads and writes TAP devices (ioctl, poll).
#![allow(unsafe_code)]

mod support;

use std::collections::BinaryHeap;
use std::os::fd::{AsRawFd, RawFd};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use support::{Node, binary};

/// How the hosts of a [`Lan`] are joined.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wiring {
    /// A kernel bridge: frames cross at once.
    Bridge,
    /// A userspace switch over TAP devices: each frame reaches the other
    /// hosts 0.5 to 3 ms later, in order between two hosts.
    DelayingSwitch,
}

/// Namespaces `{name}-hub` (the bridge) and `{name}-1`… (one host each),
/// deleted on drop.
struct Lan {
    name: String,
    hosts: usize,
    switch: Option<Switch>,
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
    fn new(hosts: usize, wiring: Wiring) -> Result<Lan, String> {
        // Short and unique (per process, and per test within it):
        // interface names have 15 bytes at most.
        static LANS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let lan = LANS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("cl{}x{lan}", std::process::id() % 100_000);
        let hub = format!("{name}-hub");
        ip(&["netns", "add", &hub])?;
        // From here on, dropped (namespaces deleted) whatever fails.
        let mut lan = Lan { name: name.clone(), hosts: 0, switch: None };
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &hub, "link", "set", "br0", "up"])?;
        let mut taps = Vec::new();
        for i in 1..=hosts {
            let host = format!("{name}-{i}");
            ip(&["netns", "add", &host])?;
            lan.hosts = i;
            match wiring {
                Wiring::Bridge => {
                    let port = format!("v{i}");
                    ip(&["-n", &host, "link", "add", "eth0", "type", "veth", "peer", "name", &port, "netns", &hub])?;
                    ip(&["-n", &hub, "link", "set", &port, "master", "br0"])?;
                    ip(&["-n", &hub, "link", "set", &port, "up"])?;
                }
                Wiring::DelayingSwitch => {
                    // The device lives as long as this process holds it,
                    // wherever it is moved.
                    let tap_name = format!("{name}t{i}");
                    let tap = open_tap(&tap_name).map_err(|e| format!("TAP device {tap_name}: {e}"))?;
                    ip(&["link", "set", &tap_name, "netns", &host])?;
                    ip(&["-n", &host, "link", "set", &tap_name, "name", "eth0"])?;
                    taps.push(tap);
                }
            }
            ip(&["-n", &host, "addr", "add", &format!("10.77.0.{i}/24"), "dev", "eth0"])?;
            ip(&["-n", &host, "link", "set", "eth0", "up"])?;
            ip(&["-n", &host, "link", "set", "lo", "up"])?;
        }
        if wiring == Wiring::DelayingSwitch {
            lan.switch = Some(Switch::start(taps));
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
        drop(self.switch.take());
        for i in 1..=self.hosts {
            let _ = ip(&["netns", "del", &self.host(i)]);
        }
        let _ = ip(&["netns", "del", &format!("{}-hub", self.name)]);
    }
}

/// Opens a TAP device named `name` (frames without a packet-information
/// header).
fn open_tap(name: &str) -> std::io::Result<std::fs::File> {
    const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
    #[repr(C)]
    struct IfReq {
        name: [u8; libc::IFNAMSIZ],
        flags: libc::c_short,
        _pad: [u8; 22],
    }
    let file = std::fs::OpenOptions::new().read(true).write(true).open("/dev/net/tun")?;
    let mut request =
        IfReq { name: [0; libc::IFNAMSIZ], flags: (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short, _pad: [0; 22] };
    request.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: TUNSETIFF reads and writes an `ifreq`, which `IfReq` lays out;
    // the fd is open.
    if unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as _, &mut request) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(file)
}

/// A frame on its way to a port, delivered at `at`.
struct InFlight {
    queued: Instant,
    at: Instant,
    seq: u64,
    port: usize,
    frame: Vec<u8>,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    // Earliest first in a max-heap.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The userspace switch: a thread per port reads frames and queues each
/// for the port of its destination (learnt from the source addresses of
/// the frames each port sent), or for every other port when it is a
/// broadcast, a multicast (mDNS) or not learnt yet; a thread delivers
/// them when due.
struct Switch {
    /// Frames delivered, and the sum of their delays in microseconds.
    delivered: Arc<(std::sync::atomic::AtomicU64, std::sync::atomic::AtomicU64)>,
    stop: Arc<AtomicBool>,
    queue: Arc<(Mutex<BinaryHeap<InFlight>>, Condvar)>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// Per-hop delay of the switch: as a small store-and-forward switch with
/// some load adds.
const HOP_DELAY_MS: (f64, f64) = (0.5, 3.0);

impl Switch {
    fn start(taps: Vec<std::fs::File>) -> Switch {
        let stop = Arc::new(AtomicBool::new(false));
        let queue: Arc<(Mutex<BinaryHeap<InFlight>>, Condvar)> = Arc::default();
        let taps: Arc<Vec<std::fs::File>> = Arc::new(taps);
        // Last delivery time per (from, to): frames between two hosts stay
        // in order, as through a switch.
        let last: Arc<Mutex<std::collections::HashMap<(usize, usize), Instant>>> = Arc::default();
        // Which port each Ethernet address was last seen on.
        let learnt: Arc<Mutex<std::collections::HashMap<[u8; 6], usize>>> = Arc::default();
        let mut threads = Vec::new();
        for from in 0..taps.len() {
            let (stop, queue, taps, last, learnt) =
                (stop.clone(), queue.clone(), taps.clone(), last.clone(), learnt.clone());
            threads.push(std::thread::spawn(move || {
                let mut random = 0x9e37_79b9_7f4a_7c15u64 ^ from as u64;
                let mut seq = (from as u64) << 48;
                let mut buffer = vec![0u8; 65_536];
                while !stop.load(Ordering::Relaxed) {
                    let Some(len) = read_frame(taps[from].as_raw_fd(), &mut buffer) else { continue };
                    if len < 14 {
                        continue;
                    }
                    let now = Instant::now();
                    let destination: [u8; 6] = buffer[..6].try_into().expect("6 bytes");
                    let source: [u8; 6] = buffer[6..12].try_into().expect("6 bytes");
                    let ports: Vec<usize> = {
                        let mut learnt = learnt.lock().expect("learnt");
                        learnt.insert(source, from);
                        // The group bit: broadcast and multicast go everywhere.
                        match learnt.get(&destination) {
                            Some(port) if destination[0] & 1 == 0 => vec![*port],
                            _ => (0..taps.len()).filter(|to| *to != from).collect(),
                        }
                    };
                    let (lock, ready) = &*queue;
                    let mut pending = lock.lock().expect("queue");
                    let mut last = last.lock().expect("last");
                    for to in ports.into_iter().filter(|to| *to != from) {
                        random ^= random << 13;
                        random ^= random >> 7;
                        random ^= random << 17;
                        let unit = (random >> 11) as f64 / (1u64 << 53) as f64;
                        let delay = HOP_DELAY_MS.0 + unit * (HOP_DELAY_MS.1 - HOP_DELAY_MS.0);
                        let mut at = now + Duration::from_secs_f64(delay / 1000.0);
                        if let Some(previous) = last.get(&(from, to)) {
                            at = at.max(*previous);
                        }
                        last.insert((from, to), at);
                        seq += 1;
                        pending.push(InFlight { queued: now, at, seq, port: to, frame: buffer[..len].to_vec() });
                    }
                    ready.notify_one();
                }
            }));
        }
        let delivered: Arc<(std::sync::atomic::AtomicU64, std::sync::atomic::AtomicU64)> = Arc::default();
        {
            let (stop, queue, taps, delivered) = (stop.clone(), queue.clone(), taps.clone(), delivered.clone());
            threads.push(std::thread::spawn(move || {
                let (lock, ready) = &*queue;
                let mut pending = lock.lock().expect("queue");
                while !stop.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    match pending.peek().map(|f| f.at) {
                        Some(at) if at <= now => {
                            let frame = pending.pop().expect("peeked");
                            delivered.0.fetch_add(1, Ordering::Relaxed);
                            delivered.1.fetch_add(frame.queued.elapsed().as_micros() as u64, Ordering::Relaxed);
                            // SAFETY: writing a frame's bytes to an open TAP fd.
                            unsafe {
                                libc::write(
                                    taps[frame.port].as_raw_fd(),
                                    frame.frame.as_ptr().cast(),
                                    frame.frame.len(),
                                )
                            };
                        }
                        Some(at) => pending = ready.wait_timeout(pending, at - now).expect("queue").0,
                        None => pending = ready.wait_timeout(pending, Duration::from_millis(50)).expect("queue").0,
                    }
                }
            }));
        }
        Switch { delivered, stop, queue, threads }
    }
}

/// One frame from `fd`, waiting at most 50 ms (so that a stop is seen).
fn read_frame(fd: RawFd, buffer: &mut [u8]) -> Option<usize> {
    let mut poll = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one pollfd, on an open fd.
    if unsafe { libc::poll(&mut poll, 1, 50) } <= 0 {
        return None;
    }
    // SAFETY: reading into a buffer of its own length.
    let n = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
    usize::try_from(n).ok().filter(|n| *n > 0)
}

impl Switch {
    /// Frames delivered so far, and their mean delay.
    fn delivered(&self) -> (u64, Duration) {
        let (frames, micros) = (self.delivered.0.load(Ordering::Relaxed), self.delivered.1.load(Ordering::Relaxed));
        (frames, Duration::from_micros(micros.checked_div(frames).unwrap_or(0)))
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.queue.1.notify_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
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

/// Ten laptops on one LAN whose switch adds 0.5 to 3 ms per hop, started
/// together, mDNS only: every node is connected to every other within
/// 10 s, in each of 20 trials. Before,
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
    let lan = match Lan::new(HOSTS, Wiring::DelayingSwitch) {
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
    // Every frame crossed the switch, which delayed each.
    let (frames, mean) = lan.switch.as_ref().expect("a switch").delivered();
    eprintln!("the switch delivered {frames} frames, {mean:?} after they came in on average");
    assert!(frames > 1000 && mean >= Duration::from_micros(500), "{frames} frames, mean delay {mean:?}");
}

/// Two laptops connected on the LAN; one's link goes down long enough for
/// their connection to die (pings unanswered), then comes back: they are
/// connected again within 10 s, by themselves. Before, the dead connection
/// lingered for minutes, and nothing redialled for 5.
#[test]
fn laptops_whose_link_went_down_and_came_back_reconnect_within_10_s() {
    let lan = match Lan::new(2, Wiring::Bridge) {
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

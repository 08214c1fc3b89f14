//! Issue 5's process benchmarks, with the release `communs` binary:
//!
//! - `transfer`: a 1 GiB design (the offline benchmark's) from one running
//!   node to another on loopback, side by side in each round with
//!   `sendme` moving the same folder (`sendme send DIR --relay disabled
//!   --ticket-type addresses`, `sendme receive TICKET --relay disabled`).
//!   Timed: `communs get` on the receiving node, which has nothing of the
//!   design (its events, tree and files come from the peer, verified, then
//!   are written out), against `sendme receive`, which also writes the
//!   files out. Reported: medians, the median of per-round throughput
//!   ratios (communs over sendme), the CPU time both ends used (the two
//!   nodes and the CLI; `sendme send` and `sendme receive`), and each
//!   process's peak memory.
//! - `idle`: a node started on a fresh store: time from spawning
//!   `communs node run` until it listens and answers its API (its
//!   `api.json` appears), and its resident memory after 5 s idle.
//! - `crowd` (issue 11): a `get` of a design that 1 of 8 connected peers
//!   holds, against the same `get` from that peer alone, side by side in
//!   each round (goal: at most 1.5 times as long). The other 7 peers keep
//!   nothing; files must be asked of the peer that holds them first.
//!
//! ```sh
//! cargo bench -p communs-cli --bench network            # all three
//! cargo bench -p communs-cli --bench network -- idle
//! COMMUNS_BENCH_MIB=64 COMMUNS_BENCH_ROUNDS=5 cargo bench -p communs-cli --bench network -- crowd
//! COMMUNS_BENCH_MIB=256 COMMUNS_BENCH_ROUNDS=2 cargo bench -p communs-cli --bench network -- transfer
//! ```
// Signals to the node processes (kill(2)).
#![allow(unsafe_code)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use common::{Dataset, MIB, WorkDir, cpu_secs_of, env_number, lock_data_dir, median, remove, timed};

const DEFAULT_MIB: u64 = 1024;
const DEFAULT_ROUNDS: usize = 3;
const IDLE_STARTS: usize = 10;

/// The goals of issue 5.
const GOAL_THROUGHPUT_OVER_SENDME: f64 = 2.0;
const GOAL_PEAK_MB: f64 = 200.0;
const GOAL_IDLE_MB: f64 = 60.0;
const GOAL_START_MS: f64 = 300.0;
/// Issue 11's goal: a get among 8 peers, 1 of them holding the design.
const GOAL_CROWD_OVER_ALONE: f64 = 1.5;
const CROWD_PEERS: usize = 8;
const CROWD_DEFAULT_MIB: u64 = 64;
const CROWD_DEFAULT_ROUNDS: u64 = 5;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        eprintln!("network: skipped (run it with `cargo bench -p communs-cli --bench network`)");
        return ExitCode::SUCCESS;
    }
    let only: Vec<&str> = args.iter().skip(1).map(String::as_str).filter(|a| !a.starts_with("--")).collect();
    let wants = |name: &str| only.is_empty() || only.contains(&name);
    let mut result = Ok(());
    if wants("idle") {
        result = result.and_then(|()| idle());
    }
    if wants("transfer") {
        result = result.and_then(|()| transfer());
    }
    if wants("crowd") {
        result = result.and_then(|()| crowd());
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_communs"))
}

fn communs(home: &Path) -> Command {
    let mut command = Command::new(binary());
    command.arg("--home").arg(home).env_remove("COMMUNS_HOME");
    command
}

/// A `communs node run` on loopback; killed when dropped.
struct Daemon {
    child: Child,
    home: PathBuf,
    addr: String,
}

impl Daemon {
    fn start(home: &Path, extra: &[&str]) -> anyhow::Result<(Daemon, Duration)> {
        let _ = std::fs::remove_file(home.join("api.json"));
        let started = Instant::now();
        let child = communs(home)
            .args(["node", "run", "--listen", "/ip4/127.0.0.1/tcp/0", "--api", "127.0.0.1:0", "--no-mdns", "--no-dht"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting communs node run")?;
        while !home.join("api.json").exists() {
            if started.elapsed() > Duration::from_secs(30) {
                bail!("the node on {} did not start", home.display());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let up = started.elapsed();
        let status = communs(home).args(["--json", "node", "status"]).output()?;
        let status: serde_json::Value = serde_json::from_slice(&status.stdout).context("node status")?;
        let addr = format!(
            "{}/p2p/{}",
            status["listen"][0].as_str().context("listen")?,
            status["peer_id"].as_str().context("peer id")?
        );
        Ok((Daemon { child, home: home.to_owned(), addr }, up))
    }

    /// Peak and current resident memory, in KiB (Linux).
    fn memory_kib(&self) -> (Option<u64>, Option<u64>) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        };
        (field("VmHWM:"), field("VmRSS:"))
    }

    fn stop(mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = &self.home;
    }
}

fn init(home: &Path) -> anyhow::Result<()> {
    let status = communs(home).args(["init"]).stdout(Stdio::null()).status()?;
    if !status.success() {
        bail!("communs init failed on {}", home.display());
    }
    Ok(())
}

fn idle() -> anyhow::Result<()> {
    let work = WorkDir::create(std::env::temp_dir().join(format!("communs-idle-{}", std::process::id())))?;
    let mut starts = Vec::new();
    let mut last = None;
    for i in 0..IDLE_STARTS {
        let home = work.0.join(format!("node-{i}"));
        init(&home)?;
        let (daemon, up) = Daemon::start(&home, &[])?;
        starts.push(up.as_secs_f64() * 1000.0);
        if let Some(previous) = last.replace(daemon) {
            previous.stop();
        }
    }
    let daemon = last.context("a node")?;
    std::thread::sleep(Duration::from_secs(5));
    let (_, rss) = daemon.memory_kib();
    daemon.stop();
    let rss_mb = rss.map(|kib| kib as f64 * 1024.0 / 1e6);
    let start_ms = median(starts.clone());
    starts.sort_by(f64::total_cmp);
    println!(
        "idle node: start-up to listening median {start_ms:.0} ms (min {:.0}, max {:.0}; goal < {GOAL_START_MS:.0}) \
         over {IDLE_STARTS} starts; resident memory after 5 s {} (goal < {GOAL_IDLE_MB:.0} MB)",
        starts[0],
        starts[starts.len() - 1],
        rss_mb.map_or("unknown".to_owned(), |mb| format!("{mb:.1} MB")),
    );
    Ok(())
}

/// `sendme send DIR` running, and the ticket it printed.
struct Sender {
    child: Child,
    ticket: String,
}

impl Sender {
    fn start(folder: &Path, cwd: &Path) -> anyhow::Result<Sender> {
        let mut child = Command::new("sendme")
            .args(["send", "--relay", "disabled", "--ticket-type", "addresses", "--no-progress"])
            .arg(folder)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting `sendme send` (install it with `cargo install sendme`)")?;
        let stdout = child.stdout.take().context("sendme's stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let ticket = loop {
            let line = lines.next().context("sendme send exited without a ticket")??;
            if let Some(ticket) = line.trim().strip_prefix("sendme receive ") {
                break ticket.to_owned();
            }
        };
        // Keep reading so that sendme never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(Sender { child, ticket })
    }

    fn peak_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn transfer() -> anyhow::Result<()> {
    let mib = env_number("COMMUNS_BENCH_MIB", DEFAULT_MIB)?;
    let rounds = usize::try_from(env_number("COMMUNS_BENCH_ROUNDS", DEFAULT_ROUNDS as u64)?)?.max(1);
    let data_dir = common::data_dir(binary())?;
    let _lock = lock_data_dir(&data_dir)?;
    let design = Dataset::prepare(&data_dir, mib)?;
    let work = WorkDir::create(data_dir.join(format!("run-{}", std::process::id())))?;
    eprintln!(
        "design: {} ({:.0} MiB, {} files); {rounds} rounds",
        design.root.display(),
        design.bytes as f64 / MIB as f64,
        design.files.len()
    );

    // The sending node publishes the design (untimed) and runs.
    let sender_home = work.0.join("sender");
    init(&sender_home)?;
    let folder = work.0.join("folder");
    copy_folder(&design.root, &folder)?;
    // The offline benchmark's publish leaves its marker in the shared design.
    let _ = std::fs::remove_file(folder.join(".communs"));
    let published = communs(&sender_home).args(["--json", "publish"]).arg(&folder).output()?;
    if !published.status.success() {
        bail!("publish failed: {}", String::from_utf8_lossy(&published.stderr));
    }
    let published: serde_json::Value = serde_json::from_slice(&published.stdout)?;
    let design_id = published["design"].as_str().context("design id")?.to_owned();
    let (sender, _) = Daemon::start(&sender_home, &[])?;
    let sendme_dir = work.0.join("sendme-send");
    std::fs::create_dir_all(&sendme_dir)?;
    let sendme = Sender::start(&design.root, &sendme_dir)?;

    let (mut ours, mut theirs, mut ratios, mut receiver_peaks, mut sendme_receive_peaks) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // CPU time of both ends of each transfer (and of the CLI): less at the
    // mercy of a shared machine than wall time.
    let (mut our_cpu, mut their_cpu) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let home = work.0.join(format!("receiver-{round}"));
        init(&home)?;
        let (receiver, _) = Daemon::start(&home, &["--bootstrap", &sender.addr])?;
        let out = work.0.join(format!("out-{round}"));
        let cpu_before = cpu_secs_of(sender.child.id()).zip(cpu_secs_of(receiver.child.id()));
        let got = timed(communs(&home).args(["--json", "get", &design_id]).arg(&out))?;
        let cpu_after = cpu_secs_of(sender.child.id()).zip(cpu_secs_of(receiver.child.id()));
        if let (Some((s0, r0)), Some((s1, r1)), Some(cli)) = (cpu_before, cpu_after, got.cpu_secs) {
            eprintln!("  CPU: sending node {:.2}s, receiving node {:.2}s, CLI {cli:.2}s", s1 - s0, r1 - r0);
            our_cpu.push(s1 - s0 + r1 - r0 + cli);
        }
        receiver_peaks.push(receiver.memory_kib().0);
        receiver.stop();
        remove(&out)?;
        remove(&home)?;

        let cwd = work.0.join(format!("sendme-receive-{round}"));
        std::fs::create_dir_all(&cwd)?;
        let sendme_before = cpu_secs_of(sendme.child.id());
        let received = timed(
            Command::new("sendme")
                .args(["receive", "--relay", "disabled", "--no-progress", &sendme.ticket])
                .current_dir(&cwd),
        )?;
        sendme_receive_peaks.push(received.max_rss_kib);
        if let (Some(before), Some(after), Some(receive)) =
            (sendme_before, cpu_secs_of(sendme.child.id()), received.cpu_secs)
        {
            their_cpu.push(after - before + receive);
        }
        remove(&cwd)?;

        let throughput = |secs: f64| design.bytes as f64 / MIB as f64 / secs;
        eprintln!(
            "round {}/{rounds}: communs get {:.2}s ({:.0} MiB/s)  sendme receive {:.2}s ({:.0} MiB/s)",
            round + 1,
            got.secs,
            throughput(got.secs),
            received.secs,
            throughput(received.secs)
        );
        ratios.push(received.secs / got.secs);
        ours.push(got.secs);
        theirs.push(received.secs);
    }
    let peak = |v: &[Option<u64>]| v.iter().flatten().max().map(|kib| *kib as f64 * 1024.0 / 1e6);
    let mb = |v: Option<f64>| v.map_or("unknown".to_owned(), |mb| format!("{mb:.0} MB"));
    let throughput = |secs: f64| design.bytes as f64 / MIB as f64 / secs;
    let (ours, theirs, ratio) = (median(ours), median(theirs), median(ratios));
    println!(
        "transfer of {:.0} MiB on loopback: communs get {ours:.2}s ({:.0} MiB/s), sendme receive {theirs:.2}s \
         ({:.0} MiB/s); throughput ratio communs/sendme {ratio:.2}x (median of rounds; goal >= {GOAL_THROUGHPUT_OVER_SENDME}x)",
        design.bytes as f64 / MIB as f64,
        throughput(ours),
        throughput(theirs),
    );
    if !our_cpu.is_empty() && our_cpu.len() == their_cpu.len() {
        let (ours, theirs) = (median(our_cpu), median(their_cpu));
        println!(
            "CPU time, both ends: communs {ours:.2}s, sendme {theirs:.2}s (medians; sendme uses {:.2}x communs')",
            theirs / ours
        );
    }
    println!(
        "peak memory: sending node {}, receiving node {} (goal < {GOAL_PEAK_MB:.0} MB each); sendme send {}, sendme receive {}",
        mb(peak(&[sender.memory_kib().0])),
        mb(peak(&receiver_peaks)),
        mb(peak(&[sendme.peak_kib()])),
        mb(peak(&sendme_receive_peaks)),
    );
    Ok(())
}

/// The peers a running node is connected to.
fn peer_count(home: &Path) -> usize {
    let Ok(out) = communs(home).args(["--json", "peers"]).output() else { return 0 };
    serde_json::from_slice::<serde_json::Value>(&out.stdout).ok().and_then(|v| v.as_array().map(Vec::len)).unwrap_or(0)
}

fn wait_for_peers(home: &Path, peers: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    while peer_count(home) < peers {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("{} did not connect to {peers} peers", home.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn crowd() -> anyhow::Result<()> {
    let mib = env_number("COMMUNS_BENCH_MIB", CROWD_DEFAULT_MIB)?;
    let rounds = env_number("COMMUNS_BENCH_ROUNDS", CROWD_DEFAULT_ROUNDS)?.max(1);
    let data_dir = common::data_dir(binary())?;
    let _lock = lock_data_dir(&data_dir)?;
    let design = Dataset::prepare(&data_dir, mib)?;
    let work = WorkDir::create(data_dir.join(format!("crowd-{}", std::process::id())))?;

    let seeder_home = work.0.join("seeder");
    init(&seeder_home)?;
    let folder = work.0.join("folder");
    copy_folder(&design.root, &folder)?;
    let _ = std::fs::remove_file(folder.join(".communs"));
    let published = communs(&seeder_home).args(["--json", "publish"]).arg(&folder).output()?;
    if !published.status.success() {
        bail!("publish failed: {}", String::from_utf8_lossy(&published.stderr));
    }
    let published: serde_json::Value = serde_json::from_slice(&published.stdout)?;
    let design_id = published["design"].as_str().context("design id")?.to_owned();
    let (seeder, _) = Daemon::start(&seeder_home, &[])?;
    // Seven peers that keep nothing, all connected to the seeder.
    let mut empty = Vec::new();
    for i in 1..CROWD_PEERS {
        let home = work.0.join(format!("empty-{i}"));
        init(&home)?;
        empty.push(Daemon::start(&home, &["--bootstrap", &seeder.addr])?.0);
    }
    eprintln!(
        "design: {:.0} MiB, {} files; {} peers, 1 holding it; {rounds} rounds",
        design.bytes as f64 / MIB as f64,
        design.files.len(),
        CROWD_PEERS
    );
    let (mut crowd_secs, mut alone_secs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let mut times = [0.0; 2];
        // Alone first in even rounds, in the crowd first in odd ones.
        for pass in 0..2 {
            let in_crowd = (pass + round as usize) % 2 == 1;
            let home = work.0.join(format!("getter-{round}-{pass}"));
            init(&home)?;
            let mut args = vec!["--bootstrap".to_owned(), seeder.addr.clone()];
            if in_crowd {
                for peer in &empty {
                    args.extend(["--bootstrap".to_owned(), peer.addr.clone()]);
                }
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (getter, _) = Daemon::start(&home, &args)?;
            wait_for_peers(&home, if in_crowd { CROWD_PEERS } else { 1 })?;
            let out = work.0.join(format!("out-{round}-{pass}"));
            let got = timed(communs(&home).args(["--json", "get", &design_id]).arg(&out))?;
            times[usize::from(in_crowd)] = got.secs;
            getter.stop();
            remove(&out)?;
            remove(&home)?;
        }
        let [alone, crowd] = times;
        eprintln!(
            "round {}/{rounds}: alone {alone:.3}s, among {CROWD_PEERS} peers {crowd:.3}s ({:.2}x)",
            round + 1,
            crowd / alone
        );
        ratios.push(crowd / alone);
        crowd_secs.push(crowd);
        alone_secs.push(alone);
    }
    println!(
        "get of {:.0} MiB held by 1 of {CROWD_PEERS} peers: {:.3}s, from that peer alone {:.3}s; ratio {:.2}x \
         (median of rounds; goal <= {GOAL_CROWD_OVER_ALONE}x)",
        design.bytes as f64 / MIB as f64,
        median(crowd_secs),
        median(alone_secs),
        median(ratios)
    );
    for peer in empty {
        peer.stop();
    }
    seeder.stop();
    Ok(())
}

/// `cp -r` without the `cp`: the sender publishes its own copy so that its
/// `.communs` marker never lands in the shared generated design.
fn copy_folder(from: &Path, to: &Path) -> anyhow::Result<()> {
    let status = Command::new("cp").arg("-r").arg(from).arg(to).status()?;
    if !status.success() {
        bail!("cp -r {} {} failed", from.display(), to.display());
    }
    Ok(())
}

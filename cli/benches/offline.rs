//! Issue 3's offline benchmark: `publish` and `get` of a large design,
//! side by side with the cost of moving the same bytes by other means.
//!
//! ```sh
//! cargo bench -p communs-cli --bench offline
//! COMMUNS_BENCH_MIB=64 COMMUNS_BENCH_ROUNDS=2 cargo bench -p communs-cli --bench offline
//! ```
//!
//! The design (4 large files and 1,000 small ones in nested folders, about
//! `COMMUNS_BENCH_MIB` MiB of incompressible bytes, default 1024) is
//! generated once under `<target dir>/bench-data/` and kept for the next
//! run: it must sit on the same disk as the copies. Each of
//! `COMMUNS_BENCH_ROUNDS` rounds (default 5) runs every contender, so that
//! they all see the same machine load:
//!
//! - the floor: `b3sum` over the files plus `cp -r` of the folder, the cost
//!   of hashing and writing the bytes once;
//! - `publish` into a fresh store, then again unchanged from the same folder;
//! - `get` of the design into a fresh folder, beside another `cp -r`.
//!
//! Reported: medians in seconds, the median of each round's ratio (a ratio
//! within one round compares runs made under the same conditions), and the
//! peak resident memory of `publish` and `get` over all rounds.
//!
//! The page cache cannot be dropped without root, so after the first round
//! every read comes from memory, for every contender alike. Dirty pages are
//! flushed (untimed) before each measured command: otherwise one contender
//! would pay for writing back another's copy, and ext4 makes an `fsync`
//! (which `publish` does and `cp` does not) wait for every dirty file.
//!
//! One run at a time per target directory (a lock in `bench-data/` says
//! so), and no build into that directory meanwhile: the run executes
//! `<target dir>/release/communs`, which a build replaces.

mod common;

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use common::{Dataset, MIB, Timed, WorkDir, env_number, lock_data_dir, median, remove, sync, timed};
use serde_json::json;

const DEFAULT_MIB: u64 = 1024;
const DEFAULT_ROUNDS: usize = 5;

/// The goals of issue 3.
const GOAL_PUBLISH_OVER_FLOOR: f64 = 1.5;
const GOAL_GET_OVER_CP: f64 = 1.5;
const GOAL_REPUBLISH_OVER_PUBLISH: f64 = 0.2;
const GOAL_PEAK_MB: f64 = 200.0;

fn main() -> ExitCode {
    common::bench_main("offline", run)
}

fn run() -> anyhow::Result<()> {
    let mib = env_number("COMMUNS_BENCH_MIB", DEFAULT_MIB)?;
    let rounds = usize::try_from(env_number("COMMUNS_BENCH_ROUNDS", DEFAULT_ROUNDS as u64)?)?;
    if rounds == 0 {
        bail!("COMMUNS_BENCH_ROUNDS must be at least 1");
    }
    if Command::new("b3sum").arg("--version").stdout(Stdio::null()).status().is_err() {
        bail!("`b3sum` is not on PATH; install it with `cargo install b3sum`");
    }

    let binary = Path::new(env!("CARGO_BIN_EXE_communs"));
    let data_dir = common::data_dir(binary)?;
    let _lock = lock_data_dir(&data_dir)?;
    let design = Dataset::prepare(&data_dir, mib)?;
    eprintln!(
        "design: {} ({} files, {:.0} MiB); {rounds} rounds",
        design.root.display(),
        design.files.len(),
        design.bytes as f64 / MIB as f64
    );

    let work = WorkDir::create(data_dir.join(format!("run-{}", std::process::id())))?;
    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let sample = run_round(binary, &design, &work.0.join(format!("round-{round}")), round)?;
        eprintln!(
            "round {}/{rounds}: b3sum {:.2}s  cp {:.2}s  publish {:.2}s  republish {:.3}s  get {:.2}s  cp {:.2}s",
            round + 1,
            sample.b3sum,
            sample.cp,
            sample.publish,
            sample.republish,
            sample.get,
            sample.cp_beside_get
        );
        samples.push(sample);
    }
    report(&design, &samples);
    Ok(())
}

/// One round's measurements, in seconds and KiB.
struct Round {
    b3sum: f64,
    cp: f64,
    /// The `sync` after that `cp -r`: what `cp` left undone that `publish`,
    /// which makes its writes durable, does. Shown, not part of the floor.
    sync_after_cp: f64,
    publish: f64,
    republish: f64,
    get: f64,
    cp_beside_get: f64,
    rss_publish: Option<u64>,
    rss_republish: Option<u64>,
    rss_get: Option<u64>,
}

impl Round {
    fn floor(&self) -> f64 {
        self.b3sum + self.cp
    }
}

fn run_round(binary: &Path, design: &Dataset, dir: &Path, round: usize) -> anyhow::Result<Round> {
    std::fs::create_dir_all(dir)?;
    // A previous round's publish left its marker: a fresh store would not
    // know the design it names.
    let marker = design.root.join(".communs");
    if marker.exists() {
        std::fs::remove_file(&marker)?;
    }
    let home = dir.join("home");
    let communs = |args: &[&OsArg]| {
        let mut command = Command::new(binary);
        command.arg("--home").arg(&home).arg("--json").args(args).env_remove("COMMUNS_HOME");
        command
    };
    timed(&mut communs(&[OsArg::new("init")]))?;

    // Which contender goes first alternates, so that none always runs on
    // the heels of the same other one.
    let floor_first = round.is_multiple_of(2);
    let measure_floor = || -> anyhow::Result<(Timed, Timed, f64)> {
        let mut b3sum = Command::new("b3sum");
        b3sum.args(&design.files);
        let b3sum = timed(&mut b3sum)?;
        let copy = dir.join("cp-floor");
        let cp = timed(Command::new("cp").arg("-r").arg(&design.root).arg(&copy))?;
        let start = Instant::now();
        sync();
        let sync_after_cp = start.elapsed().as_secs_f64();
        remove(&copy)?;
        Ok((b3sum, cp, sync_after_cp))
    };

    let mut floor = None;
    if floor_first {
        floor = Some(measure_floor()?);
    }
    let publish = timed(&mut communs(&[OsArg::new("publish"), design.root.as_os_str()]))?;
    let published: serde_json::Value = serde_json::from_slice(&publish.stdout).context("reading publish's JSON")?;
    if published["new_design"] != true {
        bail!("the first publish did not make a new design: {published}");
    }
    let design_id = published["design"].as_str().context("publish printed no design")?.to_owned();

    let republish = timed(&mut communs(&[OsArg::new("publish"), design.root.as_os_str()]))?;
    let republished: serde_json::Value =
        serde_json::from_slice(&republish.stdout).context("reading the republish's JSON")?;
    if republished["unchanged"] != true {
        bail!("republishing the same folder did not report it unchanged: {republished}");
    }

    let checkout = dir.join("get");
    let copy = dir.join("cp-get");
    let get_cmd = || communs(&[OsArg::new("get"), OsArg::new(&design_id), checkout.as_os_str()]);
    let mut cp_cmd = Command::new("cp");
    cp_cmd.arg("-r").arg(&design.root).arg(&copy);
    let (get, cp_beside_get) = if floor_first {
        let get = timed(&mut get_cmd())?;
        remove(&checkout)?;
        (get, timed(&mut cp_cmd)?)
    } else {
        let cp = timed(&mut cp_cmd)?;
        remove(&copy)?;
        (timed(&mut get_cmd())?, cp)
    };
    remove(&checkout)?;
    remove(&copy)?;
    remove(&home)?;
    if floor.is_none() {
        floor = Some(measure_floor()?);
    }
    let (b3sum, cp, sync_after_cp) = floor.expect("measured above");

    remove(dir)?;
    Ok(Round {
        b3sum: b3sum.secs,
        cp: cp.secs,
        sync_after_cp,
        publish: publish.secs,
        republish: republish.secs,
        get: get.secs,
        cp_beside_get: cp_beside_get.secs,
        rss_publish: publish.max_rss_kib,
        rss_republish: republish.max_rss_kib,
        rss_get: get.max_rss_kib,
    })
}

type OsArg = std::ffi::OsStr;

/// Removes a folder if it is there, then flushes so that the next command
/// is not timed while the file system catches up.
///
/// Every copy is removed as soon as it is measured, so that each contender
/// writes with the same data alive beside it: on the virtual machine this
/// was written on, copies made one after another without removing any got
/// up to 5 times slower, `sync` or not, which penalised whichever came last.
/// The highest peak over all rounds, in MB (10^6 bytes, as the goal says).
fn peak_mb(samples: &[Round], rss: impl Fn(&Round) -> Option<u64>) -> Option<f64> {
    samples.iter().filter_map(rss).max().map(|kib| kib as f64 * 1024.0 / 1e6)
}

fn report(design: &Dataset, samples: &[Round]) {
    let med = |f: &dyn Fn(&Round) -> f64| median(samples.iter().map(f).collect());
    let b3sum = med(&|r| r.b3sum);
    let cp = med(&|r| r.cp);
    let floor = med(&|r| r.floor());
    let sync_after_cp = med(&|r| r.sync_after_cp);
    let publish = med(&|r| r.publish);
    let republish = med(&|r| r.republish);
    let get = med(&|r| r.get);
    let cp_beside_get = med(&|r| r.cp_beside_get);
    let publish_ratio = med(&|r| r.publish / r.floor());
    let get_ratio = med(&|r| r.get / r.cp_beside_get);
    let republish_ratio = med(&|r| r.republish / r.publish);
    let peak_publish = peak_mb(samples, |r| r.rss_publish);
    let peak_republish = peak_mb(samples, |r| r.rss_republish);
    let peak_get = peak_mb(samples, |r| r.rss_get);

    let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
    let mb = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.0} MB"));
    let peak_ok = |v: Option<f64>| v.is_none_or(|v| v < GOAL_PEAK_MB);
    println!();
    println!(
        "offline benchmark: {} files, {:.0} MiB, {} rounds (medians; ratios are medians of each round's ratio)",
        design.files.len(),
        design.bytes as f64 / MIB as f64,
        samples.len()
    );
    println!("  {:<28} {:>9}", "b3sum", format!("{b3sum:.3}s"));
    println!("  {:<28} {:>9}", "cp -r", format!("{cp:.3}s"));
    println!("  {:<28} {:>9}", "floor (b3sum + cp -r)", format!("{floor:.3}s"));
    println!("  {:<28} {:>9}   (after cp -r; not in the floor)", "sync", format!("{sync_after_cp:.3}s"));
    println!(
        "  {:<28} {:>9}   {publish_ratio:>6.2}x floor    goal <= {GOAL_PUBLISH_OVER_FLOOR}x  {}",
        "publish",
        format!("{publish:.3}s"),
        verdict(publish_ratio <= GOAL_PUBLISH_OVER_FLOOR)
    );
    println!(
        "  {:<28} {:>9}   {republish_ratio:>6.3}x publish  goal < {GOAL_REPUBLISH_OVER_PUBLISH}x   {}",
        "republish (unchanged)",
        format!("{republish:.3}s"),
        verdict(republish_ratio < GOAL_REPUBLISH_OVER_PUBLISH)
    );
    println!(
        "  {:<28} {:>9}   {get_ratio:>6.2}x cp -r    goal <= {GOAL_GET_OVER_CP}x  {}",
        "get",
        format!("{get:.3}s"),
        verdict(get_ratio <= GOAL_GET_OVER_CP)
    );
    println!("  {:<28} {:>9}", "cp -r (beside get)", format!("{cp_beside_get:.3}s"));
    println!(
        "  peak RSS: publish {}, republish {}, get {}   goal < {GOAL_PEAK_MB:.0} MB  {}",
        mb(peak_publish),
        mb(peak_republish),
        mb(peak_get),
        verdict(peak_ok(peak_publish) && peak_ok(peak_republish) && peak_ok(peak_get))
    );
    println!(
        "{}",
        json!({
            "bench": "offline",
            "files": design.files.len(),
            "bytes": design.bytes,
            "rounds": samples.len(),
            "median_s": {
                "b3sum": b3sum,
                "cp": cp,
                "floor": floor,
                "sync_after_cp": sync_after_cp,
                "publish": publish,
                "republish": republish,
                "get": get,
                "cp_beside_get": cp_beside_get,
            },
            "ratios": {
                "publish_over_floor": publish_ratio,
                "get_over_cp": get_ratio,
                "republish_over_publish": republish_ratio,
            },
            "peak_rss_mb": { "publish": peak_publish, "republish": peak_republish, "get": peak_get },
        })
    );
}

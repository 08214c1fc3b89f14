//! Reads at a tiers-lieu's size: `list`, `show`, `status`, `log` and `get`
//! on a store of 10,000 designs, one of them with 1,000,000 events, against
//! the same commands on a store of 10 designs of 10 events.
//!
//! Each command is a fresh `communs` process, as a user or a script runs
//! it; its own time is its wall time minus that of `communs id` (process
//! start, no store), measured in the same round. Goals (issue 10): every
//! ratio large/small at most 2, every command under 50 ms of its own time,
//! peak RSS under 100 MB.
//!
//! The stores are built once, in process, straight into the node's store
//! (signing 1,000,000 events through the CLI would take hours), and kept
//! under the target directory's `bench-data/` for the next run.
//!
//!     cargo bench -p communs-cli --bench scale
//!
//! COMMUNS_BENCH_EVENTS (default 1,000,000) sizes the large design,
//! COMMUNS_BENCH_DESIGNS (default 10,000) the large store,
//! COMMUNS_BENCH_ROUNDS (default 5) the rounds.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, bail};
use common::{env_number, lock_data_dir, median, timed};
use communs_node::Home;
use communs_node::Node;
use communs_protocol::{
    AuthorId, BlobHash, Body, DesignId, EventId, Genesis, Manifest, Revision, SecretKey, SignedEvent, Tree, TreeEntry,
    UnsignedEvent, ValidatedPath, manifest::License,
};

/// Changes whenever the generated stores would: older ones are rebuilt.
const GENERATOR_VERSION: &str = "scale-v1";
const BATCH_EVENTS: usize = 20_000;

fn main() -> ExitCode {
    common::bench_main("scale", run)
}

/// A command's arguments on a store, given a scratch folder.
type Args = dyn Fn(&Store, &Path) -> Vec<String>;

/// One round of one command: wall time on the small store, on the large
/// one, the start-up time of that round, peak RSS (KiB) on the large one.
type Sample = (f64, f64, f64, Option<u64>);

/// What a store holds, to know which ids to ask about.
struct Store {
    home: PathBuf,
    /// The design with the long log.
    big: DesignId,
    /// A design of two events.
    small: DesignId,
}

fn run() -> anyhow::Result<()> {
    let events = env_number("COMMUNS_BENCH_EVENTS", 1_000_000)?;
    let designs = env_number("COMMUNS_BENCH_DESIGNS", 10_000)?;
    let rounds = usize::try_from(env_number("COMMUNS_BENCH_ROUNDS", 5)?)?;
    if rounds == 0 {
        bail!("COMMUNS_BENCH_ROUNDS must be at least 1");
    }
    let binary = Path::new(env!("CARGO_BIN_EXE_communs"));
    let data_dir = common::data_dir(binary)?;
    let _lock = lock_data_dir(&data_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let built_before =
        data_dir.join(format!("{GENERATOR_VERSION}-large-{designs}-{events}")).join("bench-complete").exists();
    let small = runtime.block_on(prepare(binary, &data_dir, "small", 10, 10))?;
    let large = runtime.block_on(prepare(binary, &data_dir, "large", designs, events))?;

    let work = common::WorkDir::create(data_dir.join(format!("run-{}", std::process::id())))?;
    let commands: Vec<(&str, Box<Args>)> = vec![
        ("list", Box::new(|_, _| vec!["list".into()])),
        ("show (long log)", Box::new(|s, _| vec!["show".into(), s.big.to_string()])),
        ("status (long log)", Box::new(|s, _| vec!["status".into(), s.big.to_string()])),
        ("log (long log, first page)", Box::new(|s, _| vec!["log".into(), s.big.to_string()])),
        ("show (small design)", Box::new(|s, _| vec!["show".into(), s.small.to_string()])),
        ("get (small design)", Box::new(|s, dir| vec!["get".into(), s.small.to_string(), dir.display().to_string()])),
    ];
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); commands.len()];
    for round in 0..rounds {
        let start_up = median(
            (0..3)
                .map(|_| timed(Command::new(binary).args(["--home", &large.home.display().to_string(), "id"])))
                .map(|t| t.map(|t| t.secs))
                .collect::<anyhow::Result<Vec<_>>>()?,
        );
        for (i, (name, args)) in commands.iter().enumerate() {
            let one = |store: &Store, tag: &str| -> anyhow::Result<(f64, Option<u64>)> {
                let dir = work.0.join(format!("{tag}-{round}-{i}"));
                let mut command = Command::new(binary);
                command.arg("--home").arg(&store.home).arg("--json").args(args(store, &dir));
                let t = timed(&mut command).with_context(|| format!("{name} on the {tag} store"))?;
                Ok((t.secs, t.max_rss_kib))
            };
            let (small_secs, _) = one(&small, "small")?;
            let (large_secs, rss) = one(&large, "large")?;
            samples[i].push((small_secs, large_secs, start_up, rss));
        }
        eprintln!("round {}/{rounds} done", round + 1);
    }

    println!(
        "\nscale: {designs} designs, one of {events} events, against 10 designs of 10 events; medians of {rounds} rounds"
    );
    println!("{:<28} {:>10} {:>10} {:>7} {:>12} {:>9}", "command", "small ms", "large ms", "ratio", "own ms", "RSS MB");
    for (i, (name, _)) in commands.iter().enumerate() {
        let s = &samples[i];
        let small_ms = median(s.iter().map(|x| x.0 * 1e3).collect());
        let large_ms = median(s.iter().map(|x| x.1 * 1e3).collect());
        let own_ms = median(s.iter().map(|x| (x.1 - x.2) * 1e3).collect());
        let rss = s.iter().filter_map(|x| x.3).max().map(|k| k as f64 / 1024.0);
        println!(
            "{name:<28} {small_ms:>10.1} {large_ms:>10.1} {:>7.2} {own_ms:>12.1} {:>9}",
            large_ms / small_ms,
            rss.map_or("-".to_owned(), |r| format!("{r:.0}"))
        );
    }
    println!("goals: ratio <= 2, own time < 50 ms, peak RSS < 100 MB");
    if !built_before {
        // A child's peak RSS starts at its parent's when it is forked, and
        // this process just held a million events in memory.
        println!("(the stores were built by this run: its RSS figures are this process's; run it again)");
    }
    Ok(())
}

/// The store `name` with `designs` designs, one of them of `events`
/// events, built unless a previous run completed it.
async fn prepare(binary: &Path, data_dir: &Path, name: &str, designs: u64, events: u64) -> anyhow::Result<Store> {
    let home = data_dir.join(format!("{GENERATOR_VERSION}-{name}-{designs}-{events}"));
    let done = home.join("bench-complete");
    if !done.exists() {
        if home.exists() {
            std::fs::remove_dir_all(&home)?;
        }
        let started = Instant::now();
        eprintln!("building the {name} store ({designs} designs, one of {events} events) in {}", home.display());
        let status = Command::new(binary).arg("--home").arg(&home).args(["init", "--name", "bench"]).status()?;
        if !status.success() {
            bail!("communs init failed");
        }
        let (big, small) = build(&home, designs, events).await?;
        std::fs::write(&done, format!("{big}\n{small}\n"))?;
        eprintln!("built in {:.0} s", started.elapsed().as_secs_f64());
    }
    let ids = std::fs::read_to_string(&done)?;
    let mut lines = ids.lines();
    let big = lines.next().context("bench-complete")?.parse()?;
    let small = lines.next().context("bench-complete")?.parse()?;
    Ok(Store { home, big, small })
}

fn key(n: u8) -> SecretKey {
    SecretKey::from_bytes(&[n; 32])
}

async fn build(home: &Path, designs: u64, events: u64) -> anyhow::Result<(DesignId, DesignId)> {
    let node = Node::open(Home::locate(Some(home))?).await?;
    let part = b"solid part\n".repeat(100);
    let blob = node.add_blob(part.clone()).await?;
    let tree = Tree::new(vec![TreeEntry {
        path: ValidatedPath::new("part.stl")?,
        blob,
        size: part.len() as u64,
        executable: false,
    }])?;
    let tree = node.add_blob(tree.encode()).await?;
    let maintainers = [key(1), key(2), key(3)];

    // The long log: maintainers take turns, one publishes a revision on
    // the last, the next approves it (threshold 2).
    let mut log = LogWriter::new(&maintainers, 2, tree, 0);
    let big = log.design();
    let mut batch = vec![log.genesis.clone()];
    let mut written = 1;
    while written < events {
        batch.extend(log.next_pair());
        written += 2;
        if batch.len() >= BATCH_EVENTS {
            node.insert_events(&batch)?;
            batch.clear();
        }
    }
    node.insert_events(&batch)?;
    // An outsider's approvals: refused at the door, by rule.
    let outsider = key(9);
    let mut refused = 0;
    for i in 0..1_000u64 {
        let approval = UnsignedEvent {
            design: Some(big),
            author: outsider.author(),
            parents: vec![log.last.id()],
            clock: log.last.clock() + 1,
            time: 1_700_000_000_000 + i,
            body: Body::Approve { target: log.last_revision },
        }
        .sign(&outsider)?;
        if node.insert_events(&[approval]).is_err() {
            refused += 1;
        }
    }
    eprintln!("outsider approvals refused: {refused} of 1000");

    // Many small designs: a genesis and one revision each.
    let mut small = None;
    let mut batch = Vec::new();
    for n in 1..designs {
        let mut design = LogWriter::new(&maintainers[..1], 1, tree, n);
        batch.push(design.genesis.clone());
        batch.push(design.revision());
        small.get_or_insert(design.design());
        if batch.len() >= BATCH_EVENTS {
            node.insert_events(&batch)?;
            batch.clear();
        }
    }
    node.insert_events(&batch)?;
    node.close().await?;
    Ok((big, small.unwrap_or(big)))
}

/// Signs a design's events one after the other, each on the last.
struct LogWriter<'k> {
    keys: &'k [SecretKey],
    genesis: SignedEvent,
    last: SignedEvent,
    last_revision: EventId,
    turn: usize,
    tree: BlobHash,
}

impl<'k> LogWriter<'k> {
    fn new(keys: &'k [SecretKey], threshold: u64, tree: BlobHash, seed: u64) -> Self {
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&seed.to_be_bytes());
        let mut maintainers: Vec<AuthorId> = keys.iter().map(SecretKey::author).collect();
        maintainers.sort();
        let genesis = UnsignedEvent {
            design: None,
            author: keys[0].author(),
            parents: vec![],
            clock: 0,
            time: 1_700_000_000_000,
            body: Body::Genesis(Genesis {
                name: format!("Design {seed}"),
                maintainers,
                threshold,
                license: "CERN-OHL-S-2.0".into(),
                fork_of: None,
                nonce,
            }),
        }
        .sign(&keys[0])
        .expect("a valid genesis");
        LogWriter { keys, last: genesis.clone(), last_revision: genesis.id(), genesis, turn: 0, tree }
    }

    fn design(&self) -> DesignId {
        self.genesis.design()
    }

    fn child(&mut self, key: usize, body: Body) -> SignedEvent {
        let event = UnsignedEvent {
            design: Some(self.design()),
            author: self.keys[key].author(),
            parents: vec![self.last.id()],
            clock: self.last.clock() + 1,
            time: 1_700_000_000_000 + self.last.clock() + 1,
            body,
        }
        .sign(&self.keys[key])
        .expect("a valid event");
        self.last = event.clone();
        event
    }

    fn revision(&mut self) -> SignedEvent {
        let base = if self.last_revision == self.genesis.id() { vec![] } else { vec![self.last_revision] };
        let name = match self.genesis.body() {
            Body::Genesis(g) => g.name.clone(),
            _ => unreachable!("a genesis"),
        };
        let body = Body::Revision(Revision {
            tree: self.tree,
            manifest: Manifest::minimal(&name, License::all("CERN-OHL-S-2.0")),
            base,
            message: format!("step {}", self.last.clock() + 1),
        });
        let author = self.turn % self.keys.len();
        let revision = self.child(author, body);
        self.last_revision = revision.id();
        revision
    }

    /// A revision by one maintainer and the next one's approval of it.
    fn next_pair(&mut self) -> [SignedEvent; 2] {
        let revision = self.revision();
        self.turn += 1;
        let approver = self.turn % self.keys.len();
        let approval = self.child(approver, Body::Approve { target: revision.id() });
        [revision, approval]
    }
}

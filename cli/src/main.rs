//! `communs`: the command line of a communs node.
//!
//! Thin by design: parse the arguments, call `communs-node`, print the
//! result for a person or, with `--json`, for a script. Exit codes are
//! stable: 0 success, 1 failure, 2 bad usage (clap's own code for usage
//! errors, malformed ids included). Errors go to stderr.

mod backend;
mod client;
mod commands;
mod daemon;
mod logging;
#[cfg(unix)]
mod notify;
mod output;
mod progress;
mod target;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use communs_protocol::AuthorId;

use output::Output;
use target::Target;

#[derive(Parser)]
#[command(name = "communs", version, about = "Share open hardware designs as digital commons, peer to peer.")]
struct Cli {
    /// Data directory of the node (default: $COMMUNS_HOME, else the platform data dir).
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,
    /// Configuration file (default: $COMMUNS_CONFIG, else config.toml in the data directory).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// Events `communs log` and designs `communs list` show when not told how
/// many, as the API does.
const PAGE: usize = communs_node::service::PAGE;

#[derive(Subcommand)]
enum Command {
    /// Create this node's identity and data directory (does nothing if they exist).
    Init {
        /// Your name, as it will appear as licensor in designs you publish.
        #[arg(long)]
        name: Option<String>,
    },
    /// Print this node's author id.
    Id,
    /// Print a shell completion script (e.g. `communs completions bash > /etc/bash_completion.d/communs`).
    Completions { shell: clap_complete::Shell },
    /// Write the man pages (communs.1, and communs-COMMAND.1 for each command) into DIR, for packagers.
    #[command(hide = true)]
    Manpages { dir: PathBuf },
    /// Run this node on the network, or ask how it is doing.
    #[command(subcommand)]
    Node(NodeCommand),
    /// The peers this node is connected to.
    Peers,
    /// Connect the running node to a peer now (its listen address with
    /// /p2p/PEER_ID, as `communs node status` prints it there).
    Dial { address: String },
    /// Open the running node's web UI in a browser, signed in: a login link
    /// that works once, within ten minutes, on this machine.
    Ui {
        /// Print the link instead of opening a browser.
        #[arg(long)]
        print: bool,
    },
    /// Catch up now with every connected peer: one design, or all this node keeps.
    Sync { design: Option<communs_protocol::DesignId> },
    /// Publish a folder: a new design, or a new revision of the design it holds.
    Publish {
        /// The design folder (its okh.toml or okh.yml is the manifest).
        dir: PathBuf,
        /// What this revision changes.
        #[arg(long, short)]
        message: Option<String>,
        /// Add the revision to this design instead of the one the folder holds.
        #[arg(long, value_name = "DESIGN")]
        design: Option<communs_protocol::DesignId>,
        /// SPDX license, for a folder without okh.toml (e.g. CERN-OHL-S-2.0).
        #[arg(long, value_name = "SPDX")]
        license: Option<String>,
        /// Another maintainer of a new design (repeatable; you always are one).
        #[arg(long = "maintainer", value_name = "AUTHOR")]
        maintainers: Vec<AuthorId>,
        /// Approvals needed to accept a revision of a new design (default 1).
        #[arg(long, value_name = "N")]
        threshold: Option<u64>,
    },
    /// List the designs in the store by name, a page at a time; with
    /// --catalog, every design this node has heard of, with who holds it.
    List {
        /// The catalog: designs heard of from peers, followed or not.
        #[arg(long)]
        catalog: bool,
        /// Show at most this many designs.
        #[arg(long, default_value_t = PAGE)]
        limit: usize,
        /// Start after this design (the last of the previous page).
        #[arg(long, value_name = "DESIGN")]
        after: Option<communs_protocol::DesignId>,
    },
    /// Show a design at its canonical head, or at DESIGN@REVISION.
    Show {
        target: Target,
        /// Print its manifest as an Open Know-How file instead: OKH-LOSH okh.toml, or OKH v1 okh.yml.
        #[arg(long, value_name = "FORMAT")]
        okh: Option<OkhArg>,
    },
    /// Search the designs this node holds and has heard of, best match first.
    Search {
        /// Words to look for in names, functions, keywords, licenses, authors and READMEs (none: every design that passes the filters, most recently changed first).
        #[arg(value_name = "TEXT")]
        text: Vec<String>,
        /// Only designs whose license names this SPDX id (e.g. CERN-OHL-S-2.0).
        #[arg(long, value_name = "SPDX")]
        license: Option<String>,
        /// Only designs with this keyword.
        #[arg(long, value_name = "KEYWORD")]
        keyword: Option<String>,
        /// Only designs maintained or revised by this author (an author id or a name).
        #[arg(long, value_name = "AUTHOR")]
        author: Option<String>,
        /// Only designs someone has made.
        #[arg(long)]
        made: bool,
        /// Show at most this many designs.
        #[arg(long, default_value_t = communs_node::service::SEARCH_PAGE)]
        limit: usize,
        /// Also ask the connected peers (needs a running node).
        #[arg(long)]
        network: bool,
    },
    /// Show a design's events, newest first, a page at a time.
    Log {
        design: communs_protocol::DesignId,
        /// Show at most this many events.
        #[arg(long, default_value_t = PAGE)]
        limit: usize,
        /// Start after this event (the last of the previous page).
        #[arg(long, value_name = "EVENT")]
        before: Option<communs_protocol::EventId>,
    },
    /// Write a design's files (canonical head, or DESIGN@REVISION) into a folder.
    #[command(alias = "checkout")]
    Get {
        target: Target,
        dir: PathBuf,
        /// Write into a folder that is not empty.
        #[arg(long)]
        force: bool,
    },
    /// Remix a design: a new design of yours whose genesis names its source.
    Fork {
        target: Target,
        /// Name of the remix (default: the source's name).
        #[arg(long)]
        name: Option<String>,
        /// Another license (refused if the source's is share-alike).
        #[arg(long, value_name = "SPDX")]
        license: Option<String>,
    },
    /// Approve a revision or a governance proposal (as a maintainer).
    Approve { design: communs_protocol::DesignId, target: communs_protocol::EventId },
    /// Withdraw your approval of a revision or a proposal.
    Retract { design: communs_protocol::DesignId, target: communs_protocol::EventId },
    /// Propose a change to who maintains a design, or to its threshold.
    Propose {
        design: communs_protocol::DesignId,
        #[command(subcommand)]
        change: ChangeArg,
    },
    /// Canonical and competing heads, open contributions, maintainers, proposals.
    Status { design: communs_protocol::DesignId },
    /// Follow a design: this node keeps it (and, with a network, fetches and seeds it).
    Follow {
        design: communs_protocol::DesignId,
        #[arg(long, default_value = "")]
        reason: String,
        /// On a running node, wait until the design's files are here (a progress bar on a terminal).
        #[arg(long)]
        wait: bool,
    },
    /// Stop following a design.
    Unfollow {
        design: communs_protocol::DesignId,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Hide an author's contributions on this node.
    Mute {
        author: AuthorId,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Stop hiding an author's contributions.
    Unmute {
        author: AuthorId,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Use REVISION (e.g. a competing head) for this node's show and get of DESIGN.
    Pin {
        design: communs_protocol::DesignId,
        revision: communs_protocol::EventId,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Go back to the canonical head for DESIGN.
    Unpin {
        design: communs_protocol::DesignId,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Drop a design's events and files from this node, and refuse them from peers until it is followed again.
    Remove {
        design: communs_protocol::DesignId,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Choose which designs' files this node hosts: followed, all, or from AUTHOR... (recorded in the policy log).
    Seed {
        #[arg(value_parser = ["followed", "all", "from"])]
        policy: String,
        /// With `from`: the authors whose designs it hosts.
        authors: Vec<AuthorId>,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Show this node's policy log and what is in force.
    Policy,
    /// Comment on a design (Markdown), or answer one of its comments or revisions with --on.
    Comment {
        design: communs_protocol::DesignId,
        /// The text (Markdown).
        #[arg(long, short)]
        message: String,
        /// The event this answers: a comment, a revision, a make report.
        #[arg(long, value_name = "EVENT")]
        on: Option<communs_protocol::EventId>,
        /// A file to attach, such as a photo (repeatable).
        #[arg(long = "attach", value_name = "FILE")]
        attach: Vec<PathBuf>,
    },
    /// A design's comments, as threads.
    Comments { design: communs_protocol::DesignId },
    /// Say you built a design (its canonical revision, or DESIGN@REVISION) and how it went.
    Made {
        target: Target,
        /// worked, worked-with-changes or failed.
        #[arg(long, value_parser = ["worked", "worked-with-changes", "failed"])]
        outcome: String,
        /// How it was made (e.g. "FDM printing", "laser cutting").
        #[arg(long, default_value = "")]
        process: String,
        /// The machine (e.g. "Prusa MK4").
        #[arg(long, default_value = "")]
        machine: String,
        /// The material (e.g. PETG).
        #[arg(long, default_value = "")]
        material: String,
        /// A setting, KEY=VALUE (repeatable; e.g. "layer height=0.2 mm").
        #[arg(long = "setting", value_name = "KEY=VALUE", value_parser = parse_setting)]
        settings: Vec<(String, String)>,
        /// A photo of the build (repeatable).
        #[arg(long = "photo", value_name = "IMAGE")]
        photos: Vec<PathBuf>,
        /// Notes (Markdown).
        #[arg(long, short, default_value = "")]
        message: String,
    },
    /// A design's make reports, and how many times each revision was made.
    Makes { design: communs_protocol::DesignId },
    /// Your author profile: the name, bio, place and links shown beside your id.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// An author as this node knows them: the name shown and their profile.
    Author { author: AuthorId },
    /// Give an author your own name for them on this node (wins over their profile); --forget removes it.
    Name {
        author: AuthorId,
        /// The name; omit it with --forget.
        #[arg(required_unless_present = "forget")]
        name: Option<String>,
        #[arg(long, conflicts_with = "name")]
        forget: bool,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Delete the blobs that nothing this node keeps names, and say how much space that gave back.
    Gc,
    /// Re-hash every blob and re-verify every event; exit 1 if anything is wrong.
    Fsck,
    /// Carry designs between nodes without a network, in one file.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Back up this node into a new or empty folder: its secret key, config, policy and events (files with --files).
    Backup {
        dir: PathBuf,
        /// Also the files (trees and file contents) this node holds.
        #[arg(long)]
        files: bool,
        /// Write into a folder that is not empty.
        #[arg(long)]
        overwrite: bool,
    },
    /// Restore a backup into a data directory that has no identity: same author, peer id, designs and policy.
    Restore { dir: PathBuf },
}

#[derive(Subcommand)]
enum ProfileCommand {
    /// Sign a new profile (it replaces the one before, on every node that holds one of your designs).
    Set {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        bio: String,
        /// A town, a tiers-lieu.
        #[arg(long, default_value = "")]
        place: String,
        /// A web page (repeatable).
        #[arg(long = "link", value_name = "URL")]
        links: Vec<String>,
        /// An image (at most 1 MiB).
        #[arg(long, value_name = "IMAGE")]
        avatar: Option<PathBuf>,
    },
    /// Show your profile.
    Show,
}

/// `KEY=VALUE` of `made --setting`.
fn parse_setting(s: &str) -> Result<(String, String), String> {
    let (key, value) = s.split_once('=').ok_or_else(|| format!("{s:?} is not KEY=VALUE"))?;
    Ok((key.trim().to_owned(), value.trim().to_owned()))
}

#[derive(Subcommand)]
enum NodeCommand {
    /// Run the node: gossip, catch up, serve and fetch files, answer the local API. Stops on Ctrl-C or SIGTERM.
    Run(Box<daemon::RunArgs>),
    /// Peer id, listen addresses, API address, peers and followed designs of the running node.
    Status,
}

/// An Open Know-How file format.
#[derive(Clone, Copy, clap::ValueEnum)]
enum OkhArg {
    /// OKH-LOSH okh.toml.
    Toml,
    /// OKH v1 okh.yml.
    Yml,
}

#[derive(Subcommand, Clone, Copy)]
enum ChangeArg {
    /// Add a maintainer.
    AddMaintainer { author: AuthorId },
    /// Remove a maintainer.
    RemoveMaintainer { author: AuthorId },
    /// Set how many maintainers must approve.
    SetThreshold { threshold: u64 },
}

#[derive(Subcommand)]
enum BundleCommand {
    /// Write designs' events and files into one file: `export DESIGN... FILE`, or `export --all FILE`.
    Export {
        /// The designs to carry, then the bundle file (with --all, the file alone).
        #[arg(value_name = "DESIGN... FILE", num_args = 1.., required = true)]
        args: Vec<String>,
        /// Every design in the store.
        #[arg(long)]
        all: bool,
    },
    /// Verify FILE completely, then add what this store lacks.
    Import { file: PathBuf },
}

impl BundleCommand {
    /// The designs (none: all of them) and the file of an export. clap
    /// cannot take several designs before the file while `--all` takes none,
    /// hence one list, split here.
    fn export_targets(args: &[String], all: bool) -> Result<(Vec<communs_protocol::DesignId>, PathBuf), clap::Error> {
        let usage = |message: String| {
            <Cli as clap::CommandFactory>::command().error(clap::error::ErrorKind::ValueValidation, message)
        };
        let Some((file, designs)) = args.split_last() else {
            return Err(usage("name the bundle file".to_owned()));
        };
        match (all, designs.is_empty()) {
            (true, false) => return Err(usage("give either designs or --all, not both".to_owned())),
            (false, true) => return Err(usage("name the designs to export (or --all), then the file".to_owned())),
            _ => {}
        }
        let designs = designs
            .iter()
            .map(|d| d.parse().map_err(|e| usage(format!("invalid design id {d:?}: {e}"))))
            .collect::<Result<_, _>>()?;
        Ok((designs, PathBuf::from(file)))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Bundle(BundleCommand::Export { args, all }) = &cli.command
        && let Err(usage) = BundleCommand::export_targets(args, *all)
    {
        usage.exit();
    }
    let out = Output::new(cli.json);
    // A running node serves the network, its API and store work at once:
    // it gets every core. Other commands are short and single-threaded.
    let builder = match &cli.command {
        Command::Node(NodeCommand::Run(_)) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match { builder }.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            out.error(&anyhow::Error::new(e).context("starting the async runtime"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli, &out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            ExitCode::FAILURE
        }
    }
}

//! `communs`: the command line of a communs node.
//!
//! Thin by design: parse the arguments, call `communs-node`, print the
//! result for a person or, with `--json`, for a script. Exit codes are
//! stable: 0 success, 1 failure, 2 bad usage. Errors go to stderr.

mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use communs_node::{Home, keyfile};
use serde_json::json;

use output::Output;

#[derive(Parser)]
#[command(name = "communs", version, about = "Share open hardware designs as digital commons, peer to peer.")]
struct Cli {
    /// Data directory of the node (default: $COMMUNS_HOME, else the platform data dir).
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Output::new(cli.json);
    match run(cli, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, out: &Output) -> anyhow::Result<()> {
    let home = Home::locate(cli.home.as_deref())?;
    match cli.command {
        Command::Init { name } => init(&home, name, out),
        Command::Id => {
            let key = keyfile::load(&home)?;
            out.print(json!({ "author": key.author().to_string() }), || key.author().to_string());
            Ok(())
        }
    }
}

fn init(home: &Home, name: Option<String>, out: &Output) -> anyhow::Result<()> {
    let (key, created) = keyfile::load_or_create(home).context("creating the identity")?;
    let mut config = home.read_config()?;
    let name_set = created && name.is_some();
    if name_set {
        config.name = name.clone();
        home.write_config(&config)?;
    }
    let author = key.author().to_string();
    let root = home.root().display().to_string();
    out.print(json!({ "author": author, "home": root, "created": created, "name": config.name }), || {
        if created {
            format!("Created identity {author}\nin {root}")
        } else {
            let ignored = if name.is_some() && !name_set {
                format!("\n(--name ignored: the name is kept in {})", home.config_path().display())
            } else {
                String::new()
            };
            format!("Already initialised, nothing changed: {author}\nin {root}{ignored}")
        }
    });
    Ok(())
}

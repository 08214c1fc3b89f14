//! One function per command: open what it needs, call the node, print.
//!
//! A command runs in this process on the store, or, while a node runs on
//! the same data directory, in that node (which holds the store) through
//! its API: [`dispatch`] is the same code in both places.

mod design;
mod gc;
mod govern;
mod identity;
mod network;
mod policy;

use anyhow::Context;
use communs_node::net::Network;
use communs_node::{Home, Node};

use crate::client::Remote;
use crate::output::Output;
use crate::{Cli, Command, NodeCommand};

pub(crate) async fn run(cli: Cli, out: &Output) -> anyhow::Result<()> {
    if let Command::Completions { shell } = cli.command {
        let mut command = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut command, "communs", &mut std::io::stdout());
        return Ok(());
    }
    let home = Home::locate(cli.home.as_deref())?;
    match cli.command {
        Command::Init { name } => identity::init(&home, name, out),
        Command::Id => identity::id(&home, out),
        Command::Node(NodeCommand::Run(args)) => crate::daemon::run(home, args, out).await,
        command => {
            if let Some(remote) = Remote::find(&home).await? {
                let command = command.absolute()?;
                let (printed, result) = remote.run(&command, out.is_json()).await;
                out.replay(printed);
                return result;
            }
            if command.needs_network() {
                anyhow::bail!("no node is running on {}: start one with `communs node run`", home.root().display());
            }
            let node = Node::open_for_one_command(home).await?;
            let result = dispatch(&node, None, command, out).await;
            node.close().await.context("closing the store")?;
            result
        }
    }
}

/// Carries out a command on an open store, with the network when the
/// node runs one.
pub(crate) async fn dispatch(node: &Node, net: Option<&Network>, command: Command, out: &Output) -> anyhow::Result<()> {
    match command {
        Command::Approve { .. } | Command::Retract { .. } | Command::Propose { .. } | Command::Status { .. } => {
            govern::run(node, command, out)
        }
        Command::Follow { .. }
        | Command::Unfollow { .. }
        | Command::Mute { .. }
        | Command::Unmute { .. }
        | Command::Pin { .. }
        | Command::Unpin { .. }
        | Command::Remove { .. }
        | Command::Policy => policy::run(node, net, command, out).await,
        Command::Gc => gc::run(node, net, out).await,
        Command::Node(_) | Command::Peers | Command::Sync { .. } => {
            let net = net.context("this command needs a running node: start one with `communs node run`")?;
            network::run(net, command, out).await
        }
        Command::Init { .. } | Command::Id | Command::Completions { .. } => {
            anyhow::bail!("this command runs in the CLI, not in a node")
        }
        command => design::run(node, net, command, out).await,
    }
}

impl Command {
    fn needs_network(&self) -> bool {
        matches!(self, Command::Node(_) | Command::Peers | Command::Sync { .. })
    }

    /// The same command with its paths made absolute, for a node whose
    /// working directory is not ours.
    fn absolute(self) -> anyhow::Result<Command> {
        let abs = |p: std::path::PathBuf| std::path::absolute(&p).with_context(|| format!("{}", p.display()));
        Ok(match self {
            Command::Publish { dir, message, design, license, maintainers, threshold } => {
                Command::Publish { dir: abs(dir)?, message, design, license, maintainers, threshold }
            }
            Command::Get { target, dir, force } => Command::Get { target, dir: abs(dir)?, force },
            Command::Bundle(crate::BundleCommand::Export { mut args, all }) => {
                if let Some(file) = args.pop() {
                    args.push(abs(file.into())?.display().to_string());
                }
                Command::Bundle(crate::BundleCommand::Export { args, all })
            }
            Command::Bundle(crate::BundleCommand::Import { file }) => {
                Command::Bundle(crate::BundleCommand::Import { file: abs(file)? })
            }
            other => other,
        })
    }
}

/// Milliseconds since the Unix epoch, for an event's advisory time.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

/// An event time for people: RFC 3339 in UTC, to the second.
pub(crate) fn format_time(ms: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(time).to_string()
}

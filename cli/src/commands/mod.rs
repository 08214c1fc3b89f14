//! One function per command: turn its arguments into a request of
//! `communs_node::service`, carry it out (on this process's store, or in
//! the running node: [`Backend`]), print the result.

mod backup;
mod design;
mod govern;
mod identity;
mod network;
mod policy;
mod social;

use std::sync::Arc;

use anyhow::Context;
use communs_node::service::Service;
use communs_node::{Home, Node, keyfile};

use crate::backend::Backend;
use crate::client::Remote;
use crate::output::Output;
use crate::{Cli, Command, NodeCommand};

pub(crate) async fn run(cli: Cli, out: &Output) -> anyhow::Result<()> {
    if let Command::Completions { shell } = cli.command {
        let mut command = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut command, "communs", &mut std::io::stdout());
        return Ok(());
    }
    if let Command::Manpages { dir } = cli.command {
        let command = <Cli as clap::CommandFactory>::command();
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        clap_mangen::generate_to(command, &dir).with_context(|| format!("writing man pages into {}", dir.display()))?;
        return Ok(());
    }
    let home = Home::locate(cli.home.as_deref())?.with_config(cli.config.as_deref())?;
    let command = match cli.command {
        // Your own profile: the author whose key this data directory holds.
        Command::Profile(crate::ProfileCommand::Show) => Command::Author { author: keyfile::load(&home)?.author() },
        command => command,
    };
    match command {
        Command::Init { name } => identity::init(&home, name, out).await,
        Command::Id => identity::id(&home, out),
        Command::Restore { dir } => backup::restore(&home, &dir, out).await,
        Command::Node(NodeCommand::Run(args)) => crate::daemon::run(home, *args, out).await,
        command => {
            if let Some(remote) = Remote::find(&home).await? {
                return dispatch(&Backend::Remote(remote), command, out).await;
            }
            if command.needs_network() {
                anyhow::bail!("no node is running on {}: start one with `communs node run`", home.root().display());
            }
            let node = Arc::new(Node::open_for_one_command(home).await?);
            let backend = Backend::Local(Service::offline(node.clone()));
            let result = dispatch(&backend, command, out).await;
            drop(backend);
            match Arc::try_unwrap(node) {
                Ok(node) => node.close().await.context("closing the store")?,
                Err(node) => node.flush().await.context("flushing the store")?,
            }
            result
        }
    }
}

/// Carries out a command where `backend` says.
async fn dispatch(backend: &Backend, command: Command, out: &Output) -> anyhow::Result<()> {
    match command {
        Command::Publish { .. }
        | Command::List { .. }
        | Command::Show { .. }
        | Command::Search { .. }
        | Command::Log { .. }
        | Command::Get { .. }
        | Command::Fork { .. }
        | Command::Fsck
        | Command::Gc
        | Command::Bundle(_) => design::run(backend, command, out).await,
        Command::Backup { dir, files, overwrite } => backup::backup(backend, dir, files, overwrite, out).await,
        Command::Approve { .. } | Command::Retract { .. } | Command::Propose { .. } | Command::Status { .. } => {
            govern::run(backend, command, out).await
        }
        Command::Follow { .. }
        | Command::Unfollow { .. }
        | Command::Mute { .. }
        | Command::Unmute { .. }
        | Command::Pin { .. }
        | Command::Unpin { .. }
        | Command::Remove { .. }
        | Command::Seed { .. }
        | Command::Policy => policy::run(backend, command, out).await,
        Command::Node(NodeCommand::Status)
        | Command::Peers
        | Command::Sync { .. }
        | Command::Ui { .. }
        | Command::Dial { .. } => network::run(backend, command, out).await,
        Command::Comment { .. }
        | Command::Comments { .. }
        | Command::Made { .. }
        | Command::Makes { .. }
        | Command::Profile(_)
        | Command::Author { .. }
        | Command::Name { .. } => social::run(backend, command, out).await,
        Command::Init { .. }
        | Command::Id
        | Command::Restore { .. }
        | Command::Completions { .. }
        | Command::Manpages { .. }
        | Command::Node(NodeCommand::Run(_)) => {
            anyhow::bail!("this command runs in the CLI, not in a node")
        }
    }
}

impl Command {
    fn needs_network(&self) -> bool {
        matches!(
            self,
            Command::Node(_)
                | Command::Peers
                | Command::Sync { .. }
                | Command::Ui { .. }
                | Command::Dial { .. }
                | Command::Search { network: true, .. }
        )
    }
}

/// A path for `backend` to open: made absolute for a running node, whose
/// working directory is not ours.
fn path_for(backend: &Backend, path: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    match backend {
        Backend::Local(_) => Ok(path.to_owned()),
        Backend::Remote(_) => std::path::absolute(path).with_context(|| format!("{}", path.display())),
    }
}

/// An event time for people: RFC 3339 in UTC, to the second.
pub(crate) fn format_time(ms: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(time).to_string()
}

/// An author for people: the name this node shows for them beside a
/// short id (`Ada Lovelace (author1mxz…)`), else the whole id. Names are
/// display only: two authors may share one, the id tells them apart.
pub(crate) fn who(names: &std::collections::BTreeMap<String, String>, author: &communs_protocol::AuthorId) -> String {
    let id = author.to_string();
    match names.get(&id) {
        Some(name) => format!("{name} ({}…)", id.chars().take(14).collect::<String>()),
        None => id,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

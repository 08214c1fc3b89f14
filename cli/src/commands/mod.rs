//! One function per command: open what it needs, call the node, print.

mod design;
mod govern;
mod identity;
mod policy;

use anyhow::Context;
use communs_node::{Home, Node};

use crate::output::Output;
use crate::{Cli, Command};

pub async fn run(cli: Cli, out: &Output) -> anyhow::Result<()> {
    if let Command::Completions { shell } = cli.command {
        let mut command = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut command, "communs", &mut std::io::stdout());
        return Ok(());
    }
    let home = Home::locate(cli.home.as_deref())?;
    match cli.command {
        Command::Init { name } => identity::init(&home, name, out),
        Command::Id => identity::id(&home, out),
        command => {
            let node = Node::open(home).await?;
            let result = match command {
                Command::Approve { .. }
                | Command::Retract { .. }
                | Command::Propose { .. }
                | Command::Status { .. } => govern::run(&node, command, out),
                Command::Follow { .. }
                | Command::Unfollow { .. }
                | Command::Mute { .. }
                | Command::Unmute { .. }
                | Command::Pin { .. }
                | Command::Unpin { .. }
                | Command::Policy => policy::run(&node, command, out),
                command => design::run(&node, command, out).await,
            };
            node.close().await.context("closing the store")?;
            result
        }
    }
}

/// Milliseconds since the Unix epoch, for an event's advisory time.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

/// An event time for people: RFC 3339 in UTC, to the second.
pub fn format_time(ms: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(time).to_string()
}

//! `init` and `id`: the node's identity.

use anyhow::Context;
use communs_node::{Home, keyfile};
use serde_json::json;

use crate::output::Output;

/// Creates the identity; with `--name`, also the author's first profile
/// (spec/events.md, "Profile"), which travels with their designs.
pub(super) async fn init(home: &Home, name: Option<String>, out: &Output) -> anyhow::Result<()> {
    let (key, created) = keyfile::load_or_create(home).context("creating the identity")?;
    let mut config = home.read_config()?;
    let name_set = created && name.is_some();
    if name_set {
        config.name = name.clone();
        home.write_config(&config)?;
        let node = communs_node::Node::open_for_one_command(home.clone()).await?;
        let details =
            communs_node::social::ProfileDetails { name: name.clone().unwrap_or_default(), ..Default::default() };
        node.set_profile(details, communs_node::clock::now_ms()).await.context("signing the first profile")?;
        node.close().await.context("closing the store")?;
    }
    let author = key.author().to_string();
    let root = home.root().display().to_string();
    out.show(&json!({ "author": author, "home": root, "created": created, "name": config.name }), || {
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
    })
}

pub(super) fn id(home: &Home, out: &Output) -> anyhow::Result<()> {
    let key = keyfile::load(home)?;
    out.show(&json!({ "author": key.author().to_string() }), || key.author().to_string())
}

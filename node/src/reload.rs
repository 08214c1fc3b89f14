//! A running node's configuration, read again (SIGHUP): what may change
//! while it runs is applied, the rest is reported as waiting for a restart.
//!
//! Two steps, so that the decision is tested without a network: [`plan`]
//! compares the configuration in force with the file's (pure) and says
//! what to do; [`apply`] does it on the running [`Network`].
//!
//! Live: the name, new bootstrap peers, the bandwidth limits and the
//! storage limit. Adding a setting: [`plan`] takes `Config`, `NetConfig`
//! and `StorageConfig` apart field
//! by field, so a new field does not compile until it has its line there.
//! A setting that can change live gets an [`Action`] (carried out in
//! [`apply`]) and a line in `applied`; any other is listed in
//! `needs_restart` and keeps its old value in `running`.

use std::collections::HashSet;

use libp2p::Multiaddr;

use crate::disk::StorageConfig;
use crate::home::Config;
use crate::net::bandwidth::{Limits, Rate};
use crate::net::{NetConfig, NetError, Network};

/// What a reload does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The configuration in force once applied: the file's for what
    /// changes live, the old one's for what waits for a restart.
    pub running: Config,
    /// What changes now, one line per setting, for the log.
    pub applied: Vec<String>,
    /// Settings changed in the file that keep their old value until the
    /// node restarts (their keys, e.g. `network.listen`).
    pub needs_restart: Vec<&'static str>,
    /// What [`apply`] does to the running network.
    pub actions: Vec<Action>,
}

/// One change to the running node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Dial these new bootstrap peers now, and again whenever lost.
    Bootstrap(Vec<Multiaddr>),
    /// These upload and download limits from now on (none: no limit).
    Bandwidth(Limits),
    /// Keep the data directory under this many bytes (none: no limit),
    /// giving up files now if it is over.
    StorageLimit(Option<u64>),
}

/// Compares the configuration in force with `new` (the file, with the
/// command line's flags laid over it as at start).
pub fn plan(running: &Config, new: Config) -> Plan {
    let mut plan =
        Plan { running: running.clone(), applied: Vec::new(), needs_restart: Vec::new(), actions: Vec::new() };
    let Config { name, api, network, metrics, storage } = new;
    // Read from the file by each `publish`: already in force.
    if name != running.name {
        plan.applied.push(format!("name: {}", name.as_deref().unwrap_or("(none)")));
        plan.running.name = name;
    }
    restart_if_changed(&mut plan, "api", api != running.api);
    restart_if_changed(&mut plan, "metrics", metrics != running.metrics);
    let StorageConfig { max_bytes, seed } = storage;
    if max_bytes != running.storage.max_bytes {
        plan.applied.push(format!(
            "storage.max_bytes: {}",
            max_bytes.map_or("no limit".to_owned(), |max| format!("{} bytes", max.as_u64()))
        ));
        plan.running.storage.max_bytes = max_bytes;
        plan.actions.push(Action::StorageLimit(max_bytes.map(|max| max.as_u64())));
    }
    restart_if_changed(&mut plan, "storage.seed", seed != running.storage.seed);
    let NetConfig {
        listen,
        bootstrap,
        relays,
        mdns,
        dht,
        seed_all,
        relay_server,
        external,
        max_connections,
        max_connections_per_peer,
        max_upload_bytes_per_second,
        max_download_bytes_per_second,
    } = network;
    let old = &running.network;
    let known: HashSet<&Multiaddr> = old.bootstrap.iter().collect();
    let added: Vec<Multiaddr> = bootstrap.iter().filter(|addr| !known.contains(addr)).cloned().collect();
    if !added.is_empty() {
        plan.applied.push(format!(
            "network.bootstrap: dialling {}",
            added.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        ));
        plan.running.network.bootstrap.extend(added.iter().cloned());
        plan.actions.push(Action::Bootstrap(added));
    }
    // A peer taken out of the list is still redialled until the restart.
    let kept: HashSet<&Multiaddr> = bootstrap.iter().collect();
    restart_if_changed(&mut plan, "network.bootstrap (peers removed)", old.bootstrap.iter().any(|a| !kept.contains(a)));
    restart_if_changed(&mut plan, "network.listen", listen != old.listen);
    restart_if_changed(&mut plan, "network.relays", relays != old.relays);
    restart_if_changed(&mut plan, "network.mdns", mdns != old.mdns);
    restart_if_changed(&mut plan, "network.dht", dht != old.dht);
    restart_if_changed(&mut plan, "network.seed_all", seed_all != old.seed_all);
    restart_if_changed(&mut plan, "network.relay_server", relay_server != old.relay_server);
    restart_if_changed(&mut plan, "network.external", external != old.external);
    restart_if_changed(&mut plan, "network.max_connections", max_connections != old.max_connections);
    restart_if_changed(
        &mut plan,
        "network.max_connections_per_peer",
        max_connections_per_peer != old.max_connections_per_peer,
    );
    let limits = Limits { upload: max_upload_bytes_per_second, download: max_download_bytes_per_second };
    if limits != (Limits { upload: old.max_upload_bytes_per_second, download: old.max_download_bytes_per_second }) {
        let shown = |rate: Option<Rate>| rate.map_or("no limit".to_owned(), |rate| rate.to_string());
        plan.applied.push(format!(
            "network.max_upload_bytes_per_second: {}, network.max_download_bytes_per_second: {}",
            shown(limits.upload),
            shown(limits.download)
        ));
        plan.running.network.max_upload_bytes_per_second = limits.upload;
        plan.running.network.max_download_bytes_per_second = limits.download;
        plan.actions.push(Action::Bandwidth(limits));
    }
    plan
}

fn restart_if_changed(plan: &mut Plan, key: &'static str, changed: bool) {
    if changed {
        plan.needs_restart.push(key);
    }
}

/// Carries out `plan`'s actions on the running network.
pub async fn apply(network: &Network, plan: &Plan) -> Result<(), ReloadError> {
    for action in &plan.actions {
        match action {
            Action::Bootstrap(addrs) => network.add_bootstrap(addrs.clone()).await?,
            Action::Bandwidth(limits) => network.set_bandwidth(*limits),
            Action::StorageLimit(max) => {
                network.node().limit_storage(*max);
                network.node().keep_under_limit().await?;
            }
        }
    }
    Ok(())
}

/// Why a reload was not carried out in full.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Node(#[from] crate::NodeError),
}

#[cfg(test)]
mod tests {
    use super::{Action, plan};
    use crate::home::Config;

    fn config(text: &str) -> Config {
        toml::from_str(text).expect("valid config")
    }

    const PEER_A: &str = "/ip4/192.0.2.10/tcp/4517/p2p/12D3KooWJbZPA3qAk1oLRWMLkmF1krSrHdqvv9kR1atrhzVfWGbD";
    const PEER_B: &str = "/ip4/192.0.2.11/tcp/4517/p2p/12D3KooWJbZPA3qAk1oLRWMLkmF1krSrHdqvv9kR1atrhzVfWGbD";

    #[test]
    fn the_same_configuration_changes_nothing() {
        let running = config(&format!("name = \"Ada\"\n[network]\nbootstrap = [\"{PEER_A}\"]\n"));
        let same = plan(&running, running.clone());
        assert_eq!(same.running, running);
        assert!(same.applied.is_empty() && same.needs_restart.is_empty() && same.actions.is_empty(), "{same:?}");
    }

    #[test]
    fn a_new_bootstrap_peer_is_dialled_and_the_rest_waits_for_a_restart() {
        let running = config(&format!("[network]\nbootstrap = [\"{PEER_A}\"]\n"));
        let file = config(&format!(
            "name = \"Fablab\"\napi = \"127.0.0.1:4600\"\n[network]\nbootstrap = [\"{PEER_A}\", \"{PEER_B}\"]\nlisten = [\"/ip4/0.0.0.0/tcp/4600\"]\nseed_all = true\n"
        ));
        let reload = plan(&running, file.clone());
        assert_eq!(reload.actions, vec![Action::Bootstrap(vec![PEER_B.parse().expect("addr")])]);
        assert_eq!(reload.needs_restart, vec!["api", "network.listen", "network.seed_all"]);
        assert_eq!(reload.applied.len(), 2, "{:?}", reload.applied);
        assert!(reload.applied[1].contains(PEER_B), "{:?}", reload.applied);
        // In force: the new name and peers, the old API, listen addresses
        // and seeding, so that the next reload still reports them.
        assert_eq!(reload.running.name.as_deref(), Some("Fablab"));
        assert_eq!(reload.running.network.bootstrap, file.network.bootstrap);
        assert_eq!((reload.running.api, reload.running.network.seed_all), (None, false));
        assert!(reload.running.network.listen.is_empty());
        assert_eq!(plan(&reload.running, file).applied, Vec::<String>::new(), "applied once");
    }

    #[test]
    fn the_bandwidth_and_storage_limits_change_live_and_the_seeding_policy_waits() {
        let running = config("[network]\nmax_upload_bytes_per_second = \"10MB\"\n[storage]\nmax_bytes = \"200MB\"\n");
        let file = config(
            "[network]\nmax_download_bytes_per_second = \"2MB\"\n[storage]\nmax_bytes = \"1GB\"\nseed = \"all\"\n",
        );
        let reload = plan(&running, file.clone());
        let limits = crate::net::bandwidth::Limits { upload: None, download: Some("2MB".parse().expect("rate")) };
        assert_eq!(reload.actions, vec![Action::StorageLimit(Some(1_000_000_000)), Action::Bandwidth(limits)]);
        assert_eq!(reload.needs_restart, vec!["storage.seed"]);
        assert_eq!(reload.applied.len(), 2, "{:?}", reload.applied);
        assert_eq!(reload.running.network, file.network);
        assert_eq!(reload.running.storage.max_bytes, file.storage.max_bytes);
        assert_eq!(reload.running.storage.seed, None, "the seeding policy waits for a restart");
        // Limits taken out: none from now on.
        let lifted = plan(&reload.running, config(""));
        let none = crate::net::bandwidth::Limits::default();
        assert_eq!(lifted.actions, vec![Action::StorageLimit(None), Action::Bandwidth(none)]);
    }

    #[test]
    fn a_removed_bootstrap_peer_is_still_dialled_until_a_restart() {
        let running = config(&format!("[network]\nbootstrap = [\"{PEER_A}\", \"{PEER_B}\"]\n"));
        let reload = plan(&running, config(&format!("[network]\nbootstrap = [\"{PEER_B}\"]\n")));
        assert!(reload.actions.is_empty());
        assert_eq!(reload.needs_restart, vec!["network.bootstrap (peers removed)"]);
        assert_eq!(reload.running.network.bootstrap, running.network.bootstrap);
    }
}

//! `communs node run`: the node on the network, with its local API.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use communs_node::api::{self, ApiState};
use communs_node::home::Config;
use communs_node::net::bandwidth::Rate;
use communs_node::net::{Address, Network};
use communs_node::{Home, Node};
use serde_json::json;

use crate::client::Running;
use crate::output::Output;

#[derive(clap::Args, Debug, Default, Clone)]
pub(crate) struct RunArgs {
    /// Listen on this address (repeatable; replaces the config's; default /ip4/0.0.0.0/tcp/4517).
    #[arg(long, value_name = "MULTIADDR")]
    listen: Vec<Address>,
    /// Connect to this peer at start (repeatable; added to the config's).
    #[arg(long, value_name = "MULTIADDR")]
    bootstrap: Vec<Address>,
    /// Be reachable through this relay (repeatable): /ip4/.../tcp/.../p2p/PEER.
    #[arg(long, value_name = "MULTIADDR")]
    relay: Vec<Address>,
    /// Where the local API listens (loopback only; default 127.0.0.1:4518; port 0 picks a free one).
    #[arg(long, value_name = "HOST:PORT")]
    api: Option<SocketAddr>,
    /// Do not look for peers on the local network.
    #[arg(long)]
    no_mdns: bool,
    /// Do not use the Kademlia DHT: talk only to the peers given and those mDNS finds.
    #[arg(long)]
    no_dht: bool,
    /// Keep and seed every design this node hears of (a tiers-lieu's always-on node).
    #[arg(long)]
    seed_all: bool,
    /// Relay connections for peers behind a NAT (a node with a public address).
    #[arg(long)]
    relay_server: bool,
    /// Keep at most this many connections (default 128).
    #[arg(long, value_name = "N")]
    max_connections: Option<u32>,
    /// Also serve /metrics (and nothing else) on this address, for a Prometheus on the LAN (e.g. 0.0.0.0:9464).
    #[arg(long, value_name = "HOST:PORT")]
    metrics: Option<SocketAddr>,
    /// Send files at most this fast, to all peers together, each with a fair share (10MB, 500KiB, bytes per second; default: the config's, or no limit).
    #[arg(long, value_name = "RATE")]
    max_upload: Option<Rate>,
    /// Receive files at most this fast, from all peers together (10MB, 500KiB, bytes per second; default: the config's, or no limit).
    #[arg(long, value_name = "RATE")]
    max_download: Option<Rate>,
    /// Keep the data directory under this size (`200MB`, `10GiB`; replaces the config's `[storage] max_bytes`).
    #[arg(long, value_name = "SIZE")]
    max_storage: Option<communs_node::units::Size>,
    /// An address at which others reach this node (repeatable; a relay needs one; default for a relay: its listen addresses).
    #[arg(long, value_name = "MULTIADDR")]
    external: Vec<Address>,
}

impl RunArgs {
    /// `config` with this command line laid over it: what is in force.
    fn over(&self, mut config: Config) -> Config {
        let net = &mut config.network;
        if !self.listen.is_empty() {
            net.listen = self.listen.clone();
        }
        net.bootstrap.extend(self.bootstrap.iter().cloned());
        net.relays.extend(self.relay.iter().cloned());
        net.mdns &= !self.no_mdns;
        net.dht &= !self.no_dht;
        net.seed_all |= self.seed_all;
        net.relay_server |= self.relay_server;
        net.external.extend(self.external.iter().cloned());
        if let Some(max) = self.max_connections {
            net.max_connections = max;
        }
        net.max_upload_bytes_per_second = self.max_upload.or(net.max_upload_bytes_per_second);
        net.max_download_bytes_per_second = self.max_download.or(net.max_download_bytes_per_second);
        config.api = self.api.or(config.api);
        config.metrics.listen = self.metrics.or(config.metrics.listen);
        if let Some(max) = self.max_storage {
            config.storage.max_bytes = Some(max);
        }
        config
    }
}

/// On each SIGHUP, reads the configuration file again and applies what
/// may change while the node runs (`communs_node::reload`); says in the
/// log what changed and what waits for a restart. A file that does not
/// parse changes nothing.
#[cfg(unix)]
async fn reload_on_hangup(home: Home, args: RunArgs, mut running: Config, network: Network) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(hangup) => hangup,
        Err(e) => {
            tracing::warn!("no configuration reload on SIGHUP: {e}");
            return;
        }
    };
    while hangup.recv().await.is_some() {
        let path = home.config_path();
        tracing::info!("SIGHUP: reading {} again", path.display());
        let file = match home.read_config() {
            Ok(file) => file,
            Err(e) => {
                tracing::error!("configuration not reloaded, the one in force stays: {e}");
                continue;
            }
        };
        let plan = communs_node::reload::plan(&running, args.over(file));
        if let Err(e) = communs_node::reload::apply(&network, &plan).await {
            tracing::error!("configuration not reloaded: {e}");
            continue;
        }
        for line in &plan.applied {
            tracing::info!("reloaded {line}");
        }
        if !plan.needs_restart.is_empty() {
            tracing::warn!(
                "changed in {}, in force after a restart: {}",
                path.display(),
                plan.needs_restart.join(", ")
            );
        }
        if plan.applied.is_empty() && plan.needs_restart.is_empty() {
            tracing::info!("configuration unchanged");
        }
        running = plan.running;
    }
}

/// How long requests in flight when the node is told to stop may still
/// run: with the swarm's stop and the store's close, the node exits within
/// 2 s of SIGTERM.
const API_DRAIN: Duration = Duration::from_millis(500);

pub(crate) async fn run(home: Home, args: RunArgs, out: &Output) -> anyhow::Result<()> {
    crate::logging::init();

    // In force: the file with the flags laid over it, as on each SIGHUP.
    let running_config = args.over(home.read_config()?);
    let mut net = running_config.network.clone();
    let api_addr = running_config.api.unwrap_or(api::DEFAULT_API);
    let metrics_addr = running_config.metrics.listen;

    // A service's fresh data directory gets its identity on first start,
    // as `communs init` would make it (an existing one is kept).
    let (key, created) = communs_node::keyfile::load_or_create(&home).context("creating the identity")?;
    if created {
        tracing::info!("created identity {} in {}", key.author(), home.root().display());
    }
    let node = Arc::new(Node::open(home.clone()).await?);
    node.limit_storage(running_config.storage.max_bytes.map(|max| max.as_u64()));
    // `--seed-all` and `[network] seed_all` are `seed = "all"`; a policy
    // recorded with `communs seed` replaces the config's.
    match (running_config.storage.seed.clone(), net.seed_all) {
        (Some(seed), _) => node.configure_seeding(seed),
        (None, true) => node.configure_seeding(communs_node::SeedPolicy::All),
        (None, false) => {}
    }
    net.seed_all = node.hears_everything()?;
    let listener = api::bind(api_addr).await?;
    let api_addr = listener.local_addr()?;
    let metrics_listener = match metrics_addr {
        Some(addr) => Some(api::bind_metrics(addr).await?),
        None => None,
    };
    let metrics_addr = metrics_listener.as_ref().map(tokio::net::TcpListener::local_addr).transpose()?;
    let network = Network::start(node.clone(), &net).await?;
    let collector = tokio::spawn(communs_node::gc::collect_periodically(Arc::downgrade(&node)));
    #[cfg(unix)]
    let reloader = tokio::spawn(reload_on_hangup(home.clone(), args, running_config, network.clone()));
    let token = api::create_token(&home)?;
    let running = Running { api: api_addr, pid: std::process::id(), peer_id: network.peer_id().to_string() };
    let api_path = home.api_path();
    communs_node::atomic::write_atomically(&api_path, serde_json::to_string(&running)?.as_bytes(), 0o644)
        .with_context(|| format!("writing {}", api_path.display()))?;

    // The signal is logged at once; requests in flight are answered "the
    // node is stopping" and get `API_DRAIN` to end, then the node stops
    // under them (a long `get` is cut short: what it stored stays, and
    // every write acknowledged is committed).
    let (stopping, stop) = tokio::sync::watch::channel(false);
    let state = ApiState::new(network.clone(), token, api_addr, stop.clone(), lower_priority);
    let status = network.status().await?;
    let metrics_url = metrics_addr.map(|addr| format!("http://{addr}/metrics"));
    out.show(
        &json!({ "peer_id": status.peer_id, "listen": status.listen, "api": api_addr.to_string(), "metrics": metrics_url }),
        || {
            let metrics = metrics_url.as_ref().map(|url| format!("\n  metrics on {url}")).unwrap_or_default();
            // Under a service manager there is no terminal to press it in.
            let stop = if std::io::IsTerminal::is_terminal(&std::io::stdin()) { "\nStop it with Ctrl-C." } else { "" };
            format!(
                "Node {} running\n  listening on {}\n  API on http://{}{metrics}{stop}",
                status.peer_id,
                status.listen.join(", "),
                api_addr
            )
        },
    )?;
    // The web UI beside the API, on the same loopback port.
    let ui = communs_ui::Ui::new(state.clone(), &home);
    let router = api::timed(api::router(state.clone()).merge(communs_ui::router(ui)), &state);
    if let Some(listener) = metrics_listener {
        let scraped = axum::serve(listener, api::metrics_router(state.clone()))
            .with_graceful_shutdown(signalled_once(stop.clone()))
            .into_future();
        tokio::spawn(async move {
            if let Err(e) = scraped.await {
                tracing::warn!("serving metrics: {e}");
            }
        });
    }
    tokio::spawn(async move {
        stop_signal().await;
        tracing::info!("stopping");
        #[cfg(unix)]
        crate::notify::notify("STOPPING=1");
        let _ = stopping.send(true);
    });
    let signalled = |mut stop: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    };
    let serving = axum::serve(listener, router).with_graceful_shutdown(signalled(stop.clone())).into_future();
    // The store is open, the swarm listens, the API's socket is bound and
    // about to be served (a request that comes first waits in its
    // backlog): ready, for a service manager that waits for it.
    #[cfg(unix)]
    crate::notify::notify("READY=1");
    #[cfg(unix)]
    let watchdog = crate::notify::watchdog_interval()
        .map(|interval| tokio::spawn(crate::notify::keep_alive(network.clone(), interval)));
    let drained = async {
        signalled(stop.clone()).await;
        tokio::time::sleep(API_DRAIN).await;
    };
    let served = tokio::select! {
        served = serving => served,
        () = drained => {
            tracing::info!("requests still running {} ms after the signal: stopping under them", API_DRAIN.as_millis());
            Ok(())
        }
    };

    // Stop the swarm, then close the store.
    #[cfg(unix)]
    if let Some(watchdog) = watchdog {
        watchdog.abort();
    }
    #[cfg(unix)]
    reloader.abort();
    network.shutdown().await;
    drop(network);
    collector.abort();
    let _ = std::fs::remove_file(&api_path);
    close(node).await?;
    served.context("serving the API")
}

/// Closes the store once the tasks that still use it have ended (a
/// fetch or a catch-up in flight ends when the swarm stops).
async fn close(mut node: Arc<Node>) -> anyhow::Result<()> {
    // A command cut short by the stop may still hold the node: after a
    // second, the store is flushed instead of closed.
    for _ in 0..10 {
        match Arc::try_unwrap(node) {
            Ok(node) => return node.close().await.context("closing the store"),
            Err(shared) => node = shared,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    node.flush().await.context("flushing the store")
}

/// Resolves once `stop` turns true.
async fn signalled_once(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// How much lower than the network's a command's scheduling priority is
/// (a nice value): enough that the swarm and `GET /v1/node` take a busy
/// core first.
const COMMAND_NICENESS: i32 = 10;

/// Lowers the calling thread's priority by [`COMMAND_NICENESS`] (Linux sets
/// a nice value per thread; elsewhere commands keep the node's priority).
/// The binary's one unsafe call.
#[allow(unsafe_code)]
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority(2) on this thread's own id; no memory is shared.
    unsafe {
        let thread = libc::gettid() as libc::id_t;
        let now = libc::getpriority(libc::PRIO_PROCESS, thread);
        if libc::setpriority(libc::PRIO_PROCESS, thread, now.saturating_add(COMMAND_NICENESS)) != 0 {
            tracing::debug!("cannot lower a command's priority: {}", std::io::Error::last_os_error());
        }
    }
}

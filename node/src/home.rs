//! The data directory: where one node keeps its key, configuration and store.
//!
//! Chosen in this order: an explicit path (`--home`), `COMMUNS_HOME`, then
//! the platform's data directory (`$XDG_DATA_HOME/communs`, usually
//! `~/.local/share/communs`). Everything of one node lives under it, so
//! copying or deleting a node is copying or deleting one folder.
//!
//! The one exception is the configuration file, which a system service
//! keeps apart (`/etc/communs/config.toml` beside `/var/lib/communs`):
//! `--config`, then `COMMUNS_CONFIG`, then `config.toml` in the data
//! directory.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Environment variable naming the data directory.
pub const HOME_ENV: &str = "COMMUNS_HOME";

/// Environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "COMMUNS_CONFIG";

#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
    /// The configuration file when it is not the data directory's own.
    config: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("no data directory: set {HOME_ENV} or pass --home DIR")]
    NoDataDir,
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: invalid configuration: {source}")]
    Config { path: PathBuf, source: toml::de::Error },
    #[error("no identity in {home}: run `communs init` first")]
    NotInitialised { home: PathBuf },
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> HomeError + '_ {
    move |source| HomeError::Io { path: path.to_owned(), source }
}

/// The node's settings that a person may edit (`config.toml`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How this author signs their name in manifests they create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the local API listens (loopback only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<std::net::SocketAddr>,
    /// How `communs node run` joins the network.
    #[serde(default)]
    pub network: crate::net::NetConfig,
    /// Where Prometheus scrapes the node besides the API (`[metrics]`).
    #[serde(default, skip_serializing_if = "crate::metrics::MetricsConfig::is_off")]
    pub metrics: crate::metrics::MetricsConfig,
    /// How much disk the node may use (`[storage]`).
    #[serde(default)]
    pub storage: crate::disk::StorageConfig,
}

impl Home {
    /// Resolves the data directory (explicit, then environment, then the
    /// platform default). Does not create it. A relative path is made
    /// absolute here, against the working directory, so that every path
    /// built from the home (the store, its scratch folders, the ones handed
    /// to the blob store) is absolute, whatever the command.
    pub fn locate(explicit: Option<&Path>) -> Result<Home, HomeError> {
        let root = match explicit {
            Some(path) => path.to_owned(),
            None => match std::env::var_os(HOME_ENV) {
                Some(path) if !path.is_empty() => PathBuf::from(path),
                _ => dirs::data_dir().ok_or(HomeError::NoDataDir)?.join("communs"),
            },
        };
        let root = std::path::absolute(&root).map_err(io_error(&root))?;
        Ok(Home { root, config: None })
    }

    /// Reads the configuration from `explicit` (`--config`), else from
    /// `COMMUNS_CONFIG`, else from the data directory. Made absolute here:
    /// a running node re-reads it on SIGHUP, whatever its working directory.
    pub fn with_config(mut self, explicit: Option<&Path>) -> Result<Home, HomeError> {
        let path = match explicit {
            Some(path) => Some(path.to_owned()),
            None => std::env::var_os(CONFIG_ENV).filter(|path| !path.is_empty()).map(PathBuf::from),
        };
        self.config = path.map(|path| std::path::absolute(&path).map_err(io_error(&path))).transpose()?;
        Ok(self)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The secret key of this node's author (mode 0600).
    pub fn key_path(&self) -> PathBuf {
        self.root.join("identity.key")
    }

    pub fn config_path(&self) -> PathBuf {
        self.config.clone().unwrap_or_else(|| self.root.join("config.toml"))
    }

    /// Events (redb) and blobs (iroh-blobs).
    pub fn store_dir(&self) -> PathBuf {
        self.root.join("store")
    }

    /// The full-text search index: derived from the store, deleted and
    /// rebuilt whenever it is damaged or of another version.
    pub fn search_dir(&self) -> PathBuf {
        self.root.join("search")
    }

    /// The running node's API address and process id (present while a
    /// node runs).
    pub fn api_path(&self) -> PathBuf {
        self.root.join("api.json")
    }

    /// The token that API requests which write must carry (mode 0600).
    pub fn api_token_path(&self) -> PathBuf {
        self.root.join("api-token")
    }

    /// Held by the one process that has the store open.
    pub fn lock_path(&self) -> PathBuf {
        self.root.join("lock")
    }

    /// Creates the directory (mode 0700: it holds a secret key).
    pub fn create(&self) -> Result<(), HomeError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&self.root).map_err(io_error(&self.root))
    }

    pub fn read_config(&self) -> Result<Config, HomeError> {
        let path = self.config_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|source| HomeError::Config { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(HomeError::Io { path, source: e }),
        }
    }

    pub fn write_config(&self, config: &Config) -> Result<(), HomeError> {
        let text = toml::to_string(config).unwrap_or_default();
        let path = self.config_path();
        crate::atomic::write_atomically(&path, text.as_bytes(), 0o644).map_err(io_error(&path))
    }
}

#[cfg(test)]
mod tests {
    use super::{Config, Home};

    /// The Debian package's /etc/communs/config.toml: a valid file, with a
    /// tiers-lieu's defaults, every other key commented out.
    #[test]
    fn the_packaged_config_is_valid_and_seeds_everything() {
        let text = include_str!("../../packaging/config.toml");
        let config: Config = toml::from_str(text).expect("packaging/config.toml is a valid configuration");
        let expected =
            Config { network: crate::net::NetConfig { seed_all: true, ..Default::default() }, ..Default::default() };
        assert_eq!(config, expected);
        // Its commented keys too, once uncommented.
        let uncommented: String = text
            .lines()
            .map(|line| line.strip_prefix('#').filter(|rest| rest.contains(" = ")).unwrap_or(line))
            .map(|line| format!("{line}\n"))
            .collect();
        let all: Config = toml::from_str(&uncommented).expect("every key of packaging/config.toml uncommented");
        assert!(
            all.name.is_some() && all.api.is_some() && !all.network.bootstrap.is_empty() && all.network.relay_server
        );
    }

    #[test]
    fn an_explicit_config_file_is_read_instead_of_the_data_directorys() {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = Home::locate(Some(&dir.path().join("home"))).expect("home");
        home.create().expect("home created");
        std::fs::write(home.config_path(), "name = \"in the home\"\n").expect("home config");
        let etc = dir.path().join("etc.toml");
        std::fs::write(&etc, "name = \"in etc\"\n").expect("etc config");
        let service = home.clone().with_config(Some(&etc)).expect("config path");
        assert_eq!(service.config_path(), etc);
        assert_eq!(service.read_config().expect("config").name.as_deref(), Some("in etc"));
        assert_eq!(service.store_dir(), home.store_dir(), "the store stays in the data directory");
        assert_eq!(home.read_config().expect("config").name.as_deref(), Some("in the home"));
    }

    #[test]
    fn a_relative_home_is_made_absolute_against_the_working_directory() {
        let home = Home::locate(Some(std::path::Path::new("some/relative/home"))).expect("home");
        assert!(home.root().is_absolute(), "{}", home.root().display());
        assert_eq!(home.root(), std::env::current_dir().expect("cwd").join("some/relative/home"));
        assert!(home.store_dir().is_absolute());
    }

    /// The example of spec/network.md, and a file with no `[network]`.
    #[test]
    fn the_network_table_reads_with_defaults_for_what_it_omits() {
        let text = r#"
name = "Fablab des Communs"
api = "127.0.0.1:4518"

[network]
listen = ["/ip4/0.0.0.0/tcp/4517"]
bootstrap = ["/ip4/192.0.2.10/tcp/4517/p2p/12D3KooWJbZPA3qAk1oLRWMLkmF1krSrHdqvv9kR1atrhzVfWGbD"]
seed_all = true
relay_server = true
external = ["/ip4/192.0.2.20/tcp/4517"]
max_connections = 512
"#;
        let config: Config = toml::from_str(text).expect("valid config");
        assert!(config.network.seed_all && config.network.relay_server && config.network.mdns && config.network.dht);
        assert_eq!(config.network.max_connections, 512);
        assert_eq!(config.network.max_connections_per_peer, communs_protocol::limits::MAX_CONNECTIONS_PER_PEER);
        assert_eq!(config.network.bootstrap.len(), 1);
        let bare: Config = toml::from_str("name = \"Ada\"\n").expect("valid config");
        assert_eq!(bare.network, crate::net::NetConfig::default());
        assert!(toml::from_str::<Config>("[network]\nseeds_all = true\n").is_err(), "a misspelt key is an error");
        let scraped: Config = toml::from_str("[metrics]\nlisten = \"0.0.0.0:9464\"\n").expect("valid config");
        assert_eq!(scraped.metrics.listen, Some("0.0.0.0:9464".parse().expect("address")));
        assert_eq!(bare.metrics.listen, None, "off by default");
    }
}

//! `communs backup` and `communs restore`: a node's identity, settings,
//! policy and events (files optional) in one folder (spec/storage.md,
//! "Backups").
//!
//! A node's identity is what people follow: losing the key must not mean
//! losing the name. A backup is a folder of plain files (the key file, the
//! config, the policy log, one bundle) described by `backup.json`, written
//! last, which lists each file's size and BLAKE3 hash: a restore checks
//! every byte before it writes anything, and writes the key last, so that
//! an interrupted restore leaves no identity behind.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use communs_protocol::cbor::{self, Value};
use communs_protocol::limits::{MAX_BACKUP_MANIFEST_BYTES, MAX_BACKUP_POLICY_BYTES};
use communs_protocol::{AuthorId, BlobHash, Body, SecretKey, SignedEvent};
use serde::{Deserialize, Serialize};

use crate::home::{Config, Home};
use crate::progress::Progress;
use crate::{Node, NodeError, OpenError};

/// What `backup.json`'s `format` says; a restore refuses any other.
pub const BACKUP_FORMAT: &str = "communs-backup/1";

const MANIFEST: &str = "backup.json";
const KEY: &str = "identity.key";
const CONFIG: &str = "config.toml";
const POLICY: &str = "policy.cbor";
const DESIGNS: &str = "designs.bundle";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: String,
    /// The printable author id of the key, checked against the key.
    author: String,
    created_ms: u64,
    /// Whether `designs.bundle` holds the files this node had.
    files: bool,
    contents: Vec<Content>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Content {
    name: String,
    bytes: u64,
    /// Lowercase hex.
    blake3: String,
}

/// What a backup holds (or a restore put back).
#[derive(Debug, Clone)]
pub struct BackupSummary {
    pub dir: PathBuf,
    pub author: AuthorId,
    pub designs: usize,
    /// Events of designs, and profiles.
    pub events: usize,
    pub policy_entries: usize,
    pub blobs: usize,
    pub bytes: u64,
    /// Whether the files were backed up.
    pub files: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{dir} is not empty: a backup goes into a new or empty folder (or pass --overwrite)")]
    NotEmpty { dir: PathBuf },
    #[error("{dir}: not a communs backup ({detail}); nothing was restored")]
    NotABackup { dir: PathBuf, detail: String },
    #[error("{path}: the backup is damaged ({detail}); nothing was restored")]
    Damaged { path: PathBuf, detail: String },
    #[error(
        "{home} already has an identity ({key}): a backup is restored only into an empty data directory, for \
         example `communs --home NEW_DIR restore BACKUP`; nothing was written"
    )]
    HasIdentity { home: PathBuf, key: PathBuf },
    #[error(
        "{store} exists but {home} has no identity (an interrupted restore?): move {store} away, then restore \
         again; nothing was written"
    )]
    HasStore { home: PathBuf, store: PathBuf },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Node(Box<NodeError>),
    #[error(transparent)]
    Open(Box<OpenError>),
}

impl From<NodeError> for BackupError {
    fn from(e: NodeError) -> Self {
        BackupError::Node(Box::new(e))
    }
}

impl From<OpenError> for BackupError {
    fn from(e: OpenError) -> Self {
        BackupError::Open(Box::new(e))
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io { path: path.to_owned(), source }
}

impl Node {
    /// Writes this node's backup into `dir` (created mode 0700: it holds
    /// the secret key). Reads the store only, so a running node serves on.
    pub async fn backup(
        &self,
        dir: &Path,
        files: bool,
        overwrite: bool,
        progress: &dyn Progress,
    ) -> Result<BackupSummary, BackupError> {
        prepare_dir(dir, overwrite)?;
        let designs = self.events.designs().map_err(NodeError::from)?;
        let mut events = Vec::new();
        for design in &designs {
            events.extend(self.events.design_log(design).map_err(NodeError::from)?);
        }
        let profiles = self.events.profiles().map_err(NodeError::from)?;
        let blobs = if files { self.held_blobs(&events).await? } else { Vec::new() };
        let bundle = dir.join(DESIGNS);
        let bytes = self.write_bundle(events.iter().chain(&profiles), &blobs, &bundle, progress).await?;

        let policy = self.events.raw_policy_log().map_err(NodeError::from)?;
        let encoded = cbor::encode(&Value::Array(policy.iter().map(|e| Value::Bytes(e.clone())).collect()));
        crate::atomic::write_atomically(&dir.join(POLICY), &encoded, 0o600).map_err(io(&dir.join(POLICY)))?;
        let mut names = vec![KEY, POLICY, DESIGNS];
        match std::fs::read(self.home.config_path()) {
            Ok(config) => {
                crate::atomic::write_atomically(&dir.join(CONFIG), &config, 0o600).map_err(io(&dir.join(CONFIG)))?;
                names.push(CONFIG);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(BackupError::Io { path: self.home.config_path(), source: e }),
        }
        crate::keyfile::write(&dir.join(KEY), &self.key).map_err(NodeError::from)?;

        let mut contents = Vec::new();
        for name in names {
            let path = dir.join(name);
            let (bytes, hash) = hash_file(&path).await?;
            contents.push(Content { name: name.to_owned(), bytes, blake3: hash });
        }
        let manifest = Manifest {
            format: BACKUP_FORMAT.to_owned(),
            author: self.author().to_string(),
            created_ms: crate::clock::now_ms(),
            files,
            contents,
        };
        let text = serde_json::to_vec_pretty(&manifest).map_err(|e| io(dir)(std::io::Error::other(e)))?;
        crate::atomic::write_atomically(&dir.join(MANIFEST), &text, 0o600).map_err(io(&dir.join(MANIFEST)))?;
        Ok(BackupSummary {
            dir: dir.to_owned(),
            author: self.author(),
            designs: designs.len(),
            events: events.len() + profiles.len(),
            policy_entries: policy.len(),
            blobs: blobs.len(),
            bytes,
            files,
        })
    }

    /// The trees and files of `events`' revisions that this store holds
    /// complete, each once with its size: a node that follows designs
    /// without checking them out lacks some, which its peers still have.
    async fn held_blobs(&self, events: &[SignedEvent]) -> Result<Vec<(BlobHash, u64)>, NodeError> {
        let mut blobs = Vec::new();
        let mut seen = HashSet::new();
        for event in events {
            let Body::Revision(revision) = event.body() else { continue };
            if !seen.insert(revision.tree) {
                continue;
            }
            let Some(size) = self.blobs.size(&revision.tree).await? else { continue };
            blobs.push((revision.tree, size));
            for entry in self.read_tree(revision).await?.entries() {
                if seen.insert(entry.blob)
                    && let Some(size) = self.blobs.size(&entry.blob).await?
                    && size == entry.size
                {
                    blobs.push((entry.blob, size));
                }
            }
        }
        Ok(blobs)
    }
}

/// Creates `dir`, or accepts an empty one (any one with `overwrite`).
fn prepare_dir(dir: &Path, overwrite: bool) -> Result<(), BackupError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() && !overwrite {
                return Err(BackupError::NotEmpty { dir: dir.to_owned() });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(io(dir))
        }
        Err(e) => Err(BackupError::Io { path: dir.to_owned(), source: e }),
    }
}

/// A file's size and BLAKE3 hash (hex), read off the async threads.
async fn hash_file(path: &Path) -> Result<(u64, String), BackupError> {
    let owned = path.to_owned();
    let result = tokio::task::spawn_blocking(move || -> std::io::Result<(u64, String)> {
        let mut hasher = blake3::Hasher::new();
        let file = std::fs::File::open(&owned)?;
        hasher.update_reader(file)?;
        Ok((hasher.count(), hasher.finalize().to_hex().to_string()))
    })
    .await
    .map_err(|e| io(path)(std::io::Error::other(e)))?;
    result.map_err(io(path))
}

/// What a backup holds, every byte checked, ready to be written.
struct Checked {
    manifest: Manifest,
    key: SecretKey,
    config: Option<Vec<u8>>,
    policy: Vec<Vec<u8>>,
    bundle: PathBuf,
    scan: crate::bundle::Scan,
    /// Events of designs, parents first.
    events: Vec<SignedEvent>,
    profiles: Vec<SignedEvent>,
}

/// Restores the backup in `dir` into `home`, which must have no identity
/// and no store. Checks the whole backup first (nothing is written if any
/// byte is wrong); then creates the store, stores the files, the events
/// and the policy log, writes the config, and the key last. A failure on
/// the way removes what it wrote.
pub async fn restore(home: &Home, dir: &Path, progress: &dyn Progress) -> Result<BackupSummary, BackupError> {
    let checked = check(dir).await?;
    if home.key_path().exists() {
        return Err(BackupError::HasIdentity { home: home.root().to_owned(), key: home.key_path() });
    }
    if home.store_dir().exists() {
        return Err(BackupError::HasStore { home: home.root().to_owned(), store: home.store_dir() });
    }
    let config_existed = home.config_path().exists();
    let home_existed = home.root().exists();
    let result = write(home, checked, progress).await;
    if result.is_err() {
        // Only what this restore made: the store, and the config it wrote.
        let _ = std::fs::remove_dir_all(home.store_dir());
        let _ = std::fs::remove_dir_all(home.root().join("store.partial"));
        if !config_existed {
            let _ = std::fs::remove_file(home.config_path());
        }
        if !home_existed {
            let _ = std::fs::remove_file(home.lock_path());
            let _ = std::fs::remove_dir(home.root());
        }
    }
    result
}

async fn write(home: &Home, checked: Checked, progress: &dyn Progress) -> Result<BackupSummary, BackupError> {
    let Checked { manifest, key, config, policy, bundle, scan, events, profiles } = checked;
    let node = Node::open_without_key_file(home.clone(), SecretKey::from_bytes(&key.to_bytes())).await?;
    let total: u64 = scan.blobs.values().map(|r| r.size).sum();
    progress.start(total, scan.blobs.len());
    let mut records: Vec<_> = scan.blobs.iter().collect();
    records.sort_by_key(|(_, record)| record.offset);
    for (hash, record) in records {
        let stored = node.blobs.add_file_range(&bundle, record.offset, record.size).await.map_err(NodeError::from)?;
        if stored != *hash {
            return Err(BackupError::Damaged {
                path: bundle.clone(),
                detail: format!("blob {hash} changed while it was restored"),
            });
        }
        progress.advance(record.size);
    }
    node.blobs.sync().await.map_err(NodeError::from)?;
    // Blobs first, events last (as a publish does): no event names a blob
    // the store lacks.
    node.events.insert(&events).map_err(NodeError::from)?;
    for profile in &profiles {
        node.events.put_profile(profile).map_err(NodeError::from)?;
    }
    node.events.restore_policy_log(&policy).map_err(NodeError::from)?;
    let designs = node.events.designs().map_err(NodeError::from)?.len();
    node.close().await.map_err(NodeError::from)?;
    progress.finish();
    if let Some(config) = config {
        let path = home.config_path();
        crate::atomic::write_atomically(&path, &config, 0o644).map_err(io(&path))?;
    }
    crate::keyfile::write(&home.key_path(), &key).map_err(NodeError::from)?;
    Ok(BackupSummary {
        dir: home.root().to_owned(),
        author: key.author(),
        designs,
        events: events.len() + profiles.len(),
        policy_entries: policy.len(),
        blobs: scan.blobs.len(),
        bytes: total,
        files: manifest.files,
    })
}

/// Reads and checks a whole backup: its manifest, every file's size and
/// hash, the key against the author, the config, the policy entries, and
/// the bundle's framing, blobs and events (signatures verified).
async fn check(dir: &Path) -> Result<Checked, BackupError> {
    let not_a_backup = |detail: String| BackupError::NotABackup { dir: dir.to_owned(), detail };
    let manifest_path = dir.join(MANIFEST);
    let text = read_bounded(&manifest_path, MAX_BACKUP_MANIFEST_BYTES)
        .map_err(|e| not_a_backup(format!("{MANIFEST}: {e}")))?;
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|e| not_a_backup(format!("{MANIFEST} does not read: {e}")))?;
    if manifest.format != BACKUP_FORMAT {
        return Err(not_a_backup(format!(
            "its format is {:?}, this communs reads {BACKUP_FORMAT:?}; a newer communs may read it",
            manifest.format
        )));
    }
    for name in [KEY, POLICY, DESIGNS] {
        if !manifest.contents.iter().any(|c| c.name == name) {
            return Err(not_a_backup(format!("{MANIFEST} lists no {name}")));
        }
    }
    for content in &manifest.contents {
        if ![KEY, POLICY, DESIGNS, CONFIG].contains(&content.name.as_str()) {
            return Err(not_a_backup(format!("{MANIFEST} lists an unknown file {:?}", content.name)));
        }
        let path = dir.join(&content.name);
        let damaged = |detail: String| BackupError::Damaged { path: path.clone(), detail };
        let (bytes, hash) = hash_file(&path).await.map_err(|e| damaged(e.to_string()))?;
        if bytes != content.bytes || hash != content.blake3 {
            return Err(damaged(format!(
                "{bytes} bytes hashing to {hash}, where {MANIFEST} lists {} bytes hashing to {}",
                content.bytes, content.blake3
            )));
        }
    }
    let damaged = |name: &str, detail: String| BackupError::Damaged { path: dir.join(name), detail };

    let key_text = std::fs::read_to_string(dir.join(KEY)).map_err(|e| damaged(KEY, e.to_string()))?;
    let key = crate::keyfile::parse(&key_text, &dir.join(KEY)).map_err(|e| damaged(KEY, e.to_string()))?;
    if key.author().to_string() != manifest.author {
        return Err(damaged(KEY, format!("the key is {}'s, {MANIFEST} says {}", key.author(), manifest.author)));
    }

    let config = if manifest.contents.iter().any(|c| c.name == CONFIG) {
        let bytes = std::fs::read(dir.join(CONFIG)).map_err(|e| damaged(CONFIG, e.to_string()))?;
        let text = std::str::from_utf8(&bytes).map_err(|e| damaged(CONFIG, e.to_string()))?;
        toml::from_str::<Config>(text).map_err(|e| damaged(CONFIG, e.to_string()))?;
        Some(bytes)
    } else {
        None
    };

    let policy_bytes =
        read_bounded(&dir.join(POLICY), MAX_BACKUP_POLICY_BYTES).map_err(|e| damaged(POLICY, e.to_string()))?;
    let policy = match cbor::decode(&policy_bytes, policy_bytes.len()) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::Bytes(entry) if crate::store::policy::is_entry(&entry) => Ok(entry),
                _ => Err(damaged(POLICY, "an entry is not a policy entry".to_owned())),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(damaged(POLICY, "not an array of policy entries".to_owned())),
    };

    let bundle = dir.join(DESIGNS);
    let mut scan = crate::bundle::scan(&bundle).await.map_err(|e| damaged(DESIGNS, e.to_string()))?;
    let threads = std::thread::available_parallelism().unwrap_or(std::num::NonZeroUsize::MIN);
    let records = std::mem::take(&mut scan.events);
    // No node is open yet: a restore checks one bulk, with a verifier of its own.
    let verifier = communs_protocol::bulk::BulkVerifier::new(threads);
    let decoded = tokio::task::spawn_blocking(move || verifier.decode_many(&records))
        .await
        .map_err(|e| damaged(DESIGNS, e.to_string()))?;
    let mut events = Vec::with_capacity(decoded.len());
    let mut profiles = Vec::new();
    for (index, event) in decoded.into_iter().enumerate() {
        let event = event.map_err(|e| damaged(DESIGNS, format!("event {index}: {e}")))?;
        match event.body() {
            Body::Profile(_) => profiles.push(event),
            _ => events.push(event),
        }
    }
    // Each event's clock is one more than its largest parent's (checked
    // again by the insert): in clock order, parents come first.
    events.sort_by_key(|e| (e.clock(), e.id()));
    Ok(Checked { manifest, key, config, policy, bundle, scan, events, profiles })
}

/// A whole file, refused past `max` bytes.
fn read_bounded(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, max + 1), &mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::other(format!("larger than {max} bytes")));
    }
    Ok(bytes)
}

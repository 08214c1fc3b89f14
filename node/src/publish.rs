//! `publish`: a folder becomes a new design, or a new revision of one.

use std::path::{Path, PathBuf};

use communs_protocol::license::share_alike_licenses;
use communs_protocol::manifest::{License, ManifestError};
use communs_protocol::{
    AuthorId, Body, DesignId, EventId, Genesis, Manifest, Revision, SignedEvent, Tree, TreeEntry, UnsignedEvent,
};
use rand_core::{OsRng, RngCore};

use n0_future::{BufferedStreamExt, StreamExt};

use crate::folder::{self, LocalFile};
use crate::marker::{self, Marker};
use crate::progress::Progress;
use crate::store::file_cache::FileStamp;
use crate::{Node, NodeError};

/// What to publish and how.
#[derive(Debug, Clone, Default)]
pub struct PublishRequest {
    pub folder: PathBuf,
    pub message: Option<String>,
    /// Publish on top of this design instead of the one the folder's marker
    /// names (or a new one).
    pub design: Option<DesignId>,
    /// License for a folder without an OKH manifest.
    pub license: Option<String>,
    /// Co-maintainers of a new design (the publisher always is one).
    pub maintainers: Vec<AuthorId>,
    pub threshold: Option<u64>,
    /// Milliseconds since the Unix epoch, for the events' advisory time.
    pub now_ms: u64,
}

#[derive(Debug, Clone)]
pub struct Published {
    pub design: DesignId,
    pub revision: EventId,
    pub new_design: bool,
    /// Nothing changed since the revision the folder holds: no event made.
    pub unchanged: bool,
    pub files: usize,
    pub bytes: u64,
    /// Bytes read and hashed: files the file cache did not know. Their
    /// contents are stored only if no blob has the same hash.
    pub bytes_imported: u64,
    pub warnings: Vec<String>,
    /// Why the folder's `.communs` marker could not record this revision
    /// (a folder the node may read but not write: the packaged service
    /// reads makers' folders read-only). The publish happened all the
    /// same; the caller may record the marker itself.
    pub marker_error: Option<String>,
}

/// The governance a new design starts with.
pub(crate) struct NewDesign {
    /// Maintainers besides the author, who always is one.
    pub co_maintainers: Vec<AuthorId>,
    pub threshold: u64,
    pub license: String,
    pub fork_of: Option<(DesignId, EventId)>,
}

/// OKH manifest files looked for at the root of a folder, in this order.
const OKH_TOML: &str = "okh.toml";
const OKH_V1: [&str; 2] = ["okh.yml", "okh.yaml"];

impl Node {
    pub async fn publish(&self, request: PublishRequest, progress: &dyn Progress) -> Result<Published, NodeError> {
        // Absolute paths: the blob store imports by path, and the file cache
        // is keyed by it.
        let folder = &folder::absolute(&request.folder)?;
        let files = folder::scan(folder)?;
        let mut warnings = Vec::new();
        let licensor = self.home.read_config()?.name;
        let marker = marker::read(folder)?;
        let target = request.design.or(marker.as_ref().map(|m| m.design));
        let existing = match target {
            Some(design) => {
                if !self.has_design(&design)? {
                    return Err(match &marker {
                        Some(m) if m.design == design && request.design.is_none() => {
                            NodeError::MarkedDesignMissing { folder: folder.clone(), design }
                        }
                        _ => NodeError::UnknownDesign(design),
                    });
                }
                Some(design)
            }
            None => None,
        };
        // A new revision keeps its design's license unless told otherwise;
        // a share-alike license cannot be changed (as for a remix).
        let current_license = match existing {
            Some(design) => Some(self.genesis_of(&design)?.license),
            None => None,
        };
        if let (Some(current), Some(requested)) = (&current_license, &request.license)
            && current != requested
        {
            let share_alike = share_alike_licenses(current);
            if !share_alike.is_empty() {
                return Err(NodeError::ShareAlikeLicense {
                    current: current.clone(),
                    share_alike,
                    requested: requested.clone(),
                });
            }
        }
        let manifest =
            read_manifest(folder, request.license.as_deref(), current_license.as_deref(), licensor, &mut warnings)?;

        // The blobs stored from here on are named by no event until the
        // events below are committed: no collection runs in between.
        let _unnamed = self.blobs.protect_unnamed().await;
        let (entries, bytes_imported) = match self.import_files(&files, progress).await {
            Ok(imported) => imported,
            Err(e) => {
                // Every import has finished (successfully or not) by now.
                self.blobs.discard_scratch();
                return Err(e);
            }
        };
        let tree = Tree::new(entries)?;
        let tree_hash = self.blobs.add_bytes(tree.encode()).await?;
        debug_assert_eq!(tree_hash, tree.hash());
        let (files_count, bytes) = (tree.entries().len(), tree.total_size());

        let message = request.message.clone().unwrap_or_default();
        // Blobs are made durable before the events that name them: a crash
        // in between leaves unreferenced blobs, never a revision without
        // its files.
        let (design, revision, new_design) = match existing {
            None => {
                let license = design_license(&manifest.license).ok_or(ManifestError::NoLicense)?;
                let genesis = NewDesign {
                    co_maintainers: request.maintainers.clone(),
                    threshold: request.threshold.unwrap_or(1),
                    license,
                    fork_of: None,
                };
                let first = Revision { tree: tree_hash, manifest, base: vec![], message };
                let [genesis, revision] = self.sign_new_design(genesis, first, request.now_ms)?;
                self.blobs.sync().await?;
                self.events.insert(&[genesis.clone(), revision.clone()])?;
                (genesis.design(), revision.id(), true)
            }
            Some(design) => {
                let base = match marker.as_ref().filter(|m| m.design == design) {
                    Some(m) => Some(m.revision),
                    None => self.governance_of(&design)?.canonical,
                };
                let base_revision = match base {
                    Some(b) => self.events.get(&b)?.filter(|e| e.design() == design),
                    None => None,
                };
                if let Some(base_event) = base_revision
                    && let Body::Revision(r) = base_event.body()
                    && r.tree == tree_hash
                    && r.manifest == manifest
                {
                    // A folder published with --design records it now.
                    let held = Marker { design, revision: base_event.id() };
                    let marker_error = (marker.as_ref() != Some(&held))
                        .then(|| marker::write(folder, &held).err().map(|e| e.to_string()))
                        .flatten();
                    return Ok(Published {
                        design,
                        revision: held.revision,
                        new_design: false,
                        unchanged: true,
                        files: files_count,
                        bytes,
                        bytes_imported,
                        warnings,
                        marker_error,
                    });
                }
                self.blobs.sync().await?;
                let body =
                    Body::Revision(Revision { tree: tree_hash, manifest, base: base.into_iter().collect(), message });
                (design, self.append(&design, body, request.now_ms)?.id(), false)
            }
        };
        // The events are stored: a marker that cannot be written must not
        // turn a publish that happened into an error (publishing again
        // would then make a second design).
        let marker_error = marker::write(folder, &Marker { design, revision }).err().map(|e| e.to_string());
        Ok(Published {
            design,
            revision,
            new_design,
            unchanged: false,
            files: files_count,
            bytes,
            bytes_imported,
            warnings,
            marker_error,
        })
    }

    /// Signs the two events that start a design: its genesis (with a fresh
    /// random nonce) and its first revision on top of it.
    pub(crate) fn sign_new_design(
        &self,
        genesis: NewDesign,
        first: Revision,
        now_ms: u64,
    ) -> Result<[SignedEvent; 2], NodeError> {
        let mut nonce = [0u8; communs_protocol::limits::GENESIS_NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let mut maintainers = genesis.co_maintainers;
        maintainers.push(self.author());
        let genesis = self.sign(UnsignedEvent {
            design: None,
            author: self.author(),
            parents: vec![],
            clock: 0,
            time: now_ms,
            body: Body::Genesis(Genesis {
                name: first.manifest.name.clone(),
                maintainers,
                threshold: genesis.threshold,
                license: genesis.license,
                fork_of: genesis.fork_of,
                nonce,
            }),
        })?;
        let revision = self.sign(UnsignedEvent {
            design: Some(genesis.design()),
            author: self.author(),
            parents: vec![genesis.id()],
            clock: 1,
            time: now_ms,
            body: Body::Revision(first),
        })?;
        Ok([genesis, revision])
    }

    pub(crate) fn sign(&self, event: UnsignedEvent) -> Result<SignedEvent, NodeError> {
        Ok(event.sign(&self.key)?)
    }

    /// Imports every file (or finds it in the cache); returns the tree
    /// entries and the number of bytes actually read. Several files are
    /// imported at once, so that copying one overlaps hashing another.
    async fn import_files(
        &self,
        files: &[LocalFile],
        progress: &dyn Progress,
    ) -> Result<(Vec<TreeEntry>, u64), NodeError> {
        progress.start(files.iter().map(|f| f.size).sum(), files.len());
        // Collected first: a lazy `map` keeps its closure in the future,
        // whose type the compiler then cannot prove `Send` for every
        // lifetime (rust-lang/rust#102211), and the API runs this on any
        // thread.
        let imports: Vec<_> = files
            .iter()
            .map(|file| async move {
                let imported = self.import_file(file).await;
                if let Ok((entry, _)) = &imported {
                    progress.advance(entry.size);
                }
                imported
            })
            .collect();
        let results: Vec<Result<(TreeEntry, Imported), NodeError>> =
            n0_future::stream::iter(imports).buffered_ordered(IMPORT_CONCURRENCY).collect().await;
        let mut entries = Vec::with_capacity(files.len());
        let mut fresh = Vec::new();
        let mut imported = 0;
        for (file, result) in files.iter().zip(results) {
            let (entry, how) = result?;
            if let Imported::Read(stamp) = how {
                imported += entry.size;
                if let Some(stamp) = stamp {
                    fresh.push((file.absolute.clone(), stamp, entry.blob));
                }
            }
            entries.push(entry);
        }
        self.file_cache().await?.put(&fresh)?;
        progress.finish();
        Ok((entries, imported))
    }

    /// One file: from the cache if its stamp is unchanged and its blob is
    /// stored, else read and imported.
    async fn import_file(&self, file: &LocalFile) -> Result<(TreeEntry, Imported), NodeError> {
        let meta = std::fs::metadata(&file.absolute).map_err(NodeError::io(&file.absolute))?;
        let stamp = FileStamp::of(&meta);
        if let Some(stamp) = stamp
            && let Some(hash) = self.file_cache().await?.get(&file.absolute, stamp)?
            && let Some(size) = self.blobs.size(&hash).await?
        {
            let entry = TreeEntry { path: file.path.clone(), blob: hash, size, executable: file.executable };
            return Ok((entry, Imported::Cached));
        }
        let (blob, size) = self.blobs.add_file(&file.absolute).await?;
        let entry = TreeEntry { path: file.path.clone(), blob, size, executable: file.executable };
        // Cache only what was read whole: a file that changed while being
        // imported has another size than its stamp says.
        Ok((entry, Imported::Read(stamp.filter(|s| s.size == size))))
    }
}

/// How a file's blob was found.
enum Imported {
    /// Known from the file cache: nothing read.
    Cached,
    /// Read and hashed; with the stamp to cache, if it may be cached.
    Read(Option<FileStamp>),
}

/// Files imported at once, so that copying one overlaps hashing another
/// on a two-core laptop without thrashing its disk.
const IMPORT_CONCURRENCY: usize = 4;

/// The one SPDX expression the genesis records: the hardware license,
/// else the documentation's, else the software's.
fn design_license(license: &License) -> Option<String> {
    license.hardware.clone().or_else(|| license.documentation.clone()).or_else(|| license.software.clone())
}

/// The manifest from `okh.toml`, else `okh.yml`, else made from the folder
/// name, README and `licensor` (the name given to `communs init`), with
/// `license` as its license.
fn read_manifest(
    folder: &Path,
    license: Option<&str>,
    design_license: Option<&str>,
    licensor: Option<String>,
    warnings: &mut Vec<String>,
) -> Result<Manifest, NodeError> {
    let read = |name: &str| -> Result<Option<String>, NodeError> {
        let path = folder.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(NodeError::Io { path, source }),
        }
    };
    let from_okh = if let Some(text) = read(OKH_TOML)? {
        Some(
            Manifest::from_okh_toml(&text)
                .map_err(|e| NodeError::Manifest { file: folder.join(OKH_TOML), source: e })?,
        )
    } else {
        let mut found = None;
        for name in OKH_V1 {
            if let Some(text) = read(name)? {
                found = Some(
                    Manifest::from_okh_v1_yaml(&text)
                        .map_err(|e| NodeError::Manifest { file: folder.join(name), source: e })?,
                );
                break;
            }
        }
        found
    };
    if let Some(manifest) = from_okh {
        if license.is_some() {
            warnings.push("--license ignored: the OKH manifest declares the license".to_owned());
        }
        return Ok(manifest);
    }
    let name = folder
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "design".to_owned());
    let license = match (license, design_license) {
        (Some(license), _) => license,
        (None, Some(license)) => {
            warnings.push(format!("no --license given: the new revision keeps the design's license, {license}"));
            license
        }
        (None, None) => return Err(NodeError::NoLicense { folder: folder.to_owned() }),
    };
    let mut manifest = Manifest::minimal(&name, License::all(license));
    manifest.function = readme_summary(folder);
    manifest.licensors = licensor.into_iter().collect();
    manifest.check().map_err(|e| NodeError::Manifest { file: folder.to_owned(), source: e })?;
    warnings.push(format!(
        "no okh.toml in {}: the manifest was made from the folder name{}; add an okh.toml to describe the design",
        folder.display(),
        if manifest.function.is_some() { " and README" } else { "" }
    ));
    Ok(manifest)
}

/// The first paragraph of the README, without Markdown headings, as the
/// design's `function`.
fn readme_summary(folder: &Path) -> Option<String> {
    let text = ["README.md", "README", "README.txt", "readme.md"]
        .iter()
        .find_map(|name| std::fs::read_to_string(folder.join(name)).ok())?;
    let paragraph: Vec<&str> = text
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty() || l.starts_with('#'))
        .take_while(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let summary: String = paragraph.join(" ").chars().filter(|c| !c.is_control()).take(500).collect();
    let summary = summary.trim().to_owned();
    (!summary.is_empty()).then_some(summary)
}

//! Pictures of 3D parts for design cards, rendered on the CPU by
//! `communs-preview` and kept on disk by the part's blob hash: a part is
//! drawn once, whatever design or revision names it. A part that cannot be
//! drawn is remembered too, so that a broken file costs one try.

use std::path::PathBuf;

use communs_protocol::BlobHash;
use tokio::sync::Semaphore;

/// The largest part drawn for a card: bigger ones get the plain picture
/// (reading them would take longer than a card is worth).
pub const MAX_PREVIEW_INPUT_BYTES: u64 = 64 << 20;

/// Parts drawn at once: a page of cards asks for dozens together, and
/// drawing takes a core each.
const RENDERS_AT_ONCE: usize = 2;

/// The cache folder, and the permits to draw.
pub struct PreviewCache {
    dir: PathBuf,
    renders: Semaphore,
}

/// What the cache holds of a part.
pub(crate) enum Cached {
    Png(Vec<u8>),
    /// It was tried and could not be drawn.
    Failed,
    Absent,
}

impl PreviewCache {
    pub fn new(dir: PathBuf) -> PreviewCache {
        PreviewCache { dir, renders: Semaphore::new(RENDERS_AT_ONCE) }
    }

    fn png_path(&self, blob: &BlobHash, size: communs_preview::Size) -> PathBuf {
        self.dir.join(format!("{blob}-{}x{}.png", size.width, size.height))
    }

    fn failed_path(&self, blob: &BlobHash) -> PathBuf {
        self.dir.join(format!("{blob}.failed"))
    }

    pub(crate) fn get(&self, blob: &BlobHash, size: communs_preview::Size) -> Cached {
        if let Ok(png) = std::fs::read(self.png_path(blob, size)) {
            return Cached::Png(png);
        }
        if self.failed_path(blob).exists() { Cached::Failed } else { Cached::Absent }
    }

    /// Draws `bytes` (a part of `format`) and keeps the picture, or the
    /// failure. Waits for a permit first.
    pub(crate) async fn render(
        &self,
        blob: &BlobHash,
        format: communs_preview::Format,
        bytes: Vec<u8>,
        size: communs_preview::Size,
    ) -> Option<Vec<u8>> {
        let _permit = self.renders.acquire().await.ok()?;
        // Another request may have drawn it while this one waited.
        if let Cached::Png(png) = self.get(blob, size) {
            return Some(png);
        }
        let drawn = communs_preview::render_png(format, &bytes, size);
        if let Err(e) = std::fs::create_dir_all(&self.dir) {
            tracing::warn!("preview cache {}: {e}", self.dir.display());
        }
        match drawn {
            Ok(png) => {
                let path = self.png_path(blob, size);
                if let Err(e) = communs_node::atomic::write_atomically(&path, &png, 0o644) {
                    tracing::warn!("keeping the preview {}: {e}", path.display());
                }
                Some(png)
            }
            Err(e) => {
                tracing::info!("no preview of part {blob}: {e}");
                let _ =
                    communs_node::atomic::write_atomically(&self.failed_path(blob), e.to_string().as_bytes(), 0o644);
                None
            }
        }
    }
}

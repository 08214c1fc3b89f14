//! Files between nodes: the iroh-blobs protocol, unchanged, on libp2p
//! streams.
//!
//! iroh-blobs streams a blob with its BLAKE3 tree interleaved (bao), and
//! the receiving store checks every 16 KiB group against the hash before it
//! writes it: nothing unverified reaches the store, and a transfer that
//! stops half way resumes from the ranges already stored. The protocol is
//! written against abstract send/receive streams; this module gives it the
//! two halves of a libp2p stream (protocol `wire::BLOBS_PROTOCOL`), so
//! files travel on the same connection as gossip and catch-up.
//!
//! A node serves `Get` and `GetMany` requests for blobs it holds and
//! refuses the rest (`Push` would let any peer write into its store).
//!
//! Every blob stream, served or fetched, is under the node's upload and
//! download limits ([`super::bandwidth`]).

use std::io;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

use super::bandwidth::{Bandwidth, Throttled};
use crate::store::blobs::{from_iroh, to_iroh};
use bao_tree::BaoTree;
use bao_tree::io::BaoContentItem;
use bao_tree::io::fsm::{ResponseDecoder, ResponseDecoderNext};
use bytes::Bytes;
use communs_protocol::BlobHash;
use communs_protocol::wire::BLOBS_PROTOCOL;
use futures::io::{ReadHalf, WriteHalf};
use futures::{AsyncReadExt, StreamExt};
use iroh::endpoint::VarInt;
use iroh_blobs::api::Store;
use iroh_blobs::get::fsm::{AtConnected, BlobContentNext, ConnectedNext, EndBlobNext};
use iroh_blobs::protocol::{ChunkRanges, GetManyRequest, Request};
use iroh_blobs::provider::events::EventSender;
use iroh_blobs::store::IROH_BLOCK_SIZE;
use iroh_blobs::util::{
    AsyncWriteSendStream, AsyncWriteSendStreamExtra, RecvStream, RecvStreamAsyncStreamReader, SendStream,
};
use libp2p::{PeerId, StreamProtocol};
use n0_future::time::Instant;
use std::collections::HashMap;
use std::sync::Arc;
use tokio_util::compat::{Compat, FuturesAsyncWriteCompatExt};

pub const PROTOCOL: StreamProtocol = StreamProtocol::new(BLOBS_PROTOCOL);

static STREAM_IDS: AtomicU64 = AtomicU64::new(0);

/// The first buffer of a read, doubled while more comes: one bao chunk
/// group (16 KiB) and its header.
const FIRST_READ: usize = 16 * 1024 + 64;

/// Bytes of verified blobs of one `GetMany` waiting to be stored, at most
/// (a blob larger than this waits alone).
const STORE_BUDGET: u64 = 4 << 20;

/// Blobs of one `GetMany` handed to the store at once.
const STORES_AT_ONCE: usize = 16;

/// A blob stream, under the node's limits.
type Stream = Throttled<libp2p::Stream>;

/// The reading half of a libp2p stream, as iroh-blobs wants it.
pub struct Reader {
    inner: ReadHalf<Stream>,
    id: u64,
}

/// The writing half. Dropping it closes it (a yamux half-close), as
/// finishing a QUIC stream does: iroh-blobs drops the writer after its
/// request or its last chunk, and the other side waits for that end.
pub struct Writer {
    inner: Option<Compat<WriteHalf<Stream>>>,
    id: u64,
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(mut inner) = self.inner.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = tokio::io::AsyncWriteExt::shutdown(&mut inner).await;
            });
        }
    }
}

/// Reads into buffers that grow as bytes come, each byte zeroed once:
/// iroh-blobs asks for up to 1 MiB to read a request of a few dozen bytes,
/// and its `AsyncRead` adapter (like tokio's `read_buf` over a futures
/// reader) zeroes the whole rest of the buffer on every read.
impl RecvStream for Reader {
    async fn recv_bytes(&mut self, len: usize) -> io::Result<Bytes> {
        let mut buf = Vec::new();
        let mut filled = 0;
        while filled < len {
            if filled == buf.len() {
                let grow = buf.len().max(FIRST_READ).min(len - filled);
                buf.resize(filled + grow, 0);
            }
            match self.inner.read(&mut buf[filled..]).await? {
                0 => break,
                n => filled += n,
            }
        }
        buf.truncate(filled);
        Ok(Bytes::from(buf))
    }

    async fn recv_bytes_exact(&mut self, len: usize) -> io::Result<Bytes> {
        let buf = self.recv_bytes(len).await?;
        if buf.len() < len {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(buf)
    }

    async fn recv_exact(&mut self, target: &mut [u8]) -> io::Result<()> {
        self.inner.read_exact(target).await
    }

    /// Yamux has no stop codes: dropping the half is how a stream is
    /// abandoned.
    fn stop(&mut self, _code: VarInt) -> io::Result<()> {
        Ok(())
    }

    fn id(&self) -> u64 {
        self.id
    }
}

impl AsyncWriteSendStreamExtra for Writer {
    fn inner(&mut self) -> &mut (impl tokio::io::AsyncWrite + Unpin + Send) {
        self.inner.as_mut().expect("the writer is only taken when dropped")
    }

    fn reset(&mut self, _code: VarInt) -> io::Result<()> {
        Ok(())
    }

    /// Only a push handler waits for this, and pushes are refused.
    async fn stopped(&mut self) -> io::Result<Option<VarInt>> {
        std::future::pending().await
    }

    fn id(&self) -> u64 {
        self.id
    }
}

pub type RecvHalf = Reader;
pub type SendHalf = AsyncWriteSendStream<Writer>;

fn split(stream: Stream) -> (RecvHalf, SendHalf) {
    let id = STREAM_IDS.fetch_add(1, Ordering::Relaxed);
    let (read, write) = stream.split();
    (Reader { inner: read, id }, AsyncWriteSendStream::new(Writer { inner: Some(write.compat_write()), id }))
}

/// Answers blob requests from peers until the swarm stops.
pub async fn serve(mut control: libp2p_stream::Control, store: Store, bandwidth: Arc<Bandwidth>) {
    let mut incoming = match control.accept(PROTOCOL) {
        Ok(incoming) => incoming,
        Err(e) => {
            tracing::error!("cannot serve blobs: {e}");
            return;
        }
    };
    // Each request in a task of this set: aborted with the server (the
    // set's drop aborts them), and reaped as they end.
    let mut requests = tokio::task::JoinSet::new();
    loop {
        let (peer, stream) = tokio::select! {
            next = incoming.next() => match next {
                Some(next) => next,
                None => return,
            },
            Some(_) = requests.join_next(), if !requests.is_empty() => continue,
        };
        let store = store.clone();
        let stream = bandwidth.throttle(peer, stream);
        requests.spawn(async move {
            let (recv, send) = split(stream);
            let mut pair = iroh_blobs::provider::StreamPair::new(0, recv, send, EventSender::DEFAULT);
            let result = match pair.read_request().await {
                Ok(Request::Get(request)) => iroh_blobs::provider::handle_get(pair, store, request).await,
                Ok(Request::GetMany(request)) => iroh_blobs::provider::handle_get_many(pair, store, request).await,
                Ok(other) => {
                    tracing::debug!(%peer, "refused blob request {other:?}");
                    return;
                }
                Err(e) => {
                    tracing::debug!(%peer, "malformed blob request: {e}");
                    return;
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, "blob request failed: {e}");
            }
        });
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot open a blob stream to {peer}: {reason}")]
    Open { peer: PeerId, reason: String },
    #[error("fetching blob {hash} from {peer}: {reason}")]
    Transfer { peer: PeerId, hash: BlobHash, reason: String },
}

/// Fetches one blob (the ranges this store lacks) from `peer`, verified
/// as it arrives. With `expected` (the size a tree gives the file), a peer
/// announcing another size is refused before anything is stored: the
/// size comes first in the response, and the verified stream then proves
/// it (its last chunk cannot verify under another length).
pub async fn fetch(
    control: &mut libp2p_stream::Control,
    bandwidth: &Arc<Bandwidth>,
    store: &Store,
    peer: PeerId,
    hash: BlobHash,
    expected: Option<u64>,
    progress: &dyn crate::progress::Progress,
) -> Result<u64, FetchError> {
    let failed = |reason: String| FetchError::Transfer { peer, hash, reason };
    let content = iroh_blobs::HashAndFormat::raw(to_iroh(&hash));
    let local = store.remote().local(content).await.map_err(|e| failed(e.to_string()))?;
    if local.is_complete() {
        return Ok(0);
    }
    let stream =
        control.open_stream(peer, PROTOCOL).await.map_err(|e| FetchError::Open { peer, reason: e.to_string() })?;
    let (recv, send) = split(bandwidth.throttle(peer, stream));
    let connected = AtConnected::new(Instant::now(), recv, send, local.missing(), Default::default());
    let root = match connected.next().await.map_err(|e| failed(e.to_string()))? {
        ConnectedNext::StartRoot(root) => root,
        _ => return Err(failed("the peer answered another request".to_owned())),
    };
    let (mut content, size) = root.next().next().await.map_err(|e| failed(e.to_string()))?;
    if let Some(expected) = expected
        && size != expected
    {
        return Err(failed(format!("announced {size} bytes where the tree says {expected}")));
    }
    let Some(size) = NonZeroU64::new(size) else {
        // Only the empty blob has no bytes, and it needs no peer.
        return Err(failed("announced 0 bytes".to_owned()));
    };
    let buffer = (size.get() / IROH_BLOCK_SIZE.bytes() as u64 + 2).min(64) as usize;
    let import = store.blobs().import_bao(to_iroh(&hash), size, buffer).await.map_err(|e| failed(e.to_string()))?;
    let end = loop {
        match content.next().await {
            BlobContentNext::More((next, item)) => {
                let item = item.map_err(|e| failed(e.to_string()))?;
                if let BaoContentItem::Leaf(leaf) = &item {
                    progress.advance(leaf.data.len() as u64);
                }
                import.tx.send(item).await.map_err(|e| failed(e.to_string()))?;
                content = next;
            }
            BlobContentNext::Done(end) => break end,
        }
    };
    drop(import.tx);
    import.rx.await.map_err(|e| failed(e.to_string()))?.map_err(|e| failed(e.to_string()))?;
    let closing = match end.next() {
        EndBlobNext::Closing(closing) => closing,
        EndBlobNext::MoreChildren(_) => return Err(failed("the peer sent more than one blob".to_owned())),
    };
    let stats = closing.next().await.map_err(|e| failed(e.to_string()))?;
    Ok(stats.payload_bytes_read)
}

/// What a fetch knows of a blob's length before the peer announces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Length {
    /// A file: the size its tree gives.
    Exactly(u64),
    /// A tree: a revision names it without its size, and a tree is at
    /// most this long.
    AtMost(u64),
}

impl Length {
    /// Why a peer announcing `announced` bytes is refused, if it is.
    fn refuses(self, announced: u64) -> Option<String> {
        match self {
            Length::Exactly(expected) if announced != expected => {
                Some(format!("announced {announced} bytes where the tree says {expected}"))
            }
            Length::AtMost(max) if announced > max => {
                Some(format!("announced a tree of {announced} bytes, over {max}"))
            }
            _ => None,
        }
    }
}

/// Fetches several small blobs, whole, from `peer` on one stream (an
/// iroh-blobs `GetMany` request): a design's many small files, or the
/// trees of many designs, would otherwise each cost a stream, a request
/// and a round trip. Returns the bytes received.
///
/// Each blob is verified as it arrives, chunk group by chunk group, into
/// memory, then stored in one piece: iroh-blobs' streaming import keeps an
/// incomplete blob in three files, which for small blobs cost more than
/// the bytes (file creation). A peer announcing a length `wanted` does not
/// allow is refused before anything is allocated. The blobs received
/// before a failure stay stored.
pub async fn fetch_many(
    control: &mut libp2p_stream::Control,
    bandwidth: &Arc<Bandwidth>,
    blobs: &crate::store::BlobStore,
    peer: PeerId,
    wanted: &[(BlobHash, Length)],
    progress: &dyn crate::progress::Progress,
) -> Result<u64, FetchError> {
    let lengths: HashMap<iroh_blobs::Hash, Length> =
        wanted.iter().map(|(hash, length)| (to_iroh(hash), *length)).collect();
    // Sorted by hash: the order the blobs come back in.
    let request: GetManyRequest = lengths.keys().copied().collect();
    let failed =
        |hash: &iroh_blobs::Hash, reason: String| FetchError::Transfer { peer, hash: from_iroh(*hash), reason };
    let first = request.hashes.first().copied().unwrap_or(iroh_blobs::Hash::EMPTY);
    let bytes = postcard::to_stdvec(&Request::GetMany(request.clone())).map_err(|e| failed(&first, e.to_string()))?;
    let stream =
        control.open_stream(peer, PROTOCOL).await.map_err(|e| FetchError::Open { peer, reason: e.to_string() })?;
    let (mut recv, mut send) = split(bandwidth.throttle(peer, stream));
    send.send_bytes(bytes.into()).await.map_err(|e| failed(&first, format!("sending the request: {e}")))?;
    send.sync().await.map_err(|e| failed(&first, format!("sending the request: {e}")))?;
    // The request ends with the stream's writing half.
    drop(send);
    // Verified blobs are stored while the next ones arrive, several at
    // once, so that the store writes them in one transaction rather than
    // one each; what waits to be stored is bounded in bytes.
    let budget = std::sync::Arc::new(tokio::sync::Semaphore::new(STORE_BUDGET as usize));
    let (verified, to_store) = futures::channel::mpsc::unbounded();
    let receive = async move {
        let mut received = 0;
        for hash in &request.hashes {
            let mut announced = [0; 8];
            recv.recv_exact(&mut announced).await.map_err(|e| failed(hash, e.to_string()))?;
            let expected = u64::from_le_bytes(announced);
            if let Some(refused) = lengths[hash].refuses(expected) {
                return Err(failed(hash, refused));
            }
            let mut data = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
            let tree = BaoTree::new(expected, IROH_BLOCK_SIZE);
            let reader = RecvStreamAsyncStreamReader::new(recv);
            let mut decoder = ResponseDecoder::new((*hash).into(), ChunkRanges::all(), tree, reader);
            recv = loop {
                match decoder.next().await {
                    ResponseDecoderNext::More((next, item)) => {
                        if let BaoContentItem::Leaf(leaf) = item.map_err(|e| failed(hash, e.to_string()))? {
                            progress.advance(leaf.data.len() as u64);
                            data.extend_from_slice(&leaf.data);
                        }
                        decoder = next;
                    }
                    ResponseDecoderNext::Done(reader) => break reader.into_inner(),
                }
            };
            if data.len() as u64 != expected {
                return Err(failed(hash, format!("sent {} bytes where it announced {expected}", data.len())));
            }
            received += expected;
            let permits = u32::try_from(expected.min(STORE_BUDGET)).unwrap_or(u32::MAX);
            let permit = budget.clone().acquire_many_owned(permits).await.map_err(|e| failed(hash, e.to_string()))?;
            verified.unbounded_send((*hash, data, permit)).map_err(|_| failed(hash, "not stored".to_owned()))?;
        }
        Ok(received)
    };
    let store = to_store
        .map(|(hash, data, permit)| async move {
            let stored = blobs.add_bytes(data).await.map_err(|e| failed(&hash, e.to_string()));
            drop(permit);
            debug_assert!(stored.as_ref().is_err() || stored.as_ref().ok().map(to_iroh) == Some(hash));
            stored.map(drop)
        })
        .buffer_unordered(STORES_AT_ONCE)
        .collect::<Vec<Result<(), FetchError>>>();
    let (received, stored) = futures::future::join(receive, store).await;
    stored.into_iter().collect::<Result<(), FetchError>>()?;
    received
}

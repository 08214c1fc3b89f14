//! A stream that moves its bytes no faster than the scheduler grants: the
//! async side of [`super::scheduler`], with no decisions of its own.
//!
//! Writes go to the stream in pieces no larger than a grant, and only once
//! granted, so that the muxer never queues more of a limited transfer than
//! the rate allows: gossip and catch-up, on their own streams of the same
//! connection, find it uncongested. Reads take from the stream only what
//! was granted; what the peer sends beyond waits in the stream's receive
//! window, and a full window stops the sender.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures::{AsyncRead, AsyncWrite};
use libp2p::PeerId;

use super::scheduler::Decision;
use super::{Bandwidth, Limiter};

/// One direction of a throttled stream: the bytes granted and not yet
/// moved, or the wait before asking again.
#[derive(Default)]
struct Side {
    credit: usize,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Side {
    /// Bytes this side may move now (at most `wanted`), once granted.
    fn poll_credit(&mut self, cx: &mut Context<'_>, limiter: &Limiter, peer: PeerId, wanted: usize) -> Poll<usize> {
        loop {
            if self.credit > 0 || wanted == 0 {
                return Poll::Ready(self.credit.min(wanted));
            }
            if let Some(sleep) = self.sleep.as_mut() {
                ready!(sleep.as_mut().poll(cx));
                self.sleep = None;
            }
            match limiter.request(peer, wanted) {
                Decision::Grant(granted) => self.credit = granted,
                Decision::Wait(wait) => self.sleep = Some(Box::pin(tokio::time::sleep(wait))),
            }
        }
    }
}

/// A stream to or from `peer` under the node's limits.
pub struct Throttled<S> {
    inner: S,
    peer: PeerId,
    bandwidth: Arc<Bandwidth>,
    read: Side,
    write: Side,
}

impl<S> Throttled<S> {
    pub(super) fn new(inner: S, peer: PeerId, bandwidth: Arc<Bandwidth>) -> Throttled<S> {
        Throttled { inner, peer, bandwidth, read: Side::default(), write: Side::default() }
    }
}

/// A stream reads into buffers larger than what comes (a request of a few
/// dozen bytes into 16 KiB): what it was granted and did not move goes
/// back when it closes.
impl<S> Drop for Throttled<S> {
    fn drop(&mut self) {
        for (limiter, side) in [(self.bandwidth.download(), &self.read), (self.bandwidth.upload(), &self.write)] {
            if let Some(limiter) = limiter
                && side.credit > 0
            {
                limiter.give_back(side.credit);
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Throttled<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let Some(limiter) = this.bandwidth.download() else {
            let read = ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            this.bandwidth.count_received(read);
            return Poll::Ready(Ok(read));
        };
        let allowed = ready!(this.read.poll_credit(cx, &limiter, this.peer, buf.len()));
        let read = ready!(Pin::new(&mut this.inner).poll_read(cx, &mut buf[..allowed]))?;
        this.read.credit -= read;
        this.bandwidth.count_received(read);
        Poll::Ready(Ok(read))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Throttled<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let Some(limiter) = this.bandwidth.upload() else {
            let written = ready!(Pin::new(&mut this.inner).poll_write(cx, buf))?;
            this.bandwidth.count_sent(written);
            return Poll::Ready(Ok(written));
        };
        let allowed = ready!(this.write.poll_credit(cx, &limiter, this.peer, buf.len()));
        let written = ready!(Pin::new(&mut this.inner).poll_write(cx, &buf[..allowed]))?;
        this.write.credit -= written;
        this.bandwidth.count_sent(written);
        Poll::Ready(Ok(written))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::bandwidth::{Limits, Rate};
    use futures::{AsyncReadExt, AsyncWriteExt};
    use std::time::Duration;

    fn limits(upload: u64, download: u64) -> Arc<Bandwidth> {
        Arc::new(Bandwidth::new(Limits {
            upload: Some(Rate::new(upload).expect("not 0")),
            download: Some(Rate::new(download).expect("not 0")),
        }))
    }

    /// Real tokio duplex pipes, real time: two writers from two peers
    /// under one upload limit of 2 MB/s move 2 MB in about a second, half
    /// each; reads under a 1 MB/s limit take their time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn throttled_streams_keep_the_rate_and_share_it() {
        use tokio_util::compat::TokioAsyncReadCompatExt;
        let bandwidth = limits(2_000_000, 1_000_000);
        let started = tokio::time::Instant::now();
        let mut writers = Vec::new();
        for _ in 0..2 {
            let peer = PeerId::random();
            let (near, far) = tokio::io::duplex(64 * 1024);
            let mut stream = bandwidth.throttle(peer, near.compat());
            let drain = tokio::spawn(async move {
                let mut far = far.compat();
                let mut sink = Vec::new();
                far.read_to_end(&mut sink).await.map(|_| sink.len())
            });
            writers.push(tokio::spawn(async move {
                stream.write_all(&vec![7; 1_000_000]).await.expect("written");
                stream.close().await.expect("closed");
                (started.elapsed(), drain.await.expect("drained").expect("read"))
            }));
        }
        let mut finished = Vec::new();
        for writer in writers {
            let (elapsed, received) = writer.await.expect("writer");
            assert_eq!(received, 1_000_000);
            finished.push(elapsed);
        }
        // The first burst is free: 2 MB take at least (2 MB - burst) / rate,
        // and each 1 MB at least (1 MB - burst) / rate.
        let burst = bandwidth.upload_burst() as f64;
        let last = finished.iter().max().expect("two").as_secs_f64();
        let first = finished.iter().min().expect("two").as_secs_f64();
        assert!(last >= (2e6 - burst) / 2e6 && last < 2.0, "2 MB written in {last} s at 2 MB/s");
        assert!(first >= (1e6 - burst) / 2e6 && first >= 0.75 * last, "one ended after {first} s, the other {last} s");
        let counters = bandwidth.counters();
        assert_eq!(counters.upload.granted_bytes, 2_000_000);
        assert!(counters.upload.waits > 0);

        let (mut near, far) = tokio::io::duplex(64 * 1024);
        let mut reader = bandwidth.throttle(PeerId::random(), far.compat());
        let started = tokio::time::Instant::now();
        tokio::spawn(async move { tokio::io::AsyncWriteExt::write_all(&mut near, &vec![1; 600_000]).await });
        let mut got = Vec::new();
        reader.read_to_end(&mut got).await.expect("read");
        assert_eq!(got.len(), 600_000);
        let least = Duration::from_secs_f64((600_000 - bandwidth.download_burst()) as f64 / 1_000_000.0);
        assert!(started.elapsed() >= least, "600 kB read in {:?} at 1 MB/s", started.elapsed());
        drop(reader);
        assert_eq!(bandwidth.counters().download.granted_bytes, 600_000, "what was not read was given back");
    }
}

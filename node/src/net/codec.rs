//! The framing of the request-response protocols (catch-up, network
//! search): one length-prefixed message each way, in the strict CBOR of
//! `communs_protocol::wire` and `communs_protocol::search`.
//!
//! libp2p's own `cbor` codec is not used: it decodes with another CBOR
//! library (which accepts encodings ours refuses) under default size caps.

use std::io;
use std::marker::PhantomData;

use communs_protocol::cbor::DecodeError;
use communs_protocol::limits::{MAX_CATCHUP_MESSAGE_BYTES, MAX_SEARCH_MESSAGE_BYTES};
use communs_protocol::{search, wire};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;

/// A message of one of these protocols, with its size limit.
pub(super) trait Message: Sized + Send {
    const MAX_BYTES: usize;
    fn encode(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError>;
}

macro_rules! message {
    ($($t:ty => $max:expr),*) => {$(
        impl Message for $t {
            const MAX_BYTES: usize = $max;
            fn encode(&self) -> Vec<u8> {
                <$t>::encode(self)
            }
            fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
                <$t>::decode(bytes)
            }
        }
    )*};
}
message!(
    wire::Request => MAX_CATCHUP_MESSAGE_BYTES,
    wire::Response => MAX_CATCHUP_MESSAGE_BYTES,
    search::Query => MAX_SEARCH_MESSAGE_BYTES,
    search::Response => MAX_SEARCH_MESSAGE_BYTES
);

/// The codec of a protocol whose requests are `Req` and responses `Resp`.
pub(super) struct Codec<Req, Resp>(PhantomData<fn() -> (Req, Resp)>);

impl<Req, Resp> Default for Codec<Req, Resp> {
    fn default() -> Self {
        Codec(PhantomData)
    }
}

impl<Req, Resp> Clone for Codec<Req, Resp> {
    fn clone(&self) -> Self {
        Codec(PhantomData)
    }
}

pub(super) type CatchupCodec = Codec<wire::Request, wire::Response>;
pub(super) type SearchCodec = Codec<search::Query, search::Response>;

/// A 4-byte big-endian length, then the message. The length is checked
/// against the limit before anything is allocated for it.
async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("message of {len} bytes, over the limit of {max}"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len()).map_err(|_| io::Error::other("message too large"))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(bytes).await?;
    io.close().await
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl<Req: Message + 'static, Resp: Message + 'static> libp2p::request_response::Codec for Codec<Req, Resp> {
    type Protocol = StreamProtocol;
    type Request = Req;
    type Response = Resp;

    async fn read_request<T: AsyncRead + Unpin + Send>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Req> {
        Req::decode(&read_frame(io, Req::MAX_BYTES).await?).map_err(invalid)
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Resp> {
        Resp::decode(&read_frame(io, Resp::MAX_BYTES).await?).map_err(invalid)
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Req,
    ) -> io::Result<()> {
        write_frame(io, &request.encode()).await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Resp,
    ) -> io::Result<()> {
        write_frame(io, &response.encode()).await
    }
}

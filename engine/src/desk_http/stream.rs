//! A desk connection's stream, with its TLS state behind a pointer.
//!
//! hyper-rustls hands out `MaybeHttpsStream`, an enum as large as its TLS variant (1,104
//! bytes), and hyper keeps the stream inline in every connection's task, plain HTTP or not.
//! Every chat holds one desk connection open, so [`DeskConnector`] hands out [`DeskStream`]
//! instead: a plain stream inline, a TLS one boxed — about a kilobyte less per held chat.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type Tcp = TokioIo<TcpStream>;
type Error = Box<dyn std::error::Error + Send + Sync>;

/// An open desk connection.
#[derive(Debug)]
pub enum DeskStream {
    /// Plain HTTP (the simulators, a local proxy).
    Plain(Tcp),
    /// HTTPS; always the `Https` variant.
    Tls(Box<MaybeHttpsStream<Tcp>>),
}

impl From<MaybeHttpsStream<Tcp>> for DeskStream {
    fn from(stream: MaybeHttpsStream<Tcp>) -> DeskStream {
        match stream {
            MaybeHttpsStream::Http(tcp) => DeskStream::Plain(tcp),
            tls => DeskStream::Tls(Box::new(tls)),
        }
    }
}

/// Connects as hyper-rustls does, then turns the stream into a [`DeskStream`].
#[derive(Clone, Debug)]
pub struct DeskConnector(pub HttpsConnector<HttpConnector>);

impl tower_service::Service<Uri> for DeskConnector {
    type Response = DeskStream;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<DeskStream, Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.0.call(uri);
        Box::pin(async move { connecting.await.map(DeskStream::from) })
    }
}

impl Connection for DeskStream {
    fn connected(&self) -> Connected {
        match self {
            DeskStream::Plain(tcp) => tcp.connected(),
            DeskStream::Tls(tls) => tls.connected(),
        }
    }
}

impl Read for DeskStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            DeskStream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            DeskStream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl Write for DeskStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            DeskStream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            DeskStream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            DeskStream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            DeskStream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            DeskStream::Plain(tcp) => tcp.is_write_vectored(),
            DeskStream::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            DeskStream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            DeskStream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            DeskStream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            DeskStream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_desk_stream_is_far_smaller_than_hyper_rustls_own() {
        // The point of the type: a held chat's connection task stores this inline.
        let ours = size_of::<DeskStream>();
        let theirs = size_of::<MaybeHttpsStream<Tcp>>();
        assert!(ours * 8 <= theirs, "DeskStream {ours} bytes vs {theirs}");
    }
}

//! Where a connection stands between its requests, so that the connection task can close it
//! when the client is too slow: [`Watched`] notes the first byte of each request, the service
//! notes when a request head is complete and when its answer is ready, and [`Activity::deadline`]
//! says which limit applies and when it runs out.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::limits::{Expired, ListenerLimits};

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for the first byte of a request: since the connection opened (`fresh`), or since
    /// the previous answer.
    Waiting { since: Instant, fresh: bool },
    /// Part of a request head has arrived.
    Head { since: Instant },
    /// The head is complete: the service reads the body (under its own timeout) and answers.
    Serving,
}

/// One connection's phase, shared by its reader, its service and its task.
#[derive(Debug)]
pub struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Activity {
    /// A connection that has just opened.
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            phase: Mutex::new(Phase::Waiting {
                since: Instant::now(),
                fresh: true,
            }),
            changed: Notify::new(),
        })
    }

    fn set(&self, phase: Phase) {
        *crate::bridge::lock(&self.phase) = phase;
        self.changed.notify_one();
    }

    /// Bytes arrived: a request head has begun, unless one is already under way.
    fn read_some(&self) {
        let mut phase = crate::bridge::lock(&self.phase);
        if let Phase::Waiting { .. } = *phase {
            *phase = Phase::Head {
                since: Instant::now(),
            };
        }
    }

    /// A request head is complete.
    pub fn serving(&self) {
        self.set(Phase::Serving);
    }

    /// The answer is ready; the connection waits for the next request.
    pub fn answered(&self) {
        self.set(Phase::Waiting {
            since: Instant::now(),
            fresh: false,
        });
    }

    /// When the current phase runs out, and which limit that is; `None` while serving.
    pub fn deadline(&self, limits: &ListenerLimits) -> Option<(Instant, Expired)> {
        match *crate::bridge::lock(&self.phase) {
            Phase::Waiting { since, fresh: true } | Phase::Head { since } => {
                Some((since + limits.header_timeout, Expired::Header))
            }
            Phase::Waiting {
                since,
                fresh: false,
            } => Some((since + limits.idle_timeout, Expired::Idle)),
            Phase::Serving => None,
        }
    }

    /// Resolves after the next change of phase (or at once if one happened since the last call).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// A connection's byte stream, reporting reads to its [`Activity`].
#[derive(Debug)]
pub struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, activity: Arc<Activity>) -> Watched<T> {
        Watched { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read_some();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

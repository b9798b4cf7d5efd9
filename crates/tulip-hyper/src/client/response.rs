//! [`ClientResponse`]: a response of the [`Client`](crate::Client): its
//! head at once, its body read in full with [`bytes`](ClientResponse::bytes)
//! or [`text`](ClientResponse::text) (within the request's deadline and
//! the size limit), or streamed from [`into_http`](ClientResponse::into_http).

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body::Body;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{HeaderMap, StatusCode, Uri, Version};
use tulip_executor::timeout_at;

use crate::client::error::ClientError;
use crate::client::pool::Release;

/// The request's deadline, carried into the reading of its body.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) timeout: Duration,
}

/// A response of the [`Client`](crate::Client): the status and headers
/// are there; the body is read by [`bytes`](ClientResponse::bytes) or
/// [`text`](ClientResponse::text), or streamed from the hyper response of
/// [`into_http`](ClientResponse::into_http).
///
/// An HTTP/1.1 connection goes back to the pool once the body has been
/// read to its end; a response dropped with its body unread closes its
/// connection.
///
/// ```
/// use tulip::hyper::Client;
/// use tulip::net::TcpListener;
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let listener = TcpListener::bind("127.0.0.1", 0).await?;
///     let port = listener.local_addr()?.port();
///     // A one-shot HTTP/1.1 server, by hand.
///     spawn(async move {
///         let (stream, _) = listener.accept().await?;
///         let mut head = [0; 1024];
///         let _ = stream.read(&mut head).await?;
///         stream
///             .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello")
///             .await
///     });
///     let response = Client::new().get(format!("http://127.0.0.1:{port}/")).await?;
///     assert_eq!(response.status(), 200);
///     assert_eq!(response.headers()["content-type"], "text/plain");
///     assert_eq!(response.text().await?, "hello");
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ClientResponse {
    inner: hyper::Response<Incoming>,
    uri: Uri,
    deadline: Option<Deadline>,
    max_body_size: Option<usize>,
    /// An HTTP/1.1 connection to put back in the pool after the body.
    release: Option<Release>,
}

impl ClientResponse {
    pub(crate) fn new(
        inner: hyper::Response<Incoming>,
        uri: Uri,
        deadline: Option<Deadline>,
        max_body_size: Option<usize>,
        release: Option<Release>,
    ) -> ClientResponse {
        ClientResponse {
            inner,
            uri,
            deadline,
            max_body_size,
            release,
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.inner.status()
    }

    /// The HTTP version the response came with (`HTTP/1.1`, `HTTP/2`...).
    pub fn version(&self) -> Version {
        self.inner.version()
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// The URI that was requested (a redirect is not followed: see the
    /// `Location` header of a `3xx`).
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// hyper's response, to stream its body (no deadline, no size limit).
    ///
    /// ```no_run
    /// use http_body_util::BodyExt;
    /// use tulip::hyper::Client;
    ///
    /// tulip::run(async {
    ///     let response = Client::new().get("http://127.0.0.1:8080/big").await?;
    ///     let mut body = response.into_http().into_body();
    ///     while let Some(frame) = body.frame().await {
    ///         if let Some(chunk) = frame?.data_ref() {
    ///             println!("{} bytes", chunk.len());
    ///         }
    ///     }
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_http(self) -> hyper::Response<Incoming> {
        self.inner
    }

    /// Reads the whole body, within what is left of the request's
    /// deadline and at most [`max_body_size`](crate::ClientOptions::max_body_size)
    /// bytes.
    ///
    /// Errors: [`ClientError::RequestTimeout`], [`ClientError::BodyTooLarge`]
    /// (at once when the `Content-Length` says so), [`ClientError::Http`]
    /// when the body breaks (the connection closed before its end).
    pub async fn bytes(self) -> Result<Bytes, ClientError> {
        let ClientResponse {
            inner,
            uri,
            deadline,
            max_body_size,
            release,
        } = self;
        let limit = max_body_size.unwrap_or(usize::MAX);
        // What hyper knows of the length (a `Content-Length`, except for
        // the responses that have no body: to a HEAD, a 204, a 304).
        if inner.body().size_hint().lower() > limit as u64 {
            return Err(ClientError::BodyTooLarge { uri, limit });
        }
        let read = read_body(inner.into_body(), &uri, limit);
        let body = match deadline {
            Some(d) => timeout_at(d.at).run(read).await.unwrap_or_else(|_| {
                Err(ClientError::RequestTimeout {
                    uri: uri.clone(),
                    after: d.timeout,
                })
            })?,
            None => read.await?,
        };
        // The body is read: the connection is about to be ready for the
        // next request; it is back in the pool when this returns.
        if let Some(release) = release {
            release.when_ready(deadline.map(|d| d.at)).await;
        }
        Ok(body)
    }

    /// Reads the whole body as [`bytes`](ClientResponse::bytes) does, and
    /// checks that it is UTF-8 (whatever the `Content-Type` says).
    ///
    /// Errors: those of [`bytes`](ClientResponse::bytes), and
    /// [`ClientError::InvalidUtf8`].
    pub async fn text(self) -> Result<String, ClientError> {
        let uri = self.uri.clone();
        let bytes = self.bytes().await?;
        match std::str::from_utf8(&bytes) {
            Ok(text) => Ok(text.to_owned()),
            Err(source) => Err(ClientError::InvalidUtf8 { uri, source }),
        }
    }
}

/// Collects a body's data frames (trailers are dropped), `limit` bytes at
/// most.
async fn read_body(mut body: Incoming, uri: &Uri, limit: usize) -> Result<Bytes, ClientError> {
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    let mut len = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|source| ClientError::Http {
            uri: uri.clone(),
            source,
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        len = len.saturating_add(data.len());
        if len > limit {
            return Err(ClientError::BodyTooLarge {
                uri: uri.clone(),
                limit,
            });
        }
        // A body of one frame is handed over as it came, without a copy.
        match first.take() {
            None if rest.is_empty() => first = Some(data),
            None => rest.extend_from_slice(&data),
            Some(previous) => {
                rest.extend_from_slice(&previous);
                rest.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| rest.freeze()))
}

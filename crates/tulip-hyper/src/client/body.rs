//! [`RequestBody`]: the body of a request the [`Client`](crate::Client)
//! sends: bytes known in full (sent with a `Content-Length`), or any
//! `http_body::Body` streamed as it comes (chunked on HTTP/1.1).

use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

/// A boxed error of a streamed body.
type BoxError = Box<dyn StdError + Send + Sync>;

/// The body of a request: what [`Client::post`](crate::Client::post)
/// takes, and what a request given to
/// [`Client::request`](crate::Client::request) has once converted.
///
/// Made from bytes (`&'static str`, `String`, `Vec<u8>`, `&'static [u8]`,
/// [`Bytes`]), from `()` (no body), or from any `http_body::Body` of
/// [`Bytes`] with [`RequestBody::wrap`] (no `Send` needed: the client and
/// its connections stay on the loop's thread).
///
/// ```
/// use http_body::Body;
/// use http_body_util::Full;
/// use tulip::hyper::RequestBody;
///
/// let body = RequestBody::from("name=tulip");
/// assert_eq!(body.size_hint().exact(), Some(10));
/// assert!(RequestBody::from(()).is_end_stream());
/// let streamed = RequestBody::wrap(Full::new(bytes::Bytes::from_static(b"abc")));
/// assert_eq!(streamed.size_hint().exact(), Some(3));
/// ```
pub struct RequestBody {
    inner: Inner,
}

enum Inner {
    /// Bytes known in full (taken when sent).
    Full(Option<Bytes>),
    /// A body streamed as it comes.
    Streamed(Pin<Box<dyn Body<Data = Bytes, Error = BoxError>>>),
}

impl RequestBody {
    /// No body (a `GET`'s).
    ///
    /// ```
    /// use http_body::Body;
    /// use tulip::hyper::RequestBody;
    ///
    /// assert_eq!(RequestBody::empty().size_hint().exact(), Some(0));
    /// ```
    pub fn empty() -> RequestBody {
        RequestBody {
            inner: Inner::Full(None),
        }
    }

    /// Streams `body`: its frames are sent as it yields them, with its
    /// length when its size hint is exact, else chunked (HTTP/1.1); its
    /// error fails the request with [`ClientError::Http`](crate::ClientError::Http).
    ///
    /// ```
    /// use http_body_util::{BodyExt, Full};
    /// use tulip::hyper::RequestBody;
    ///
    /// let body = RequestBody::wrap(Full::new(bytes::Bytes::from_static(b"streamed")));
    /// tulip::run(async move {
    ///     assert_eq!(body.collect().await.unwrap().to_bytes(), "streamed");
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn wrap<B>(body: B) -> RequestBody
    where
        B: Body<Data = Bytes> + 'static,
        B::Error: Into<BoxError>,
    {
        RequestBody {
            inner: Inner::Streamed(Box::pin(body.map_err(Into::into))),
        }
    }
}

impl Default for RequestBody {
    fn default() -> RequestBody {
        RequestBody::empty()
    }
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Full(bytes) => f
                .debug_struct("RequestBody")
                .field("len", &bytes.as_ref().map_or(0, Bytes::len))
                .finish(),
            Inner::Streamed(_) => f.debug_struct("RequestBody").finish_non_exhaustive(),
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().inner {
            Inner::Full(bytes) => Poll::Ready(
                bytes
                    .take()
                    .filter(|b| !b.is_empty())
                    .map(|b| Ok(Frame::data(b))),
            ),
            Inner::Streamed(body) => body.as_mut().poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Full(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            Inner::Streamed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Inner::Streamed(body) => body.size_hint(),
        }
    }
}

impl From<Bytes> for RequestBody {
    fn from(bytes: Bytes) -> RequestBody {
        RequestBody {
            inner: Inner::Full(Some(bytes)),
        }
    }
}

impl From<()> for RequestBody {
    fn from((): ()) -> RequestBody {
        RequestBody::empty()
    }
}

impl From<&'static str> for RequestBody {
    fn from(text: &'static str) -> RequestBody {
        RequestBody::from(Bytes::from_static(text.as_bytes()))
    }
}

impl From<String> for RequestBody {
    fn from(text: String) -> RequestBody {
        RequestBody::from(Bytes::from(text))
    }
}

impl From<&'static [u8]> for RequestBody {
    fn from(data: &'static [u8]) -> RequestBody {
        RequestBody::from(Bytes::from_static(data))
    }
}

impl From<Vec<u8>> for RequestBody {
    fn from(data: Vec<u8>) -> RequestBody {
        RequestBody::from(Bytes::from(data))
    }
}

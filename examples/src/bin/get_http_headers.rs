//! Get HTTP headers, from the asyncio documentation (streams page,
//! "Examples": "Get HTTP headers").
//!
//! Queries the HTTP headers of the URL given on the command line: splits
//! the URL, opens a connection with [`open_connection`], sends a `HEAD`
//! request, and prints every non-empty line of the answer with
//! [`readline`](tulip::streams::StreamReader::readline) until the server
//! closes the connection:
//!
//! ```text
//! $ cargo run -p tulip-examples --bin get_http_headers http://example.com/path/page.html
//! HTTP header> HTTP/1.1 404 Not Found
//! HTTP header> Content-Type: text/html
//! ...
//! ```
//!
//! or with HTTPS, `... get_http_headers https://example.com/path/page.html`.
//!
//! The Python original:
//!
//! ```python
//! import asyncio
//! import urllib.parse
//! import sys
//!
//! async def print_http_headers(url):
//!     url = urllib.parse.urlsplit(url)
//!     if url.scheme == 'https':
//!         reader, writer = await asyncio.open_connection(
//!             url.hostname, 443, ssl=True)
//!     else:
//!         reader, writer = await asyncio.open_connection(
//!             url.hostname, 80)
//!
//!     query = (
//!         f"HEAD {url.path or '/'} HTTP/1.0\r\n"
//!         f"Host: {url.hostname}\r\n"
//!         f"\r\n"
//!     )
//!
//!     writer.write(query.encode('latin-1'))
//!     while True:
//!         line = await reader.readline()
//!         if not line:
//!             break
//!
//!         line = line.decode('latin1').rstrip()
//!         if line:
//!             print(f'HTTP header> {line}')
//!
//!     # Ignore the body, close the socket
//!     writer.close()
//!     await writer.wait_closed()
//!
//! url = sys.argv[1]
//! asyncio.run(print_http_headers(url))
//! ```
//!
//! Differences:
//! - A port in the URL is used (`http://127.0.0.1:8080/`); the Python
//!   version always connects to port 80 (or 443). The `Host` header is the
//!   host name alone in both, as the original sends it.
//! - `ssl=True` is [`ConnectOptions::tls`] with
//!   [`TlsClientConfig::new`]: the server's certificate is checked against
//!   the system's trust store (or the PEM file `SSL_CERT_FILE` names, as
//!   with Python's default context) for the URL's host name.
//! - The URL is split as `urllib.parse.urlsplit` does it for these
//!   examples (scheme, `user@`, host name lowercased, `[IPv6]`, port,
//!   path without the query and fragment) by a small function of this
//!   file; a URL without a host name, or with a port that is not a number
//!   up to 65535, is an error, as Python's `open_connection(None, ...)` or
//!   `url.port` would raise.
//! - Without an argument the program prints its usage and fails, where
//!   Python fails with an `IndexError`.
//!
//! The bytes are decoded as Latin-1 and stripped of trailing whitespace
//! as Python's `str.rstrip` does, so every byte prints as its code point.

use tulip::prelude::*;
use tulip::streams::ConnectOptions;
use tulip::transport::TlsClientConfig;

/// The parts of a URL this example uses (what Python's
/// `urllib.parse.urlsplit` returns for them).
#[derive(Debug, PartialEq, Eq)]
struct SplitUrl {
    scheme: String,
    hostname: Option<String>,
    port: Option<u16>,
    path: String,
}

/// Splits `url` as `urllib.parse.urlsplit` does for the URLs of this
/// example: `scheme://[user@]host[:port]/path[?query][#fragment]`.
fn urlsplit(url: &str) -> Result<SplitUrl, String> {
    let (scheme, rest) = match url.split_once(':') {
        Some((scheme, rest))
            if scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (scheme.to_ascii_lowercase(), rest)
        }
        _ => (String::new(), url),
    };
    let (netloc, after) = match rest.strip_prefix("//") {
        Some(rest) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        }
        None => ("", rest),
    };
    let path_end = after.find(['?', '#']).unwrap_or(after.len());
    let path = after[..path_end].to_string();
    let hostport = netloc.rsplit_once('@').map_or(netloc, |(_, h)| h);
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| format!("invalid IPv6 URL: {url:?}"))?;
        (host, after.strip_prefix(':'))
    } else {
        match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<u16>()
                .map_err(|_| format!("Port could not be cast to integer value as {text:?}"))?,
        ),
    };
    let hostname = (!host.is_empty()).then(|| host.to_lowercase());
    Ok(SplitUrl {
        scheme,
        hostname,
        port,
        path,
    })
}

/// Python's `bytes.decode('latin1')`: every byte is the code point of the
/// same value.
fn decode_latin1(bytes: &[u8]) -> String {
    bytes.iter().copied().map(char::from).collect()
}

/// Python's `str.rstrip()` on Latin-1 text: Unicode whitespace plus the
/// separators U+001C to U+001F, which Python also counts as whitespace.
fn rstrip(text: &str) -> &str {
    text.trim_end_matches(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c))
}

/// An error of this program, as the `tulip::Error` `main` returns.
fn invalid(message: String) -> Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message).into()
}

async fn print_http_headers(url: String) -> Result<(), Error> {
    let url = urlsplit(&url).map_err(invalid)?;
    let hostname = url
        .hostname
        .ok_or_else(|| invalid(String::from("the URL has no host name")))?;
    let (mut reader, writer) = if url.scheme == "https" {
        // ssl=True: the system's trust store, the host name verified.
        let tls = ConnectOptions::new().tls(TlsClientConfig::new()?);
        open_connection(&hostname, url.port.unwrap_or(443), tls).await?
    } else {
        open_connection(&hostname, url.port.unwrap_or(80), ConnectOptions::new()).await?
    };

    let path = if url.path.is_empty() { "/" } else { &url.path };
    let query = format!("HEAD {path} HTTP/1.0\r\nHost: {hostname}\r\n\r\n");

    // Python encodes the query as Latin-1; the characters of a URL that
    // Rust holds are sent as their UTF-8 bytes.
    writer.write(query.as_bytes())?;
    loop {
        let line = reader.readline().await?;
        if line.is_empty() {
            break;
        }

        let line = decode_latin1(&line);
        let line = rstrip(&line);
        if !line.is_empty() {
            println!("HTTP header> {line}");
        }
    }

    // Ignore the body, close the socket
    writer.close();
    writer.wait_closed().await?;
    Ok(())
}

fn main() -> Result<(), Error> {
    let Some(url) = std::env::args().nth(1) else {
        return Err(invalid(String::from("usage: get_http_headers URL")));
    };
    tulip::run(print_http_headers(url))?
}

#[cfg(test)]
mod tests {
    use super::{SplitUrl, decode_latin1, rstrip, urlsplit};

    fn split(url: &str) -> SplitUrl {
        urlsplit(url).unwrap()
    }

    #[test]
    fn splits_as_urllib_parse_urlsplit() {
        let url = split("http://example.com/path/page.html");
        assert_eq!(url.scheme, "http");
        assert_eq!(url.hostname.as_deref(), Some("example.com"));
        assert_eq!(url.port, None);
        assert_eq!(url.path, "/path/page.html");

        let url = split("HTTP://User:pw@Example.COM:8080/a?q=1#frag");
        assert_eq!(url.scheme, "http");
        assert_eq!(url.hostname.as_deref(), Some("example.com"));
        assert_eq!(url.port, Some(8080));
        assert_eq!(url.path, "/a");

        let url = split("http://[::1]:81");
        assert_eq!(url.hostname.as_deref(), Some("::1"));
        assert_eq!(url.port, Some(81));
        assert_eq!(url.path, "");

        let url = split("https://example.com:/");
        assert_eq!(url.scheme, "https");
        assert_eq!(url.port, None);

        assert_eq!(split("example.com/x").hostname, None);
        assert!(urlsplit("http://host:99999/").is_err());
        assert!(urlsplit("http://host:http/").is_err());
        assert!(urlsplit("http://[::1/").is_err());
    }

    #[test]
    fn decodes_latin1_and_strips_as_python() {
        assert_eq!(decode_latin1(b"caf\xe9"), "café");
        assert_eq!(rstrip("Server: x \t\r\n"), "Server: x");
        assert_eq!(rstrip("a\x1c\x1f\u{85}\u{a0}"), "a");
        assert_eq!(rstrip("\r\n"), "");
    }
}

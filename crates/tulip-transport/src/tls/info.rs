//! What a TLS session negotiated, as the application sees it
//! ([`TlsInfo`], asyncio's `ssl_object` queries).

use std::fmt;

/// What a TLS session negotiated ([`Transport::tls_info`](crate::Transport::tls_info)): asyncio's
/// `ssl_object` queries (`version()`, `cipher()`, `getpeercert()`,
/// `selected_alpn_protocol()`, `server_hostname`).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// Whether this is the server's side.
    pub server_side: bool,
    /// Whether the handshake is done (the rest is known only then).
    pub handshake_complete: bool,
    /// `"TLSv1.2"` or `"TLSv1.3"`.
    pub protocol_version: Option<String>,
    /// The cipher suite's IANA name, e.g. `TLS13_AES_128_GCM_SHA256`.
    pub cipher: Option<String>,
    /// The ALPN protocol both sides chose, if any.
    pub alpn_protocol: Option<Vec<u8>>,
    /// The SNI name: the one a client sent, or the one a server received.
    pub server_name: Option<String>,
    /// The peer's certificates, DER, its own first (empty when the peer
    /// sent none: a client without a certificate).
    pub peer_certificates: Vec<Vec<u8>>,
}

/// A summary, not the certificates' bytes: how many certificates the peer
/// sent and the size of each, with the negotiated parameters.
///
/// ```
/// use tulip::transport::TlsInfo;
///
/// fn log_session(info: &TlsInfo) {
///     // e.g. TlsInfo { server_side: false, handshake_complete: true,
///     // protocol_version: Some("TLSv1.3"), ..., peer_certificates: [912 bytes] }
///     println!("{info:?}");
/// }
/// ```
impl fmt::Debug for TlsInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsInfo")
            .field("server_side", &self.server_side)
            .field("handshake_complete", &self.handshake_complete)
            .field("protocol_version", &self.protocol_version)
            .field("cipher", &self.cipher)
            .field(
                "alpn_protocol",
                &self.alpn_protocol.as_deref().map(String::from_utf8_lossy),
            )
            .field("server_name", &self.server_name)
            .field("peer_certificates", &CertSizes(&self.peer_certificates))
            .finish()
    }
}

/// Prints a certificate chain as the sizes of its certificates.
struct CertSizes<'a>(&'a [Vec<u8>]);

impl fmt::Debug for CertSizes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|c| DerSize(c.len())))
            .finish()
    }
}

/// One certificate, as its DER size.
struct DerSize(usize);

impl fmt::Debug for DerSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_summarizes_the_certificates() {
        let info = TlsInfo {
            server_side: false,
            handshake_complete: true,
            protocol_version: Some(String::from("TLSv1.3")),
            cipher: Some(String::from("TLS13_AES_128_GCM_SHA256")),
            alpn_protocol: Some(b"h2".to_vec()),
            server_name: Some(String::from("localhost")),
            peer_certificates: vec![vec![0x30; 912], vec![0x30; 1024]],
        };
        let shown = format!("{info:?}");
        assert_eq!(
            shown,
            "TlsInfo { server_side: false, handshake_complete: true, \
             protocol_version: Some(\"TLSv1.3\"), cipher: Some(\"TLS13_AES_128_GCM_SHA256\"), \
             alpn_protocol: Some(\"h2\"), server_name: Some(\"localhost\"), \
             peer_certificates: [912 bytes, 1024 bytes] }"
        );
    }
}

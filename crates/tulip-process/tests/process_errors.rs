//! The subprocess error's accessors reach the errors of the layers it
//! wraps: a TLS error (of a transport or a stream) through `as_tls`.

use tulip_process::Error;
use tulip_transport::TlsError;
use tulip_transport::rustls::{self, CertificateError};

fn unknown_issuer() -> TlsError {
    TlsError::Rustls(rustls::Error::InvalidCertificate(
        CertificateError::UnknownIssuer,
    ))
}

#[test]
fn as_tls_finds_the_tls_error_of_a_transport_or_a_stream() {
    let tls = unknown_issuer();
    let from_transport = Error::from(tulip_transport::Error::Tls(tls.clone()));
    assert_eq!(from_transport.as_tls(), Some(&tls));
    assert_eq!(
        from_transport
            .as_tls()
            .and_then(TlsError::certificate_error),
        Some(&CertificateError::UnknownIssuer)
    );

    let stream = Error::Stream(tulip_streams::Error::Transport(
        tulip_transport::Error::Tls(TlsError::Truncated),
    ));
    assert_eq!(stream.as_tls(), Some(&TlsError::Truncated));
}

#[test]
fn as_tls_is_none_for_other_errors() {
    assert_eq!(Error::ProcessLookup.as_tls(), None);
    let io = Error::from(std::io::Error::from(std::io::ErrorKind::NotFound));
    assert_eq!(io.as_tls(), None);
}

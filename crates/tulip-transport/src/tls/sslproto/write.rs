//! The write side of the TLS layer: the application's plaintext through
//! rustls, and the records straight into the socket transport (vectored),
//! with a backlog for a write made while rustls is borrowed.

use super::*;
use crate::lifecycle::LOG_THRESHOLD_FOR_CONNLOST_WRITES;

/// Sends rustls' records through the socket transport.
struct SocketSink<'a>(&'a Transport);

impl Write for SocketSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(io::Error::from)?;
        Ok(buf.len())
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        // rustls hands over at most 64 records at once.
        let mut slices: [&[u8]; 64] = [&[]; 64];
        let n = bufs.len().min(slices.len());
        for (slot, b) in slices.iter_mut().zip(bufs) {
            *slot = b;
        }
        self.0.writelines(&slices[..n]).map_err(io::Error::from)?;
        Ok(slices[..n].iter().map(|b| b.len()).sum())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SslProtocol {
    pub(crate) fn app_write(self: &Rc<Self>, bufs: &[&[u8]]) -> Result<()> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Ok(());
        }
        if self.closing.get() || self.state.get() == State::Closed {
            let n = self.conn_lost_writes.get() + 1;
            self.conn_lost_writes.set(n);
            if n == LOG_THRESHOLD_FOR_CONNLOST_WRITES {
                log::warn!("SSL transport: writing to a closed transport");
            }
            return Ok(());
        }
        match self.conn.try_borrow_mut() {
            Ok(mut conn) => {
                let mut writer = conn.writer();
                for b in bufs {
                    writer.write_all(b)?;
                }
            }
            Err(_) => {
                // Inside a send (a pause_writing raised by it): the
                // running flush sends this next.
                let mut backlog = self.backlog.borrow_mut();
                for b in bufs {
                    backlog.extend_from_slice(b);
                }
                return Ok(());
            }
        }
        self.flush_tls();
        Ok(())
    }

    /// Sends every record rustls has (and the backlog, and a queued
    /// close_notify) through the socket transport.
    pub(crate) fn flush_tls(&self) {
        let Some(socket) = self.socket() else { return };
        loop {
            let Ok(mut conn) = self.conn.try_borrow_mut() else {
                return;
            };
            let backlog = std::mem::take(&mut *self.backlog.borrow_mut());
            if !backlog.is_empty() {
                let _ = conn.writer().write_all(&backlog);
            }
            if self.close_notify_queued.replace(false) {
                conn.send_close_notify();
            }
            if !conn.wants_write() {
                return;
            }
            match conn.write_tls(&mut SocketSink(&socket)) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}

//! An example of a backend the workspace does not know: [`Delegating`] wraps any
//! [`SecureConnection`] and implements the trait again using only the public API of
//! `ftps-core`, logging each handshake. It stands for "somebody's new TLS backend" and shows
//! that the conformance suite needs nothing but the trait: see `tests/conformance.rs`.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use ftps_core::{
    Capabilities, CloseState, SecureConnection, SecureStream, ServerName, SessionInfo, TlsError,
};

/// A backend that delegates to `C`, counting what it does.
#[derive(Debug)]
pub struct Delegating<C> {
    inner: C,
}

impl<C> Delegating<C> {
    /// Wraps `inner`.
    pub fn new(inner: C) -> Self {
        Delegating { inner }
    }
}

/// The stream of [`Delegating`]: the inner backend's stream.
#[derive(Debug)]
pub struct DelegatingStream<S> {
    inner: S,
}

impl<C: SecureConnection> SecureConnection for Delegating<C> {
    type Stream = DelegatingStream<C::Stream>;

    fn name(&self) -> &'static str {
        "delegating"
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn secure_control(
        &self,
        tcp: TcpStream,
        server: &ServerName,
    ) -> Result<Self::Stream, TlsError> {
        log::debug!("delegating: control handshake with {server}");
        let inner = self.inner.secure_control(tcp, server)?;
        Ok(DelegatingStream { inner })
    }

    fn secure_data(
        &self,
        tcp: TcpStream,
        server: &ServerName,
        control: &Self::Stream,
    ) -> Result<Self::Stream, TlsError> {
        log::debug!("delegating: data handshake with {server}");
        let inner = self.inner.secure_data(tcp, server, &control.inner)?;
        Ok(DelegatingStream { inner })
    }
}

impl<S: SecureStream> Read for DelegatingStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<S: SecureStream> Write for DelegatingStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<S: SecureStream> SecureStream for DelegatingStream<S> {
    fn send_close_notify(&mut self) -> io::Result<()> {
        self.inner.send_close_notify()
    }

    fn close_state(&self) -> CloseState {
        self.inner.close_state()
    }

    fn unwrap_tcp(&mut self) -> Result<(TcpStream, Vec<u8>), TlsError> {
        self.inner.unwrap_tcp()
    }

    fn session_info(&self) -> SessionInfo {
        self.inner.session_info()
    }

    fn tcp(&self) -> &TcpStream {
        self.inner.tcp()
    }
}

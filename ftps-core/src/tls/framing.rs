//! Helpers for backend authors that are not specific to one TLS library.
//!
//! * [`RecordReader`]: reads a TCP stream one TLS record at a time, so a TLS library fed
//!   through it never takes bytes past the record it is on. After the peer's close_notify the
//!   cleartext that follows (after `CCC`) is still in the socket: that is what makes
//!   [`SecureStream::unwrap_tcp`](super::SecureStream::unwrap_tcp) exact.
//! * [`ReadAhead`]: the opposite, for data connections (never unwrapped): one large socket read
//!   serves several records, so a TLS library that reads a header and then a body (or 4 KiB at
//!   a time) costs one system call per several records instead of several per record.
//! * [`FramedTcp`]: a [`TcpStream`] whose reads go through a [`RecordReader`] or a
//!   [`ReadAhead`], for TLS libraries that take a `Read + Write` stream (openssl, native-tls),
//!   and whose writes can be gathered, so the records of one large write leave in one system
//!   call ([`FramedTcp::gather_writes`]).
//! * [`CloseTracker`]: the close bookkeeping every backend needs: turns the results of a TLS
//!   stream's reads into a [`CloseState`] with the one EOF semantics every backend must have,
//!   refuses writes after our close_notify, and says when unwrapping is allowed.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use super::{CloseState, TlsError, TlsErrorKind};

/// The length of a TLS record header: content type, version, length (RFC 8446 §5.1).
const HEADER_LEN: usize = 5;

/// Where a stream is within the current TLS record; kept beside the socket by the backend and
/// lent to a [`RecordReader`] for each read.
#[derive(Clone, Debug, Default)]
pub struct RecordFraming {
    header: [u8; HEADER_LEN],
    header_have: usize,
    body_left: usize,
}

impl RecordFraming {
    /// A reader over `tcp` that never returns bytes past the end of the current record.
    pub fn reader<'a>(&'a mut self, tcp: &'a TcpStream) -> RecordReader<'a> {
        RecordReader { tcp, framing: self }
    }

    /// Whether the stream sits exactly between two records (nothing of a record is half read).
    pub fn at_record_boundary(&self) -> bool {
        self.header_have == 0 && self.body_left == 0
    }
}

/// A reader that hands out at most the rest of the current TLS record: first the 5-byte
/// header, then exactly the body it announces. It costs about two socket reads per record.
#[derive(Debug)]
pub struct RecordReader<'a> {
    tcp: &'a TcpStream,
    framing: &'a mut RecordFraming,
}

impl Read for RecordReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let f = &mut *self.framing;
        if f.body_left > 0 {
            let want = buf.len().min(f.body_left);
            let n = (&mut &*self.tcp).read(&mut buf[..want])?;
            f.body_left -= n;
            return Ok(n);
        }
        let want = buf.len().min(HEADER_LEN - f.header_have);
        let n = (&mut &*self.tcp).read(&mut buf[..want])?;
        f.header[f.header_have..f.header_have + n].copy_from_slice(&buf[..n]);
        f.header_have += n;
        if f.header_have == HEADER_LEN {
            f.body_left = usize::from(u16::from_be_bytes([f.header[3], f.header[4]]));
            f.header_have = 0;
        }
        Ok(n)
    }
}

/// The default size of a [`ReadAhead`]: eight full TLS records.
pub const READ_AHEAD_LEN: usize = 8 * (16 * 1024 + 256);

/// A read-ahead buffer beside a socket: when it is empty, the next read refills it with one
/// socket read of up to its size; reads are then served from it.
///
/// For data connections: what it holds past the peer's close_notify is returned by
/// [`ReadAhead::buffered`], so an unwrap can still hand it back.
#[derive(Debug)]
pub struct ReadAhead {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Default for ReadAhead {
    fn default() -> Self {
        ReadAhead::with_capacity(READ_AHEAD_LEN)
    }
}

impl ReadAhead {
    /// An empty buffer of `capacity` bytes (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        ReadAhead {
            buf: vec![0; capacity.max(1)].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// A reader over `tcp` through this buffer.
    pub fn reader<'a>(&'a mut self, tcp: &'a TcpStream) -> ReadAheadReader<'a> {
        ReadAheadReader { tcp, ahead: self }
    }

    /// The bytes read from the socket and not handed out yet.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
}

/// A reader that serves [`ReadAhead`]'s bytes and refills it with one socket read when empty.
#[derive(Debug)]
pub struct ReadAheadReader<'a> {
    tcp: &'a TcpStream,
    ahead: &'a mut ReadAhead,
}

impl Read for ReadAheadReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let a = &mut *self.ahead;
        if a.start == a.end {
            if buf.len() >= a.buf.len() {
                return (&mut &*self.tcp).read(buf);
            }
            let n = (&mut &*self.tcp).read(&mut a.buf)?;
            (a.start, a.end) = (0, n);
        }
        let n = buf.len().min(a.end - a.start);
        buf[..n].copy_from_slice(&a.buf[a.start..a.start + n]);
        a.start += n;
        Ok(n)
    }
}

/// How a [`FramedTcp`] reads.
#[derive(Debug)]
enum Input {
    RecordByRecord(RecordFraming),
    Greedy(ReadAhead),
}

/// The most bytes [`FramedTcp::gather_writes`] holds back: four full TLS records with room for
/// their overhead. A write that would go past it sends what is held first.
pub const GATHER_LEN: usize = 4 * (16 * 1024 + 256);

/// A [`TcpStream`] read one TLS record at a time ([`FramedTcp::new`]) or through a read-ahead
/// buffer ([`FramedTcp::greedy`]), written straight through or, between
/// [`FramedTcp::gather_writes`] and [`FramedTcp::send_gathered`], in batches.
#[derive(Debug)]
pub struct FramedTcp {
    tcp: TcpStream,
    input: Input,
    /// The writes held back (`None`: writes go straight to the socket).
    gathered: Option<Vec<u8>>,
    /// The buffer of the last batch, kept for the next one.
    spare: Vec<u8>,
}

impl FramedTcp {
    /// Wraps `tcp`, at a record boundary: reads never go past the end of the current record.
    pub fn new(tcp: TcpStream) -> Self {
        FramedTcp {
            tcp,
            input: Input::RecordByRecord(RecordFraming::default()),
            gathered: None,
            spare: Vec::new(),
        }
    }

    /// Wraps `tcp` for a data connection: reads take as much as the socket has, up to
    /// [`READ_AHEAD_LEN`] bytes, and serve the TLS library's small reads from that.
    pub fn greedy(tcp: TcpStream) -> Self {
        FramedTcp {
            tcp,
            input: Input::Greedy(ReadAhead::default()),
            gathered: None,
            spare: Vec::new(),
        }
    }

    /// What was read from the socket past what the TLS library took: always empty when reading
    /// record by record.
    pub fn buffered(&self) -> &[u8] {
        match &self.input {
            Input::RecordByRecord(_) => &[],
            Input::Greedy(ahead) => ahead.buffered(),
        }
    }

    /// The TCP stream.
    pub fn get_ref(&self) -> &TcpStream {
        &self.tcp
    }

    /// Whether no record is half read by the TLS library (a greedy stream's extra bytes are in
    /// [`FramedTcp::buffered`]).
    pub fn at_record_boundary(&self) -> bool {
        match &self.input {
            Input::RecordByRecord(framing) => framing.at_record_boundary(),
            Input::Greedy(_) => true,
        }
    }

    /// Holds writes back from now on, until [`FramedTcp::send_gathered`], so the records a TLS
    /// library writes one by one (OpenSSL: one socket write per record) leave in one system call
    /// and travel in fewer, larger TCP segments. At most [`GATHER_LEN`] bytes are held: a write
    /// that would go past it sends what is held first.
    ///
    /// A backend wraps the TLS writes of one of its stream's writes, and nothing that waits for
    /// the peer, between `gather_writes` and `send_gathered`, so no byte is still held when that
    /// write returns.
    pub fn gather_writes(&mut self) {
        if self.gathered.is_none() {
            let mut buffer = std::mem::take(&mut self.spare);
            buffer.clear();
            self.gathered = Some(buffer);
        }
    }

    /// Sends every byte held back since [`FramedTcp::gather_writes`] and writes straight
    /// through again.
    pub fn send_gathered(&mut self) -> io::Result<()> {
        let Some(mut buffer) = self.gathered.take() else {
            return Ok(());
        };
        let sent = (&self.tcp).write_all(&buffer);
        buffer.clear();
        self.spare = buffer;
        sent
    }

    /// The TCP stream, giving up the framing state.
    pub fn into_inner(self) -> TcpStream {
        self.tcp
    }
}

impl Read for FramedTcp {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.input {
            Input::RecordByRecord(framing) => framing.reader(&self.tcp).read(buf),
            Input::Greedy(ahead) => ahead.reader(&self.tcp).read(buf),
        }
    }
}

impl Write for FramedTcp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(gathered) = &mut self.gathered else {
            return (&self.tcp).write(buf);
        };
        if gathered.len() + buf.len() > GATHER_LEN && !gathered.is_empty() {
            (&self.tcp).write_all(gathered)?;
            gathered.clear();
        }
        if buf.len() >= GATHER_LEN {
            return (&self.tcp).write(buf);
        }
        gathered.extend_from_slice(buf);
        Ok(buf.len())
    }

    /// Sends what is held back (writes go on being gathered), then flushes the socket.
    fn flush(&mut self) -> io::Result<()> {
        if let Some(gathered) = &mut self.gathered {
            (&self.tcp).write_all(gathered)?;
            gathered.clear();
        }
        (&self.tcp).flush()
    }
}

/// Tracks how the peer ended a TLS stream from the results of its reads: `Ok(0)` on a
/// non-empty buffer is the peer's close_notify ([`CloseState::CleanClose`]); an
/// [`io::ErrorKind::UnexpectedEof`] is a TCP EOF without it ([`CloseState::Truncated`]).
///
/// A backend whose library reports these differently maps them first, then calls
/// [`CloseTracker::observe`], so every backend has rustls' semantics.
#[derive(Clone, Copy, Debug)]
pub struct CloseTracker {
    state: CloseState,
    sent: bool,
    unwrapped: bool,
}

impl Default for CloseTracker {
    fn default() -> Self {
        CloseTracker {
            state: CloseState::Open,
            sent: false,
            unwrapped: false,
        }
    }
}

impl CloseTracker {
    /// Records the outcome of one read into a buffer of `buf_len` bytes and passes it on.
    pub fn observe(&mut self, buf_len: usize, result: io::Result<usize>) -> io::Result<usize> {
        match &result {
            Ok(0) if buf_len > 0 => self.state = CloseState::CleanClose,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                self.state = CloseState::Truncated;
            }
            _ => {}
        }
        result
    }

    /// The state so far.
    pub fn state(&self) -> CloseState {
        self.state
    }

    /// Records that our close_notify was sent; returns whether it had been sent before (a
    /// second one must not be sent).
    pub fn mark_sent(&mut self) -> bool {
        std::mem::replace(&mut self.sent, true)
    }

    /// Whether our close_notify was sent.
    pub fn sent(&self) -> bool {
        self.sent
    }

    /// `Err(BrokenPipe)` once our close_notify was sent: no data may follow it.
    pub fn check_writable(&self) -> io::Result<()> {
        if self.sent {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "close_notify already sent",
            ));
        }
        Ok(())
    }

    /// Whether the stream may be unwrapped now: the peer's close_notify was read, ours was
    /// sent, (`nothing_pending`) the backend holds no half-read or unsent TLS bytes, and it was
    /// not unwrapped before. On `Ok` the stream counts as unwrapped.
    pub fn check_unwrap(&mut self, nothing_pending: bool) -> Result<(), TlsError> {
        if self.unwrapped {
            return Err(TlsError::new(
                TlsErrorKind::Other,
                "the stream was already unwrapped",
            ));
        }
        if self.state == CloseState::CleanClose && self.sent && nothing_pending {
            self.unwrapped = true;
            return Ok(());
        }
        Err(TlsError::new(
            TlsErrorKind::Other,
            "unwrap needs a completed close_notify exchange",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    #[test]
    fn a_record_reader_never_reads_past_the_record() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut server = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (client, _) = listener.accept().unwrap();
        // A 3-byte "record", then cleartext in the same write.
        server
            .write_all(&[0x15, 0x03, 0x03, 0x00, 0x03, 1, 2, 3, b'2', b'0', b'0'])
            .unwrap();
        let mut framing = RecordFraming::default();
        let mut record = Vec::new();
        let mut buf = [0u8; 64];
        while record.len() < 8 {
            let n = framing.reader(&client).read(&mut buf).unwrap();
            record.extend_from_slice(&buf[..n]);
        }
        assert_eq!(record, [0x15, 0x03, 0x03, 0x00, 0x03, 1, 2, 3]);
        assert!(framing.at_record_boundary());
        let mut rest = [0u8; 3];
        (&client).read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b"200");
    }

    /// A connected pair: a `FramedTcp` and the peer's socket, whose reads time out at once.
    fn framed_pair() -> (FramedTcp, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (peer, _) = listener.accept().unwrap();
        peer.set_read_timeout(Some(std::time::Duration::from_millis(50)))
            .unwrap();
        (FramedTcp::greedy(tcp), peer)
    }

    /// What `peer` has received so far (reads until a read times out).
    fn received(peer: &TcpStream) -> Vec<u8> {
        let mut all = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            match (&mut &*peer).read(&mut buf) {
                Ok(0) => return all,
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return all
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn gathered_writes_are_held_until_sent_and_bounded() {
        let (mut framed, peer) = framed_pair();
        framed.write_all(b"straight").unwrap();
        assert_eq!(received(&peer), b"straight");

        framed.gather_writes();
        framed.write_all(b"one ").unwrap();
        framed.write_all(b"two").unwrap();
        assert_eq!(received(&peer), b"", "held back");
        framed.send_gathered().unwrap();
        assert_eq!(received(&peer), b"one two");
        framed.write_all(b"!").unwrap();
        assert_eq!(received(&peer), b"!", "straight through again");

        // Past GATHER_LEN, what is held goes first; a write of GATHER_LEN or more goes as is.
        framed.gather_writes();
        let record = vec![7u8; GATHER_LEN / 2 + 1];
        framed.write_all(&record).unwrap();
        assert_eq!(received(&peer), b"");
        framed.write_all(&record).unwrap();
        assert_eq!(received(&peer), record, "the first one was sent");
        let big = vec![9u8; GATHER_LEN];
        framed.write_all(&big).unwrap();
        let mut expected = record.clone();
        expected.extend_from_slice(&big);
        assert_eq!(received(&peer), expected, "in order");
        framed.write_all(b"x").unwrap();
        framed.flush().unwrap();
        assert_eq!(received(&peer), b"x", "flush sends what is held");
        framed.send_gathered().unwrap();
        assert_eq!(received(&peer), b"");
    }

    #[test]
    fn the_close_tracker_tells_clean_from_truncated() {
        let mut t = CloseTracker::default();
        assert_eq!(t.observe(10, Ok(5)).unwrap(), 5);
        assert_eq!(t.state(), CloseState::Open);
        assert_eq!(t.observe(0, Ok(0)).unwrap(), 0);
        assert_eq!(t.state(), CloseState::Open, "an empty buffer says nothing");
        t.observe(10, Ok(0)).unwrap();
        assert_eq!(t.state(), CloseState::CleanClose);
        let mut t = CloseTracker::default();
        assert!(t
            .observe(10, Err(io::ErrorKind::UnexpectedEof.into()))
            .is_err());
        assert_eq!(t.state(), CloseState::Truncated);
    }

    #[test]
    fn writes_stop_and_unwrap_starts_with_the_close_notify_exchange() {
        let mut t = CloseTracker::default();
        assert!(t.check_writable().is_ok());
        assert!(t.check_unwrap(true).is_err());
        assert!(!t.mark_sent());
        assert!(t.mark_sent(), "a second close_notify is reported");
        assert_eq!(
            t.check_writable().unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
        assert!(
            t.check_unwrap(true).is_err(),
            "the peer's close_notify is missing"
        );
        t.observe(8, Ok(0)).unwrap();
        assert!(t.check_unwrap(false).is_err(), "bytes still pending");
        assert!(t.check_unwrap(true).is_ok());
        assert!(t.check_unwrap(true).is_err(), "only once");
    }
}

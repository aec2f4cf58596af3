//! An incremental, sans-I/O parser of FTP replies
//! ([RFC 959 §4.2](https://www.rfc-editor.org/rfc/rfc959#section-4.2)).
//!
//! [`ReplyParser`] is fed the bytes read from the control connection, in pieces of any size, and
//! yields [`Reply`] values one by one. It never touches a socket or a clock.
//!
//! What it accepts (decision D6 of SCENARIOS):
//! - a line ends with CR LF or with a bare LF; a lone CR inside a line is text;
//! - the first line of a reply is three digits, the first one `1` to `5`, then a space, a hyphen
//!   or the end of the line (`226` alone is a reply with empty text);
//! - `NNN-` opens a multi-line reply, which ends at the first later line that starts with the
//!   same code followed by a space or the end of the line; every other line is text.
//!
//! What it refuses, with a typed [`ReplyError`] after which the parser stays failed:
//! malformed first lines, lines starting with the Telnet IAC byte, protected replies
//! (631 to 633, [RFC 2228 §5.2](https://www.rfc-editor.org/rfc/rfc2228#section-5.2)), a line
//! longer than [`ReplyLimits::max_line`] and a reply larger than
//! [`ReplyLimits::max_reply_bytes`]. Lines beyond [`ReplyLimits::max_lines`] are dropped and
//! the reply is marked [`Reply::truncated`], as
//! [RFC 1123 §4.1.2.11](https://www.rfc-editor.org/rfc/rfc1123#page-35) asks (decision D7).
//!
//! ```
//! use ftps_core::reply::{ReplyLimits, ReplyParser};
//!
//! let mut parser = ReplyParser::new(ReplyLimits::default());
//! parser.feed(b"220-Welcome\r\n220 rea");
//! assert_eq!(parser.next_reply().unwrap(), None);
//! parser.feed(b"dy\r\n");
//! let reply = parser.next_reply().unwrap().unwrap();
//! assert_eq!(reply.code(), 220);
//! assert_eq!(reply.text(), "Welcome\nready");
//! ```

use std::fmt;

/// Telnet "Interpret As Command": a line starting with it is malformed (SCENARIOS BAD-20).
const IAC: u8 = 0xFF;

/// How many characters of reply text [`Reply`]'s `Display` shows before cutting with `...`.
const DISPLAY_CHARS: usize = 200;

/// How many characters of the offending line [`ReplyError::Malformed`] keeps.
const EXCERPT_CHARS: usize = 60;

/// One complete FTP reply: a three-digit code and one or more lines of text.
///
/// The text is kept as raw bytes, since servers may send text that is not UTF-8
/// ([RFC 3659 §7.3](https://www.rfc-editor.org/rfc/rfc3659#section-7.3)); [`Reply::text`] decodes
/// it lossily.
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    code: u16,
    lines: Vec<Vec<u8>>,
    truncated: bool,
}

impl Reply {
    /// A single-line reply, for tests and for replies the client synthesises.
    ///
    /// The text is kept as one line even if it contains `\n`.
    pub fn new(code: u16, text: &str) -> Reply {
        Reply {
            code,
            lines: vec![text.as_bytes().to_vec()],
            truncated: false,
        }
    }

    /// A reply made of the given lines, with the meaning of [`Reply::lines`].
    pub fn from_lines(code: u16, lines: Vec<Vec<u8>>) -> Reply {
        Reply {
            code,
            lines,
            truncated: false,
        }
    }

    /// The three-digit reply code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The class given by the first digit of the code.
    ///
    /// Codes outside `100..=599` (which the parser never yields, but [`Reply::new`] accepts)
    /// count as [`ReplyClass::PermanentNegative`].
    pub fn class(&self) -> ReplyClass {
        match self.code / 100 {
            1 => ReplyClass::Preliminary,
            2 => ReplyClass::Completion,
            3 => ReplyClass::Intermediate,
            4 => ReplyClass::TransientNegative,
            _ => ReplyClass::PermanentNegative,
        }
    }

    /// A positive preliminary reply (1xx): another reply follows.
    pub fn is_preliminary(&self) -> bool {
        self.class() == ReplyClass::Preliminary
    }

    /// A positive completion reply (2xx).
    pub fn is_completion(&self) -> bool {
        self.class() == ReplyClass::Completion
    }

    /// A positive intermediate reply (3xx): the server waits for another command.
    pub fn is_intermediate(&self) -> bool {
        self.class() == ReplyClass::Intermediate
    }

    /// A transient (4xx) or permanent (5xx) negative reply.
    pub fn is_negative(&self) -> bool {
        matches!(
            self.class(),
            ReplyClass::TransientNegative | ReplyClass::PermanentNegative
        )
    }

    /// The raw text bytes of each line, without the line terminator.
    ///
    /// - The first line is the text after `NNN-` or `NNN ` (empty for a bare `NNN`).
    /// - The last line of a multi-line reply is the text after `NNN ` (empty for a bare `NNN`).
    /// - Lines in between are kept whole, as received, leading spaces and digits included.
    ///
    /// If the reply was [truncated](Reply::truncated), these are its first lines only.
    pub fn lines(&self) -> &[Vec<u8>] {
        &self.lines
    }

    /// The lines decoded lossily as UTF-8 and joined with `\n`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&String::from_utf8_lossy(line));
        }
        out
    }

    /// The first line decoded lossily as UTF-8 (empty if there is no line).
    pub fn first_line(&self) -> String {
        self.lines
            .first()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .unwrap_or_default()
    }

    /// Whether lines beyond [`ReplyLimits::max_lines`] were dropped.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

impl fmt::Display for Reply {
    /// `NNN first-line-text`, with control characters escaped (`\u{1b}`) and the text cut
    /// at 200 characters with `...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        let first = self.first_line();
        if !first.is_empty() {
            write!(f, " {}", sanitize(&first, DISPLAY_CHARS))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<_> = self
            .lines
            .iter()
            .map(|l| String::from_utf8_lossy(l))
            .collect();
        f.debug_struct("Reply")
            .field("code", &self.code)
            .field("lines", &lines)
            .field("truncated", &self.truncated)
            .finish()
    }
}

/// Escapes control characters and cuts the result at `max` characters, adding `...`.
fn sanitize(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let piece: String = if c.is_control() {
            c.escape_default().collect()
        } else {
            c.into()
        };
        let len = piece.chars().count();
        if used + len > max {
            out.push_str("...");
            break;
        }
        out.push_str(&piece);
        used += len;
    }
    out
}

/// The class of a reply, from the first digit of its code
/// ([RFC 959 §4.2.1](https://www.rfc-editor.org/rfc/rfc959#section-4.2.1)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReplyClass {
    /// 1xx: positive preliminary; another reply follows.
    Preliminary,
    /// 2xx: positive completion.
    Completion,
    /// 3xx: positive intermediate; the server expects another command.
    Intermediate,
    /// 4xx: transient negative completion.
    TransientNegative,
    /// 5xx: permanent negative completion.
    PermanentNegative,
}

/// The bounds [`ReplyParser`] enforces, so a hostile server cannot make it use unbounded memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplyLimits {
    /// The longest line accepted, in bytes, without its terminator (default 8192).
    pub max_line: usize,
    /// How many lines of one reply are kept; later ones are dropped (default 10 000). A value
    /// of 0 behaves as 1.
    pub max_lines: usize,
    /// The largest reply accepted, in bytes as received, terminators included (default 1 MiB).
    pub max_reply_bytes: usize,
}

impl ReplyLimits {
    /// Limits with the given values.
    pub fn new(max_line: usize, max_lines: usize, max_reply_bytes: usize) -> Self {
        ReplyLimits {
            max_line,
            max_lines,
            max_reply_bytes,
        }
    }
}

impl Default for ReplyLimits {
    fn default() -> Self {
        ReplyLimits::new(8192, 10_000, 1024 * 1024)
    }
}

/// Why the reply stream could not be parsed. After any of these the parser is poisoned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// A line is longer than [`ReplyLimits::max_line`], not counting its terminator.
    #[error("reply line longer than {limit} bytes")]
    LineTooLong {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A reply is larger than [`ReplyLimits::max_reply_bytes`].
    #[error("reply larger than {limit} bytes")]
    TooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The first line of a reply is not three digits (the first one 1 to 5) followed by a
    /// space, a hyphen or the end of the line, or a line starts with Telnet IAC.
    #[error("malformed reply line {excerpt:?}")]
    Malformed {
        /// The first 60 characters of the line, decoded lossily.
        excerpt: String,
    },
    /// A protected reply (631, 632 or 633, RFC 2228 §5.2), which TLS never uses.
    #[error("protected reply {code} is not supported")]
    ProtectedReply {
        /// The reply code.
        code: u16,
    },
}

fn malformed(line: &[u8]) -> ReplyError {
    ReplyError::Malformed {
        excerpt: String::from_utf8_lossy(line)
            .chars()
            .take(EXCERPT_CHARS)
            .collect(),
    }
}

/// What follows the code on the first line of a reply.
enum Opening {
    /// `NNN ` or `NNN`: a complete single-line reply.
    Single,
    /// `NNN-`: a multi-line reply starts.
    Multi,
}

/// Checks the first line of a reply and returns its code.
fn parse_first_line(line: &[u8]) -> Result<(u16, Opening), ReplyError> {
    let digits = match line.get(..3) {
        Some(d) if d.iter().all(u8::is_ascii_digit) => d,
        _ => return Err(malformed(line)),
    };
    let opening = match line.get(3) {
        None | Some(b' ') => Opening::Single,
        Some(b'-') => Opening::Multi,
        Some(_) => return Err(malformed(line)),
    };
    let code = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    if (631..=633).contains(&code) {
        return Err(ReplyError::ProtectedReply { code });
    }
    if !(b'1'..=b'5').contains(&digits[0]) {
        return Err(malformed(line));
    }
    Ok((code, opening))
}

/// The text of a line after `NNN-` or `NNN ` (empty for a bare `NNN`).
fn text_after_code(line: &[u8]) -> Vec<u8> {
    line.get(4..).unwrap_or_default().to_vec()
}

/// A multi-line reply whose terminating line has not arrived yet.
#[derive(Debug)]
struct Pending {
    code: u16,
    /// The code as received, to find the terminating line.
    digits: [u8; 3],
    lines: Vec<Vec<u8>>,
    truncated: bool,
}

impl Pending {
    fn push(&mut self, line: &[u8], limits: &ReplyLimits) {
        if self.lines.len() < limits.max_lines.max(1) {
            self.lines.push(line.to_vec());
        } else {
            self.truncated = true;
        }
    }

    fn is_terminator(&self, line: &[u8]) -> bool {
        line.starts_with(&self.digits) && matches!(line.get(3), None | Some(b' '))
    }
}

/// An incremental parser of FTP replies: [`feed`](ReplyParser::feed) it bytes, then call
/// [`next_reply`](ReplyParser::next_reply) until it returns `Ok(None)`.
///
/// Bytes may be split anywhere, even inside the code or between CR and LF, and several replies
/// may arrive in one piece: the results are the same. The parser turns complete lines into
/// reply lines as it goes, so it holds at most the current partial line plus the bytes fed since
/// the last call to `next_reply` (and a line that is already too long is cut at
/// `max_line + 2` bytes as it is fed). A line that exceeds both limits gives the error of the
/// limit it crosses first (`TooLarge` on a tie), so the split never changes the error. Once
/// `next_reply` has returned an error, it returns the same error forever and `feed` discards
/// its input.
#[derive(Debug)]
pub struct ReplyParser {
    limits: ReplyLimits,
    /// Raw bytes; `buf[pos..]` is not consumed yet.
    buf: Vec<u8>,
    pos: usize,
    /// `buf[pos..scan_from]` holds no LF.
    scan_from: usize,
    /// Length of the bytes after the last LF in `buf` (the partial line).
    tail_len: usize,
    /// The partial line is already longer than the line limit: later input is discarded.
    doomed: bool,
    pending: Option<Pending>,
    /// Raw bytes of the reply in progress, terminators included.
    reply_bytes: usize,
    poison: Option<ReplyError>,
}

impl Default for ReplyParser {
    /// A parser with [`ReplyLimits::default`].
    fn default() -> Self {
        ReplyParser::new(ReplyLimits::default())
    }
}

impl ReplyParser {
    /// A parser that enforces `limits`.
    pub fn new(limits: ReplyLimits) -> Self {
        ReplyParser {
            limits,
            buf: Vec::new(),
            pos: 0,
            scan_from: 0,
            tail_len: 0,
            doomed: false,
            pending: None,
            reply_bytes: 0,
            poison: None,
        }
    }

    /// The limits this parser enforces.
    pub fn limits(&self) -> ReplyLimits {
        self.limits
    }

    /// Appends bytes received from the control connection.
    ///
    /// Nothing is parsed here; call [`next_reply`](ReplyParser::next_reply). Input is
    /// discarded once the parser has failed, and once the partial line is known to exceed the
    /// line limit (the error is then certain), so memory stays bounded.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.poison.is_some() || self.doomed || bytes.is_empty() {
            return;
        }
        self.compact();
        let cap = self.limits.max_line.saturating_add(2);
        let (whole, tail) = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(i) => {
                self.tail_len = 0;
                bytes.split_at(i + 1)
            }
            None => (&[][..], bytes),
        };
        self.buf.extend_from_slice(whole);
        let room = cap.saturating_sub(self.tail_len);
        if tail.len() > room {
            self.buf.extend_from_slice(&tail[..room]);
            self.tail_len = cap;
            self.doomed = true;
        } else {
            self.buf.extend_from_slice(tail);
            self.tail_len += tail.len();
        }
    }

    /// Drops the consumed bytes from the front of the buffer.
    fn compact(&mut self) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.scan_from -= self.pos;
            self.pos = 0;
        }
    }

    /// The next complete reply, `Ok(None)` if more bytes are needed, or the error that
    /// poisoned the parser.
    ///
    /// Only one reply is consumed per call: bytes after it stay in
    /// [`buffered`](ReplyParser::buffered) until the next call.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, ReplyError> {
        if let Some(e) = &self.poison {
            return Err(e.clone());
        }
        match self.step() {
            Ok(reply) => Ok(reply),
            Err(e) => {
                self.poison = Some(e.clone());
                self.pending = None;
                self.buf = Vec::new();
                self.pos = 0;
                self.scan_from = 0;
                self.tail_len = 0;
                self.reply_bytes = 0;
                Err(e)
            }
        }
    }

    fn step(&mut self) -> Result<Option<Reply>, ReplyError> {
        loop {
            let Some(rel) = self.buf[self.scan_from..].iter().position(|&b| b == b'\n') else {
                self.scan_from = self.buf.len();
                self.check_partial()?;
                return Ok(None);
            };
            let lf = self.scan_from + rel;
            let start = self.pos;
            let mut end = lf;
            if end > start && self.buf[end - 1] == b'\r' {
                end -= 1;
            }
            self.pos = lf + 1;
            self.scan_from = self.pos;
            self.check_limits(lf + 1 - start, end - start)?;
            self.reply_bytes += lf + 1 - start;
            let line = &self.buf[start..end];
            if let Some(reply) = Self::handle_line(&mut self.pending, &self.limits, line)? {
                self.reply_bytes = 0;
                return Ok(Some(reply));
            }
        }
    }

    /// Applies the limits to the partial line, so an endless line fails without its end.
    fn check_partial(&self) -> Result<(), ReplyError> {
        let tail = &self.buf[self.buf.len() - self.tail_len..];
        // A trailing CR may turn out to be the start of the terminator.
        let content = match tail.last() {
            Some(b'\r') => tail.len() - 1,
            _ => tail.len(),
        };
        self.check_limits(tail.len(), content)
    }

    /// Checks a line of `raw` bytes received (terminator included, if any) of which `content`
    /// are known to be text, against both limits.
    ///
    /// When both are exceeded, the error is the one whose limit is crossed at the earlier
    /// byte of the line (`TooLarge` on a tie), so the result does not depend on how the bytes
    /// were split into reads.
    fn check_limits(&self, raw: usize, content: usize) -> Result<(), ReplyError> {
        let ReplyLimits {
            max_line,
            max_reply_bytes,
            ..
        } = self.limits;
        // `reply_bytes <= max_reply_bytes` holds: it is checked line by line.
        let room = max_reply_bytes.saturating_sub(self.reply_bytes);
        if raw > room && (content <= max_line || room <= max_line) {
            return Err(ReplyError::TooLarge {
                limit: max_reply_bytes,
            });
        }
        if content > max_line {
            return Err(ReplyError::LineTooLong { limit: max_line });
        }
        Ok(())
    }

    /// Takes one complete line (without terminator); returns the reply it completes, if any.
    fn handle_line(
        pending: &mut Option<Pending>,
        limits: &ReplyLimits,
        line: &[u8],
    ) -> Result<Option<Reply>, ReplyError> {
        if line.first() == Some(&IAC) {
            return Err(malformed(line));
        }
        match pending.take() {
            None => {
                let (code, opening) = parse_first_line(line)?;
                let text = text_after_code(line);
                Ok(match opening {
                    Opening::Single => Some(Reply::from_lines(code, vec![text])),
                    Opening::Multi => {
                        *pending = Some(Pending {
                            code,
                            digits: [line[0], line[1], line[2]],
                            lines: vec![text],
                            truncated: false,
                        });
                        None
                    }
                })
            }
            Some(mut p) => {
                if p.is_terminator(line) {
                    p.push(&text_after_code(line), limits);
                    return Ok(Some(Reply {
                        code: p.code,
                        lines: p.lines,
                        truncated: p.truncated,
                    }));
                }
                p.push(line, limits);
                *pending = Some(p);
                Ok(None)
            }
        }
    }

    /// The bytes fed but not consumed yet: the partial last line, plus any complete lines after
    /// the last reply returned that `next_reply` has not looked at yet.
    ///
    /// Lines of an unfinished multi-line reply that `next_reply` has already consumed are not
    /// included ([`has_pending`](ReplyParser::has_pending) tells about them). Empty after an
    /// error.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Whether any byte is buffered or a multi-line reply is in progress.
    pub fn has_pending(&self) -> bool {
        self.pos < self.buf.len() || self.pending.is_some()
    }

    /// The incomplete last line (bytes after the last LF), as received, a trailing CR
    /// included; for "connection closed mid-line" errors. A line already known to be too long
    /// is cut after `max_line + 2` bytes. Empty after an error.
    pub fn partial_line(&self) -> &[u8] {
        &self.buf[self.buf.len() - self.tail_len..]
    }
}

#[cfg(test)]
mod tests;

//! Assertions shared by the scenarios: the harness checks of SCENARIOS §1.2 and small helpers
//! that turn expectations into `Result<(), String>` with a useful reason.

use std::fmt::Debug;

use ftps_core::Error;

use crate::server::Record;

/// The result type of a scenario body; `Err` holds the reason it failed.
pub type Check = Result<(), String>;

/// Fails with `reason` unless `condition` holds.
pub fn ensure(condition: bool, reason: impl FnOnce() -> String) -> Check {
    if condition {
        Ok(())
    } else {
        Err(reason())
    }
}

/// Fails unless `left == right`.
pub fn ensure_eq<T: PartialEq + Debug>(left: T, right: T, what: &str) -> Check {
    ensure(left == right, || {
        format!("{what}: got {left:?}, expected {right:?}")
    })
}

/// The value of a client call that had to succeed.
pub fn ok<T>(result: ftps_core::Result<T>, what: &str) -> Result<T, String> {
    result.map_err(|e| format!("{what} failed: {}", describe(&e)))
}

/// The error of a client call that had to fail.
pub fn err<T: Debug>(result: ftps_core::Result<T>, what: &str) -> Result<Error, String> {
    match result {
        Ok(value) => Err(format!("{what} succeeded ({value:?}) but had to fail")),
        Err(e) => Ok(e),
    }
}

/// An error with its whole source chain, for failure reasons.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("{e}");
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Checks the error's usability flag (A3's "usable" / "unusable").
pub fn ensure_usable(e: &Error, usable: bool) -> Check {
    ensure(e.connection_usable() == usable, || {
        format!(
            "error {:?} ({}) says usable={}, expected {usable}",
            e,
            describe(e),
            e.connection_usable()
        )
    })
}

/// Checks that `e` carries a reply with `code`.
pub fn ensure_code(e: &Error, code: u16) -> Check {
    ensure(e.reply_code() == Some(code), || {
        format!("expected an error with reply {code}, got {e:?}")
    })
}

/// A1: no `USER`, `PASS` or `ACCT` at the start of a cleartext line, and after a `234` the
/// client's first byte is a TLS handshake record (0x16).
pub fn a1_nothing_sensitive(record: &Record) -> Check {
    for line in record.cleartext.split(|b| *b == b'\n') {
        let line = line.strip_prefix(b"\r").unwrap_or(line);
        let upper = line.to_ascii_uppercase();
        for verb in [&b"USER"[..], b"PASS", b"ACCT"] {
            ensure(!upper.starts_with(verb), || {
                format!(
                    "A1: {} sent in the clear: {:?}",
                    String::from_utf8_lossy(verb),
                    String::from_utf8_lossy(line)
                )
            })?;
        }
    }
    if let Some(first) = record.first_after_234 {
        ensure(first == 0x16, || {
            format!("A1: first byte after 234 is {first:#04x}, not a TLS handshake record")
        })?;
    }
    Ok(())
}

/// A2: every data connection's first client byte is (`tls`) or is not a TLS handshake record.
pub fn a2_data_protection(record: &Record, tls: bool) -> Check {
    for (i, data) in record.data.iter().enumerate() {
        let is_tls = data.first_byte == Some(0x16);
        if let Some(first) = data.first_byte {
            ensure(is_tls == tls, || {
                format!(
                    "A2: data connection {i} starts with {first:#04x}; expected {}",
                    if tls { "a TLS ClientHello" } else { "no TLS" }
                )
            })?;
        }
    }
    Ok(())
}

/// The commands the server received, in order, as text.
pub fn commands(record: &Record) -> Vec<String> {
    record.commands.iter().map(|(_, c)| c.clone()).collect()
}

/// Fails if the client ever sent `PROT S` or `PROT E` (PROT-03).
pub fn no_prot_s_or_e(record: &Record) -> Check {
    for (_, c) in &record.commands {
        let upper = c.to_ascii_uppercase();
        ensure(upper != "PROT S" && upper != "PROT E", || {
            format!("PROT-03: the client sent {c:?}")
        })?;
    }
    Ok(())
}

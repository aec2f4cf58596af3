//! Checks on what the server recorded (the [`Record`]) that several groups make: the commands
//! received, and how each data connection was protected (A2).

use crate::checks::{a2_data_protection, commands, ensure, ensure_eq, Check};
use crate::server::Record;

/// The commands of `[secure-login]`, as the server receives them.
const SECURE_LOGIN: [&str; 5] = ["AUTH TLS", "USER alice", "PASS secret", "PBSZ 0", "PROT P"];

/// The commands received are exactly `expected`, in order.
pub(crate) fn ensure_commands(record: &Record, expected: &[&str], what: &str) -> Check {
    ensure_eq(
        commands(record),
        expected.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>(),
        what,
    )
}

/// The commands received are exactly those of `[secure-login]`, then `after`.
pub(crate) fn ensure_login_then(record: &Record, after: &[&str], what: &str) -> Check {
    ensure_commands(record, &[&SECURE_LOGIN[..], after].concat(), what)
}

/// How many times exactly `line` was received.
pub(crate) fn count(record: &Record, line: &str) -> usize {
    record.commands.iter().filter(|(_, c)| c == line).count()
}

/// Fails if a command was received whose verb, or whole line, is one of `forbidden`
/// (case-insensitive): `"PASS"` matches any PASS, `"PROT C"` only that line.
pub(crate) fn none_of(record: &Record, forbidden: &[&str]) -> Check {
    let sent = commands(record);
    let bad: Vec<_> = sent
        .iter()
        .filter(|c| {
            let verb = c.split(' ').next().unwrap_or_default();
            forbidden
                .iter()
                .any(|f| verb.eq_ignore_ascii_case(f) || c.eq_ignore_ascii_case(f))
        })
        .collect();
    ensure(bad.is_empty(), || {
        format!("the client sent {bad:?} (all commands: {sent:?})")
    })
}

/// Every `PBSZ` has the argument `0`, and every `PROT` follows a `PBSZ` sent since the last
/// `AUTH`, `USER` or `REIN` (RFC 4217 §9, SCENARIOS PBSZ-01, PROT-08).
pub(crate) fn pbsz_precedes_prot(record: &Record) -> Check {
    let mut pbsz = false;
    for line in commands(record) {
        let upper = line.to_ascii_uppercase();
        let verb = upper.split(' ').next().unwrap_or_default();
        match verb {
            "AUTH" | "USER" | "REIN" => pbsz = false,
            "PBSZ" => {
                ensure_eq(upper.as_str(), "PBSZ 0", "PBSZ argument")?;
                pbsz = true;
            }
            "PROT" => ensure(pbsz, || {
                format!("{line:?} without a PBSZ since the last AUTH, USER or REIN")
            })?,
            _ => {}
        }
    }
    Ok(())
}

/// Per data connection, whether it had to be TLS: checks the count, the completed handshake
/// and A2's first byte.
pub(crate) fn data_tls_pattern(record: &Record, expected: &[bool]) -> Check {
    let seen: Vec<bool> = record.data.iter().map(|d| d.tls).collect();
    ensure_eq(seen.as_slice(), expected, "TLS on each data connection")?;
    for (i, (d, tls)) in record.data.iter().zip(expected).enumerate() {
        ensure(d.tls_error.is_none(), || {
            format!("data connection {i}: tls error {:?}", d.tls_error)
        })?;
        let first = d.first_byte;
        let fits = if *tls {
            first == Some(0x16)
        } else {
            first != Some(0x16)
        };
        ensure(fits, || {
            format!("A2: data connection {i} starts with {first:?}, tls expected: {tls}")
        })?;
    }
    Ok(())
}

/// `count` data connections, every one protected, and A2 with Private in force.
pub(crate) fn protected_data(record: &Record, count: usize) -> Check {
    ensure_eq(record.data.len(), count, "data connections")?;
    a2_data_protection(record, true)?;
    for (i, d) in record.data.iter().enumerate() {
        ensure(d.tls, || format!("data connection {i} was not protected"))?;
    }
    Ok(())
}

/// A2 with Private in force, and exactly `count` data connections.
pub(crate) fn private_data_count(record: &Record, count: usize) -> Check {
    ensure_eq(record.data.len(), count, "data connections")?;
    a2_data_protection(record, true)
}

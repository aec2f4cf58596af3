//! BAD-01 … BAD-22: hostile servers the client must survive (SCENARIOS §20).
//!
//! Each scenario ends in a typed error of the named kind within the time limits of A4, without
//! a panic and with bounded memory, and leaves the connection usable or not as the catalogue
//! says. They are grouped as [`control`] (greetings, replies and closes on the control
//! connection), [`tls`] (handshakes, alerts and records) and [`data`] (passive replies, active
//! mode, data connections that misbehave).
//!
//! Scenarios whose variants each wait for a time limit run the variants side by side
//! ([`parallel`]), so that each scenario stays within a few seconds.

use std::time::Duration;

use ftps_core::{Capability, Client, Error, SecureConnection};

use super::next_call_unusable;
use crate::checks::{ensure, ensure_usable, Check};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::TlsVersion;

mod control;
mod data;
mod tls;

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "BAD-01",
            title: "A server that accepts TCP and never greets",
            needs: &[],
            run: control::bad_01::<C>,
        },
        Scenario {
            id: "BAD-02",
            title: "Slowloris on the control connection: a reply one byte at a time",
            needs: &[],
            run: control::bad_02::<C>,
        },
        Scenario {
            id: "BAD-03",
            title: "Slowloris during the TLS handshake",
            needs: &[],
            run: tls::bad_03::<C>,
        },
        Scenario {
            id: "BAD-04",
            title: "An endless multi-line reply",
            needs: &[],
            run: control::bad_04::<C>,
        },
        Scenario {
            id: "BAD-05",
            title: "A reply line of 100 MiB without LF",
            needs: &[],
            run: control::bad_05::<C>,
        },
        Scenario {
            id: "BAD-06",
            title: "Malformed replies and random bytes",
            needs: &[],
            run: control::bad_06::<C>,
        },
        Scenario {
            id: "BAD-07",
            title: "A reply of the wrong class for the command",
            needs: &[],
            run: control::bad_07::<C>,
        },
        Scenario {
            id: "BAD-08",
            title: "PASV pointing at a foreign address",
            needs: &[],
            run: data::bad_08::<C>,
        },
        Scenario {
            id: "BAD-09",
            title: "Bad passive replies (227 and 229)",
            needs: &[],
            run: data::bad_09::<C>,
        },
        Scenario {
            id: "BAD-10",
            title: "Active mode: a stray connection from another address",
            needs: &[],
            run: data::bad_10::<C>,
        },
        Scenario {
            id: "BAD-11",
            title: "The control connection closes early",
            needs: &[],
            run: control::bad_11::<C>,
        },
        Scenario {
            id: "BAD-12",
            title: "The data connection closes before its TLS handshake",
            needs: &[],
            run: data::bad_12::<C>,
        },
        Scenario {
            id: "BAD-13",
            title: "A fatal TLS alert in the middle of a transfer",
            needs: &[],
            run: data::bad_13::<C>,
        },
        Scenario {
            id: "BAD-14",
            title: "A TLS alert or a garbage record on the control connection",
            needs: &[],
            run: tls::bad_14::<C>,
        },
        Scenario {
            id: "BAD-15",
            title: "Plaintext where TLS is expected",
            needs: &[],
            run: tls::bad_15::<C>,
        },
        Scenario {
            id: "BAD-16",
            title: "226, but the data connection never ends",
            needs: &[],
            run: data::bad_16::<C>,
        },
        Scenario {
            id: "BAD-17",
            title: "A data stream longer than SIZE announced, or endless",
            needs: &[],
            run: data::bad_17::<C>,
        },
        Scenario {
            id: "BAD-18",
            title: "A TLS 1.2 renegotiation request from the server",
            needs: &[],
            run: tls::bad_18::<C>,
        },
        Scenario {
            id: "BAD-19",
            title: "Several 1xx replies to one command",
            needs: &[],
            run: data::bad_19::<C>,
        },
        Scenario {
            id: "BAD-20",
            title: "Telnet IAC sequences on the control connection",
            needs: &[],
            run: control::bad_20::<C>,
        },
        Scenario {
            id: "BAD-21",
            title: "A huge certificate chain, or a huge handshake message",
            needs: &[],
            run: tls::bad_21::<C>,
        },
        Scenario {
            id: "BAD-22",
            title: "Megabytes of 150- continuation lines while data flows",
            needs: &[],
            run: data::bad_22::<C>,
        },
    ]
}

// ---- shared pieces ---------------------------------------------------------------------------

/// One variant of a scenario that runs beside the others: its name and its body.
type Variant<'a> = (String, Box<dyn FnOnce() -> Check + Send + 'a>);

/// Runs the variants side by side, each on its own thread (each has its own server), and
/// reports every failure, prefixed with the variant's name.
fn parallel(variants: Vec<Variant<'_>>) -> Check {
    let failures: Vec<String> = std::thread::scope(|scope| {
        let running: Vec<_> = variants
            .into_iter()
            .map(|(name, run)| (name, scope.spawn(run)))
            .collect();
        running
            .into_iter()
            .filter_map(|(name, handle)| match handle.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(format!("{name}: {e}")),
                Err(_) => Some(format!("{name}: panic")),
            })
            .collect()
    });
    ensure(failures.is_empty(), || failures.join("; "))
}

/// The TLS versions a scenario runs with (SCENARIOS §1.4): 1.2, and 1.3 when the backend
/// declares it.
fn versions<C: SecureConnection>(h: &Harness<C>) -> Vec<TlsVersion> {
    let mut all = vec![TlsVersion::Tls12];
    if h.capabilities().supports(Capability::Tls13) {
        all.push(TlsVersion::Tls13);
    }
    all
}

/// The elapsed time `took` is at most `bound` (A4: the named time limit plus some slack).
fn ensure_within(took: Duration, bound: Duration, what: &str) -> Check {
    ensure(took <= bound, || {
        format!("{what} took {took:?}, more than {bound:?}")
    })
}

/// A little slack over a time limit, for scheduling and for the server's side.
const SLACK: Duration = Duration::from_millis(1500);

/// `e` leaves the connection unusable and the next call fails at once with
/// [`Error::Unusable`] (A3).
fn ensure_dead<C: SecureConnection>(client: &mut Client<C>, e: &Error) -> Check {
    ensure_usable(e, false)?;
    ensure(!client.is_usable(), || {
        "the client still says it is usable".into()
    })?;
    next_call_unusable(client)
}

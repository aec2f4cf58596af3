//! `session`: the RFC 4217 state machine driven by any sequence of user calls and server
//! replies, with DESIGN.md's invariants checked after every step.
//!
//! Input: the first byte is the policy (bit 0: fall back to plain FTP if AUTH is refused, bit
//! 1: plain FTP, bit 2: data protection Clear instead of Private, bit 3: implicit FTPS, bit 4:
//! strict TLS EOF); the rest is a transcript, one step per line, the way SCENARIOS.md writes
//! its scripts (so the seeds are those scripts):
//!
//! - `> VERB arg`: the user sends a command (the byte 0x01 in `arg` stands for a LF);
//! - `< 227 text`: the server's reply;
//! - `! secured`, `! tls-ended`, `! clear`, `! reset`, `! close`, `! private`: the driver tells
//!   the session the control handshake succeeded, the control TLS ended, the user opted in to
//!   plain FTP, replies were consumed, the connection is closed, Private is wanted;
//! - `= END CODE text`: a download's data connection ended (`clean`, `truncated`, `open`: the
//!   read failed, `failed`: clean but a read failed before), and then the server's final reply;
//!   with a transfer command in flight, the transfer is judged as `Download::finish` does
//!   (with another command, the reply is only a reply).
//!
//! Oracle, on every step:
//! - no USER, PASS or ACCT is encoded while TLS is required and the control connection is not
//!   protected;
//! - an encoded command is one line: CR LF at the end and no CR, LF or NUL before; a refused
//!   command encodes nothing;
//! - `PROT` only after an accepted `PBSZ`, on a protected control connection;
//! - never one reply behind: a final reply always consumes the command in flight, a reply with
//!   nothing in flight is unexpected (or 421), only a 1xx leaves the command waiting;
//! - a transfer command is done only on a 2xx; the control connection becomes protected only
//!   by the driver's `control_secured` after a 234 to AUTH; data protection changes only by an
//!   accepted `PROT` or a reset;
//! - a download is reported complete only with its 2xx completion reply, no read error, and a
//!   clean close (close_notify) or, when not strict, a TCP EOF the reply vouches for.

use ftps_core::command::{Command, CommandKind, ProtectionLevel, Secret, TransferType};
use ftps_core::fuzzing::{judge_download_end, DataEnd};
use ftps_core::reply::Reply;
use ftps_core::session::{Action, ControlProtection, Policy, Session, TlsPolicy};

use crate::has_line_break_or_nul;

/// The most steps of one run.
const MAX_STEPS: usize = 256;

/// Runs one input; panics if the oracle fails.
pub fn run(data: &[u8]) {
    let Some((&flags, transcript)) = data.split_first() else {
        return;
    };
    let tls = if flags & 2 != 0 {
        TlsPolicy::DangerPlain
    } else if flags & 1 != 0 {
        TlsPolicy::DangerFallbackToPlain
    } else {
        TlsPolicy::Required
    };
    let data_level = if flags & 4 != 0 {
        ProtectionLevel::Clear
    } else {
        ProtectionLevel::Private
    };
    let policy = Policy::require_tls().with_tls(tls).with_data(data_level);
    let mut session = if flags & 8 != 0 {
        Session::new_implicit(policy)
    } else {
        Session::new(policy)
    };
    let strict = flags & 16 != 0;
    for line in transcript.split(|b| *b == b'\n').take(MAX_STEPS) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some((&kind, rest)) = line.split_first() else {
            continue;
        };
        let rest = rest.strip_prefix(b" ").unwrap_or(rest);
        match kind {
            b'>' => send(&mut session, &command(rest)),
            b'<' => {
                if let Some(reply) = reply(rest) {
                    let _ = receive(&mut session, reply);
                }
            }
            b'!' => notify(&mut session, rest),
            b'=' => end_download(&mut session, rest, strict),
            _ => {}
        }
    }
}

/// The command a `>` line names: the typed command for the verbs the state machine treats
/// apart, a raw command for the rest.
fn command(line: &[u8]) -> Command {
    let line: Vec<u8> = line
        .iter()
        .map(|&b| if b == 1 { b'\n' } else { b })
        .collect();
    let (verb, arg) = match line.iter().position(|b| *b == b' ') {
        Some(i) => (&line[..i], line[i + 1..].to_vec()),
        None => (&line[..], Vec::new()),
    };
    let optional = || (!arg.is_empty()).then(|| arg.clone());
    let verb = String::from_utf8_lossy(verb).to_ascii_uppercase();
    match verb.as_str() {
        "AUTH" => Command::Auth(arg),
        "USER" => Command::User(arg),
        "PASS" => Command::Pass(Secret::new(arg)),
        "ACCT" => Command::Acct(Secret::new(arg)),
        "PBSZ" => Command::Pbsz(number(&arg)),
        "PROT" if arg.eq_ignore_ascii_case(b"C") => Command::Prot(ProtectionLevel::Clear),
        "PROT" => Command::Prot(ProtectionLevel::Private),
        "CCC" => Command::Ccc,
        "REIN" => Command::Rein,
        "QUIT" => Command::Quit,
        "ABOR" => Command::Abor,
        "TYPE" => Command::Type(TransferType::Binary),
        "EPSV" => Command::Epsv,
        "PASV" => Command::Pasv,
        "REST" => Command::Rest(number(&arg).into()),
        "RETR" => Command::Retr(arg),
        "STOR" => Command::Stor(arg),
        "APPE" => Command::Appe(arg),
        "STOU" => Command::Stou,
        "LIST" => Command::List(optional()),
        "NLST" => Command::Nlst(optional()),
        "MLSD" => Command::Mlsd(optional()),
        _ => match Command::parse_raw(&line) {
            Ok(command) => {
                assert!(!has_line_break_or_nul(&line));
                command
            }
            Err(_) => Command::Noop,
        },
    }
}

fn number(text: &[u8]) -> u32 {
    String::from_utf8_lossy(text).trim().parse().unwrap_or(0)
}

/// The reply a `<` line gives: a code in 100..=599 and the text after it.
fn reply(line: &[u8]) -> Option<Reply> {
    let code: u16 = std::str::from_utf8(line.get(..3)?).ok()?.parse().ok()?;
    if !(100..=599).contains(&code) {
        return None;
    }
    let text = String::from_utf8_lossy(line.get(4..).unwrap_or_default());
    Some(Reply::new(code, &text.replace('\r', "")))
}

/// What the oracle needs from before a step.
#[derive(Clone, Debug)]
struct Before {
    control: ControlProtection,
    pbsz_accepted: bool,
    data: ProtectionLevel,
    in_flight: Option<Command>,
    transfer_in_progress: bool,
    closed: bool,
}

impl Before {
    fn of(session: &Session) -> Before {
        Before {
            control: session.control(),
            pbsz_accepted: session.pbsz_accepted(),
            data: session.data_protection(),
            in_flight: session.in_flight().cloned(),
            transfer_in_progress: session.transfer_in_progress(),
            closed: session.is_closed(),
        }
    }
}

fn send(session: &mut Session, command: &Command) {
    let before = Before::of(session);
    let mut out = Vec::new();
    let result = session.command(command, &mut out);
    let Ok(()) = result else {
        assert!(out.is_empty(), "a refused command encoded {out:?}");
        return;
    };
    assert!(!before.closed, "a command was accepted on a closed session");
    assert!(out.ends_with(b"\r\n"));
    assert!(!has_line_break_or_nul(&out[..out.len() - 2]), "{out:?}");
    assert!(out.starts_with(command.verb().as_bytes()));
    if matches!(
        command,
        Command::User(_) | Command::Pass(_) | Command::Acct(_)
    ) && session.policy().tls == TlsPolicy::Required
    {
        assert_eq!(
            before.control,
            ControlProtection::Protected,
            "credentials in the clear"
        );
    }
    if matches!(command, Command::Prot(_)) {
        assert!(before.pbsz_accepted, "PROT without an accepted PBSZ");
        assert_eq!(before.control, ControlProtection::Protected);
    }
    if before.in_flight.is_some() {
        assert!(
            matches!(command, Command::Abor) && before.transfer_in_progress,
            "a command was sent while a reply was owed"
        );
    }
    assert_eq!(session.in_flight(), Some(command));
}

fn receive(session: &mut Session, reply: Reply) -> Action {
    let before = Before::of(session);
    let code = reply.code();
    let action = session.handle_reply(reply.clone());
    match &action {
        Action::AwaitFinal(r) => {
            assert!(r.is_preliminary());
            assert!(session.in_flight().is_some());
        }
        Action::ServiceClosing(_) => {
            assert_eq!(code, 421);
            assert!(session.is_closed() && session.in_flight().is_none());
        }
        _ => assert!(session.in_flight().is_none(), "one reply behind"),
    }
    let Some(flight) = &before.in_flight else {
        assert!(
            matches!(action, Action::Unexpected(_) | Action::ServiceClosing(_)),
            "a reply with nothing in flight gave {action:?}"
        );
        return action;
    };
    if let Action::Done(r) = &action {
        if flight.kind() == CommandKind::Transfer {
            assert!(r.is_completion(), "{flight:?} done on {r:?}");
        }
    }
    if let Action::SecureControl(r) = &action {
        assert!(matches!(flight, Command::Auth(_)) && r.code() == 234);
        assert_eq!(session.control(), ControlProtection::Securing);
    }
    if session.control() == ControlProtection::Protected {
        assert_eq!(before.control, ControlProtection::Protected);
    }
    let data = session.data_protection();
    if data != before.data && data != ProtectionLevel::Clear {
        assert!(
            matches!((flight, &action), (Command::Prot(level), Action::Done(_)) if *level == data),
            "data protection became {data:?} after {flight:?} and {action:?}"
        );
    }
    action
}

fn notify(session: &mut Session, what: &[u8]) {
    let before = Before::of(session);
    match what {
        b"secured" => {
            session.control_secured();
            let protected = matches!(
                before.control,
                ControlProtection::Securing | ControlProtection::Protected
            );
            assert_eq!(session.control() == ControlProtection::Protected, protected);
        }
        b"tls-ended" => session.control_tls_ended(),
        b"clear" => {
            let result = session.continue_in_clear();
            if session.policy().tls == TlsPolicy::Required {
                assert!(result.is_err(), "fell back to plain FTP without the opt-in");
            }
        }
        b"reset" => {
            session.reset_in_flight();
            assert!(session.in_flight().is_none() && !session.transfer_in_progress());
        }
        b"close" => {
            session.close();
            let mut out = Vec::new();
            assert!(session.command(&Command::Noop, &mut out).is_err() && out.is_empty());
        }
        b"private" => session.set_wanted_data_protection(ProtectionLevel::Private),
        _ => {}
    }
}

/// `= END CODE text`: the data connection of a download ended as END, then the final reply
/// came; the verdict must be a success only with everything a complete file needs.
fn end_download(session: &mut Session, line: &[u8], strict: bool) {
    let Some(space) = line.iter().position(|b| *b == b' ') else {
        return;
    };
    let (end, failed) = match &line[..space] {
        b"clean" => (DataEnd::Clean, false),
        b"truncated" => (DataEnd::Truncated, false),
        b"open" => (DataEnd::Open, true),
        b"failed" => (DataEnd::Clean, true),
        _ => return,
    };
    let Some(reply) = reply(&line[space + 1..]) else {
        return;
    };
    let failure = failed.then(|| {
        std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "the data connection failed",
        )
    });
    // Only a transfer's final reply ends a download (`Download::finish` reads it after a 1xx
    // to RETR, LIST, ...); with another command in flight it is just a reply.
    let transfer_in_flight = session
        .in_flight()
        .is_some_and(|command| command.kind() == CommandKind::Transfer);
    let action = receive(session, reply);
    if !transfer_in_flight {
        return;
    }
    let verdict = judge_download_end(end, failure, Ok(action.clone()), true, strict);
    if verdict.is_ok() {
        let Action::Done(reply) = &action else {
            panic!("a download was reported complete on {action:?}");
        };
        assert!(reply.is_completion(), "complete on {reply:?}");
        assert!(!failed, "complete after a read error");
        assert!(
            end == DataEnd::Clean || (end == DataEnd::Truncated && !strict),
            "complete after {end:?} (strict: {strict})"
        );
    }
}

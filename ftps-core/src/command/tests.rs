use super::*;
use rstest::rstest;

fn wire(command: &Command) -> Vec<u8> {
    let mut out = Vec::new();
    command.encode(&mut out).unwrap();
    out
}

#[rstest]
#[case(Command::Auth(b"TLS".to_vec()), b"AUTH TLS\r\n".as_slice())]
#[case(Command::Pbsz(0), b"PBSZ 0\r\n")]
#[case(Command::Prot(ProtectionLevel::Private), b"PROT P\r\n")]
#[case(Command::Prot(ProtectionLevel::Clear), b"PROT C\r\n")]
#[case(Command::Type(TransferType::Binary), b"TYPE I\r\n")]
#[case(Command::Epsv, b"EPSV\r\n")]
#[case(Command::Port("127.0.0.1:40002".parse().unwrap()), b"PORT 127,0,0,1,156,66\r\n")]
#[case(Command::Eprt("[::1]:40002".parse().unwrap()), b"EPRT |2|::1|40002|\r\n")]
#[case(Command::List(None), b"LIST\r\n")]
#[case(Command::Retr(b"caf\xe9".to_vec()), b"RETR caf\xe9\r\n")]
#[case(Command::Rest(1024), b"REST 1024\r\n")]
fn encodes_the_wire_form(#[case] command: Command, #[case] expected: &[u8]) {
    assert_eq!(wire(&command), expected);
}

#[rstest]
#[case(Command::Retr(b"a\r\nDELE b".to_vec()))]
#[case(Command::User(b"x\nPASS y".to_vec()))]
#[case(Command::Mkd(b"a\0b".to_vec()))]
#[case(Command::Pass(Secret::new("p\rq")))]
#[case(Command::List(Some(b"dir\n".to_vec())))]
fn refuses_cr_lf_nul_and_appends_nothing(#[case] command: Command) {
    let mut out = b"kept".to_vec();
    let err = command.encode(&mut out).unwrap_err();
    assert!(matches!(err, CommandError::ForbiddenByte { .. }));
    assert_eq!(out, b"kept");
}

#[test]
fn secrets_never_show_in_debug_or_display() {
    let pass = Command::Pass(Secret::new("hunter2"));
    let acct = Command::Acct(Secret::new("s3cret-acct"));
    for text in [
        format!("{pass}"),
        format!("{pass:?}"),
        format!("{acct}"),
        format!("{acct:?}"),
        format!("{:?}", Secret::new("hunter2")),
    ] {
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }
    assert_eq!(format!("{pass}"), "PASS ***");
    assert_eq!(wire(&pass), b"PASS hunter2\r\n");
}

#[test]
fn raw_security_commands_become_typed() {
    assert_eq!(
        Command::parse_raw(b"prot p").unwrap(),
        Command::Prot(ProtectionLevel::Private)
    );
    assert_eq!(
        Command::parse_raw(b"AUTH TLS").unwrap(),
        Command::Auth(b"TLS".to_vec())
    );
    assert_eq!(Command::parse_raw(b"PBSZ 0").unwrap(), Command::Pbsz(0));
    assert_eq!(Command::parse_raw(b"ccc").unwrap(), Command::Ccc);
    assert!(matches!(
        Command::parse_raw(b"PASS x").unwrap(),
        Command::Pass(_)
    ));
    assert_eq!(
        Command::parse_raw(b"SITE CHMOD 644 f").unwrap(),
        Command::Other {
            verb: "SITE".into(),
            arg: Some(b"CHMOD 644 f".to_vec())
        }
    );
}

#[rstest]
#[case(b"PROT S".as_slice())]
#[case(b"PROT E")]
#[case(b"PBSZ x")]
#[case(b"NOOP\r\nDELE x")]
#[case(b"X")]
#[case(b"AB1")]
fn raw_refuses_bad_lines(#[case] line: &[u8]) {
    assert!(Command::parse_raw(line).is_err());
}

/// A command with an arbitrary byte argument (CR, LF and NUL more likely than by chance).
fn any_command() -> impl proptest::strategy::Strategy<Value = Command> {
    use proptest::prelude::*;
    let arg = proptest::collection::vec(
        prop_oneof![3 => any::<u8>(), 1 => prop::sample::select(vec![b'\r', b'\n', 0u8])],
        0..40,
    );
    (0u8..14, arg).prop_map(|(which, arg)| match which {
        0 => Command::Auth(arg),
        1 => Command::User(arg),
        2 => Command::Pass(Secret::new(arg)),
        3 => Command::Acct(Secret::new(arg)),
        4 => Command::Retr(arg),
        5 => Command::Stor(arg),
        6 => Command::Appe(arg),
        7 => Command::Cwd(arg),
        8 => Command::Mkd(arg),
        9 => Command::Dele(arg),
        10 => Command::Rnfr(arg),
        11 => Command::List(Some(arg)),
        12 => Command::Site(arg),
        _ => Command::Mlst(Some(arg)),
    })
}

/// A password of at least four bytes that the masked forms (`PASS ***`, `Command(ACCT ***)`)
/// do not contain by themselves.
fn any_password() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    "[ -~]{4,24}".prop_filter("not a part of the masked text", |p| {
        !"Command(PASS ***) Command(ACCT ***) Secret(***)".contains(p.as_str())
    })
}

proptest::proptest! {
    // CMD-01: an encoded command is exactly one line; a refused one appends nothing.
    #[test]
    fn an_encoded_command_is_one_line(command in any_command()) {
        let mut out = b"kept".to_vec();
        let argument = command.argument().unwrap_or_default();
        let forbidden = argument.iter().any(|b| matches!(b, b'\r' | b'\n' | 0));
        match command.encode(&mut out) {
            Ok(()) => {
                proptest::prop_assert!(!forbidden);
                let line = &out[4..];
                proptest::prop_assert!(line.ends_with(b"\r\n"));
                let body = &line[..line.len() - 2];
                proptest::prop_assert!(!body.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)));
                proptest::prop_assert!(body.starts_with(command.verb().as_bytes()));
            }
            Err(e) => {
                proptest::prop_assert!(forbidden, "{e}");
                proptest::prop_assert_eq!(&out, b"kept");
            }
        }
    }

    // A password given to PASS or ACCT never shows in Debug or Display of the command, of the
    // error refusing it, or of a session's refusal to send it in the clear.
    #[test]
    fn passwords_never_show(password in any_password(), cr in proptest::bool::ANY) {
        use crate::session::{Policy, Session};

        let secret = if cr { format!("{password}\r") } else { password.clone() };
        for command in [
            Command::Pass(Secret::new(secret.clone())),
            Command::Acct(Secret::new(secret.clone())),
        ] {
            let mut texts = vec![format!("{command}"), format!("{command:?}")];
            if let Err(e) = command.encode(&mut Vec::new()) {
                texts.push(format!("{e} {e:?}"));
                let error = crate::Error::from(e);
                texts.push(format!("{error} {error:?}"));
            }
            if let Err(refusal) = Session::new(Policy::require_tls()).command(&command, &mut Vec::new()) {
                texts.push(format!("{refusal} {refusal:?}"));
            }
            let line = [command.verb().as_bytes(), b" ", secret.as_bytes()].concat();
            if let Err(e) = Command::parse_raw(&line) {
                texts.push(format!("{e} {e:?}"));
            }
            for text in texts {
                proptest::prop_assert!(!text.contains(&password), "{text}");
            }
        }
    }
}

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

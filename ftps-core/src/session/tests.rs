use super::*;
use crate::command::Secret;

/// Drives a session through expected wire bytes and replies, in the manner of quinn's `Pair`.
struct Transcript {
    session: Session,
}

impl Transcript {
    fn new(policy: Policy) -> Self {
        Transcript {
            session: Session::new(policy),
        }
    }

    fn send(&mut self, command: Command, wire: &str) -> &mut Self {
        let mut out = Vec::new();
        self.session.command(&command, &mut out).unwrap();
        assert_eq!(String::from_utf8_lossy(&out), wire);
        self
    }

    fn refuse(&mut self, command: Command) -> Refusal {
        let mut out = Vec::new();
        let refusal = self.session.command(&command, &mut out).unwrap_err();
        assert!(out.is_empty(), "nothing may be encoded on a refusal");
        refusal
    }

    fn reply(&mut self, code: u16, text: &str) -> Action {
        self.session.handle_reply(Reply::new(code, text))
    }
}

fn secured(policy: Policy) -> Transcript {
    let mut t = Transcript::new(policy);
    t.send(Command::Auth(b"TLS".to_vec()), "AUTH TLS\r\n");
    assert!(matches!(t.reply(234, "go"), Action::SecureControl(_)));
    t.session.control_secured();
    t
}

#[test]
fn no_credentials_in_the_clear_when_tls_is_required() {
    let mut t = Transcript::new(Policy::require_tls());
    for command in [
        Command::User(b"alice".to_vec()),
        Command::Pass(Secret::new("secret")),
        Command::Acct(Secret::new("acct")),
    ] {
        assert!(matches!(
            t.refuse(command),
            Refusal::CredentialsInClear { .. }
        ));
    }
}

#[test]
fn refused_auth_leaves_the_control_clear_and_credentials_refused() {
    let mut t = Transcript::new(Policy::require_tls());
    t.send(Command::Auth(b"TLS".to_vec()), "AUTH TLS\r\n");
    assert!(matches!(
        t.reply(504, "Unknown AUTH type."),
        Action::Refused(_)
    ));
    assert_eq!(t.session.control(), ControlProtection::Clear);
    assert!(t.session.continue_in_clear().is_err());
    t.refuse(Command::User(b"alice".to_vec()));
}

#[test]
fn a_334_to_auth_is_a_refusal() {
    let mut t = Transcript::new(Policy::require_tls());
    t.send(Command::Auth(b"TLS".to_vec()), "AUTH TLS\r\n");
    assert!(matches!(t.reply(334, "ADAT=AAAA"), Action::Refused(_)));
    assert_eq!(t.session.control(), ControlProtection::Clear);
}

#[test]
fn a_200_to_auth_is_unexpected() {
    let mut t = Transcript::new(Policy::require_tls());
    t.send(Command::Auth(b"TLS".to_vec()), "AUTH TLS\r\n");
    assert!(matches!(t.reply(200, "OK"), Action::Unexpected(_)));
    assert_eq!(t.session.control(), ControlProtection::Clear);
}

#[test]
fn secure_login_then_protection() {
    let mut t = secured(Policy::require_tls());
    assert!(t.session.control_protected());
    t.send(Command::User(b"alice".to_vec()), "USER alice\r\n");
    assert!(matches!(t.reply(331, "pw"), Action::Done(_)));
    assert_eq!(t.session.login(), LoginState::NeedPassword);
    t.send(Command::Pass(Secret::new("secret")), "PASS secret\r\n");
    assert!(matches!(t.reply(230, "in"), Action::Done(_)));
    assert_eq!(t.session.login(), LoginState::LoggedIn);
    assert!(t.session.needs_data_protection());
    // PROT before PBSZ is refused locally.
    t.refuse(Command::Prot(ProtectionLevel::Private));
    t.send(Command::Pbsz(0), "PBSZ 0\r\n");
    assert!(matches!(t.reply(200, "PBSZ=16384"), Action::Done(_)));
    t.send(Command::Prot(ProtectionLevel::Private), "PROT P\r\n");
    assert!(matches!(t.reply(200, "ok"), Action::Done(_)));
    assert_eq!(t.session.data_protection(), ProtectionLevel::Private);
    assert!(!t.session.needs_data_protection());
}

#[test]
fn refused_prot_keeps_the_previous_level() {
    let mut t = secured(Policy::require_tls());
    t.send(Command::Pbsz(0), "PBSZ 0\r\n");
    let _ = t.reply(200, "ok");
    t.send(Command::Prot(ProtectionLevel::Private), "PROT P\r\n");
    let _ = t.reply(200, "ok");
    t.send(Command::Prot(ProtectionLevel::Clear), "PROT C\r\n");
    assert!(matches!(t.reply(534, "no"), Action::Refused(_)));
    assert_eq!(t.session.data_protection(), ProtectionLevel::Private);
    // The refused level does not become the wanted one: nothing to re-send before a transfer.
    assert_eq!(t.session.policy().data, ProtectionLevel::Private);
    assert!(!t.session.needs_data_protection());
    assert!(t.session.pbsz_accepted());
}

#[test]
fn an_accepted_prot_becomes_the_wanted_level() {
    let mut t = secured(Policy::require_tls());
    t.send(Command::Pbsz(0), "PBSZ 0\r\n");
    let _ = t.reply(200, "ok");
    t.send(Command::Prot(ProtectionLevel::Private), "PROT P\r\n");
    let _ = t.reply(200, "ok");
    t.send(Command::Prot(ProtectionLevel::Clear), "PROT C\r\n");
    assert!(matches!(t.reply(200, "ok"), Action::Done(_)));
    assert_eq!(t.session.data_protection(), ProtectionLevel::Clear);
    assert_eq!(t.session.policy().data, ProtectionLevel::Clear);
    assert!(!t.session.needs_data_protection());
}

#[test]
fn a_503_or_530_to_prot_forgets_pbsz() {
    for code in [503, 530] {
        let mut t = secured(Policy::require_tls());
        t.send(Command::Pbsz(0), "PBSZ 0\r\n");
        let _ = t.reply(200, "ok");
        t.send(Command::Prot(ProtectionLevel::Private), "PROT P\r\n");
        assert!(matches!(t.reply(code, "no"), Action::Refused(_)));
        assert!(!t.session.pbsz_accepted(), "{code}");
        assert_eq!(t.session.data_protection(), ProtectionLevel::Clear);
        // PROT is refused locally until a new PBSZ is accepted.
        t.refuse(Command::Prot(ProtectionLevel::Private));
        t.send(Command::Pbsz(0), "PBSZ 0\r\n");
        let _ = t.reply(200, "ok");
        t.send(Command::Prot(ProtectionLevel::Private), "PROT P\r\n");
    }
    // Other refusals keep the PBSZ.
    let mut t = secured(Policy::require_tls());
    t.send(Command::Pbsz(0), "PBSZ 0\r\n");
    let _ = t.reply(200, "ok");
    t.send(Command::Prot(ProtectionLevel::Private), "PROT P\r\n");
    assert!(matches!(t.reply(534, "no"), Action::Refused(_)));
    assert!(t.session.pbsz_accepted());
}

#[test]
fn the_wanted_level_can_be_lowered_without_a_command() {
    let mut t = secured(Policy::require_tls());
    t.send(Command::Pbsz(0), "PBSZ 0\r\n");
    let _ = t.reply(200, "ok");
    t.send(Command::Prot(ProtectionLevel::Private), "PROT P\r\n");
    let _ = t.reply(534, "no");
    assert!(t.session.needs_data_protection());
    t.session.set_wanted_data_protection(ProtectionLevel::Clear);
    assert!(!t.session.needs_data_protection());
    assert_eq!(t.session.data_protection(), ProtectionLevel::Clear);
}

#[test]
fn a_new_user_forgets_pbsz_and_prot() {
    let mut t = secured(Policy::require_tls());
    t.send(Command::User(b"alice".to_vec()), "USER alice\r\n");
    let _ = t.reply(230, "in");
    t.send(Command::Pbsz(0), "PBSZ 0\r\n");
    let _ = t.reply(200, "ok");
    t.send(Command::Prot(ProtectionLevel::Private), "PROT P\r\n");
    let _ = t.reply(200, "ok");
    t.send(Command::User(b"bob".to_vec()), "USER bob\r\n");
    let _ = t.reply(331, "flushed");
    assert!(!t.session.pbsz_accepted());
    assert_eq!(t.session.data_protection(), ProtectionLevel::Clear);
    assert!(t.session.needs_data_protection());
}

#[test]
fn no_second_auth_and_no_pbsz_in_the_clear() {
    let mut t = secured(Policy::require_tls());
    assert!(matches!(
        t.refuse(Command::Auth(b"TLS".to_vec())),
        Refusal::InvalidState(_)
    ));
    let mut clear = Transcript::new(Policy::require_tls().with_tls(TlsPolicy::DangerPlain));
    clear.refuse(Command::Pbsz(0));
    clear.refuse(Command::Auth(b"TLS".to_vec()));
    clear.send(Command::User(b"alice".to_vec()), "USER alice\r\n");
}

#[test]
fn one_command_at_a_time() {
    let mut t = secured(Policy::require_tls());
    t.send(Command::Noop, "NOOP\r\n");
    t.refuse(Command::Pwd);
    assert!(matches!(t.reply(200, "ok"), Action::Done(_)));
    t.send(Command::Pwd, "PWD\r\n");
}

#[test]
fn transfers_take_a_preliminary_then_a_final_reply() {
    let mut t = secured(Policy::require_tls());
    t.send(Command::Retr(b"f".to_vec()), "RETR f\r\n");
    assert!(matches!(t.reply(150, "opening"), Action::AwaitFinal(_)));
    assert!(t.session.transfer_in_progress());
    t.refuse(Command::Retr(b"g".to_vec()));
    assert!(matches!(t.reply(226, "done"), Action::Done(_)));
    assert!(!t.session.transfer_in_progress());
}

#[test]
fn replies_of_the_wrong_class_are_unexpected() {
    let mut t = secured(Policy::require_tls());
    t.send(Command::Noop, "NOOP\r\n");
    assert!(matches!(t.reply(150, "what"), Action::Unexpected(_)));
    t.session.reset_in_flight();
    t.send(Command::Retr(b"f".to_vec()), "RETR f\r\n");
    assert!(matches!(t.reply(350, "what"), Action::Unexpected(_)));
}

#[test]
fn too_many_preliminary_replies_are_unexpected() {
    let mut t = secured(Policy::require_tls());
    t.send(Command::List(None), "LIST\r\n");
    for _ in 0..=MAX_PRELIMINARY {
        assert!(matches!(t.reply(150, "again"), Action::AwaitFinal(_)));
    }
    assert!(matches!(t.reply(150, "again"), Action::Unexpected(_)));
}

#[test]
fn unsolicited_replies() {
    let mut t = secured(Policy::require_tls());
    assert!(matches!(t.reply(200, "extra"), Action::Unexpected(_)));
    assert!(matches!(
        t.reply(421, "Timeout."),
        Action::ServiceClosing(_)
    ));
    assert!(t.session.is_closed());
    t.refuse(Command::Noop);
}

#[test]
fn ccc_then_rein_with_the_end_of_tls() {
    let mut t = secured(Policy::require_tls());
    t.send(Command::User(b"alice".to_vec()), "USER alice\r\n");
    let _ = t.reply(230, "in");
    t.send(Command::Ccc, "CCC\r\n");
    assert!(matches!(t.reply(200, "cleared"), Action::Done(_)));
    assert_eq!(t.session.control(), ControlProtection::Cleared);
    for command in [
        Command::Pbsz(0),
        Command::Prot(ProtectionLevel::Clear),
        Command::Auth(b"TLS".to_vec()),
    ] {
        assert!(matches!(t.refuse(command), Refusal::InvalidState(_)));
    }
    // REIN may be answered 120 first (RFC 959 §5.4).
    t.send(Command::Rein, "REIN\r\n");
    assert!(matches!(t.reply(120, "soon"), Action::AwaitFinal(_)));
    assert!(!t.session.transfer_in_progress());
    assert!(matches!(t.reply(220, "ready"), Action::Done(_)));
    assert_eq!(t.session.login(), LoginState::LoggedOut);
    t.session.control_tls_ended();
    assert_eq!(t.session.control(), ControlProtection::Clear);
    t.send(Command::Auth(b"TLS".to_vec()), "AUTH TLS\r\n");
}

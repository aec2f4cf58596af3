//! EXT-01 … EXT-05: the FTP extensions: FEAT and OPTS (RFC 2389), SIZE, MDTM, MLST and MLSD
//! (RFC 3659), HOST (RFC 7151, SCENARIOS decision D15).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener};

use ftps_core::listing::{EntryKind, ModTime};
use ftps_core::{ClientBuilder, Error, ProtocolError, SecureConnection};

use super::steps::{login_and_protect, noop_ok, send_protected, type_i, upgrade, OPENING_F};
use super::transcript::{ensure_commands, ensure_login_then};
use super::{
    download_content, each_pinned, ensure_kind, ensure_usable_reply, final_noop, scripted, CONTENT,
};
use crate::checks::{describe, ensure, ensure_eq, ensure_usable, err, ok, Check};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{Conn, Record, ServerOptions, TestServer};

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "EXT-01",
            title: "A FEAT listing, and FEAT refused",
            needs: &[],
            run: ext_01::<C>,
        },
        Scenario {
            id: "EXT-02",
            title: "SIZE and MDTM replies",
            needs: &[],
            run: ext_02::<C>,
        },
        Scenario {
            id: "EXT-03",
            title: "MLST and MLSD facts",
            needs: &[],
            run: ext_03::<C>,
        },
        Scenario {
            id: "EXT-04",
            title: "OPTS",
            needs: &[],
            run: ext_04::<C>,
        },
        Scenario {
            id: "EXT-05",
            title: "HOST",
            needs: &[],
            run: ext_05::<C>,
        },
    ]
}

// ---- helpers -------------------------------------------------------------------------------

/// `C* TYPE I` · `[epsv]` (or, with `epsv_refused`, `C* EPSV` · `S* 500` · `C* PASV` ·
/// `S* 227`) · `C* RETR f` · `S* 150` · the protected [`CONTENT`] · `S* 226`.
fn protected_retr(c: &mut Conn, epsv_refused: bool) -> Check {
    type_i(c)?;
    let listener = if epsv_refused {
        c.expect("EPSV")?;
        c.send("500 'EPSV': command not understood.")?;
        c.pasv()?
    } else {
        c.epsv()?
    };
    c.expect("RETR f")?;
    c.send(OPENING_F)?;
    send_protected(listener.accept(c)?, CONTENT)?;
    c.send("226 Transfer complete.")
}

/// The commands from `index` on came inside TLS.
fn protected_from(record: &Record, index: usize) -> Check {
    let clear: Vec<&String> = record
        .commands
        .iter()
        .skip(index)
        .filter(|(protected, _)| !protected)
        .map(|(_, c)| c)
        .collect();
    ensure(clear.is_empty(), || {
        format!("commands in the clear: {clear:?}")
    })
}

// ---- EXT-01 ----------------------------------------------------------------------------------

/// The FEAT listing of the catalogue.
const FEAT_LISTING: &str = "211-Features:\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n EPSV\r\n \
    MLST type*;size*;modify*;UNIX.mode;\r\n REST STREAM\r\n SIZE\r\n mdtm\r\n UTF8\r\n \
    X-UNKNOWN foo bar\r\n211 End\r\n";

/// One EXT-01 variant: the reply to the cleartext FEAT, and what the client must make of it.
#[derive(Clone, Copy, Debug)]
enum Feat {
    /// The catalogue's listing.
    Listing,
    /// `211 No features` on one line.
    OneLine,
    /// `500`; EPSV is then refused too, and the client goes on to PASV.
    Refused500,
    /// `502`; a later protected FEAT is refused the same way.
    Refused502,
    /// A listing without `AUTH TLS`: the client still sends it.
    NoAuth,
}

impl Feat {
    fn reply(self) -> &'static str {
        match self {
            Feat::Listing => FEAT_LISTING,
            Feat::OneLine => "211 No features\r\n",
            Feat::Refused500 => "500 'FEAT': command not understood.\r\n",
            Feat::Refused502 => "502 Command not implemented.\r\n",
            Feat::NoAuth => "211-Features:\r\n SIZE\r\n MDTM\r\n211 End\r\n",
        }
    }
}

fn ext_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    for variant in [
        Feat::Listing,
        Feat::OneLine,
        Feat::Refused500,
        Feat::Refused502,
        Feat::NoAuth,
    ] {
        ext_01_one(h, variant).map_err(|e| format!("{variant:?}: {e}"))?;
    }
    Ok(())
}

fn ext_01_one<C: SecureConnection>(h: &Harness<C>, variant: Feat) -> Check {
    scripted(
        ServerOptions::default(),
        move |c| {
            c.send("220 ftps test server ready")?;
            c.expect("FEAT")?;
            c.send_raw(variant.reply().as_bytes())?;
            upgrade(c, "234 Proceed with negotiation.")?;
            login_and_protect(c)?;
            protected_retr(c, matches!(variant, Feat::Refused500))?;
            if matches!(variant, Feat::Refused502) {
                c.expect("FEAT")?;
                c.send("502 Command not implemented.")?;
            }
            noop_ok(c)
        },
        |server| {
            let mut client = ok(
                h.builder(server)
                    .feat_before_auth(true)
                    .connect(h.connector()),
                "connect with FEAT before AUTH",
            )?;
            let features = client
                .features()
                .cloned()
                .ok_or("no features recorded after FEAT")?;
            check_features(&features, variant)?;
            ok(client.login("alice", "secret"), "login")?;
            download_content(&mut client, "RETR f")?;
            if matches!(variant, Feat::Refused502) {
                let again = ok(client.feat(), "protected FEAT answered 502")?;
                ensure(again.is_empty(), || format!("502 gave features {again:?}"))?;
            }
            final_noop(&mut client)
        },
        move |record| {
            ensure_eq(
                record.cleartext.as_slice(),
                &b"FEAT\r\nAUTH TLS\r\n"[..],
                "cleartext",
            )?;
            let passive: &[&str] = if matches!(variant, Feat::Refused500) {
                &["EPSV", "PASV"]
            } else {
                &["EPSV"]
            };
            let feat: &[&str] = if matches!(variant, Feat::Refused502) {
                &["FEAT"]
            } else {
                &[]
            };
            let mut expected = vec!["FEAT", "AUTH TLS", "USER alice", "PASS secret"];
            expected.extend(["PBSZ 0", "PROT P", "TYPE I"]);
            expected.extend(passive);
            expected.push("RETR f");
            expected.extend(feat);
            expected.push("NOOP");
            ensure_commands(record, &expected, "commands")?;
            protected_from(record, 2)
        },
    )
}

/// What the client must make of each FEAT reply.
fn check_features(features: &ftps_core::listing::Features, variant: Feat) -> Check {
    match variant {
        Feat::Listing => {
            for name in [
                "AUTH TLS",
                "auth tls",
                "PBSZ",
                "PROT",
                "EPSV",
                "MLST",
                "REST STREAM",
                "SIZE",
                "MDTM",
                "mdtm",
                "UTF8",
                "X-UNKNOWN",
            ] {
                ensure(features.supports(name), || format!("{name} not found"))?;
            }
            for name in ["EPRT", "TVFS", "AUTH SSL", "End", "Features:"] {
                ensure(!features.supports(name), || format!("{name} found"))?;
            }
            ensure_eq(features.params("x-unknown"), Some("foo bar"), "X-UNKNOWN")?;
            ensure_eq(
                features.mlst_facts(),
                vec![
                    ("type".to_owned(), true),
                    ("size".to_owned(), true),
                    ("modify".to_owned(), true),
                    ("unix.mode".to_owned(), false),
                ],
                "MLST facts and their defaults",
            )
        }
        Feat::NoAuth => ensure(
            features.supports("SIZE") && !features.supports("AUTH"),
            || format!("features {features:?}"),
        ),
        Feat::OneLine | Feat::Refused500 | Feat::Refused502 => ensure(features.is_empty(), || {
            format!("features should be unknown (empty), got {features:?}")
        }),
    }
}

// ---- EXT-02 ----------------------------------------------------------------------------------

/// The value a SIZE or MDTM row must give.
#[derive(Clone, Copy, Debug)]
enum Want {
    Size(u64),
    Time(ModTime),
    Refused(u16),
    Malformed,
}

fn mod_time(parts: (u16, u8, u8, u8, u8, u8, u16)) -> Result<ModTime, String> {
    let (y, mo, d, h, mi, s, ms) = parts;
    ModTime::new(y, mo, d, h, mi, s, ms).ok_or_else(|| format!("bad test time {parts:?}"))
}

fn ext_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let rows: Vec<(&'static str, &'static str, Want)> = vec![
        ("SIZE f", "213 1830", Want::Size(1830)),
        (
            "MDTM f",
            "213 19980615100045.014",
            Want::Time(mod_time((1998, 6, 15, 10, 0, 45, 14))?),
        ),
        (
            "MDTM f",
            "213 19990929003355",
            Want::Time(mod_time((1999, 9, 29, 0, 33, 55, 0))?),
        ),
        ("SIZE D", "550 D is not retrievable", Want::Refused(550)),
        ("MDTM D", "550 D is not retrievable", Want::Refused(550)),
        ("SIZE f", "213 12abc", Want::Malformed),
        ("SIZE f", "213 -1", Want::Malformed),
        ("SIZE f", "213 99999999999999999999999", Want::Malformed),
        ("MDTM f", "213 20231301000000", Want::Malformed),
        ("MDTM f", "213 2023061510004", Want::Malformed),
        ("MDTM f", "213 19980615100045.", Want::Malformed),
    ];
    let script_rows = rows.clone();
    scripted(
        ServerOptions::default(),
        move |c| {
            c.secure_login()?;
            for (command, reply, _) in &script_rows {
                c.expect(command)?;
                c.send(reply)?;
            }
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            for (command, reply, want) in &rows {
                let (verb, path) = command.split_once(' ').unwrap_or((command, ""));
                let what = format!("{command} answered {reply:?}");
                let got = if verb == "SIZE" {
                    client.size(path).map(Want::Size)
                } else {
                    client.mdtm(path).map(Want::Time)
                };
                check_row(got, *want).map_err(|e| format!("{what}: {e}"))?;
            }
            final_noop(&mut client)
        },
        |record| {
            let mut expected: Vec<&str> = rows_commands();
            expected.push("NOOP");
            ensure_login_then(record, &expected, "commands")
        },
    )
}

/// The commands of EXT-02's rows, in order (for the transcript check).
fn rows_commands() -> Vec<&'static str> {
    let mut all = vec!["SIZE f", "MDTM f", "MDTM f", "SIZE D", "MDTM D"];
    all.extend(["SIZE f"; 3]);
    all.extend(["MDTM f"; 3]);
    all
}

fn check_row(got: ftps_core::Result<Want>, want: Want) -> Check {
    match (got, want) {
        (Ok(Want::Size(n)), Want::Size(m)) => ensure_eq(n, m, "size"),
        (Ok(Want::Time(t)), Want::Time(u)) => ensure_eq(t, u, "time"),
        (Err(e), Want::Refused(code)) => ensure_usable_reply(&e, code),
        (Err(e), Want::Malformed) => {
            let fits = matches!(e, Error::Protocol(ProtocolError::BadReplyText { .. }));
            ensure_kind(&e, fits, "a malformed reply (BadReplyText)")?;
            ensure_usable(&e, true)
        }
        (Ok(value), want) => Err(format!("got {value:?}, expected {want:?}")),
        (Err(e), want) => Err(format!("failed ({}), expected {want:?}", describe(&e))),
    }
}

// ---- EXT-03 ----------------------------------------------------------------------------------

/// The MLSD listing of the catalogue, with a 10 KiB local fact on its last line.
fn mlsd_listing() -> String {
    let desc = "a".repeat(10 * 1024);
    format!(
        "type=cdir;modify=20240101000000; .\r\n\
         type=pdir;modify=20240101000000; ..\r\n\
         Type=file;Size=0;unique=A1; name with  spaces;and;semicolons\r\n\
         type=dir; sub\r\n \
         onlyname\r\n\
         type=file;size=12;x.desc={desc}; long\r\n"
    )
}

/// A listing whose middle entry is malformed (no space before a pathname).
const WITH_MALFORMED: &str =
    "type=file;size=1; good1\r\nbroken-entry\r\ntype=file;size=2; good2\r\n";

/// `[epsv]` (the `TYPE I` before it answered) · `C* MLSD` · `S* 150` · the protected
/// `listing` · `S* 226`.
fn serve_mlsd(c: &mut Conn, listing: &[u8]) -> Check {
    let listener = super::steps::epsv_after_type(c)?;
    c.expect("MLSD")?;
    c.send("150 Here comes the directory listing.")?;
    send_protected(listener.accept(c)?, listing)?;
    c.send("226 Directory send OK.")
}

fn ext_03<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        scripted(
            options,
            |c| {
                c.secure_login()?;
                c.expect("MLST dir/f")?;
                c.send_raw(
                    b"250-Listing dir/f\r\n type=file;size=4161;Modify=19970214165800;perm=r; \
                      dir/f\r\n250 End\r\n",
                )?;
                c.expect("MLST x")?;
                c.send("500 Unknown command.")?;
                serve_mlsd(c, mlsd_listing().as_bytes())?;
                serve_mlsd(c, WITH_MALFORMED.as_bytes())?;
                noop_ok(c)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                ext_03_mlst(&mut client)?;
                let entries = ok(client.mlsd(None), "MLSD")?
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("a valid MLSD line was refused: {e}"))?;
                ext_03_entries(&entries)?;
                ext_03_malformed(client.mlsd(None))?;
                final_noop(&mut client)
            },
            |record| {
                ensure_login_then(
                    record,
                    &[
                        "MLST dir/f",
                        "MLST x",
                        "TYPE I",
                        "EPSV",
                        "MLSD",
                        "EPSV",
                        "MLSD",
                        "NOOP",
                    ],
                    "commands",
                )?;
                super::transcript::protected_data(record, 2)
            },
        )
    })
}

fn ext_03_mlst<C: SecureConnection>(client: &mut ftps_core::Client<C>) -> Check {
    let entry = ok(client.mlst(Some(b"dir/f")), "MLST dir/f")?;
    ensure_eq(entry.name.as_bytes(), b"dir/f", "MLST name")?;
    ensure_eq(entry.kind(), Some(EntryKind::File), "MLST type")?;
    ensure_eq(entry.size(), Some(4161), "MLST size")?;
    // `Modify` arrives capitalised: fact names are case-insensitive.
    ensure_eq(
        entry.modify_time(),
        ModTime::new(1997, 2, 14, 16, 58, 0, 0),
        "MLST modify",
    )?;
    ensure_eq(entry.perm(), Some("r"), "MLST perm")?;
    ensure_eq(entry.has_perm('w'), Some(false), "MLST perm w")?;
    let e = err(client.mlst(Some(b"x")), "MLST answered 500")?;
    ensure_kind(&e, matches!(e, Error::Unsupported(_)), "Unsupported(MLST)")?;
    ensure_usable(&e, true)
}

fn ext_03_entries(entries: &[ftps_core::listing::Entry]) -> Check {
    let names: Vec<&[u8]> = entries.iter().map(|e| e.name.as_bytes()).collect();
    let want: [&[u8]; 6] = [
        b".",
        b"..",
        b"name with  spaces;and;semicolons",
        b"sub",
        b"onlyname",
        b"long",
    ];
    ensure_eq(names, want.to_vec(), "MLSD names")?;
    let kinds: Vec<Option<EntryKind>> = entries.iter().map(|e| e.kind()).collect();
    ensure_eq(
        kinds,
        vec![
            Some(EntryKind::CurrentDir),
            Some(EntryKind::ParentDir),
            Some(EntryKind::File),
            Some(EntryKind::Dir),
            None,
            Some(EntryKind::File),
        ],
        "MLSD types",
    )?;
    ensure(
        entries[0].is_self_or_parent() && entries[1].is_self_or_parent(),
        || "cdir and pdir not recognised".into(),
    )?;
    ensure_eq(
        entries[0].modify_time(),
        ModTime::new(2024, 1, 1, 0, 0, 0, 0),
        "cdir modify",
    )?;
    ensure_eq(entries[2].size(), Some(0), "`Size` read case-insensitively")?;
    ensure_eq(entries[2].unique(), Some("A1"), "unique")?;
    ensure(entries[4].facts.is_empty(), || "onlyname has facts".into())?;
    let desc = "a".repeat(10 * 1024);
    let others: Vec<(&str, &str)> = entries[5].other_facts().collect();
    ensure_eq(
        others,
        vec![("x.desc", desc.as_str())],
        "unknown facts kept",
    )?;
    ensure_eq(entries[5].size(), Some(12), "size after a long fact")
}

/// SCENARIOS EXT-03 (decision): a single malformed entry yields an error for that entry and
/// does not abort the listing.
type MlsdResult =
    ftps_core::Result<Vec<Result<ftps_core::listing::Entry, ftps_core::listing::ListingError>>>;

fn ext_03_malformed(result: MlsdResult) -> Check {
    let entries = match result {
        Err(e) => {
            return Err(format!(
                "one malformed MLSD entry failed the whole listing ({}); the other entries must \
                 still be returned, with an error for that entry only",
                describe(&e)
            ))
        }
        Ok(entries) => entries,
    };
    ensure_eq(
        entries.len(),
        3,
        "MLSD results (two good entries, one error)",
    )?;
    let names: Vec<Option<&[u8]>> = entries
        .iter()
        .map(|e| e.as_ref().ok().map(|e| e.name.as_bytes()))
        .collect();
    ensure_eq(
        names,
        vec![Some(&b"good1"[..]), None, Some(&b"good2"[..])],
        "MLSD entries around the malformed line",
    )
}

// ---- EXT-04 ----------------------------------------------------------------------------------

fn ext_04<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let exchanges = [
        (
            "OPTS MLST type;size;modify;",
            "200 MLST OPTS type;size;modify;",
        ),
        ("OPTS MLST type;size;modify;", "501 Invalid MLST options"),
        ("OPTS MLST type;size;modify;", "500 OPTS not understood"),
        ("OPTS MLST type;size;modify;", "200 MLST OPTS type;"),
        ("OPTS UTF8 ON", "200 Always in UTF8 mode."),
        ("OPTS UTF8 ON", "501 Option not understood"),
        ("OPTS UTF8 ON", "500 OPTS not understood"),
    ];
    scripted(
        ServerOptions::default(),
        move |c| {
            c.secure_login()?;
            for (command, reply) in exchanges {
                c.expect(command)?;
                c.send(reply)?;
            }
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let facts = ["type", "size", "modify"];
            let selected = ok(client.opts_mlst(&facts), "OPTS MLST (200)")?;
            ensure_eq(
                selected,
                Some(vec!["type".into(), "size".into(), "modify".into()]),
                "facts selected",
            )?;
            for what in ["OPTS MLST (501)", "OPTS MLST (500)"] {
                ensure_eq(ok(client.opts_mlst(&facts), what)?, None, what)?;
            }
            ensure_eq(
                ok(client.opts_mlst(&facts), "OPTS MLST (200, fewer facts)")?,
                Some(vec!["type".into()]),
                "facts selected",
            )?;
            ensure_eq(
                ok(client.opts_utf8(true), "OPTS UTF8 ON (200)")?,
                true,
                "utf8",
            )?;
            for what in ["OPTS UTF8 ON (501)", "OPTS UTF8 ON (500)"] {
                ensure_eq(ok(client.opts_utf8(true), what)?, false, what)?;
            }
            // A fact name that would smuggle a second fact or command: nothing is sent.
            let e = err(client.opts_mlst(&["type;size"]), "OPTS MLST with a ';'")?;
            ensure_kind(
                &e,
                matches!(e, Error::InvalidArgument(_)),
                "InvalidArgument",
            )?;
            final_noop(&mut client)
        },
        move |record| {
            let mut expected: Vec<&str> = exchanges.iter().map(|(c, _)| *c).collect();
            expected.push("NOOP");
            ensure_login_then(record, &expected, "commands")
        },
    )
}

// ---- EXT-05 ----------------------------------------------------------------------------------

/// `C* USER` ... `C* PROT P`, then `C* NOOP`: the rest of a session after HOST.
fn login_noop(c: &mut Conn) -> Check {
    login_and_protect(c)?;
    noop_ok(c)
}

fn ext_05<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        ext_05_dns(h, options.clone()).map_err(|e| format!("DNS name: {e}"))?;
        ext_05_ip(h, options.clone()).map_err(|e| format!("IP literal: {e}"))?;
        ext_05_implicit(h, options).map_err(|e| format!("implicit mode: {e}"))
    })?;
    ext_05_not_configured(h).map_err(|e| format!("HOST not configured: {e}"))?;
    for (reply, code) in [
        ("500 'HOST': command not understood.", 500),
        ("502 Command not implemented.", 502),
    ] {
        ext_05_ignored(h, reply).map_err(|e| format!("{code}: {e}"))?;
    }
    for (reply, code) in [
        ("504 Unknown virtual host.", 504),
        ("501 Syntax error in HOST.", 501),
        (
            "421 Service not available, closing control connection.",
            421,
        ),
    ] {
        ext_05_refused(h, reply, code).map_err(|e| format!("{code}: {e}"))?;
    }
    Ok(())
}

/// A DNS name, sent as SNI: `AUTH TLS` first, then `HOST` inside TLS (RFC 7151 §3.2.2).
fn ext_05_dns<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    scripted(
        options,
        |c| {
            c.send("220 ftps test server ready")?;
            upgrade(c, "234 Proceed with negotiation.")?;
            c.expect("HOST localhost")?;
            c.send("220 Host accepted")?;
            login_noop(c)
        },
        |server| {
            let mut client = ok(
                h.builder(server).host_command(true).connect(h.connector()),
                "connect with HOST",
            )?;
            ok(client.login("alice", "secret"), "login")?;
            final_noop(&mut client)
        },
        |record| {
            ensure_eq(record.control_sni.as_deref(), Some("localhost"), "SNI")?;
            ensure_login_then_host(record, "HOST localhost")?;
            protected_from(record, 1)
        },
    )
}

/// The commands of a session with `HOST` right after `AUTH TLS`.
fn ensure_login_then_host(record: &Record, host: &str) -> Check {
    ensure_commands(
        record,
        &[
            "AUTH TLS",
            host,
            "USER alice",
            "PASS secret",
            "PBSZ 0",
            "PROT P",
            "NOOP",
        ],
        "commands",
    )
}

/// The loopback address to test an IP literal with: `::1` where IPv6 works, `127.0.0.1`
/// otherwise; and the `HOST` argument for it.
fn loopback() -> (IpAddr, &'static str, &'static str) {
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    if TcpListener::bind((v6, 0)).is_ok() {
        (v6, "[::1]", "HOST [::1]")
    } else {
        (
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            "127.0.0.1",
            "HOST 127.0.0.1",
        )
    }
}

/// An IP literal, so no SNI: `HOST` before `AUTH TLS`, in the clear (RFC 7151 §4, D15).
fn ext_05_ip<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    let (ip, host, line) = loopback();
    let options = ServerOptions {
        bind_ip: ip,
        ..options
    };
    scripted(
        options,
        move |c| {
            c.send("220 ftps test server ready")?;
            c.expect(line)?;
            c.send("220 Host accepted")?;
            upgrade(c, "234 Proceed with negotiation.")?;
            login_noop(c)
        },
        |server| {
            let builder = ClientBuilder::new(host)
                .port(server.addr().port())
                .timeouts(Harness::<C>::timeouts())
                .host_command(true);
            let mut client = ok(builder.connect(h.connector()), "connect with HOST")?;
            ok(client.login("alice", "secret"), "login")?;
            final_noop(&mut client)
        },
        move |record| {
            ensure_eq(record.control_sni.as_deref(), None, "SNI for an IP literal")?;
            let cleartext = format!("{line}\r\nAUTH TLS\r\n");
            ensure_eq(
                String::from_utf8_lossy(&record.cleartext).into_owned(),
                cleartext,
                "cleartext",
            )?;
            ensure_commands(
                record,
                &[
                    line,
                    "AUTH TLS",
                    "USER alice",
                    "PASS secret",
                    "PBSZ 0",
                    "PROT P",
                    "NOOP",
                ],
                "commands",
            )?;
            protected_from(record, 2)
        },
    )
}

/// Implicit mode: `HOST` follows the greeting, inside TLS.
fn ext_05_implicit<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    scripted(
        options,
        |c| {
            c.start_tls()?;
            c.send("220 ftps implicit test server ready")?;
            c.expect("HOST localhost")?;
            c.send("220 Host accepted")?;
            login_noop(c)
        },
        |server| {
            let builder = h
                .builder(server)
                .mode(ftps_core::Mode::Implicit)
                .host_command(true);
            let mut client = ok(builder.connect(h.connector()), "connect implicit with HOST")?;
            ok(client.login("alice", "secret"), "login")?;
            final_noop(&mut client)
        },
        |record| {
            ensure(record.cleartext.is_empty(), || "cleartext bytes".into())?;
            protected_from(record, 0)?;
            ensure_eq(
                record.commands.first().map(|(_, c)| c.as_str()),
                Some("HOST localhost"),
                "first command",
            )
        },
    )
}

/// Without `host_command`, no HOST is sent.
fn ext_05_not_configured<C: SecureConnection>(h: &Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            noop_ok(c)
        },
        |server| final_noop(&mut ok(h.connect_login(server), "connect and login")?),
        |record| ensure_login_then(record, &["NOOP"], "commands"),
    )
}

/// 500 or 502: the client goes on as if HOST had not been sent (RFC 7151 §3.3).
fn ext_05_ignored<C: SecureConnection>(h: &Harness<C>, reply: &'static str) -> Check {
    scripted(
        ServerOptions::default(),
        move |c| {
            c.send("220 ftps test server ready")?;
            upgrade(c, "234 Proceed with negotiation.")?;
            c.expect("HOST localhost")?;
            c.send(reply)?;
            login_noop(c)
        },
        |server| {
            let mut client = ok(
                h.builder(server).host_command(true).connect(h.connector()),
                "connect with HOST",
            )?;
            ok(client.login("alice", "secret"), "login")?;
            final_noop(&mut client)
        },
        |record| ensure_login_then_host(record, "HOST localhost"),
    )
}

/// 504 and 501 are `Reply` errors, 421 is `ServiceClosing`; the connection attempt fails and
/// no USER is sent.
fn ext_05_refused<C: SecureConnection>(h: &Harness<C>, reply: &'static str, code: u16) -> Check {
    scripted(
        ServerOptions::default(),
        move |c| {
            c.send("220 ftps test server ready")?;
            upgrade(c, "234 Proceed with negotiation.")?;
            c.expect("HOST localhost")?;
            c.send(reply)?;
            if code == 421 {
                c.fin();
                return Ok(());
            }
            c.expect_eof(std::time::Duration::from_secs(3)).map(drop)
        },
        |server: &TestServer| {
            let e = err(
                h.builder(server).host_command(true).connect(h.connector()),
                "connect with a refused HOST",
            )?;
            if code == 421 {
                ensure_kind(
                    &e,
                    matches!(e, Error::ServiceClosing { .. }),
                    "ServiceClosing",
                )?;
                crate::checks::ensure_code(&e, 421)
            } else {
                ensure_usable_reply(&e, code)
            }
        },
        |record| ensure_commands(record, &["AUTH TLS", "HOST localhost"], "commands"),
    )
}

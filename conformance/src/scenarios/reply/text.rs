//! REPLY-07, REPLY-08: reply text in UTF-8 with quoted paths, and bytes that are not UTF-8.

use ftps_core::SecureConnection;

use super::noop_200;
use crate::checks::{ensure_eq, err, ok, Check};
use crate::harness::Harness;
use crate::scenarios::steps::noop_ok;
use crate::scenarios::{ensure_usable_reply, scripted};
use crate::server::ServerOptions;

pub(super) fn reply_07<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            c.expect("PWD")?;
            c.send("257 \"/Übergröße/日本\" is the current directory")?;
            c.expect("MKD a\"b")?;
            c.send("257 \"/x/a\"\"b\" created")?;
            let arg = c.recv_raw()?;
            let want = "CWD /Übergröße/日本".as_bytes();
            if arg != want {
                return Err(format!(
                    "expected {:?}, got {:?}",
                    want,
                    String::from_utf8_lossy(&arg)
                ));
            }
            c.send("250 ok")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let pwd = ok(client.pwd(), "PWD")?;
            ensure_eq(pwd.as_bytes(), "/Übergröße/日本".as_bytes(), "PWD path")?;
            ensure_eq(
                pwd.to_string_lossy(),
                "/Übergröße/日本".to_owned(),
                "PWD text",
            )?;
            let made = ok(client.mkdir("a\"b"), "MKD a\"b")?;
            ensure_eq(
                made.as_bytes(),
                b"/x/a\"b",
                "MKD path (quote-doubling undone)",
            )?;
            // The path goes back byte for byte.
            ok(client.cwd(pwd.as_bytes()), "CWD to the UTF-8 path")?;
            noop_200(&mut client, "NOOP")
        },
        |_| Ok(()),
    )
}

pub(super) fn reply_08<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            c.expect("PWD")?;
            c.send_raw(b"257 \"/caf\xE9\"\r\n")?;
            let cwd = c.recv_raw()?;
            if cwd != b"CWD /caf\xE9" {
                return Err(format!("expected CWD /caf\\xE9 byte for byte, got {cwd:?}"));
            }
            c.send("250 ok")?;
            c.expect("DELE junk")?;
            c.send_raw(b"550 \xFF\xFE junk\r\n")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let pwd = ok(client.pwd(), "PWD with a Latin-1 byte")?;
            ensure_eq(pwd.as_bytes(), b"/caf\xE9", "PWD raw bytes")?;
            ensure_eq(
                pwd.to_string_lossy(),
                "/caf\u{FFFD}".to_owned(),
                "PWD lossy text",
            )?;
            ok(client.cwd(pwd.as_bytes()), "CWD back to that path")?;
            let e = err(
                client.delete("junk"),
                "DELE answered 550 with bytes that are not UTF-8",
            )?;
            ensure_usable_reply(&e, 550)?;
            let reply = e.reply().ok_or("the error carries no reply")?;
            ensure_eq(
                reply.lines().first().map(Vec::as_slice),
                Some(&b"\xFF\xFE junk"[..]),
                "550 raw text",
            )?;
            ensure_eq(
                reply.text(),
                "\u{FFFD}\u{FFFD} junk".to_owned(),
                "550 lossy text",
            )?;
            noop_200(&mut client, "NOOP")
        },
        |_| Ok(()),
    )
}

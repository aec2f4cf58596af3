//! The FTP extensions on the control connection: FEAT and OPTS (RFC 2389), SIZE, MDTM and MLST
//! (RFC 3659), HOST (RFC 7151).

use crate::command::Command;
use crate::error::{Error, ProtocolError, Result};
use crate::listing::{parse_mdtm, parse_mlst_line, parse_size, Entry, Features, ModTime};
use crate::reply::Reply;
use crate::tls::{SecureConnection, ServerName};

use super::Client;

impl<C: SecureConnection> Client<C> {
    /// `SIZE path` ([RFC 3659 §4](https://www.rfc-editor.org/rfc/rfc3659#section-4)), in
    /// bytes. A `213` whose text is not a decimal number that fits in a `u64` gives
    /// [`ProtocolError::BadReplyText`]; the connection stays usable.
    pub fn size(&mut self, path: impl AsRef<[u8]>) -> Result<u64> {
        let reply = self.run(&Command::Size(path.as_ref().to_vec()))?;
        parse_size(&reply.first_line()).ok_or_else(|| bad_text("213", &reply))
    }

    /// `MDTM path` ([RFC 3659 §3](https://www.rfc-editor.org/rfc/rfc3659#section-3)): the
    /// modification time, in UTC. A `213` whose text is not a valid `YYYYMMDDHHMMSS[.sss]`
    /// gives [`ProtocolError::BadReplyText`]; the connection stays usable.
    pub fn mdtm(&mut self, path: impl AsRef<[u8]>) -> Result<ModTime> {
        let reply = self.run(&Command::Mdtm(path.as_ref().to_vec()))?;
        parse_mdtm(&reply.first_line()).ok_or_else(|| bad_text("213", &reply))
    }

    /// `FEAT` ([RFC 2389](https://www.rfc-editor.org/rfc/rfc2389#section-3)): the features the
    /// server announces. A `500` or `502` (FEAT unknown) gives [`Features::none`], which means
    /// "unknown", not "nothing supported". The answer is also kept for [`Client::features`].
    pub fn feat(&mut self) -> Result<Features> {
        let features = match self.run(&Command::Feat) {
            Ok(reply) => Features::parse(&reply),
            Err(Error::Reply { reply, .. }) if matches!(reply.code(), 500 | 502) => {
                Features::none()
            }
            Err(e) => return Err(e),
        };
        self.features = Some(features.clone());
        Ok(features)
    }

    /// The features of the last `FEAT` ([`Client::feat`], or
    /// [`ClientBuilder::feat_before_auth`](super::ClientBuilder::feat_before_auth)); `None` if
    /// none was sent. Empty when the server refused FEAT.
    pub fn features(&self) -> Option<&Features> {
        self.features.as_ref()
    }

    /// `OPTS arguments` (RFC 2389), sent as given.
    pub fn opts(&mut self, arguments: impl AsRef<[u8]>) -> Result<Reply> {
        self.run(&Command::Opts(arguments.as_ref().to_vec()))
    }

    /// `OPTS MLST fact;fact;` ([RFC 3659 §7.9](https://www.rfc-editor.org/rfc/rfc3659#section-7.9)):
    /// asks for these facts in MLST and MLSD output.
    ///
    /// Returns the facts the server says it selected (`200 MLST OPTS type;size;`, lower-cased;
    /// the requested ones if the reply does not list them), or `None` if the server refused
    /// (`500`, `501`, `502`, ...): it then keeps its defaults, and the connection stays usable
    /// (RFC 2389 §4, SCENARIOS EXT-04). A fact name with a `;`, a space, CR, LF or NUL is
    /// refused before anything is sent.
    pub fn opts_mlst(&mut self, facts: &[&str]) -> Result<Option<Vec<String>>> {
        if let Some(bad) = facts.iter().find(|f| {
            f.is_empty()
                || f.bytes()
                    .any(|b| matches!(b, b';' | b' ' | b'\r' | b'\n' | 0))
        }) {
            return Err(Error::InvalidArgument(
                crate::command::CommandError::BadArgument {
                    verb: "OPTS".into(),
                    reason: if bad.is_empty() {
                        "an empty fact name"
                    } else {
                        "a fact name with ';', a space, cr, lf or nul"
                    },
                },
            ));
        }
        let mut argument = String::from("MLST ");
        for fact in facts {
            argument.push_str(fact);
            argument.push(';');
        }
        let Some(reply) = self.optional_opts(argument.into_bytes())? else {
            return Ok(None);
        };
        let text = reply.first_line();
        let listed = text
            .trim()
            .get(..9)
            .filter(|head| head.eq_ignore_ascii_case("MLST OPTS"))
            .map(|_| fact_list(&text.trim()[9..]));
        Ok(Some(listed.unwrap_or_else(|| {
            facts.iter().map(|f| f.to_ascii_lowercase()).collect()
        })))
    }

    /// `OPTS UTF8 ON` or `OPTS UTF8 OFF` (a draft that most servers follow). Returns whether
    /// the server accepted it; a refusal is not an error and leaves the connection usable.
    pub fn opts_utf8(&mut self, on: bool) -> Result<bool> {
        let argument: &[u8] = if on { b"UTF8 ON" } else { b"UTF8 OFF" };
        Ok(self.optional_opts(argument.to_vec())?.is_some())
    }

    /// `OPTS argument`: the positive reply, `None` for a negative one (the server keeps its
    /// defaults), or the error that ended the exchange.
    fn optional_opts(&mut self, argument: Vec<u8>) -> Result<Option<Reply>> {
        match self.run(&Command::Opts(argument)) {
            Ok(reply) => Ok(Some(reply)),
            Err(Error::Reply { reply, .. }) => {
                log::debug!("OPTS refused ({reply}): the server keeps its defaults");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// `MLST [path]` ([RFC 3659 §7](https://www.rfc-editor.org/rfc/rfc3659#section-7)): the
    /// facts of one entry. A `500` or `502` gives [`Error::Unsupported`] (vsftpd has no MLST);
    /// a `250` without a parsable entry line gives [`ProtocolError::BadReplyText`].
    pub fn mlst(&mut self, path: Option<&[u8]>) -> Result<Entry> {
        let reply = match self.run(&Command::Mlst(path.map(<[u8]>::to_vec))) {
            Ok(reply) => reply,
            Err(Error::Reply { reply, .. }) if matches!(reply.code(), 500 | 502) => {
                return Err(Error::Unsupported(format!(
                    "MLST (the server replied {reply})"
                )))
            }
            Err(e) => return Err(e),
        };
        reply
            .lines()
            .iter()
            .skip(1)
            .find(|l| l.first() == Some(&b' '))
            .and_then(|l| parse_mlst_line(l).ok())
            .ok_or_else(|| bad_text("250", &reply))
    }

    /// `HOST name` (RFC 7151), when configured: a `500` or `502` is ignored (§3.3: go on as if
    /// it had not been sent); any other refusal is returned.
    pub(super) fn send_host(&mut self) -> Result<()> {
        let command = Command::Other {
            verb: "HOST".into(),
            arg: Some(host_argument(&self.server_name).into_bytes()),
        };
        match self.simple(&command) {
            Ok(_) => Ok(()),
            Err(Error::Reply { reply, .. }) if matches!(reply.code(), 500 | 502) => {
                log::info!("the server does not know HOST ({reply}): going on without it");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// `FEAT` before `AUTH`: any negative reply (not only 500 and 502) just leaves the features
    /// unknown, since this discovery must never stop the connection (RFC 2389 §3.2: an error
    /// "does not necessarily imply that those extensions are not supported").
    pub(super) fn discover_features(&mut self) -> Result<()> {
        let features = match self.simple(&Command::Feat) {
            Ok(reply) => Features::parse(&reply),
            Err(Error::Reply { reply, .. }) => {
                log::debug!("FEAT refused ({reply}): features unknown");
                Features::none()
            }
            Err(e) => return Err(e),
        };
        self.features = Some(features);
        Ok(())
    }
}

/// The argument of `HOST`: a DNS name as given, an IPv4 literal, an IPv6 literal in brackets
/// (RFC 7151 §3.1); never a port.
pub(super) fn host_argument(server: &ServerName) -> String {
    match server {
        ServerName::Ip(std::net::IpAddr::V6(ip)) => format!("[{ip}]"),
        other => other.to_string(),
    }
}

/// The facts of `type;size;modify;`, lower-cased, without empty ones.
fn fact_list(text: &str) -> Vec<String> {
    text.split(';')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

fn bad_text(what: &'static str, reply: &Reply) -> Error {
    ProtocolError::BadReplyText {
        what,
        text: reply.text(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    // SCENARIOS EXT-05: brackets for IPv6, never a port.
    #[test]
    fn host_arguments() {
        assert_eq!(host_argument(&ServerName::from_host("[::1]")), "[::1]");
        assert_eq!(host_argument(&ServerName::from_host("::1")), "[::1]");
        assert_eq!(
            host_argument(&ServerName::from_host("127.0.0.1")),
            "127.0.0.1"
        );
        assert_eq!(
            host_argument(&ServerName::from_host("ftp.example.com")),
            "ftp.example.com"
        );
    }

    #[test]
    fn fact_lists() {
        assert_eq!(fact_list(" type;Size;modify; "), ["type", "size", "modify"]);
        assert!(fact_list("").is_empty());
    }
}

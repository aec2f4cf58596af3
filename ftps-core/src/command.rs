//! Typed FTP commands and their wire encoding.
//!
//! An argument containing CR, LF or NUL is refused before anything is sent, so a file name can
//! never become a second command (SCENARIOS CMD-01). `PASS` and `ACCT` arguments never appear in
//! `Debug` or `Display` output.

use std::fmt;
use std::net::{SocketAddr, SocketAddrV4};

use crate::passive::{format_eprt, format_port};

/// An argument that cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The argument contains CR, LF or NUL.
    #[error("argument of {verb} contains a forbidden byte (cr, lf or nul)")]
    ForbiddenByte {
        /// The command verb.
        verb: String,
    },
    /// The verb of a raw command is not 3 or 4 ASCII letters.
    #[error("not a command verb: {verb:?}")]
    BadVerb {
        /// The verb as given (lossy).
        verb: String,
    },
    /// A raw command's argument does not fit the verb (e.g. `PROT S`, `PBSZ x`).
    #[error("argument of {verb} not accepted: {reason}")]
    BadArgument {
        /// The command verb.
        verb: String,
        /// Why.
        reason: &'static str,
    },
    /// A pre-AUTH command that would send credentials in the clear.
    #[error("{verb} may not be sent before tls")]
    CredentialsBeforeTls {
        /// The command verb.
        verb: String,
    },
}

/// A secret argument (`PASS`, `ACCT`): its `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps the secret bytes.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Secret(secret.into())
    }

    /// The secret bytes, for the wire only.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The data protection level of RFC 4217 §9. Only Clear and Private exist: `S` and `E` are never
/// sent (SCENARIOS PROT-03).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtectionLevel {
    /// `PROT C`: data connections in the clear.
    Clear,
    /// `PROT P`: every data connection is TLS.
    Private,
}

impl ProtectionLevel {
    fn code(self) -> &'static str {
        match self {
            ProtectionLevel::Clear => "C",
            ProtectionLevel::Private => "P",
        }
    }
}

/// The representation type of `TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransferType {
    /// `TYPE A`.
    Ascii,
    /// `TYPE I`.
    Binary,
}

/// A typed FTP command.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)] // each variant is the command of the same name (RFC 959, 2228, 2428, 3659)
pub enum Command {
    Auth(Vec<u8>),
    User(Vec<u8>),
    Pass(Secret),
    Acct(Secret),
    Pbsz(u32),
    Prot(ProtectionLevel),
    Ccc,
    Rein,
    Quit,
    Noop,
    Syst,
    Type(TransferType),
    Epsv,
    Pasv,
    Port(SocketAddrV4),
    Eprt(SocketAddr),
    Retr(Vec<u8>),
    Stor(Vec<u8>),
    Appe(Vec<u8>),
    Stou,
    List(Option<Vec<u8>>),
    Nlst(Option<Vec<u8>>),
    Mlsd(Option<Vec<u8>>),
    Mlst(Option<Vec<u8>>),
    Stat(Option<Vec<u8>>),
    Size(Vec<u8>),
    Mdtm(Vec<u8>),
    Rest(u64),
    Cwd(Vec<u8>),
    Cdup,
    Pwd,
    Mkd(Vec<u8>),
    Rmd(Vec<u8>),
    Dele(Vec<u8>),
    Rnfr(Vec<u8>),
    Rnto(Vec<u8>),
    Feat,
    Opts(Vec<u8>),
    Site(Vec<u8>),
    Abor,
    /// Any other command: the verb (upper-cased) and an optional argument.
    Other {
        verb: String,
        arg: Option<Vec<u8>>,
    },
}

/// What kind of exchange a command starts: which reply classes may answer it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandKind {
    /// `AUTH`: 234 starts TLS.
    Auth,
    /// `USER`, `PASS`, `ACCT`: 2xx or 3xx.
    Login,
    /// Opens a data connection: 1xx first, then the final reply.
    Transfer,
    /// `REST`, `RNFR`: 350 expected.
    Pending,
    /// Everything else: 2xx or a negative reply.
    Simple,
}

impl Command {
    /// The upper-case verb, as sent.
    pub fn verb(&self) -> &str {
        match self {
            Command::Auth(_) => "AUTH",
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Acct(_) => "ACCT",
            Command::Pbsz(_) => "PBSZ",
            Command::Prot(_) => "PROT",
            Command::Ccc => "CCC",
            Command::Rein => "REIN",
            Command::Quit => "QUIT",
            Command::Noop => "NOOP",
            Command::Syst => "SYST",
            Command::Type(_) => "TYPE",
            Command::Epsv => "EPSV",
            Command::Pasv => "PASV",
            Command::Port(_) => "PORT",
            Command::Eprt(_) => "EPRT",
            Command::Retr(_) => "RETR",
            Command::Stor(_) => "STOR",
            Command::Appe(_) => "APPE",
            Command::Stou => "STOU",
            Command::List(_) => "LIST",
            Command::Nlst(_) => "NLST",
            Command::Mlsd(_) => "MLSD",
            Command::Mlst(_) => "MLST",
            Command::Stat(_) => "STAT",
            Command::Size(_) => "SIZE",
            Command::Mdtm(_) => "MDTM",
            Command::Rest(_) => "REST",
            Command::Cwd(_) => "CWD",
            Command::Cdup => "CDUP",
            Command::Pwd => "PWD",
            Command::Mkd(_) => "MKD",
            Command::Rmd(_) => "RMD",
            Command::Dele(_) => "DELE",
            Command::Rnfr(_) => "RNFR",
            Command::Rnto(_) => "RNTO",
            Command::Feat => "FEAT",
            Command::Opts(_) => "OPTS",
            Command::Site(_) => "SITE",
            Command::Abor => "ABOR",
            Command::Other { verb, .. } => verb,
        }
    }

    /// The kind of exchange this command starts.
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Auth(_) => CommandKind::Auth,
            Command::User(_) | Command::Pass(_) | Command::Acct(_) => CommandKind::Login,
            Command::Retr(_)
            | Command::Stor(_)
            | Command::Appe(_)
            | Command::Stou
            | Command::List(_)
            | Command::Nlst(_)
            | Command::Mlsd(_) => CommandKind::Transfer,
            Command::Rest(_) | Command::Rnfr(_) => CommandKind::Pending,
            _ => CommandKind::Simple,
        }
    }

    /// The argument bytes as they go on the wire (unredacted), if any.
    fn argument(&self) -> Option<Vec<u8>> {
        match self {
            Command::Auth(a)
            | Command::User(a)
            | Command::Retr(a)
            | Command::Stor(a)
            | Command::Appe(a)
            | Command::Size(a)
            | Command::Mdtm(a)
            | Command::Cwd(a)
            | Command::Mkd(a)
            | Command::Rmd(a)
            | Command::Dele(a)
            | Command::Rnfr(a)
            | Command::Rnto(a)
            | Command::Opts(a)
            | Command::Site(a) => Some(a.clone()),
            Command::Pass(s) | Command::Acct(s) => Some(s.expose().to_vec()),
            Command::Pbsz(n) => Some(n.to_string().into_bytes()),
            Command::Prot(level) => Some(level.code().as_bytes().to_vec()),
            Command::Type(TransferType::Ascii) => Some(b"A".to_vec()),
            Command::Type(TransferType::Binary) => Some(b"I".to_vec()),
            Command::Port(addr) => Some(format_port(*addr).into_bytes()),
            Command::Eprt(addr) => Some(format_eprt(*addr).into_bytes()),
            Command::Rest(offset) => Some(offset.to_string().into_bytes()),
            Command::List(a)
            | Command::Nlst(a)
            | Command::Mlsd(a)
            | Command::Mlst(a)
            | Command::Stat(a) => a.clone(),
            Command::Other { arg, .. } => arg.clone(),
            Command::Ccc
            | Command::Rein
            | Command::Quit
            | Command::Noop
            | Command::Syst
            | Command::Epsv
            | Command::Pasv
            | Command::Stou
            | Command::Cdup
            | Command::Pwd
            | Command::Feat
            | Command::Abor => None,
        }
    }

    /// Checks the argument without encoding: the error [`Command::encode`] would give.
    pub fn validate(&self) -> Result<(), CommandError> {
        if let Command::Other { verb, .. } = self {
            if !(3..=4).contains(&verb.len()) || !verb.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(CommandError::BadVerb { verb: verb.clone() });
            }
        }
        match self.argument() {
            Some(arg) if arg.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)) => {
                Err(CommandError::ForbiddenByte {
                    verb: self.verb().to_owned(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Appends the wire form (`VERB arg\r\n`) to `out`, or refuses and appends nothing.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), CommandError> {
        self.validate()?;
        out.extend_from_slice(self.verb().as_bytes());
        if let Some(arg) = self.argument() {
            out.push(b' ');
            out.extend_from_slice(&arg);
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// Parses a raw command line given by the user (without CR LF) into the typed command it
    /// names, so that raw `AUTH`, `PBSZ`, `PROT`, `CCC`, `REIN`, `USER`, `PASS` and `ACCT` go
    /// through the state machine exactly as the typed calls do (SCENARIOS decision D11).
    pub fn parse_raw(line: &[u8]) -> Result<Command, CommandError> {
        if line.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(CommandError::ForbiddenByte {
                verb: String::from_utf8_lossy(line.split(|b| *b == b' ').next().unwrap_or(b""))
                    .into_owned(),
            });
        }
        let (verb, arg) = match line.iter().position(|b| *b == b' ') {
            Some(i) => (&line[..i], Some(line[i + 1..].to_vec())),
            None => (line, None),
        };
        let verb = String::from_utf8_lossy(verb).to_ascii_uppercase();
        let need = |arg: Option<Vec<u8>>| {
            arg.ok_or(CommandError::BadArgument {
                verb: verb.clone(),
                reason: "an argument is required",
            })
        };
        let bad = |reason| CommandError::BadArgument {
            verb: verb.clone(),
            reason,
        };
        let command = match verb.as_str() {
            "AUTH" => Command::Auth(need(arg)?),
            "USER" => Command::User(need(arg)?),
            "PASS" => Command::Pass(Secret::new(arg.unwrap_or_default())),
            "ACCT" => Command::Acct(Secret::new(need(arg)?)),
            "PBSZ" => {
                let text = String::from_utf8_lossy(&need(arg)?).into_owned();
                Command::Pbsz(text.trim().parse().map_err(|_| bad("not a number"))?)
            }
            "PROT" => match need(arg)?.to_ascii_uppercase().as_slice() {
                b"C" => Command::Prot(ProtectionLevel::Clear),
                b"P" => Command::Prot(ProtectionLevel::Private),
                _ => return Err(bad("only the levels C and P are used with tls")),
            },
            "CCC" => Command::Ccc,
            "REIN" => Command::Rein,
            "QUIT" => Command::Quit,
            "NOOP" => Command::Noop,
            "ABOR" => Command::Abor,
            "TYPE" => match arg.as_deref().map(|a| a.to_ascii_uppercase()) {
                Some(a) if a == b"I" || a == b"L 8" => Command::Type(TransferType::Binary),
                Some(a) if a == b"A" || a == b"A N" => Command::Type(TransferType::Ascii),
                _ => Command::Other { verb, arg },
            },
            _ => Command::Other { verb, arg },
        };
        command.validate()?;
        Ok(command)
    }
}

impl fmt::Display for Command {
    /// The command as a log line: `VERB arg`, with `PASS` and `ACCT` arguments shown as `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.verb())?;
        match self {
            Command::Pass(_) | Command::Acct(_) => f.write_str(" ***"),
            _ => match self.argument() {
                Some(arg) => write!(f, " {}", String::from_utf8_lossy(&arg)),
                None => Ok(()),
            },
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Command({self})")
    }
}

#[cfg(test)]
mod tests;

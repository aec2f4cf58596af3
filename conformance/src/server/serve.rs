//! [`Conn::serve`]: a small standard FTPS server for long flows (SESS-03, SESS-07, ...), so a
//! scenario scripts only the part it is about.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::control::{pasv_reply, Conn};
use super::data::{DataConn, DataListener};
use super::fs::MemFs;
use super::record::DataEnd;

/// How [`Conn::serve`] behaves.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Downloads over TLS end with the server's close_notify, then FIN; false: a bare FIN
    /// (CLOSE-02). Default true.
    pub close_notify_on_download: bool,
    /// A TLS upload that ends without the client's close_notify gets
    /// `426 Failure reading network stream.` (vsftpd's `strict_ssl_read_eof`). Default true.
    pub strict_upload_close: bool,
    /// A TLS download whose close_notify the client does not answer within
    /// [`ServeOptions::close_wait`] gets `426` (vsftpd's `strict_ssl_write_shutdown`).
    /// Default false.
    pub strict_download_close: bool,
    /// PROT without a PBSZ before it gets 503. Default true.
    pub pbsz_required: bool,
    /// The data protection of a passive connection is fixed when the server accepts the TCP
    /// connection (pyftpdlib), not at the transfer command (RFC 4217 §10.2). Default false.
    pub prot_at_accept: bool,
    /// RETR, STOR and APPE under TYPE A get `451 Use TYPE I`. AUTH resets TYPE to A. Default
    /// false.
    pub require_binary: bool,
    /// A USER after login forgets PBSZ and PROT (pyftpdlib, PROT-08). Default false.
    pub flush_prot_on_user: bool,
    /// How long the server waits for the client's close_notify or FIN after its own, on data
    /// connections and after QUIT. Default 1 s.
    pub close_wait: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            close_notify_on_download: true,
            strict_upload_close: true,
            strict_download_close: false,
            pbsz_required: true,
            prot_at_accept: false,
            require_binary: false,
            flush_prot_on_user: false,
            close_wait: Duration::from_secs(1),
        }
    }
}

/// Where the next data connection comes from.
enum Pending {
    Passive {
        listener: DataListener,
        /// Accepted early (prot_at_accept), with the protection in force then.
        accepted: Option<(DataConn, bool)>,
    },
    Active(SocketAddr),
}

/// What a transfer does on its data connection.
enum Transfer {
    Send(Vec<u8>),
    Receive { name: String, append: bool },
}

struct State<'a> {
    fs: &'a mut MemFs,
    opts: &'a ServeOptions,
    pbsz: bool,
    private: bool,
    binary: bool,
    logged_in: bool,
    pending: Option<Pending>,
    rest: u64,
    rename_from: Option<String>,
}

const FEATURES: &[&str] = &[
    "211-Features:",
    " EPSV",
    " PASV",
    " MLST type*;size*;",
    " SIZE",
    " MDTM",
    " REST STREAM",
    " AUTH TLS",
    " PBSZ",
    " PROT",
    " UTF8",
    "211 End",
];

impl Conn {
    /// Serves `fs` like a small FTPS server until QUIT (answered with 221, then close_notify
    /// when protected, a bounded wait for the client's close, and a FIN) or until the client
    /// closes. Any user and password are accepted.
    ///
    /// Commands: AUTH TLS/TLS-C, USER, PASS, PBSZ, PROT, TYPE, EPSV, PASV, PORT, EPRT, RETR,
    /// STOR, APPE, STOU, LIST, NLST, MLSD, SIZE, MDTM, CWD, CDUP, PWD, MKD, RMD, DELE, RNFR,
    /// RNTO, FEAT, OPTS, NOOP, SITE, SYST, STRU, MODE, ALLO, REST, ABOR, QUIT; anything else
    /// gets 502. With [`ServerOptions::require_resumption`](super::ServerOptions), a data
    /// handshake that does not resume gets `522 SSL connection failed; session reuse required`
    /// after the 150.
    pub fn serve(&mut self, fs: &mut MemFs, opts: &ServeOptions) -> Result<(), String> {
        let mut st = State {
            fs,
            opts,
            pbsz: false,
            private: false,
            binary: false,
            logged_in: false,
            pending: None,
            rest: 0,
            rename_from: None,
        };
        loop {
            let line = match self.recv() {
                Ok(line) => line,
                Err(e) if e == "client closed" || e == "client reset the connection" => {
                    return Ok(())
                }
                Err(e) => return Err(e),
            };
            if opts.prot_at_accept {
                if let Some(Pending::Passive { listener, accepted }) = st.pending.as_mut() {
                    if accepted.is_none() {
                        *accepted = listener.try_accept(self).map(|d| (d, st.private));
                    }
                }
            }
            let (verb, arg) = line.split_once(' ').unwrap_or((line.as_str(), ""));
            let verb = verb.to_ascii_uppercase();
            if verb == "QUIT" {
                self.send("221 Goodbye.")?;
                if self.protected() {
                    self.close_notify()?;
                }
                let _ = self.expect_eof(opts.close_wait);
                self.fin();
                return Ok(());
            }
            self.serve_one(&mut st, &verb, arg)?;
        }
    }

    fn serve_one(&mut self, st: &mut State<'_>, verb: &str, arg: &str) -> Result<(), String> {
        if verb != "RNTO" && verb != "RNFR" {
            st.rename_from = None;
        }
        match verb {
            "AUTH" => {
                if self.protected() {
                    return self.send("503 Already using TLS.");
                }
                if !(arg.eq_ignore_ascii_case("TLS") || arg.eq_ignore_ascii_case("TLS-C")) {
                    return self.send("504 Unknown AUTH type.");
                }
                self.send("234 Proceed with negotiation.")?;
                self.start_tls()?;
                st.pbsz = false;
                st.private = false;
                st.binary = false;
                st.logged_in = false;
                st.pending = None;
                Ok(())
            }
            "USER" => {
                if st.logged_in && st.opts.flush_prot_on_user {
                    st.pbsz = false;
                    st.private = false;
                }
                st.logged_in = false;
                self.send("331 Password required.")
            }
            "PASS" => {
                st.logged_in = true;
                self.send("230 Logged in.")
            }
            "PBSZ" => {
                if !self.protected() {
                    return self.send("503 PBSZ not allowed on insecure control connection.");
                }
                st.pbsz = true;
                self.send("200 PBSZ=0")
            }
            "PROT" => self.serve_prot(st, arg),
            "TYPE" => {
                let t = arg.trim().to_ascii_uppercase();
                st.binary = t == "I" || t.starts_with("L");
                self.send(&format!("200 Type set to {}.", arg.trim()))
            }
            "EPSV" if arg.eq_ignore_ascii_case("ALL") => self.send("200 EPSV ALL ok."),
            "EPSV" => {
                let listener = self.listen_data()?;
                let reply = format!(
                    "229 Entering Extended Passive Mode (|||{}|)",
                    listener.port()
                );
                st.pending = Some(Pending::Passive {
                    listener,
                    accepted: None,
                });
                self.send(&reply)
            }
            "PASV" => {
                let listener = self.listen_data()?;
                let reply = pasv_reply(listener.addr());
                st.pending = Some(Pending::Passive {
                    listener,
                    accepted: None,
                });
                self.send(&reply)
            }
            "PORT" => match parse_port(arg) {
                Some(addr) => {
                    st.pending = Some(Pending::Active(addr));
                    self.send("200 PORT command successful.")
                }
                None => self.send("501 Illegal PORT command."),
            },
            "EPRT" => match parse_eprt(arg) {
                Ok(addr) => {
                    st.pending = Some(Pending::Active(addr));
                    self.send("200 EPRT command successful.")
                }
                Err(reply) => self.send(reply),
            },
            "RETR" => {
                if st.opts.require_binary && !st.binary {
                    st.pending = None;
                    return self.send("451 Use TYPE I for binary transfers.");
                }
                let Some(content) = st.fs.get(arg) else {
                    st.pending = None;
                    return self.send("550 No such file.");
                };
                let skip = usize::try_from(st.rest)
                    .unwrap_or(usize::MAX)
                    .min(content.len());
                let content = content[skip..].to_vec();
                st.rest = 0;
                let opening = format!(
                    "150 Opening BINARY mode data connection for {arg} ({} bytes).",
                    content.len()
                );
                self.transfer(st, &opening, Transfer::Send(content))
            }
            "STOR" | "APPE" | "STOU" => {
                if st.opts.require_binary && !st.binary {
                    st.pending = None;
                    return self.send("451 Use TYPE I for binary transfers.");
                }
                let (name, opening) = if verb == "STOU" {
                    let name = st.fs.unique_name(if arg.is_empty() { "stou" } else { arg });
                    let opening = format!("150 FILE: {name}");
                    (name, opening)
                } else {
                    (arg.to_owned(), "150 Ok to send data.".to_owned())
                };
                let append = verb == "APPE";
                self.transfer(st, &opening, Transfer::Receive { name, append })
            }
            "LIST" | "NLST" | "MLSD" => {
                let mut listing = String::new();
                for (name, size) in st.fs.entries() {
                    match verb {
                        "LIST" => listing.push_str(&format!(
                            "-rw-r--r--    1 ftp      ftp      {size:>10} Jan 01 12:00 {name}\r\n"
                        )),
                        "NLST" => listing.push_str(&format!("{name}\r\n")),
                        _ => listing.push_str(&format!("type=file;size={size}; {name}\r\n")),
                    }
                }
                let opening = "150 Here comes the directory listing.";
                self.transfer(st, opening, Transfer::Send(listing.into_bytes()))
            }
            "SIZE" => match st.fs.get(arg) {
                Some(c) => self.send(&format!("213 {}", c.len())),
                None => self.send("550 Could not get file size."),
            },
            "MDTM" => match st.fs.contains(arg) {
                true => self.send("213 20260101120000"),
                false => self.send("550 Could not get file modification time."),
            },
            "CWD" | "CDUP" => self.send("250 Directory successfully changed."),
            "PWD" | "XPWD" => self.send("257 \"/\" is the current directory"),
            "MKD" => self.send(&format!("257 \"/{}\" created", arg.trim_start_matches('/'))),
            "RMD" => self.send("250 Remove directory operation successful."),
            "DELE" => match st.fs.remove(arg) {
                Some(_) => self.send("250 Delete operation successful."),
                None => self.send("550 Delete operation failed."),
            },
            "RNFR" => {
                if st.fs.contains(arg) {
                    st.rename_from = Some(arg.to_owned());
                    self.send("350 Ready for RNTO.")
                } else {
                    st.rename_from = None;
                    self.send("550 RNFR command failed.")
                }
            }
            "RNTO" => match st.rename_from.take() {
                Some(from) if st.fs.rename(&from, arg) => self.send("250 Rename successful."),
                Some(_) => self.send("550 Rename failed."),
                None => self.send("503 RNFR required first."),
            },
            "FEAT" => {
                let mut reply = FEATURES.join("\r\n");
                reply.push_str("\r\n");
                self.send_raw(reply.as_bytes())
            }
            "OPTS" => self.send("200 OPTS ok."),
            "NOOP" => self.send("200 NOOP ok."),
            "SITE" => self.send("200 SITE command ok."),
            "SYST" => self.send("215 UNIX Type: L8"),
            "STRU" | "MODE" => self.send("200 Ok."),
            "ALLO" => self.send("202 ALLO command ignored."),
            "REST" => match arg.trim().parse::<u64>() {
                Ok(n) => {
                    st.rest = n;
                    self.send(&format!("350 Restart position accepted ({n})."))
                }
                Err(_) => self.send("501 Bad REST argument."),
            },
            "ABOR" => {
                st.pending = None;
                self.send("225 No transfer to abort.")
            }
            _ => self.send("502 Command not implemented."),
        }
    }

    fn serve_prot(&mut self, st: &mut State<'_>, arg: &str) -> Result<(), String> {
        let level = arg.trim().to_ascii_uppercase();
        match level.as_str() {
            "C" | "P" => {
                if !self.protected() {
                    return self.send("503 PROT not allowed on insecure control connection.");
                }
                if st.opts.pbsz_required && !st.pbsz {
                    return self.send("503 You must issue the PBSZ command prior to PROT.");
                }
                st.private = level == "P";
                if st.private {
                    self.send("200 Protection set to Private")
                } else {
                    self.send("200 Protection set to Clear")
                }
            }
            "S" | "E" => self.send(&format!("536 PROT {level} unsupported")),
            _ => self.send("504 PROT not understood."),
        }
    }

    /// Opens the data connection the last EPSV/PASV/PORT/EPRT announced; also returns whether
    /// it is to be protected.
    fn open_data(&mut self, st: &mut State<'_>) -> Result<(DataConn, bool), String> {
        match st.pending.take() {
            None => Err("no data port".into()),
            Some(Pending::Passive {
                accepted: Some(early),
                ..
            }) => Ok(early),
            Some(Pending::Passive { listener, .. }) => {
                listener.accept(self).map(|d| (d, st.private))
            }
            Some(Pending::Active(addr)) => self.connect_data(addr).map(|d| (d, st.private)),
        }
    }

    fn transfer(
        &mut self,
        st: &mut State<'_>,
        opening: &str,
        what: Transfer,
    ) -> Result<(), String> {
        if st.pending.is_none() {
            return self.send("425 Use PORT, PASV or EPSV first.");
        }
        self.send(opening)?;
        let (mut data, private) = match self.open_data(st) {
            Ok(d) => d,
            Err(e) => {
                log::debug!("data connection: {e}");
                return self.send("425 Can't open data connection.");
            }
        };
        if private {
            if let Err(e) = data.accept_tls() {
                log::debug!("data handshake: {e}");
                let reuse = self.options().require_resumption && data.resumed() == Some(false);
                data.fin();
                return if reuse {
                    self.send("522 SSL connection failed; session reuse required")
                } else {
                    self.send("522 SSL connection failed.")
                };
            }
        }
        match what {
            Transfer::Send(bytes) => {
                if let Err(e) = data.write_all(&bytes) {
                    log::debug!("data write: {e}");
                    data.rst();
                    return self.send("426 Connection closed; transfer aborted.");
                }
                let mut answered = true;
                if private && st.opts.close_notify_on_download {
                    if let Err(e) = data.close_notify() {
                        log::debug!("data close_notify: {e}");
                    }
                    answered = data.wait_client_close(st.opts.close_wait) == DataEnd::CloseNotify
                        || data.client_close_notify();
                }
                data.fin();
                if private && st.opts.strict_download_close && !answered {
                    return self.send("426 Failure writing network stream.");
                }
                self.send("226 Transfer complete.")
            }
            Transfer::Receive { name, append } => {
                let (bytes, end) = match data.read_to_end() {
                    Ok(r) => r,
                    Err(e) => {
                        log::debug!("data read: {e}");
                        data.rst();
                        return self.send("426 Failure reading network stream.");
                    }
                };
                if append {
                    st.fs.append(&name, &bytes);
                } else {
                    st.fs.write_at(&name, st.rest, &bytes);
                }
                st.rest = 0;
                let clean = if private {
                    end == DataEnd::CloseNotify
                } else {
                    end == DataEnd::Fin
                };
                if private && end == DataEnd::CloseNotify {
                    if let Err(e) = data.close_notify() {
                        log::debug!("data close_notify: {e}");
                    }
                    data.wait_client_close(st.opts.close_wait);
                }
                data.fin();
                let strict = !private || st.opts.strict_upload_close;
                if !clean && (strict || matches!(end, DataEnd::Reset | DataEnd::Timeout)) {
                    return self.send("426 Failure reading network stream.");
                }
                self.send("226 Transfer complete.")
            }
        }
    }
}

/// Parses `h1,h2,h3,h4,p1,p2`.
fn parse_port(arg: &str) -> Option<SocketAddr> {
    let nums: Vec<u8> = arg
        .trim()
        .split(',')
        .map(|n| n.trim().parse::<u8>())
        .collect::<Result<_, _>>()
        .ok()?;
    let [a, b, c, d, p1, p2] = nums[..] else {
        return None;
    };
    let ip = IpAddr::from([a, b, c, d]);
    Some(SocketAddr::new(ip, u16::from(p1) << 8 | u16::from(p2)))
}

/// Parses `|proto|addr|port|`; on error, the reply to send.
fn parse_eprt(arg: &str) -> Result<SocketAddr, &'static str> {
    let arg = arg.trim();
    let delim = arg.chars().next().ok_or("501 Bad EPRT command.")?;
    let fields: Vec<&str> = arg.split(delim).collect();
    let [_, proto, addr, port, _] = fields[..] else {
        return Err("501 Bad EPRT command.");
    };
    if proto != "1" && proto != "2" {
        return Err("522 Network protocol not supported, use (1,2)");
    }
    let ip: IpAddr = addr.parse().map_err(|_| "501 Bad EPRT address.")?;
    if (proto == "1") != ip.is_ipv4() {
        return Err("501 Bad EPRT address.");
    }
    let port: u16 = port.parse().map_err(|_| "501 Bad EPRT port.")?;
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::{parse_eprt, parse_port};

    #[test]
    fn port_and_eprt_arguments_parse() {
        assert_eq!(
            parse_port("127,0,0,1,156,65").map(|a| a.to_string()),
            Some("127.0.0.1:40001".to_owned())
        );
        assert_eq!(parse_port("127,0,0,1,156"), None);
        assert_eq!(parse_port("127,0,0,1,156,300"), None);
        assert_eq!(
            parse_eprt("|2|::1|40002|").map(|a| a.to_string()),
            Ok("[::1]:40002".to_owned())
        );
        assert_eq!(
            parse_eprt("!1!127.0.0.1!21!").map(|a| a.to_string()),
            Ok("127.0.0.1:21".to_owned())
        );
        assert_eq!(
            parse_eprt("|3|x|1|"),
            Err("522 Network protocol not supported, use (1,2)")
        );
        assert!(parse_eprt("|1|::1|1|").is_err());
    }
}

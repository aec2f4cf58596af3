//! [`Conn::serve`]: a small standard FTPS server for long flows (SESS-03, SESS-07, ...), so a
//! scenario scripts only the part it is about, and for the standalone server
//! (`ftps-conformance serve`).

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::control::{pasv_reply, Conn};
use super::data::{DataConn, DataListener};
use super::record::DataEnd;
use super::store::{self, resolve, Store, WriteAt};

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
    /// The one user and password accepted; `None` (the default) accepts any.
    pub login: Option<(String, String)>,
    /// USER before AUTH TLS gets `530` (vsftpd's `force_local_logins_ssl`). Default false.
    pub require_tls: bool,
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
            login: None,
            require_tls: false,
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
enum Transfer<'a> {
    Send(Box<dyn Read + 'a>),
    Receive(Box<dyn Write + 'a>),
}

struct State<'a> {
    opts: &'a ServeOptions,
    pbsz: bool,
    private: bool,
    binary: bool,
    /// The name USER gave, until PASS.
    user: Option<String>,
    logged_in: bool,
    pending: Option<Pending>,
    rest: u64,
    rename_from: Option<String>,
    /// The working directory, normalised.
    cwd: String,
}

impl State<'_> {
    /// The store path a command argument names.
    fn path(&self, arg: &str) -> String {
        resolve(&self.cwd, arg)
    }
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
    /// closes. Any user and password are accepted unless [`ServeOptions::login`] says whose.
    ///
    /// Commands: AUTH TLS/TLS-C, USER, PASS, PBSZ, PROT, TYPE, EPSV, PASV, PORT, EPRT, RETR,
    /// STOR, APPE, STOU, LIST, NLST, MLSD, SIZE, MDTM, CWD, CDUP, PWD, MKD, RMD, DELE, RNFR,
    /// RNTO, FEAT, OPTS, NOOP, SITE, SYST, STRU, MODE, ALLO, REST, ABOR, QUIT; anything else
    /// gets 502. File commands before login get 530. With
    /// [`ServerOptions::require_resumption`](super::ServerOptions), a data handshake that does
    /// not resume gets `522 SSL connection failed; session reuse required` after the 150.
    ///
    /// Transfers stream: a download reads the file in large chunks into full TLS records, an
    /// upload writes what arrives as it arrives.
    pub fn serve(&mut self, fs: &mut dyn Store, opts: &ServeOptions) -> Result<(), String> {
        let mut st = State {
            opts,
            pbsz: false,
            private: false,
            binary: false,
            user: None,
            logged_in: false,
            pending: None,
            rest: 0,
            rename_from: None,
            cwd: "/".to_owned(),
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
            if verb != "RNTO" && verb != "RNFR" {
                st.rename_from = None;
            }
            match self.serve_session(&mut st, &verb, arg)? {
                Handled::Yes => {}
                Handled::No if !st.logged_in => {
                    self.send("530 Please login with USER and PASS.")?
                }
                Handled::No => self.serve_files(&mut st, fs, &verb, arg)?,
            }
        }
    }

    /// The commands that need no login: security, login, and the session's settings.
    fn serve_session(
        &mut self,
        st: &mut State<'_>,
        verb: &str,
        arg: &str,
    ) -> Result<Handled, String> {
        match verb {
            "AUTH" => {
                if self.protected() {
                    self.send("503 Already using TLS.")?;
                } else if !(arg.eq_ignore_ascii_case("TLS") || arg.eq_ignore_ascii_case("TLS-C")) {
                    self.send("504 Unknown AUTH type.")?;
                } else {
                    self.send("234 Proceed with negotiation.")?;
                    self.start_tls()?;
                    st.pbsz = false;
                    st.private = false;
                    st.binary = false;
                    st.logged_in = false;
                    st.user = None;
                    st.pending = None;
                }
            }
            "USER" => {
                if st.logged_in && st.opts.flush_prot_on_user {
                    st.pbsz = false;
                    st.private = false;
                }
                st.logged_in = false;
                if st.opts.require_tls && !self.protected() {
                    st.user = None;
                    self.send("530 Non-anonymous sessions must use encryption.")?;
                } else {
                    st.user = Some(arg.to_owned());
                    self.send("331 Password required.")?;
                }
            }
            "PASS" => {
                let accepted = match (&st.opts.login, st.user.take()) {
                    (_, None) => {
                        return self
                            .send("503 Login with USER first.")
                            .map(|()| Handled::Yes)
                    }
                    (None, Some(_)) => true,
                    (Some((user, pass)), Some(given)) => *user == given && pass == arg,
                };
                st.logged_in = accepted;
                if accepted {
                    self.send("230 Logged in.")?;
                } else {
                    self.send("530 Login incorrect.")?;
                }
            }
            "PBSZ" => {
                if !self.protected() {
                    self.send("503 PBSZ not allowed on insecure control connection.")?;
                } else {
                    st.pbsz = true;
                    self.send("200 PBSZ=0")?;
                }
            }
            "PROT" => self.serve_prot(st, arg)?,
            "FEAT" => {
                let mut reply = FEATURES.join("\r\n");
                reply.push_str("\r\n");
                self.send_raw(reply.as_bytes())?;
            }
            "OPTS" => self.send("200 OPTS ok.")?,
            "NOOP" => self.send("200 NOOP ok.")?,
            "SYST" => self.send("215 UNIX Type: L8")?,
            "ABOR" => {
                st.pending = None;
                self.send("225 No transfer to abort.")?;
            }
            _ => return Ok(Handled::No),
        }
        Ok(Handled::Yes)
    }

    /// The commands of a logged-in session: data connections, transfers and the file tree.
    fn serve_files(
        &mut self,
        st: &mut State<'_>,
        fs: &mut dyn Store,
        verb: &str,
        arg: &str,
    ) -> Result<(), String> {
        match verb {
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
            "RETR" => self.serve_retr(st, fs, arg),
            "STOR" | "APPE" | "STOU" => self.serve_store(st, fs, verb, arg),
            "LIST" | "NLST" | "MLSD" => {
                // LIST options such as `-la` are not paths.
                let dir = if arg.starts_with('-') { "" } else { arg };
                let entries = match fs.list(&st.path(dir)) {
                    Ok(entries) => entries,
                    Err(_) => return self.refuse_transfer(st, "550 No such directory."),
                };
                let listing = listing(verb, &entries);
                let opening = "150 Here comes the directory listing.";
                self.transfer(st, opening, Transfer::Send(Box::new(listing.as_slice())))
            }
            "SIZE" => match fs.size(&st.path(arg)) {
                Ok(size) => self.send(&format!("213 {size}")),
                Err(_) => self.send("550 Could not get file size."),
            },
            "MDTM" => match fs.modified(&st.path(arg)) {
                Ok(t) => self.send(&format!("213 {}", mdtm(t))),
                Err(_) => self.send("550 Could not get file modification time."),
            },
            "CWD" | "CDUP" | "XCUP" => {
                let target = st.path(if verb == "CWD" { arg } else { ".." });
                if fs.is_dir(&target) {
                    st.cwd = target;
                    self.send("250 Directory successfully changed.")
                } else {
                    self.send("550 Failed to change directory.")
                }
            }
            "PWD" | "XPWD" => {
                let quoted = st.cwd.replace('"', "\"\"");
                self.send(&format!("257 \"{quoted}\" is the current directory"))
            }
            "MKD" | "XMKD" => {
                let path = st.path(arg);
                match fs.make_dir(&path) {
                    Ok(()) => self.send(&format!("257 \"{}\" created", path.replace('"', "\"\""))),
                    Err(_) => self.send("550 Create directory operation failed."),
                }
            }
            "RMD" | "XRMD" => match fs.remove_dir(&st.path(arg)) {
                Ok(()) => self.send("250 Remove directory operation successful."),
                Err(_) => self.send("550 Remove directory operation failed."),
            },
            "DELE" => match fs.remove_file(&st.path(arg)) {
                Ok(()) => self.send("250 Delete operation successful."),
                Err(_) => self.send("550 Delete operation failed."),
            },
            "RNFR" => {
                let path = st.path(arg);
                if fs.exists(&path) {
                    st.rename_from = Some(path);
                    self.send("350 Ready for RNTO.")
                } else {
                    st.rename_from = None;
                    self.send("550 RNFR command failed.")
                }
            }
            "RNTO" => match st.rename_from.take() {
                Some(from) => match fs.rename(&from, &st.path(arg)) {
                    Ok(()) => self.send("250 Rename successful."),
                    Err(_) => self.send("550 Rename failed."),
                },
                None => self.send("503 RNFR required first."),
            },
            "SITE" => self.send("200 SITE command ok."),
            "STRU" | "MODE" => self.send("200 Ok."),
            "ALLO" => self.send("202 ALLO command ignored."),
            "REST" => match arg.trim().parse::<u64>() {
                Ok(n) => {
                    st.rest = n;
                    self.send(&format!("350 Restart position accepted ({n})."))
                }
                Err(_) => self.send("501 Bad REST argument."),
            },
            _ => self.send("502 Command not implemented."),
        }
    }

    fn serve_retr(
        &mut self,
        st: &mut State<'_>,
        fs: &mut dyn Store,
        arg: &str,
    ) -> Result<(), String> {
        if st.opts.require_binary && !st.binary {
            return self.refuse_transfer(st, "451 Use TYPE I for binary transfers.");
        }
        let offset = std::mem::take(&mut st.rest);
        let (reader, len) = match fs.read(&st.path(arg), offset) {
            Ok(opened) => opened,
            Err(e) => {
                log::debug!("RETR {arg}: {e}");
                return self.refuse_transfer(st, "550 Failed to open file.");
            }
        };
        let opening = format!("150 Opening BINARY mode data connection for {arg} ({len} bytes).");
        self.transfer(st, &opening, Transfer::Send(reader))
    }

    fn serve_store(
        &mut self,
        st: &mut State<'_>,
        fs: &mut dyn Store,
        verb: &str,
        arg: &str,
    ) -> Result<(), String> {
        if st.opts.require_binary && !st.binary {
            return self.refuse_transfer(st, "451 Use TYPE I for binary transfers.");
        }
        let offset = std::mem::take(&mut st.rest);
        let (path, at) = match verb {
            "STOU" => {
                let name = if arg.is_empty() { "stou" } else { arg };
                (store::unique_name(fs, &st.cwd, name), WriteAt::Offset(0))
            }
            "APPE" => (st.path(arg), WriteAt::End),
            _ => (st.path(arg), WriteAt::Offset(offset)),
        };
        let opening = if verb == "STOU" {
            format!("150 FILE: {}", path.trim_start_matches('/'))
        } else {
            "150 Ok to send data.".to_owned()
        };
        let writer = match fs.write(&path, at) {
            Ok(writer) => writer,
            Err(e) => {
                log::debug!("{verb} {arg}: {e}");
                return self.refuse_transfer(st, "553 Could not create file.");
            }
        };
        self.transfer(st, &opening, Transfer::Receive(writer))
    }

    /// Answers a transfer command with `reply` before any data connection: the port announced
    /// for it is closed.
    fn refuse_transfer(&mut self, st: &mut State<'_>, reply: &str) -> Result<(), String> {
        st.pending = None;
        self.send(reply)
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
        what: Transfer<'_>,
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
            Transfer::Send(mut reader) => {
                if let Err(e) = data.send_from(&mut *reader) {
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
            Transfer::Receive(mut writer) => {
                let end = match data.receive_into(&mut *writer) {
                    Ok(end) => end,
                    Err(e) => {
                        log::debug!("data read: {e}");
                        data.rst();
                        return self.send("426 Failure reading network stream.");
                    }
                };
                if let Err(e) = writer.flush() {
                    log::debug!("writing the upload: {e}");
                    data.rst();
                    return self.send("451 Failure writing to local file.");
                }
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

/// Whether [`Conn::serve_session`] answered the command.
enum Handled {
    Yes,
    No,
}

/// The body of a LIST, NLST or MLSD reply.
fn listing(verb: &str, entries: &[store::Entry]) -> Vec<u8> {
    let mut listing = String::new();
    for e in entries {
        let (name, size) = (&e.name, e.size);
        match verb {
            "LIST" => {
                let mode = if e.is_dir { "drwxr-xr-x" } else { "-rw-r--r--" };
                listing.push_str(&format!(
                    "{mode}    1 ftp      ftp      {size:>10} Jan 01 12:00 {name}\r\n"
                ));
            }
            "NLST" => listing.push_str(&format!("{name}\r\n")),
            _ if e.is_dir => listing.push_str(&format!("type=dir; {name}\r\n")),
            _ => listing.push_str(&format!("type=file;size={size}; {name}\r\n")),
        }
    }
    listing.into_bytes()
}

/// `t` as an MDTM time, `YYYYMMDDHHMMSS` in UTC (times before 1970 read as 1970).
fn mdtm(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (the proleptic Gregorian calendar, 400-year eras).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    format!("{year:04}{month:02}{day:02}{h:02}{m:02}{s:02}")
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
    use std::time::{Duration, UNIX_EPOCH};

    use super::{mdtm, parse_eprt, parse_port};

    #[test]
    fn mdtm_times_are_utc_civil_dates() {
        assert_eq!(mdtm(UNIX_EPOCH), "19700101000000");
        let t = UNIX_EPOCH + Duration::from_secs(1_767_268_800);
        assert_eq!(mdtm(t), "20260101120000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_825_599);
        assert_eq!(mdtm(leap), "20000229115959");
    }

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

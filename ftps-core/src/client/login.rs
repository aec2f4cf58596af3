//! Logging in: `USER`, then `PASS` and `ACCT` only when the server asks for them (RFC 959
//! §5.4, RFC 2228 §4), by password, by client certificate (232) or by challenge (336); then the
//! data protection level.

use super::Client;
use crate::command::{Command, Secret};
use crate::error::{Error, Result};
use crate::reply::Reply;
use crate::tls::SecureConnection;

/// The server's request for a password during login: its `331` reply, or a `336` reply that
/// carries a challenge (RFC 2228 §4), handed to the callback of
/// [`Client::login_with_prompt`].
#[derive(Clone, Copy, Debug)]
pub struct PasswordPrompt<'r> {
    reply: &'r Reply,
}

impl<'r> PasswordPrompt<'r> {
    /// The reply that asked for the password.
    pub fn reply(&self) -> &'r Reply {
        self.reply
    }

    /// The challenge of a `336` reply: its text (lines joined with `\n`), which RFC 2228 says
    /// the client must show to the user before it asks for the password. `None` for a `331`.
    pub fn challenge(&self) -> Option<String> {
        (self.reply.code() == 336).then(|| self.reply.text())
    }
}

/// The answer to [`PasswordPrompt`]s: a fixed password, none, or a callback.
enum Password<'p> {
    Fixed(Secret),
    None,
    Prompt(&'p mut dyn FnMut(&PasswordPrompt<'_>) -> Option<Secret>),
}

impl Password<'_> {
    fn answer(&mut self, prompt: &PasswordPrompt<'_>) -> Option<Secret> {
        match self {
            Password::Fixed(secret) => Some(secret.clone()),
            Password::None => None,
            Password::Prompt(callback) => callback(prompt),
        }
    }
}

impl<C: SecureConnection> Client<C> {
    /// Logs in with `USER` and `PASS`, then sets the data protection level (`PBSZ 0`, then
    /// `PROT P` unless Clear data was chosen). `USER` and `PASS` are never sent in the clear
    /// unless a `danger_` option allowed it.
    ///
    /// `PASS` is sent only when the server asks for it (`331`, or `336` with a challenge, to
    /// which the password is the response); a server that logs the user in on `USER` alone
    /// (`230`, or `232` after a client certificate) gets no `PASS`.
    pub fn login(&mut self, user: impl AsRef<[u8]>, password: impl AsRef<[u8]>) -> Result<()> {
        self.login_with_account(user, password, None::<&[u8]>)
    }

    /// Like [`Client::login`], with an account for servers that ask for one (332).
    pub fn login_with_account(
        &mut self,
        user: impl AsRef<[u8]>,
        password: impl AsRef<[u8]>,
        account: Option<impl AsRef<[u8]>>,
    ) -> Result<()> {
        let password = Secret::new(password.as_ref());
        let result = Command::Pass(password.clone()).validate();
        self.guard(result.map_err(Error::from))?;
        self.login_as(user.as_ref(), Password::Fixed(password), account)
    }

    /// Logs in with `USER` alone, for a server that authenticates the user by the client
    /// certificate the TLS backend presented: it answers `232` (RFC 2228 §4) or `230`. If it asks
    /// for a password instead, no `PASS` is sent and the result is
    /// [`Error::PasswordRequired`] (the connection stays usable, for example for
    /// [`Client::login`]).
    ///
    /// ```no_run
    /// # fn demo<C: ftps_core::SecureConnection>(connector: C) -> ftps_core::Result<()> {
    /// // `connector` presents a client certificate, e.g.
    /// // `ftps_rustls::RustlsConnector::trusting_with_client_cert(..)`.
    /// let mut client = ftps_core::ClientBuilder::new("ftp.example.com").connect(connector)?;
    /// client.login_with_certificate("alice")?;
    /// # Ok(()) }
    /// ```
    pub fn login_with_certificate(&mut self, user: impl AsRef<[u8]>) -> Result<()> {
        self.login_as(user.as_ref(), Password::None, None::<&[u8]>)
    }

    /// Logs in, asking `password` for the password only if and when the server wants one. It
    /// gets the server's [`PasswordPrompt`] (with the challenge of a `336` reply, RFC 2228 §4)
    /// and returns the password or the response to the challenge, or `None` to send no `PASS`
    /// (the result is then [`Error::PasswordRequired`]). `account` answers a `332`.
    ///
    /// ```no_run
    /// # fn demo<C: ftps_core::SecureConnection>(
    /// #     mut client: ftps_core::Client<C>,
    /// #     token_for: impl Fn(&str) -> String,
    /// # ) -> ftps_core::Result<()> {
    /// use ftps_core::command::Secret;
    ///
    /// client.login_with_prompt("alice", None::<&str>, |prompt| {
    ///     let answer = match prompt.challenge() {
    ///         Some(challenge) => token_for(&challenge),
    ///         None => "secret".to_owned(),
    ///     };
    ///     Some(Secret::new(answer))
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn login_with_prompt(
        &mut self,
        user: impl AsRef<[u8]>,
        account: Option<impl AsRef<[u8]>>,
        mut password: impl FnMut(&PasswordPrompt<'_>) -> Option<Secret>,
    ) -> Result<()> {
        self.login_as(user.as_ref(), Password::Prompt(&mut password), account)
    }

    fn login_as(
        &mut self,
        user: &[u8],
        password: Password<'_>,
        account: Option<impl AsRef<[u8]>>,
    ) -> Result<()> {
        self.ready()?;
        let user = Command::User(user.to_vec());
        let account = account.map(|a| Command::Acct(Secret::new(a.as_ref())));
        for command in std::iter::once(&user).chain(account.as_ref()) {
            let result = command.validate();
            self.guard(result.map_err(Error::from))?;
        }
        let mut deferred = false;
        if self.config.protection_before_login && self.session.control_protected() {
            match self.set_data_protection() {
                Ok(()) => {}
                Err(Error::Reply { reply, .. }) | Err(Error::DataProtectionRefused { reply })
                    if reply.code() == 530 =>
                {
                    deferred = true;
                }
                Err(e) => return Err(e),
            }
        }
        let result = self.login_exchange(&user, password, account.as_ref());
        self.guard(result)?;
        if self.session.control_protected()
            && (!self.config.protection_before_login
                || deferred
                || self.session.needs_data_protection())
        {
            let result = self.set_data_protection();
            self.guard(result)?;
        }
        Ok(())
    }

    /// `USER`; `PASS` on 331 or 336; `ACCT` on 332. Success is a 2xx at any point (230, 232,
    /// 202).
    fn login_exchange(
        &mut self,
        user: &Command,
        mut password: Password<'_>,
        account: Option<&Command>,
    ) -> Result<()> {
        let mut reply = self.simple(user)?;
        if matches!(reply.code(), 331 | 336) {
            let prompt = PasswordPrompt { reply: &reply };
            let Some(secret) = password.answer(&prompt) else {
                return Err(Error::PasswordRequired { reply });
            };
            let pass = Command::Pass(secret);
            pass.validate()?;
            reply = self.simple(&pass)?;
        }
        if reply.code() == 332 {
            let Some(account) = account else {
                return Err(Error::Reply {
                    reply,
                    command: "PASS".into(),
                });
            };
            reply = self.simple(account)?;
        }
        if reply.is_completion() {
            Ok(())
        } else {
            Err(Error::Reply {
                reply,
                command: "USER".into(),
            })
        }
    }
}

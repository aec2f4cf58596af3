//! One workload in every way of opening data connections, against any real server: a 4 MiB
//! file up and back down and 20 small files up then down in a row, every one compared by
//! SHA-256, then `LIST`, `NLST` and `MLSD`, in passive mode with EPSV, in active mode (PORT or
//! EPRT), and in passive mode with PASV (against a server started so that it refuses EPSV, and
//! the client falls back to PASV).
//!
//! A [`ModesSuite`] describes the server (its script name, the arguments that make it refuse
//! EPSV, what its data connections and its log must show); [`ModesSuite::trials`] gives the
//! two trials of one backend and TLS version.

use ftps_core::listing::EntryKind;
use ftps_core::{Client, DataConnectionMode, SecureConnection, TransferOutcome};
use libtest_mimic::Trial;

use super::transfer::{self, Make};
use super::{trial, with_server, RealServer};
use crate::checks::ensure;

/// The large file of the workload.
pub const BIG_FILE: usize = 4 * 1024 * 1024;
/// The small files of the workload.
pub const SMALL_FILES: usize = 20;

/// How the data connections of one client are opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataMode {
    /// EPSV (the client's default).
    Epsv,
    /// PASV, because the server refuses EPSV.
    Pasv,
    /// PORT/EPRT: the server connects to the client.
    Active,
}

impl DataMode {
    /// The client setting for this mode (EPSV and PASV are both passive).
    pub fn connection_mode(self) -> DataConnectionMode {
        match self {
            DataMode::Epsv | DataMode::Pasv => DataConnectionMode::Passive,
            DataMode::Active => DataConnectionMode::Active,
        }
    }

    /// The prefix of the file names of this mode's session (`epsv`, `pasv`, `active`).
    pub fn prefix(self) -> &'static str {
        match self {
            DataMode::Epsv => "epsv",
            DataMode::Pasv => "pasv",
            DataMode::Active => "active",
        }
    }
}

/// The data-modes trials against one kind of real server.
#[derive(Clone, Copy, Debug)]
pub struct ModesSuite {
    /// The server's directory under `scripts/`.
    pub server: &'static str,
    /// Start arguments for every server of the suite, after the TLS version flag.
    pub args: &'static [&'static str],
    /// More start arguments that make the server refuse EPSV (for the PASV trial).
    pub refuse_epsv: &'static [&'static str],
    /// Checks one data connection's outcome: `(outcome, pinned TLS version, what)`.
    pub verify_data: fn(&TransferOutcome, &str, &str) -> Result<(), String>,
    /// Checks what the server logged during one session's workload.
    pub verify_log: fn(DataMode, &str) -> Result<(), String>,
    /// The ends of the server's logs, added to a failure.
    pub report: fn(&RealServer) -> String,
}

impl ModesSuite {
    /// Two trials for one backend and TLS version (`tls` is `tls13` or `tls12`, `version` the
    /// name the backends report, `TLSv1.3` or `TLSv1.2`): `{backend}_{tls}_epsv_and_active`,
    /// EPSV then active mode against one server, and `{backend}_{tls}_pasv` against a server
    /// that refuses EPSV.
    pub fn trials<C: SecureConnection>(
        self,
        backend: &str,
        tls: &'static str,
        version: &'static str,
        make: Make<C>,
    ) -> Vec<Trial> {
        let flag = if tls == "tls12" { "--tls12" } else { "--tls13" };
        let args: Vec<&'static str> = [flag].iter().chain(self.args).copied().collect();
        let pasv_args: Vec<&'static str> = args.iter().chain(self.refuse_epsv).copied().collect();
        vec![
            trial(format!("{backend}_{tls}_epsv_and_active"), move || {
                self.run(&args, &[DataMode::Epsv, DataMode::Active], version, make)
            }),
            trial(format!("{backend}_{tls}_pasv"), move || {
                self.run(&pasv_args, &[DataMode::Pasv], version, make)
            }),
        ]
    }

    /// Starts a server with `args` and runs one [`session`](Self::session) per data mode, each
    /// with its own client and its own file names.
    pub fn run<C: SecureConnection>(
        &self,
        args: &[&str],
        modes: &[DataMode],
        version: &str,
        make: Make<C>,
    ) -> Result<(), String> {
        with_server(
            self.server,
            args,
            |server| {
                modes.iter().try_for_each(|&mode| {
                    self.session(server, mode, version, make)
                        .map_err(|e| format!("{mode:?}: {e}"))
                })
            },
            self.report,
        )
    }

    /// One client in `mode`: connect and log in, the control connection's TLS version (when
    /// reported), the [`workload`], what the server logged meanwhile, and `QUIT` answered with
    /// `221`.
    pub fn session<C: SecureConnection>(
        &self,
        server: &RealServer,
        mode: DataMode,
        version: &str,
        make: Make<C>,
    ) -> Result<(), String> {
        let mut client = transfer::connect(server, make, |b| {
            b.data_connection_mode(mode.connection_mode())
        })?;
        super::verify::control_version_if_reported(&client, version)?;
        let log_before = server.log().len();
        workload(&mut client, mode.prefix(), |outcome, what| {
            (self.verify_data)(outcome, version, what)
        })?;
        let log = server.log();
        (self.verify_log)(mode, log.get(log_before..).unwrap_or_default())?;
        transfer::quit(client)
    }
}

/// The workload of one session, its files named after `prefix`: a [`BIG_FILE`] file up and
/// back down ([`transfer::big_round_trip`]), [`SMALL_FILES`] small files all uploaded, then all
/// downloaded and compared, then `LIST`, `NLST` and `MLSD`, which must each show every file
/// (`MLSD` with the right sizes). `verify` checks each data connection's outcome of the large
/// file.
pub fn workload<C: SecureConnection>(
    client: &mut Client<C>,
    prefix: &str,
    verify: impl Fn(&TransferOutcome, &str) -> Result<(), String>,
) -> Result<(), String> {
    let big_name = format!("{prefix}-big.bin");
    transfer::big_round_trip(client, &big_name, BIG_FILE, 42, verify)?;

    let names: Vec<String> = (0..SMALL_FILES)
        .map(|i| format!("{prefix}-small-{i}.txt"))
        .collect();
    let bodies: Vec<Vec<u8>> = (0..SMALL_FILES)
        .map(|i| transfer::content(100 + i * 997, i as u64 + 7))
        .collect();
    for (name, body) in names.iter().zip(&bodies) {
        transfer::store(client, name, body)?;
    }
    for (name, body) in names.iter().zip(&bodies) {
        let (back, _) = transfer::download(client, name)?;
        transfer::same_content(name, &back, body)?;
    }

    let list = client.list(None).map_err(|e| format!("LIST: {e:?}"))?;
    for name in names.iter().chain([&big_name]) {
        ensure(list.iter().any(|l| l.ends_with(name.as_str())), || {
            format!("LIST lacks {name}: {list:?}")
        })?;
    }
    let nlst: Vec<String> = client
        .nlst(None)
        .map_err(|e| format!("NLST: {e:?}"))?
        .iter()
        .map(|p| p.to_string_lossy())
        .collect();
    for name in names.iter().chain([&big_name]) {
        ensure(
            nlst.iter()
                .any(|n| n == name || n.ends_with(&format!("/{name}"))),
            || format!("NLST lacks {name}: {nlst:?}"),
        )?;
    }
    let entries = client.mlsd(None).map_err(|e| format!("MLSD: {e:?}"))?;
    let entry = |name: &str| {
        entries
            .iter()
            .filter_map(|e| e.as_ref().ok())
            .find(|e| e.name.to_string_lossy() == name)
            .ok_or_else(|| format!("MLSD lacks {name}: {entries:?}"))
    };
    let big_entry = entry(&big_name)?;
    ensure(
        big_entry.size() == Some(BIG_FILE as u64) && big_entry.kind() == Some(EntryKind::File),
        || format!("MLSD entry of {big_name}: {big_entry:?}"),
    )?;
    for (name, body) in names.iter().zip(&bodies) {
        let small = entry(name)?;
        ensure(small.size() == Some(body.len() as u64), || {
            format!("MLSD entry of {name}: {small:?}")
        })?;
    }
    Ok(())
}

//! `ftps-bench soak`: many clients at once, each on a control connection of its own, each
//! doing round trips (upload, then download back) of mixed sizes of pseudo-random data, with
//! every byte checked by SHA-256. It counts what failed with an error, what came back
//! different from what was sent although the client said `Ok` (corrupted: the one outcome
//! that must never happen), the descriptors left open once every client is gone, and the
//! round-trip latencies.
//!
//! Each client uploads to a file of its own (`ftps-soak-PID-CLIENT.bin` in the remote
//! directory), downloads it back, and deletes it at the end. A client whose connection became
//! unusable connects again for its next round trip.

mod data;

use std::thread;
use std::time::Instant;

use ftps_conformance::real::transfer::HashSink;
use ftps_conformance::remote::RemoteTarget;
use ftps_core::{Client, SecureConnection};

use crate::connect::{describe, logged_in, WithConnector};
use data::{RandomSource, Sha256Digest};

/// The sizes of the round trips, in turn (each client starts at a different one): the edges
/// of a 4 KiB page and of a 64 KiB buffer, empty and one-byte files, 1 MiB and 16 MiB.
pub(crate) const SIZES: [u64; 10] = [
    0,
    1,
    4095,
    4096,
    4097,
    65535,
    65536,
    65537,
    1 << 20,
    16 << 20,
];

/// What a soak does.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// Clients at once, each on its own thread and control connection.
    pub(crate) clients: usize,
    /// Round trips per client.
    pub(crate) round_trips: usize,
    /// The remote directory the files go to (made if missing).
    pub(crate) path: String,
}

/// What a soak found.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Report {
    /// Round trips run (clients x round trips per client).
    pub(crate) round_trips: u64,
    /// Round trips that ended with an error (or could not start because the client could not
    /// connect), plus sessions whose `QUIT` failed.
    pub(crate) failed: u64,
    /// Round trips where every call returned `Ok` but the bytes that came back, or the counts
    /// the client reported, differ from what was sent.
    pub(crate) corrupted: u64,
    /// Open descriptors of this process after every client is gone, less those before the
    /// first one connected.
    pub(crate) leaked_fds: i64,
    /// Median latency of the intact round trips (upload plus download), milliseconds.
    pub(crate) p50_ms: Option<f64>,
    /// 99th percentile of the same.
    pub(crate) p99_ms: Option<f64>,
}

impl Report {
    /// No failure, no corruption, no leak.
    pub(crate) fn is_clean(&self) -> bool {
        self.failed == 0 && self.corrupted == 0 && self.leaked_fds == 0
    }
}

/// A soak of `plan` against `target`, as work for [`crate::connect::with_backend`].
pub(crate) struct Soak<'a> {
    /// The server.
    pub(crate) target: &'a RemoteTarget,
    /// What to do.
    pub(crate) plan: &'a Plan,
}

impl WithConnector for Soak<'_> {
    type Output = Report;

    fn run<C: SecureConnection + Clone>(self, connector: C) -> Result<Report, String> {
        soak(self.target, &connector, self.plan)
    }
}

/// What one client counted.
#[derive(Debug, Default)]
struct ClientTally {
    round_trips: u64,
    failed: u64,
    corrupted: u64,
    latencies_ms: Vec<f64>,
}

/// How a round trip went wrong.
enum Fault {
    /// A call returned an error.
    Failed(ftps_core::Error),
    /// Every call returned `Ok` and the data or the counts are wrong.
    Corrupted(String),
}

fn soak<C: SecureConnection + Clone>(
    target: &RemoteTarget,
    connector: &C,
    plan: &Plan,
) -> Result<Report, String> {
    let fds_before = open_fds()?;
    let tallies = thread::scope(|scope| {
        let mut workers = Vec::with_capacity(plan.clients);
        for index in 0..plan.clients {
            let connector = connector.clone();
            let worker = thread::Builder::new()
                .name(format!("soak-{index}"))
                .spawn_scoped(scope, move || one_client(target, connector, plan, index))
                .map_err(|e| format!("cannot start client thread {index}: {e}"))?;
            workers.push(worker);
        }
        let tallies: Vec<ClientTally> = workers
            .into_iter()
            .map(|worker| {
                worker.join().unwrap_or_else(|_| {
                    // The panic message is on stderr already; none of its round trips counts
                    // as done.
                    ClientTally {
                        round_trips: plan.round_trips as u64,
                        failed: plan.round_trips as u64,
                        ..ClientTally::default()
                    }
                })
            })
            .collect();
        Ok::<_, String>(tallies)
    })?;
    let fds_after = open_fds()?;
    let mut latencies: Vec<f64> = tallies
        .iter()
        .flat_map(|t| t.latencies_ms.iter().copied())
        .collect();
    latencies.sort_by(f64::total_cmp);
    Ok(Report {
        round_trips: tallies.iter().map(|t| t.round_trips).sum(),
        failed: tallies.iter().map(|t| t.failed).sum(),
        corrupted: tallies.iter().map(|t| t.corrupted).sum(),
        leaked_fds: fds_after as i64 - fds_before as i64,
        p50_ms: percentile(&latencies, 50),
        p99_ms: percentile(&latencies, 99),
    })
}

/// Client `index`: its round trips, on one control connection while it stays usable.
fn one_client<C: SecureConnection + Clone>(
    target: &RemoteTarget,
    connector: C,
    plan: &Plan,
    index: usize,
) -> ClientTally {
    let mut tally = ClientTally::default();
    let name = format!("ftps-soak-{}-{index}.bin", std::process::id());
    let mut client: Option<Client<C>> = None;
    for round in 0..plan.round_trips {
        let size = SIZES[(index + round) % SIZES.len()];
        let seed = (index as u64) << 32 | round as u64;
        tally.round_trips += 1;
        let connected = match client.as_mut() {
            Some(connected) => connected,
            None => match enter(target, connector.clone(), &plan.path) {
                Ok(connected) => client.insert(connected),
                Err(e) => {
                    eprintln!("client {index}, round trip {round}: {e}");
                    tally.failed += 1;
                    continue;
                }
            },
        };
        let started = Instant::now();
        match round_trip(connected, &name, size, seed) {
            Ok(()) => tally
                .latencies_ms
                .push(started.elapsed().as_secs_f64() * 1000.0),
            Err(Fault::Corrupted(what)) => {
                eprintln!("client {index}, round trip {round} ({size} bytes): CORRUPTED: {what}");
                tally.corrupted += 1;
            }
            Err(Fault::Failed(e)) => {
                eprintln!(
                    "client {index}, round trip {round} ({size} bytes): {}",
                    describe(&e)
                );
                tally.failed += 1;
                if !e.connection_usable() {
                    client = None;
                }
            }
        }
    }
    if let Some(mut connected) = client {
        if let Err(e) = connected.delete(&name) {
            eprintln!("client {index}: DELE {name}: {}", describe(&e));
        }
        if let Err(e) = connected.quit() {
            eprintln!("client {index}: QUIT: {}", describe(&e));
            tally.failed += 1;
        }
    }
    tally
}

/// A logged-in client in the remote directory `path` (made if missing: another client may
/// make it at the same time, so a failed `MKD` is followed by a second `CWD` all the same).
fn enter<C: SecureConnection>(
    target: &RemoteTarget,
    connector: C,
    path: &str,
) -> Result<Client<C>, String> {
    let mut client = logged_in(target, connector)?;
    if client.cwd(path).is_err() {
        let _ = client.mkdir(path);
        client
            .cwd(path)
            .map_err(|e| format!("cannot enter the remote directory {path}: {}", describe(&e)))?;
    }
    Ok(client)
}

/// Uploads `size` bytes of seeded random data as `name`, downloads it back, and checks what
/// moved.
fn round_trip<C: SecureConnection>(
    client: &mut Client<C>,
    name: &str,
    size: u64,
    seed: u64,
) -> Result<(), Fault> {
    let mut source = RandomSource::new(seed, size);
    let uploaded = client.upload(name, &mut source).map_err(Fault::Failed)?;
    let mut sink = HashSink::new();
    let downloaded = client.download(name, &mut sink).map_err(Fault::Failed)?;
    let (received, received_digest) = (sink.len(), sink.digest());
    Moved {
        size,
        sent_digest: source.digest(),
        uploaded: uploaded.bytes(),
        received,
        received_digest,
        downloaded: downloaded.bytes(),
    }
    .check()
    .map_err(Fault::Corrupted)
}

/// What one round trip moved, as the data and the client's own counts say.
#[derive(Clone, Debug, PartialEq)]
struct Moved {
    /// The size of the file sent.
    size: u64,
    /// The SHA-256 of the bytes sent.
    sent_digest: Sha256Digest,
    /// The bytes the upload reported sent.
    uploaded: u64,
    /// The bytes that came back.
    received: u64,
    /// Their SHA-256.
    received_digest: Sha256Digest,
    /// The bytes the download reported received.
    downloaded: u64,
}

impl Moved {
    /// Every count is the size, and the bytes that came back are those sent.
    fn check(&self) -> Result<(), String> {
        if self.uploaded != self.size {
            return Err(format!(
                "the upload reported {} bytes sent of {}",
                self.uploaded, self.size
            ));
        }
        if self.received != self.size || self.downloaded != self.size {
            return Err(format!(
                "{} of {} bytes came back (the download reported {})",
                self.received, self.size, self.downloaded
            ));
        }
        if self.received_digest != self.sent_digest {
            return Err("the bytes that came back differ from those sent (SHA-256)".into());
        }
        Ok(())
    }
}

/// The nearest-rank `p`th percentile of `sorted` (ascending); `None` when it is empty.
fn percentile(sorted: &[f64], p: usize) -> Option<f64> {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// The number of open descriptors of this process.
fn open_fds() -> Result<usize, String> {
    std::fs::read_dir("/proc/self/fd")
        .map(Iterator::count)
        .map_err(|e| format!("cannot read /proc/self/fd: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let sorted: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 50), Some(100.0));
        assert_eq!(percentile(&sorted, 99), Some(198.0));
        assert_eq!(percentile(&[7.0], 99), Some(7.0));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn a_round_trip_is_intact_only_with_every_count_and_the_digest_right() {
        let intact = Moved {
            size: 4097,
            sent_digest: [1; 32],
            uploaded: 4097,
            received: 4097,
            received_digest: [1; 32],
            downloaded: 4097,
        };
        assert_eq!(intact.check(), Ok(()));
        let short_upload = Moved {
            uploaded: 4096,
            ..intact.clone()
        };
        let short_download = Moved {
            received: 4096,
            downloaded: 4096,
            ..intact.clone()
        };
        let miscounted = Moved {
            downloaded: 4096,
            ..intact.clone()
        };
        let changed = Moved {
            received_digest: [2; 32],
            ..intact.clone()
        };
        for (moved, says) in [
            (short_upload, "the upload reported 4096 bytes sent of 4097"),
            (
                short_download,
                "4096 of 4097 bytes came back (the download reported 4096)",
            ),
            (
                miscounted,
                "4097 of 4097 bytes came back (the download reported 4096)",
            ),
            (
                changed,
                "the bytes that came back differ from those sent (SHA-256)",
            ),
        ] {
            assert_eq!(moved.check(), Err(says.to_owned()));
        }
    }

    #[test]
    fn a_clean_report_has_nothing_failed_corrupted_or_leaked() {
        let clean = Report {
            round_trips: 10,
            ..Report::default()
        };
        assert!(clean.is_clean());
        for dirty in [
            Report {
                failed: 1,
                ..clean.clone()
            },
            Report {
                corrupted: 1,
                ..clean.clone()
            },
            Report {
                leaked_fds: -1,
                ..clean.clone()
            },
        ] {
            assert!(!dirty.is_clean(), "{dirty:?}");
        }
    }
}

//! The measured operations on a logged-in client: `get`, `put` and `many`. Every transfer
//! streams through the client's fixed copy buffer; no file is ever held in memory whole.

use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ftps_core::{Client, SecureConnection, TransferOutcome};

use crate::connect::describe;

/// One operation to measure.
#[derive(Clone, Debug)]
pub(crate) enum Job {
    /// Download `path`, into `file` if given, else into a sink that only counts.
    Get {
        /// The remote file.
        path: String,
        /// The local file to write, if any.
        file: Option<PathBuf>,
    },
    /// Upload the local `file` to the remote `path`.
    Put {
        /// The local file to read.
        file: PathBuf,
        /// The remote file to write.
        path: String,
    },
    /// Upload every regular file of the local `dir` into the remote directory `path` (made if
    /// missing), then download each back into a counting sink.
    Many {
        /// The local directory.
        dir: PathBuf,
        /// The remote directory.
        path: String,
    },
}

impl Job {
    /// The operation's name in the JSON line.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Job::Get { .. } => "get",
            Job::Put { .. } => "put",
            Job::Many { .. } => "many",
        }
    }
}

/// What the transfers of one run added up to.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Tally {
    /// Bytes moved on data connections, both directions.
    pub(crate) bytes: u64,
    /// Files transferred (in `many`, each upload and each download counts).
    pub(crate) files: u64,
    /// Data connections opened.
    pub(crate) data_connections: u64,
    /// Data connections whose TLS handshake resumed the control session.
    pub(crate) resumed: u64,
    /// Wall time of the transfers, from the first command after login to the last final
    /// reply.
    pub(crate) wall: Duration,
}

impl Tally {
    /// Counts one completed transfer.
    fn add(&mut self, outcome: &TransferOutcome) {
        self.bytes += outcome.bytes();
        self.files += 1;
        self.data_connections += 1;
        if outcome.data_session().and_then(|s| s.resumed()) == Some(true) {
            self.resumed += 1;
        }
    }
}

/// Runs `job` on a logged-in `client` and times it.
pub(crate) fn run<C: SecureConnection>(client: &mut Client<C>, job: &Job) -> Result<Tally, String> {
    let mut tally = Tally::default();
    let start = Instant::now();
    match job {
        Job::Get { path, file } => get(client, path, file.as_deref(), &mut tally)?,
        Job::Put { file, path } => put(client, file, path, &mut tally)?,
        Job::Many { dir, path } => many(client, dir, path, &mut tally)?,
    }
    tally.wall = start.elapsed();
    Ok(tally)
}

/// `RETR path` into `file` or a counting sink.
fn get<C: SecureConnection>(
    client: &mut Client<C>,
    path: &str,
    file: Option<&Path>,
    tally: &mut Tally,
) -> Result<(), String> {
    let outcome = match file {
        Some(local) => {
            let mut sink = File::create(local)
                .map_err(|e| format!("cannot create {}: {e}", local.display()))?;
            client.download(path, &mut sink)
        }
        None => client.download(path, &mut io::sink()),
    }
    .map_err(|e| format!("get {path}: {}", describe(&e)))?;
    tally.add(&outcome);
    Ok(())
}

/// `STOR path` from the local `file`; the server must have taken every byte of it.
fn put<C: SecureConnection>(
    client: &mut Client<C>,
    file: &Path,
    path: &str,
    tally: &mut Tally,
) -> Result<(), String> {
    let mut source =
        File::open(file).map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    let size = source
        .metadata()
        .map_err(|e| format!("cannot stat {}: {e}", file.display()))?
        .len();
    let outcome = client
        .upload(path, &mut source)
        .map_err(|e| format!("put {path}: {}", describe(&e)))?;
    expect_bytes(&outcome, size, path)?;
    tally.add(&outcome);
    Ok(())
}

/// Uploads every regular file of `dir` into the remote directory `path`, then downloads each
/// back, on the one control connection; every transfer must move the local file's size.
fn many<C: SecureConnection>(
    client: &mut Client<C>,
    dir: &Path,
    path: &str,
    tally: &mut Tally,
) -> Result<(), String> {
    let files = regular_files(dir)?;
    if files.is_empty() {
        return Err(format!("no regular files in {}", dir.display()));
    }
    if client.cwd(path).is_err() {
        client
            .mkdir(path)
            .map_err(|e| format!("cannot make the remote directory {path}: {}", describe(&e)))?;
        client
            .cwd(path)
            .map_err(|e| format!("cannot enter the remote directory {path}: {}", describe(&e)))?;
    }
    for (local, size) in &files {
        let name = local.file_name().unwrap_or_default().as_bytes();
        let mut source =
            File::open(local).map_err(|e| format!("cannot open {}: {e}", local.display()))?;
        let outcome = client
            .upload(name, &mut source)
            .map_err(|e| format!("put {}: {}", local.display(), describe(&e)))?;
        expect_bytes(&outcome, *size, &local.display().to_string())?;
        tally.add(&outcome);
    }
    for (local, size) in &files {
        let name = local.file_name().unwrap_or_default().as_bytes();
        let outcome = client
            .download(name, &mut io::sink())
            .map_err(|e| format!("get {}: {}", local.display(), describe(&e)))?;
        expect_bytes(&outcome, *size, &local.display().to_string())?;
        tally.add(&outcome);
    }
    Ok(())
}

/// The regular files directly in `dir` with their sizes, sorted by name.
fn regular_files(dir: &Path) -> Result<Vec<(PathBuf, u64)>, String> {
    let cannot = |e: io::Error| format!("cannot list {}: {e}", dir.display());
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(cannot)? {
        let entry = entry.map_err(cannot)?;
        let meta = entry.metadata().map_err(cannot)?;
        if meta.is_file() {
            files.push((entry.path(), meta.len()));
        }
    }
    files.sort();
    Ok(files)
}

/// Fails unless the transfer moved exactly `size` bytes.
fn expect_bytes(outcome: &TransferOutcome, size: u64, what: &str) -> Result<(), String> {
    if outcome.bytes() == size {
        Ok(())
    } else {
        Err(format!(
            "{what}: {} bytes transferred, the local file has {size}",
            outcome.bytes()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_only_regular_files_sorted() {
        let dir = std::env::temp_dir().join(format!("ftps-bench-ops-{}", std::process::id()));
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("b"), b"12345").unwrap();
        fs::write(dir.join("a"), b"1").unwrap();
        let found = regular_files(&dir);
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found, Ok(vec![(dir.join("a"), 1), (dir.join("b"), 5)]));
    }
}

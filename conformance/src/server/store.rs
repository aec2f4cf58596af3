//! [`Store`]: the file tree [`Conn::serve`](super::Conn::serve) serves, kept in memory
//! ([`MemFs`](super::MemFs)) or under a directory of the local file system
//! ([`DiskFs`](super::DiskFs)).
//!
//! Paths given to a store are absolute and normalised by the server: they start with `/`, and
//! have no empty, `.` or `..` component (see [`resolve`]), so a store never sees a path that
//! climbs above its root.

use std::io::{self, Read, Write};
use std::time::SystemTime;

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The name inside its directory.
    pub name: String,
    /// The size in bytes (0 for directories).
    pub size: u64,
    /// True for a directory.
    pub is_dir: bool,
}

/// Where an upload starts writing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteAt {
    /// Keep the first `n` bytes (zero-padded if the file is shorter) and replace the rest:
    /// STOR, after `REST n` if one was given.
    Offset(u64),
    /// After the current end (APPE).
    End,
}

/// The file tree of a served session.
pub trait Store: Send {
    /// Opens the file `path` for reading from `offset` (clamped to its size); returns the
    /// reader and the number of bytes it yields.
    fn read(&mut self, path: &str, offset: u64) -> io::Result<(Box<dyn Read + '_>, u64)>;

    /// Opens the file `path` for writing at `at`, creating it if needed.
    fn write(&mut self, path: &str, at: WriteAt) -> io::Result<Box<dyn Write + '_>>;

    /// The size of the file `path`; an error for a directory or a missing file.
    fn size(&self, path: &str) -> io::Result<u64>;

    /// When the file `path` was last modified.
    fn modified(&self, path: &str) -> io::Result<SystemTime>;

    /// True if `path` is a directory (`/` always is).
    fn is_dir(&self, path: &str) -> bool;

    /// True if `path` is a file or a directory.
    fn exists(&self, path: &str) -> bool;

    /// The entries of the directory `path`, sorted by name.
    fn list(&self, path: &str) -> io::Result<Vec<Entry>>;

    /// Makes the directory `path`.
    fn make_dir(&mut self, path: &str) -> io::Result<()>;

    /// Removes the empty directory `path`.
    fn remove_dir(&mut self, path: &str) -> io::Result<()>;

    /// Removes the file `path`.
    fn remove_file(&mut self, path: &str) -> io::Result<()>;

    /// Renames the file or directory `from` to `to`.
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()>;
}

/// Resolves a command argument against the working directory `cwd` (itself normalised): the
/// normalised absolute path, with `.` and empty components dropped and `..` going up (never
/// above `/`).
pub fn resolve(cwd: &str, arg: &str) -> String {
    let start = if arg.starts_with('/') { "" } else { cwd };
    let mut parts: Vec<&str> = Vec::new();
    for part in start.split('/').chain(arg.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The parent directory of a normalised path (`/` for `/`).
pub(crate) fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// A free name for STOU in `dir`, derived from `name`: `name`, else `name.1`, `name.2`, ...
pub(crate) fn unique_name(store: &dyn Store, dir: &str, name: &str) -> String {
    let base = resolve(dir, name);
    if !store.exists(&base) {
        return base;
    }
    (1u32..)
        .map(|i| format!("{base}.{i}"))
        .find(|n| !store.exists(n))
        .unwrap_or(base)
}

/// An `io::Error` of kind `kind` with the message `what`.
pub(crate) fn error(kind: io::ErrorKind, what: &str) -> io::Error {
    io::Error::new(kind, what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::{parent, resolve};

    #[test]
    fn paths_resolve_against_the_working_directory_and_never_climb_above_the_root() {
        assert_eq!(resolve("/", "f"), "/f");
        assert_eq!(resolve("/a/b", "f"), "/a/b/f");
        assert_eq!(resolve("/a/b", "/f"), "/f");
        assert_eq!(resolve("/a/b", "../c/./d//e"), "/a/c/d/e");
        assert_eq!(resolve("/a", "../../../etc/passwd"), "/etc/passwd");
        assert_eq!(resolve("/a", ".."), "/");
        assert_eq!(resolve("/a", ""), "/a");
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/"), "/");
    }
}

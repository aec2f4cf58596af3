//! [`MemFs`]: a [`Store`] kept in memory, for scripted sessions.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, ErrorKind, Read, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::store::{error, parent, Entry, Store, WriteAt};

/// The modification time of every [`MemFs`] file: 2026-01-01 12:00:00 UTC.
const MODIFIED: Duration = Duration::from_secs(1_767_268_800);

/// An in-memory file tree. Names are compared after stripping leading `/`, so `f` and `/f`
/// are the same file. Directories are made with [`Store::make_dir`], and with every file
/// added under them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemFs {
    files: BTreeMap<String, Vec<u8>>,
    dirs: BTreeSet<String>,
}

/// The key of `name`: without leading slashes.
fn key(name: &str) -> String {
    name.trim_start_matches('/').to_owned()
}

impl MemFs {
    /// An empty store.
    pub fn new() -> MemFs {
        MemFs::default()
    }

    /// A store holding `files`.
    pub fn with_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> MemFs {
        let mut fs = MemFs::new();
        for (name, content) in files {
            fs.insert(name, content.to_vec());
        }
        fs
    }

    /// Adds or replaces a file.
    pub fn insert(&mut self, name: &str, content: Vec<u8>) {
        let k = key(name);
        self.add_parents(&k);
        self.files.insert(k, content);
    }

    /// Makes every directory above the key `k`.
    fn add_parents(&mut self, k: &str) {
        let mut end = 0;
        while let Some(i) = k[end..].find('/') {
            end += i;
            self.dirs.insert(k[..end].to_owned());
            end += 1;
        }
    }

    /// A file's content.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.files.get(&key(name)).map(Vec::as_slice)
    }

    /// True if the file exists.
    pub fn contains(&self, name: &str) -> bool {
        self.files.contains_key(&key(name))
    }

    /// Removes a file, returning its content.
    pub fn remove(&mut self, name: &str) -> Option<Vec<u8>> {
        self.files.remove(&key(name))
    }

    /// The file names (full paths without the leading `/`), sorted.
    pub fn names(&self) -> Vec<&str> {
        self.files.keys().map(String::as_str).collect()
    }

    /// The number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True if there are no files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The prefix of the keys under the directory `path`: `""` for the root, else `dir/`.
    fn prefix(path: &str) -> String {
        let k = key(path);
        if k.is_empty() {
            k
        } else {
            k + "/"
        }
    }

    /// The file `path`, or the error a missing file or a directory gets.
    fn file(&self, path: &str) -> io::Result<&Vec<u8>> {
        match self.files.get(&key(path)) {
            Some(content) => Ok(content),
            None if self.is_dir(path) => Err(error(ErrorKind::IsADirectory, "a directory")),
            None => Err(error(ErrorKind::NotFound, "no such file")),
        }
    }

    fn need_parent_dir(&self, path: &str) -> io::Result<()> {
        if self.is_dir(parent(path)) {
            Ok(())
        } else {
            Err(error(ErrorKind::NotFound, "no such directory"))
        }
    }
}

impl Store for MemFs {
    fn read(&mut self, path: &str, offset: u64) -> io::Result<(Box<dyn Read + '_>, u64)> {
        let content = self.file(path)?;
        let skip = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(content.len());
        let rest = &content[skip..];
        Ok((Box::new(rest), rest.len() as u64))
    }

    fn write(&mut self, path: &str, at: WriteAt) -> io::Result<Box<dyn Write + '_>> {
        if self.is_dir(path) {
            return Err(error(ErrorKind::IsADirectory, "a directory"));
        }
        self.need_parent_dir(path)?;
        let file = self.files.entry(key(path)).or_default();
        if let WriteAt::Offset(offset) = at {
            let offset = usize::try_from(offset).unwrap_or(usize::MAX).min(1 << 40);
            file.resize(offset, 0);
        }
        Ok(Box::new(file))
    }

    fn size(&self, path: &str) -> io::Result<u64> {
        self.file(path).map(|c| c.len() as u64)
    }

    fn modified(&self, path: &str) -> io::Result<SystemTime> {
        if self.exists(path) {
            Ok(UNIX_EPOCH + MODIFIED)
        } else {
            Err(error(ErrorKind::NotFound, "no such file"))
        }
    }

    fn is_dir(&self, path: &str) -> bool {
        let k = key(path);
        k.is_empty() || self.dirs.contains(&k)
    }

    fn exists(&self, path: &str) -> bool {
        self.files.contains_key(&key(path)) || self.is_dir(path)
    }

    fn list(&self, path: &str) -> io::Result<Vec<Entry>> {
        if !self.is_dir(path) {
            return Err(error(ErrorKind::NotFound, "no such directory"));
        }
        let prefix = MemFs::prefix(path);
        let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
        let files = self.files.iter().map(|(k, v)| (k, Some(v.len() as u64)));
        let dirs = self.dirs.iter().map(|k| (k, None));
        for (k, size) in files.chain(dirs) {
            let Some(rest) = k.strip_prefix(&prefix) else {
                continue;
            };
            if rest.is_empty() || rest.contains('/') {
                continue;
            }
            let entry = Entry {
                name: rest.to_owned(),
                size: size.unwrap_or(0),
                is_dir: size.is_none(),
            };
            entries.insert(entry.name.clone(), entry);
        }
        Ok(entries.into_values().collect())
    }

    fn make_dir(&mut self, path: &str) -> io::Result<()> {
        if self.exists(path) {
            return Err(error(ErrorKind::AlreadyExists, "already exists"));
        }
        self.need_parent_dir(path)?;
        self.dirs.insert(key(path));
        Ok(())
    }

    fn remove_dir(&mut self, path: &str) -> io::Result<()> {
        if !self.list(path)?.is_empty() {
            return Err(error(ErrorKind::DirectoryNotEmpty, "directory not empty"));
        }
        if self.dirs.remove(&key(path)) {
            Ok(())
        } else {
            Err(error(ErrorKind::PermissionDenied, "cannot remove the root"))
        }
    }

    fn remove_file(&mut self, path: &str) -> io::Result<()> {
        self.file(path)?;
        self.files.remove(&key(path));
        Ok(())
    }

    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        if !self.exists(from) {
            return Err(error(ErrorKind::NotFound, "no such file"));
        }
        self.need_parent_dir(to)?;
        if let Some(content) = self.files.remove(&key(from)) {
            self.insert(to, content);
            return Ok(());
        }
        let (old, new) = (MemFs::prefix(from), MemFs::prefix(to));
        if new.starts_with(&old) {
            return Err(error(
                ErrorKind::InvalidInput,
                "cannot move a directory into itself",
            ));
        }
        let moved = |k: &String| format!("{new}{}", &k[old.len()..]);
        let files: Vec<String> = self
            .files
            .keys()
            .filter(|k| k.starts_with(&old))
            .cloned()
            .collect();
        for k in files {
            if let Some(content) = self.files.remove(&k) {
                self.files.insert(moved(&k), content);
            }
        }
        let dirs: Vec<String> = self
            .dirs
            .iter()
            .filter(|k| k.starts_with(&old))
            .cloned()
            .collect();
        for k in dirs {
            self.dirs.remove(&k);
            self.dirs.insert(moved(&k));
        }
        if self.dirs.remove(&key(from)) {
            self.dirs.insert(key(to));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::MemFs;
    use crate::server::store::{Store, WriteAt};

    fn read_all(fs: &mut MemFs, path: &str, offset: u64) -> Vec<u8> {
        let (mut reader, len) = fs.read(path, offset).unwrap();
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out.len() as u64, len);
        out
    }

    #[test]
    fn writes_at_an_offset_append_and_read_from_an_offset() {
        let mut fs = MemFs::with_files([("f", &b"abc"[..])]);
        assert_eq!(fs.get("/f"), Some(&b"abc"[..]));
        fs.write("/f", WriteAt::Offset(1))
            .unwrap()
            .write_all(b"XY")
            .unwrap();
        assert_eq!(fs.get("f"), Some(&b"aXY"[..]));
        fs.write("/f", WriteAt::Offset(5))
            .unwrap()
            .write_all(b"Z")
            .unwrap();
        assert_eq!(fs.get("f"), Some(&b"aXY\0\0Z"[..]));
        fs.write("/g", WriteAt::End)
            .unwrap()
            .write_all(b"1")
            .unwrap();
        fs.write("/g", WriteAt::End)
            .unwrap()
            .write_all(b"2")
            .unwrap();
        assert_eq!(read_all(&mut fs, "/g", 0), b"12");
        assert_eq!(read_all(&mut fs, "/g", 1), b"2");
        assert_eq!(read_all(&mut fs, "/g", 9), b"");
        assert!(fs.read("/missing", 0).is_err());
    }

    #[test]
    fn directories_exist_when_made_or_implied_and_list_one_level() {
        let mut fs = MemFs::with_files([("a/b/c", &b"x"[..]), ("top", &b"yy"[..])]);
        assert!(fs.is_dir("/") && fs.is_dir("/a") && fs.is_dir("/a/b"));
        assert!(!fs.is_dir("/top") && !fs.is_dir("/a/b/c"));
        fs.make_dir("/d").unwrap();
        assert!(fs.make_dir("/d").is_err());
        assert!(fs.make_dir("/no/such").is_err());
        let names: Vec<(String, bool)> = fs
            .list("/")
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.is_dir))
            .collect();
        let want = [("a", true), ("d", true), ("top", false)];
        assert_eq!(names, want.map(|(n, d)| (n.to_owned(), d)));
        assert!(fs.write("/missing/f", WriteAt::Offset(0)).is_err());
        assert!(fs.remove_dir("/a").is_err());
        fs.rename("/a", "/d/moved").unwrap();
        assert_eq!(fs.get("d/moved/b/c"), Some(&b"x"[..]));
        fs.remove_file("/d/moved/b/c").unwrap();
        fs.rename("/top", "/t2").unwrap();
        assert_eq!(fs.names(), vec!["t2"]);
        assert_eq!(fs.size("/t2").unwrap(), 2);
        fs.remove_dir("/d").unwrap_err();
    }
}

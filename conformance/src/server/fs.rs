//! [`MemFs`]: the files of [`Conn::serve`](super::Conn::serve), kept in memory.

use std::collections::BTreeMap;

/// A flat in-memory file store. Names are compared after stripping leading `/`, so `f` and
/// `/f` are the same file; there are no directories.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemFs {
    files: BTreeMap<String, Vec<u8>>,
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
        self.files.insert(key(name), content);
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

    /// Renames a file; false if `from` does not exist.
    pub fn rename(&mut self, from: &str, to: &str) -> bool {
        match self.files.remove(&key(from)) {
            Some(content) => {
                self.files.insert(key(to), content);
                true
            }
            None => false,
        }
    }

    /// Appends to a file, creating it if needed.
    pub fn append(&mut self, name: &str, content: &[u8]) {
        self.files
            .entry(key(name))
            .or_default()
            .extend_from_slice(content);
    }

    /// Writes `content` at `offset`: keeps the first `offset` bytes (padded with zeros if the
    /// file is shorter) and replaces the rest, as a STOR after REST does.
    pub fn write_at(&mut self, name: &str, offset: u64, content: &[u8]) {
        let file = self.files.entry(key(name)).or_default();
        let offset = usize::try_from(offset).unwrap_or(usize::MAX).min(1 << 40);
        file.resize(offset, 0);
        file.extend_from_slice(content);
    }

    /// The file names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.files.keys().map(String::as_str).collect()
    }

    /// `(name, size)` for every file, sorted by name.
    pub fn entries(&self) -> impl Iterator<Item = (&str, usize)> {
        self.files.iter().map(|(k, v)| (k.as_str(), v.len()))
    }

    /// The number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True if there are no files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// A free name derived from `name` (`name`, else `name.1`, `name.2`, ...), for STOU.
    pub fn unique_name(&self, name: &str) -> String {
        let base = key(name);
        if !self.files.contains_key(&base) {
            return base;
        }
        (1u32..)
            .map(|i| format!("{base}.{i}"))
            .find(|n| !self.files.contains_key(n))
            .unwrap_or(base)
    }
}

#[cfg(test)]
mod tests {
    use super::MemFs;

    #[test]
    fn names_ignore_leading_slashes_and_stou_finds_a_free_name() {
        let mut fs = MemFs::with_files([("f", &b"abc"[..])]);
        assert_eq!(fs.get("/f"), Some(&b"abc"[..]));
        assert_eq!(fs.unique_name("f"), "f.1");
        fs.write_at("f", 1, b"XY");
        assert_eq!(fs.get("f"), Some(&b"aXY"[..]));
        fs.append("g", b"1");
        fs.append("g", b"2");
        assert!(fs.rename("g", "h"));
        assert_eq!(fs.names(), vec!["f", "h"]);
        assert_eq!(fs.get("h"), Some(&b"12"[..]));
    }
}

//! [`DiskFs`]: a [`Store`] under a directory of the local file system, for the standalone
//! server (`ftps-conformance serve --root DIR`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::store::{error, Entry, Store, WriteAt};

/// A file tree under a root directory. Store paths (normalised, see
/// [`resolve`](super::store::resolve)) map to paths under the root, so `..` never leaves it;
/// symbolic links inside the root are followed like any file.
#[derive(Clone, Debug)]
pub struct DiskFs {
    root: PathBuf,
}

impl DiskFs {
    /// A store over the existing directory `root`.
    pub fn new(root: impl Into<PathBuf>) -> io::Result<DiskFs> {
        let root = fs::canonicalize(root.into())?;
        if !root.is_dir() {
            return Err(error(
                ErrorKind::NotADirectory,
                "the root is not a directory",
            ));
        }
        Ok(DiskFs { root })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The local path of the store path `path`.
    fn local(&self, path: &str) -> io::Result<PathBuf> {
        let mut local = self.root.clone();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            if part == "." || part == ".." || part.contains('\0') {
                return Err(error(ErrorKind::InvalidInput, "path not normalised"));
            }
            local.push(part);
        }
        Ok(local)
    }

    fn file_metadata(&self, path: &str) -> io::Result<fs::Metadata> {
        let meta = fs::metadata(self.local(path)?)?;
        if meta.is_dir() {
            return Err(error(ErrorKind::IsADirectory, "a directory"));
        }
        Ok(meta)
    }
}

impl Store for DiskFs {
    fn read(&mut self, path: &str, offset: u64) -> io::Result<(Box<dyn Read + '_>, u64)> {
        let len = self.file_metadata(path)?.len();
        let mut file = File::open(self.local(path)?)?;
        let offset = offset.min(len);
        file.seek(SeekFrom::Start(offset))?;
        Ok((Box::new(file), len - offset))
    }

    fn write(&mut self, path: &str, at: WriteAt) -> io::Result<Box<dyn Write + '_>> {
        let local = self.local(path)?;
        let mut options = OpenOptions::new();
        options.create(true);
        let file = match at {
            WriteAt::End => options.append(true).open(local)?,
            WriteAt::Offset(offset) => {
                let mut file = options.write(true).open(local)?;
                file.set_len(offset)?;
                file.seek(SeekFrom::Start(offset))?;
                file
            }
        };
        Ok(Box::new(file))
    }

    fn size(&self, path: &str) -> io::Result<u64> {
        self.file_metadata(path).map(|m| m.len())
    }

    fn modified(&self, path: &str) -> io::Result<SystemTime> {
        fs::metadata(self.local(path)?)?.modified()
    }

    fn is_dir(&self, path: &str) -> bool {
        self.local(path).is_ok_and(|p| p.is_dir())
    }

    fn exists(&self, path: &str) -> bool {
        self.local(path).is_ok_and(|p| p.exists())
    }

    fn list(&self, path: &str) -> io::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for dirent in fs::read_dir(self.local(path)?)? {
            let dirent = dirent?;
            let Ok(name) = dirent.file_name().into_string() else {
                continue;
            };
            let Ok(meta) = fs::metadata(dirent.path()) else {
                continue;
            };
            entries.push(Entry {
                name,
                size: if meta.is_dir() { 0 } else { meta.len() },
                is_dir: meta.is_dir(),
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn make_dir(&mut self, path: &str) -> io::Result<()> {
        fs::create_dir(self.local(path)?)
    }

    fn remove_dir(&mut self, path: &str) -> io::Result<()> {
        if path.trim_matches('/').is_empty() {
            return Err(error(ErrorKind::PermissionDenied, "cannot remove the root"));
        }
        fs::remove_dir(self.local(path)?)
    }

    fn remove_file(&mut self, path: &str) -> io::Result<()> {
        fs::remove_file(self.local(path)?)
    }

    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        if from.trim_matches('/').is_empty() {
            return Err(error(ErrorKind::PermissionDenied, "cannot rename the root"));
        }
        fs::rename(self.local(from)?, self.local(to)?)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::DiskFs;
    use crate::server::store::{Store, WriteAt};

    /// A fresh directory under the target's temporary directory, removed on drop.
    struct TempDir(std::path::PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn temp_dir(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ftps-diskfs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    #[test]
    fn files_and_directories_live_under_the_root() {
        let dir = temp_dir("tree");
        let mut fs = DiskFs::new(&dir.0).unwrap();
        fs.make_dir("/sub").unwrap();
        fs.write("/sub/f", WriteAt::Offset(0))
            .unwrap()
            .write_all(b"hello")
            .unwrap();
        fs.write("/sub/f", WriteAt::End)
            .unwrap()
            .write_all(b"!")
            .unwrap();
        fs.write("/sub/f", WriteAt::Offset(2))
            .unwrap()
            .write_all(b"LL")
            .unwrap();
        assert_eq!(std::fs::read(dir.0.join("sub/f")).unwrap(), b"heLL");
        let mut got = Vec::new();
        let (mut reader, len) = fs.read("/sub/f", 1).unwrap();
        reader.read_to_end(&mut got).unwrap();
        drop(reader);
        assert_eq!((got.as_slice(), len), (&b"eLL"[..], 3));
        assert!(fs.is_dir("/sub") && fs.is_dir("/") && !fs.is_dir("/sub/f"));
        assert_eq!(fs.size("/sub/f").unwrap(), 4);
        assert!(fs.size("/sub").is_err());
        let listing = fs.list("/").unwrap();
        assert_eq!(listing.len(), 1);
        assert!(listing[0].is_dir && listing[0].name == "sub");
        assert!(fs.remove_dir("/sub").is_err());
        fs.rename("/sub/f", "/g").unwrap();
        fs.remove_dir("/sub").unwrap();
        fs.remove_file("/g").unwrap();
        assert!(fs.list("/").unwrap().is_empty());
        assert!(fs.remove_dir("/").is_err());
    }

    #[test]
    fn paths_that_are_not_normalised_are_refused() {
        let dir = temp_dir("escape");
        let mut fs = DiskFs::new(&dir.0).unwrap();
        assert!(fs.read("/../etc/passwd", 0).is_err());
        assert!(fs.write("/a/../../x", WriteAt::Offset(0)).is_err());
        assert!(!fs.exists("/.."));
    }
}

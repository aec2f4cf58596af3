//! Replays every fuzz target's seeds (`seeds/TARGET/`), past crash inputs
//! (`regressions/TARGET/`) and, when present, the local corpus grown by `run.sh`
//! (`corpus/TARGET/`), on stable: a regression fails `cargo test`.

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

/// The input files of one target under `dir`, sorted (none if `dir` does not exist).
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_seed_and_past_crash_passes_its_oracle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    for (target, run) in ftps_fuzz::TARGETS {
        let seeds = inputs(&root.join("seeds").join(target));
        assert!(!seeds.is_empty(), "no seeds for {target}");
        let mut all = seeds;
        all.extend(inputs(&root.join("regressions").join(target)));
        all.extend(inputs(&root.join("corpus").join(target)));
        for file in &all {
            let data = match fs::read(file) {
                Ok(data) => data,
                // A running `run.sh` may reduce its corpus while this test reads it.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => panic!("{}: {e}", file.display()),
            };
            if panic::catch_unwind(|| run(&data)).is_err() {
                failures.push(file.display().to_string());
            }
        }
        println!("{target}: {} inputs replayed", all.len());
    }
    assert!(failures.is_empty(), "oracle failures: {failures:#?}");
}

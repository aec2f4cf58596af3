//! `--trace`: the client's log (commands, replies, TLS handshakes) on stderr, each line with
//! the milliseconds since the run started, to see where a transfer waits.

use std::time::Instant;

use log::{LevelFilter, Log, Metadata, Record};

/// A logger that prints every record with its time since start.
struct Timestamped {
    start: Instant,
}

impl Log for Timestamped {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        let ms = self.start.elapsed().as_secs_f64() * 1000.0;
        eprintln!("{ms:10.3} ms {}: {}", record.target(), record.args());
    }

    fn flush(&self) {}
}

/// Installs the logger at debug level (once; later calls do nothing).
pub(crate) fn enable() {
    let logger: &'static Timestamped = Box::leak(Box::new(Timestamped {
        start: Instant::now(),
    }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(LevelFilter::Debug);
    }
}

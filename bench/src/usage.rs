//! The resources of this process: user and system CPU time and peak resident set size, read
//! from `/proc/self/stat` and `/proc/self/status` (the figures `getrusage` gives, without
//! `libc`).

use std::fs;

/// Clock ticks per second of the times in `/proc/<pid>/stat` (`USER_HZ`): fixed at 100 by the
/// Linux ABI on every architecture this tool runs on (`sysconf(_SC_CLK_TCK)` answers 100).
const USER_HZ: f64 = 100.0;

/// What the process has used so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Usage {
    /// CPU time in user mode, seconds (10 ms resolution).
    pub(crate) user_s: f64,
    /// CPU time in the kernel on behalf of the process, seconds (10 ms resolution).
    pub(crate) sys_s: f64,
    /// Peak resident set size (`VmHWM`), KiB.
    pub(crate) peak_rss_kib: u64,
}

/// Reads the usage of the current process.
pub(crate) fn current() -> Result<Usage, String> {
    let stat = fs::read_to_string("/proc/self/stat")
        .map_err(|e| format!("cannot read /proc/self/stat: {e}"))?;
    let status = fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    let (user_ticks, sys_ticks) = cpu_ticks(&stat)?;
    Ok(Usage {
        user_s: user_ticks as f64 / USER_HZ,
        sys_s: sys_ticks as f64 / USER_HZ,
        peak_rss_kib: peak_rss_kib(&status)?,
    })
}

/// `utime` and `stime` (fields 14 and 15) of a `/proc/<pid>/stat` line. The command name
/// (field 2) is in parentheses and may contain spaces, so fields are counted after its `)`.
fn cpu_ticks(stat: &str) -> Result<(u64, u64), String> {
    let bad = || format!("unexpected /proc/self/stat: {stat:?}");
    let after_name = &stat[stat.rfind(')').ok_or_else(bad)? + 1..];
    // After the name come field 3 (state) onwards: utime is field 14, the 12th from here.
    let mut fields = after_name.split_ascii_whitespace().skip(11);
    let mut next =
        || -> Result<u64, String> { fields.next().and_then(|f| f.parse().ok()).ok_or_else(bad) };
    Ok((next()?, next()?))
}

/// The `VmHWM:` line of `/proc/<pid>/status`, in KiB.
fn peak_rss_kib(status: &str) -> Result<u64, String> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM line in /proc/self/status".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime_after_a_name_with_spaces() {
        let line = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 731 29 0 0 20 0 1 0 5 0 0";
        assert_eq!(cpu_ticks(line), Ok((731, 29)));
    }

    #[test]
    fn reads_the_peak_rss() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    5120 kB\nVmRSS:\t 4000 kB\n";
        assert_eq!(peak_rss_kib(status), Ok(5120));
    }

    #[test]
    fn the_current_process_has_a_peak_rss() {
        let usage = current().expect("procfs is readable");
        assert!(usage.peak_rss_kib > 0, "{usage:?}");
        assert!(usage.user_s >= 0.0 && usage.sys_s >= 0.0, "{usage:?}");
    }
}

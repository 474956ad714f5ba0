//! Process plumbing for the load tool and the servers: CPU pinning, the
//! open-file limit, and reading a process's RSS and CPU time from `/proc`.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use nix::sched::{CpuSet, sched_setaffinity};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::unistd::Pid;
use tokio::net::{TcpListener, TcpSocket};

/// Pins the calling process (its threads created from now on too) to `cpu`.
pub fn pin_to_cpu(cpu: usize) -> nix::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(Pid::from_raw(0), &set)
}

/// Raises the soft open-file limit to the hard limit; returns the new limit.
pub fn raise_nofile() -> nix::Result<u64> {
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    Ok(hard)
}

/// The listen backlog both servers use.
pub const BACKLOG: u32 = 4096;

/// The keep-alive interval both servers use.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The payload size of every benchmark event (the `data:` value).
pub const PAYLOAD_BYTES: usize = 64;

/// A listener on `addr` with the benchmark's backlog.
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// A process's resident set size in bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kb| kb * 1024)
        .ok_or_else(|| io::Error::other("no VmRSS line"))
}

/// A process's CPU time so far, user plus system (`utime + stime` of
/// `/proc/PID/stat`), in seconds.
pub fn cpu_seconds(pid: u32) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after it are fixed.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| io::Error::other("malformed stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, utime 14, stime 15 (1-based).
    let ticks = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other("malformed stat"))
    };
    let total = ticks(11)? + ticks(12)?;
    // /proc counts in USER_HZ, which is 100 on every Linux ABI.
    Ok(total as f64 / 100.0)
}

/// The event payload for sequence number `seq`: the number, then padding,
/// [`PAYLOAD_BYTES`] in all.
pub fn payload(seq: u64) -> String {
    let mut text = format!("{seq:020}|");
    while text.len() < PAYLOAD_BYTES {
        text.push('x');
    }
    text
}

/// How long a process's threads have been runnable but waiting for a CPU
/// (the run delay, second field of `/proc/PID/task/*/schedstat`), in
/// seconds: CPU time the process wanted and did not get.
pub fn run_delay_seconds(pid: u32) -> io::Result<f64> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("schedstat");
        if let Ok(text) = std::fs::read_to_string(path) {
            total += text
                .split_whitespace()
                .nth(1)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Ok(total as f64 / 1e9)
}

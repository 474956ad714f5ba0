//! The load tool: drives our server (`sse-server`) and the axum baseline
//! (`axum-server`) with identical settings over loopback, and reports RSS
//! per idle connection, broadcast deliveries per server CPU-second, and
//! publish → receive latency. Bounded in connections and time; stops by
//! itself. See `BENCHMARKS.md`.
//!
//! ```text
//! cargo run --release -p sse-benches --bin loadtest [-- --quick] [--pairs N] [--out DIR]
//! ```

use std::cell::RefCell;
use std::io::{self, BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sse_benches::client::{
    Decoder, Frame, Publisher, Subscriber, enable_rx_timestamps, now_ns, payload_seq,
    read_timestamped, subscribe,
};
use sse_benches::proc::{cpu_seconds, pin_to_cpu, raise_nofile, rss_bytes, run_delay_seconds};
use sse_benches::servers::Kind;
use sse_benches::svg;
use tokio::io::AsyncReadExt as _;
use tokio::sync::Notify;

/// The whole run never takes longer than this.
const DEADLINE: Duration = Duration::from_secs(25 * 60);

struct Options {
    quick: bool,
    /// Run only this part: `idle` (RSS and latency) or `broadcast`.
    only: Option<String>,
    pairs: usize,
    out: PathBuf,
}

impl Options {
    fn parse() -> Options {
        let mut options = Options {
            quick: false,
            only: None,
            pairs: 5,
            out: Path::new(env!("CARGO_MANIFEST_DIR")).join("results"),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--only" => options.only = args.next(),
                "--pairs" => options.pairs = args.next().and_then(|v| v.parse().ok()).unwrap_or(5),
                "--out" => options.out = args.next().map(PathBuf::from).unwrap_or(options.out),
                other => {
                    eprintln!(
                        "unknown argument {other}; usage: loadtest [--quick] [--pairs N] [--out DIR]"
                    );
                    std::process::exit(2);
                }
            }
        }
        options.pairs = options.pairs.max(1);
        options
    }

    /// Idle connections for the RSS and latency measures.
    fn idle_n(&self) -> usize {
        if self.quick { 2_000 } else { 10_000 }
    }
}

/// Subscribers for the broadcast measure.
const BROADCAST_SUBSCRIBERS: usize = 1_000;
/// Events per `POST /publish` in the broadcast measure.
const BURST: u64 = 64;
/// Bursts in flight at most: a subscriber is never more than
/// `WINDOW * BURST` events behind, far below both servers' bounds (axum's
/// broadcast capacity of 4,096 events; our 1 MiB queue), so none can lag.
const WINDOW: u64 = 4;
/// Warm-up connections kept open before the RSS baseline.
const WARM_UP: usize = 200;
/// Subscribers of the second, smaller latency run.
const SMALL_FAN_OUT: usize = 1_000;
/// Publishes per second in the latency measure.
const LATENCY_RATE: u64 = 10;

fn main() {
    let options = Options::parse();
    if let Err(error) = pin_to_cpu(1) {
        eprintln!("pinning the load generator to CPU 1 failed: {error}");
    }
    match raise_nofile() {
        Ok(limit) => eprintln!("open-file limit: {limit}"),
        Err(error) => eprintln!("raising RLIMIT_NOFILE failed: {error}"),
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let local = tokio::task::LocalSet::new();
    let report = local.block_on(&runtime, async {
        tokio::time::timeout(DEADLINE, run(&options))
            .await
            .unwrap_or_else(|_| Err(io::Error::other("the run hit its deadline")))
    });
    match report {
        Ok(report) => {
            if let Err(error) = write_results(&options.out, &report) {
                eprintln!("writing results failed: {error}");
                std::process::exit(1);
            }
        }
        Err(error) => {
            eprintln!("load test failed: {error}");
            std::process::exit(1);
        }
    }
}

/// A server process pinned to CPU 0; killed when dropped.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn start(kind: Kind) -> io::Result<ServerProcess> {
        let exe = std::env::current_exe()?;
        let dir = exe.parent().ok_or_else(|| io::Error::other("no exe dir"))?;
        let binary = dir.join(match kind {
            Kind::Ours => "sse-server",
            Kind::Axum => "axum-server",
        });
        let mut child = Command::new(&binary)
            .arg("0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                io::Error::other(format!(
                    "starting {}: {e} (build with `cargo build --release -p sse-benches --bins`)",
                    binary.display()
                ))
            })?;
        let stdout = child.stdout.take().expect("piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| io::Error::other(format!("server said {line:?}")))?;
        Ok(ServerProcess { child, addr })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Closing stdin stops it; kill it (our own child, by pid) in case.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn open_subscribers(
    addr: SocketAddr,
    from: usize,
    count: usize,
    label: &str,
) -> io::Result<Vec<Subscriber>> {
    let mut open = Vec::with_capacity(count);
    let mut pending = futures_util::stream::FuturesOrdered::new();
    let mut next = from;
    use futures_util::StreamExt as _;
    let started = Instant::now();
    while open.len() < count {
        while pending.len() < 256 && next < from + count {
            pending.push_back(subscribe(addr, next));
            next += 1;
        }
        let subscriber = pending.next().await.expect("pending is not empty")?;
        open.push(subscriber);
        if open.len().is_multiple_of(2_000) || open.len() == count {
            eprintln!(
                "  [{label}] connections opened: {}/{count} ({:.1} s)",
                open.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(open)
}

/// Readings every 500 ms until two in a row agree within 1 % (at most 20).
async fn settled_rss(pid: u32) -> io::Result<u64> {
    let mut last = rss_bytes(pid)?;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = rss_bytes(pid)?;
        if now.abs_diff(last) * 100 <= last {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

#[derive(Default)]
struct IdleResult {
    rss_per_connection: f64,
    baseline_rss: u64,
    loaded_rss: u64,
    latencies_us: Vec<u32>,
    missing: u64,
    events: u64,
    /// Latencies at [`SMALL_FAN_OUT`] subscribers.
    latencies_small_us: Vec<u32>,
    missing_small: u64,
    /// Share of the CPU time it wanted that the server got, per run.
    got: f64,
    got_small: f64,
}

/// Fresh server: warm-up connections, RSS baseline, N idle streams, RSS
/// growth ÷ N; then, on the same streams, publish → receive latency.
async fn idle_and_latency(kind: Kind, n: usize, quick: bool) -> io::Result<IdleResult> {
    eprintln!("== {}: RSS per idle connection, N = {n}", kind.name());
    let server = ServerProcess::start(kind)?;
    let pid = server.pid();
    let warm = open_subscribers(server.addr, 0, WARM_UP, kind.name()).await?;
    let baseline_rss = settled_rss(pid).await?;
    let streams = open_subscribers(server.addr, WARM_UP, n, kind.name()).await?;
    let loaded_rss = settled_rss(pid).await?;
    let rss_per_connection = loaded_rss.saturating_sub(baseline_rss) as f64 / n as f64;
    eprintln!(
        "  [{}] RSS {:.1} MB -> {:.1} MB: {:.2} KB per connection",
        kind.name(),
        baseline_rss as f64 / 1e6,
        loaded_rss as f64 / 1e6,
        rss_per_connection / 1e3
    );

    let events: u64 = if quick { 30 } else { 100 };
    eprintln!(
        "== {}: publish -> receive latency, {} subscribers, {LATENCY_RATE} events/s, {events} events",
        kind.name(),
        n + WARM_UP
    );
    let sent_at: Arc<Vec<AtomicU64>> =
        Arc::new((0..=events + 100).map(|_| AtomicU64::new(0)).collect());
    let latencies: Rc<RefCell<Vec<u32>>> = Rc::new(RefCell::new(Vec::new()));
    let received = Rc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for subscriber in warm.into_iter().chain(streams) {
        enable_rx_timestamps(&subscriber.stream)?;
        let sent_at = sent_at.clone();
        let latencies = latencies.clone();
        let received = received.clone();
        tasks.push(tokio::task::spawn_local(async move {
            let mut decoder = Decoder::default();
            let mut buf = vec![0u8; 4096];
            let on_bytes = |bytes: &[u8], at: u64, decoder: &mut Decoder| {
                decoder.feed(bytes, |frame| {
                    if let Frame::Event(data) = frame
                        && let Some(seq) = payload_seq(data)
                    {
                        received.fetch_add(1, Ordering::Relaxed);
                        let sent = sent_at
                            .get(seq as usize)
                            .map_or(0, |s| s.load(Ordering::Relaxed));
                        if sent != 0 {
                            let us = at.saturating_sub(sent) / 1_000;
                            latencies
                                .borrow_mut()
                                .push(us.min(u64::from(u32::MAX)) as u32);
                        }
                    }
                })
            };
            let leftover = subscriber.leftover;
            on_bytes(&leftover, now_ns(), &mut decoder);
            while let Ok((read, at)) = read_timestamped(&subscriber.stream, &mut buf).await {
                if read == 0 || !on_bytes(&buf[..read], at, &mut decoder) {
                    break;
                }
            }
        }));
    }
    let mut publisher = Publisher::connect(server.addr).await?;
    let total = (n + WARM_UP) as u64;
    let (latencies_us, missing, got) = latency_run(
        kind,
        pid,
        &mut publisher,
        1..=events,
        total,
        &sent_at,
        &latencies,
        &received,
    )
    .await?;

    // Then the same at 1,000 subscribers: close all but the first 1,000
    // streams, let the server settle, and publish on.
    for task in &tasks[SMALL_FAN_OUT..] {
        task.abort();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let small_events = if quick { 20 } else { 50 };
    eprintln!(
        "== {}: publish -> receive latency, {SMALL_FAN_OUT} subscribers, {LATENCY_RATE} events/s, {small_events} events",
        kind.name()
    );
    let (latencies_small_us, missing_small, got_small) = latency_run(
        kind,
        pid,
        &mut publisher,
        events + 1..=events + small_events,
        SMALL_FAN_OUT as u64,
        &sent_at,
        &latencies,
        &received,
    )
    .await?;
    drop(server);
    for task in &tasks {
        task.abort();
    }
    Ok(IdleResult {
        rss_per_connection,
        baseline_rss,
        loaded_rss,
        latencies_us,
        missing,
        events,
        latencies_small_us,
        missing_small,
        got,
        got_small,
    })
}

/// Publishes `seqs` at [`LATENCY_RATE`], waits (bounded) for every one of
/// `subscribers` to get each, and returns the sorted latencies (µs) and the
/// count of missing deliveries.
#[allow(clippy::too_many_arguments)]
async fn latency_run(
    kind: Kind,
    pid: u32,
    publisher: &mut Publisher,
    seqs: std::ops::RangeInclusive<u64>,
    subscribers: u64,
    sent_at: &[AtomicU64],
    latencies: &RefCell<Vec<u32>>,
    received: &AtomicU64,
) -> io::Result<(Vec<u32>, u64, f64)> {
    latencies.borrow_mut().clear();
    let cpu0 = cpu_seconds(pid)?;
    let delay0 = run_delay_seconds(pid)?;
    received.store(0, Ordering::Relaxed);
    let events = seqs.end() - seqs.start() + 1;
    let period = Duration::from_nanos(1_000_000_000 / LATENCY_RATE);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for (k, seq) in seqs.enumerate() {
        tick.tick().await;
        sent_at[seq as usize].store(now_ns(), Ordering::Relaxed);
        publisher.publish(seq, 1).await?;
        if (k as u64 + 1).is_multiple_of(LATENCY_RATE) {
            eprintln!(
                "  [{}] published {}/{events}, deliveries so far {}",
                kind.name(),
                k + 1,
                received.load(Ordering::Relaxed)
            );
        }
    }
    let expected = events * subscribers;
    let wait_until = Instant::now() + Duration::from_secs(10);
    while received.load(Ordering::Relaxed) < expected && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let missing = expected.saturating_sub(received.load(Ordering::Relaxed));
    let cpu = cpu_seconds(pid)? - cpu0;
    let delay = run_delay_seconds(pid)? - delay0;
    // Of the CPU time the server wanted, the share it got (below 90 %:
    // disturbed by other processes, and wall-clock latency with it).
    let got = cpu / (cpu + delay).max(1e-9);
    let mut latencies_us = std::mem::take(&mut *latencies.borrow_mut());
    latencies_us.sort_unstable();
    eprintln!(
        "  [{}] {subscribers} subscribers: latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; missing {missing}; server got {:.0} % of the CPU it wanted{}",
        kind.name(),
        percentile(&latencies_us, 50.0) / 1e3,
        percentile(&latencies_us, 99.0) / 1e3,
        latencies_us
            .last()
            .map_or(f64::NAN, |m| f64::from(*m) / 1e3),
        got * 100.0,
        if got < 0.9 { " (DISTURBED)" } else { "" },
    );
    Ok((latencies_us, missing, got))
}

/// Tracks, per burst, how many subscribers have received all of it.
struct Progress {
    subscribers: usize,
    /// Bursts every subscriber has fully received.
    complete: AtomicU64,
    /// Per burst slot (burst index mod the ring), subscribers done with it.
    arrivals: Vec<AtomicUsize>,
    notify: Notify,
}

const RING: usize = 64;

impl Progress {
    fn record(&self, events_received: u64) {
        if !events_received.is_multiple_of(BURST) {
            return;
        }
        let burst = events_received / BURST - 1;
        let slot = &self.arrivals[burst as usize % RING];
        if slot.fetch_add(1, Ordering::Relaxed) + 1 == self.subscribers {
            slot.store(0, Ordering::Relaxed);
            self.complete.store(burst + 1, Ordering::Relaxed);
            self.notify.notify_one();
        }
    }
}

struct BroadcastRun {
    deliveries: u64,
    missing: u64,
    server_cpu_s: f64,
    /// Time the server was runnable but waited for its CPU.
    server_run_delay_s: f64,
    wall_s: f64,
}

impl BroadcastRun {
    fn per_cpu_second(&self) -> f64 {
        self.deliveries as f64 / self.server_cpu_s.max(1e-9)
    }

    /// The share of the wall time the server ran.
    fn cpu_share(&self) -> f64 {
        self.server_cpu_s / self.wall_s.max(1e-9)
    }

    /// Of the CPU time the server wanted, the share it got: below 90 %,
    /// something else took its core and the run counts as disturbed. (A
    /// server idle while the load generator catches up is not disturbed.)
    fn got_share(&self) -> f64 {
        self.server_cpu_s / (self.server_cpu_s + self.server_run_delay_s).max(1e-9)
    }
}

/// One broadcast run: fresh server, 1,000 subscribers, warm-up bursts, then
/// measured bursts, lossless by the window.
async fn broadcast_run(kind: Kind, quick: bool) -> io::Result<BroadcastRun> {
    let server = ServerProcess::start(kind)?;
    let pid = server.pid();
    let subscribers = open_subscribers(server.addr, 0, BROADCAST_SUBSCRIBERS, kind.name()).await?;
    let progress = Rc::new(Progress {
        subscribers: BROADCAST_SUBSCRIBERS,
        complete: AtomicU64::new(0),
        arrivals: (0..RING).map(|_| AtomicUsize::new(0)).collect(),
        notify: Notify::new(),
    });
    let counts: Rc<Vec<AtomicU64>> = Rc::new(
        (0..BROADCAST_SUBSCRIBERS)
            .map(|_| AtomicU64::new(0))
            .collect(),
    );
    let mut tasks = Vec::new();
    for (i, subscriber) in subscribers.into_iter().enumerate() {
        let progress = progress.clone();
        let counts = counts.clone();
        tasks.push(tokio::task::spawn_local(async move {
            let Subscriber {
                mut stream,
                leftover,
            } = subscriber;
            let mut decoder = Decoder::default();
            let mut buf = vec![0u8; 32 * 1024];
            let mut count = 0u64;
            let mut on_bytes = |bytes: &[u8], decoder: &mut Decoder| {
                let open = decoder.feed(bytes, |frame| {
                    if let Frame::Event(_) = frame {
                        count += 1;
                        progress.record(count);
                    }
                });
                counts[i].store(count, Ordering::Relaxed);
                open
            };
            on_bytes(&leftover, &mut decoder);
            while let Ok(read) = stream.read(&mut buf).await {
                if read == 0 || !on_bytes(&buf[..read], &mut decoder) {
                    break;
                }
            }
        }));
    }
    let mut publisher = Publisher::connect(server.addr).await?;
    let warm_bursts: u64 = 50;
    let measured_bursts: u64 = if quick { 100 } else { 400 };
    let mut published: u64 = 0;
    let mut cpu0 = 0.0;
    let mut delay0 = 0.0;
    let mut t0 = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(120);
    for burst in 0..warm_bursts + measured_bursts {
        if burst == warm_bursts {
            // Start the clock with every warm-up event delivered.
            while progress.complete.load(Ordering::Relaxed) < published {
                wait_progress(&progress, deadline).await?;
            }
            cpu0 = cpu_seconds(pid)?;
            delay0 = run_delay_seconds(pid)?;
            t0 = Instant::now();
        }
        while published - progress.complete.load(Ordering::Relaxed) >= WINDOW {
            wait_progress(&progress, deadline).await?;
        }
        publisher.publish(published * BURST + 1, BURST).await?;
        published += 1;
    }
    let end_wait = Instant::now() + Duration::from_secs(10);
    while progress.complete.load(Ordering::Relaxed) < published && Instant::now() < end_wait {
        let _ = tokio::time::timeout(Duration::from_millis(100), progress.notify.notified()).await;
    }
    let cpu1 = cpu_seconds(pid)?;
    let delay1 = run_delay_seconds(pid)?;
    let wall_s = t0.elapsed().as_secs_f64();
    let expected_each = published * BURST;
    let mut delivered = 0;
    let mut missing = 0;
    for count in counts.iter() {
        let count = count.load(Ordering::Relaxed);
        delivered += count.saturating_sub(warm_bursts * BURST);
        missing += expected_each.saturating_sub(count);
    }
    drop(server);
    for task in &tasks {
        task.abort();
    }
    Ok(BroadcastRun {
        deliveries: delivered,
        missing,
        server_cpu_s: cpu1 - cpu0,
        server_run_delay_s: delay1 - delay0,
        wall_s,
    })
}

async fn wait_progress(progress: &Progress, deadline: Instant) -> io::Result<()> {
    if Instant::now() > deadline {
        return Err(io::Error::other("broadcast run stalled past its deadline"));
    }
    let _ = tokio::time::timeout(Duration::from_millis(100), progress.notify.notified()).await;
    Ok(())
}

struct Pair {
    ours: BroadcastRun,
    axum: BroadcastRun,
    reruns: usize,
    disturbed: bool,
}

impl Pair {
    fn ratio(&self) -> f64 {
        self.ours.per_cpu_second() / self.axum.per_cpu_second()
    }
}

struct Report {
    idle: [IdleResult; 2],
    pairs: Vec<Pair>,
    load_before: String,
    load_after: String,
    n: usize,
}

async fn run(options: &Options) -> io::Result<Report> {
    let load_before = loadavg();
    eprintln!("load average at start: {load_before}");
    let n = options.idle_n();
    let (ours_idle, axum_idle) = if options.only.as_deref() == Some("broadcast") {
        Default::default()
    } else {
        (
            idle_and_latency(Kind::Ours, n, options.quick).await?,
            idle_and_latency(Kind::Axum, n, options.quick).await?,
        )
    };
    let pairs_wanted = if options.only.as_deref() == Some("idle") {
        0
    } else {
        options.pairs
    };

    let mut pairs = Vec::new();
    for k in 0..pairs_wanted {
        let mut reruns = 0;
        loop {
            eprintln!(
                "== broadcast pair {} of {}{}: {BROADCAST_SUBSCRIBERS} subscribers, bursts of {BURST}",
                k + 1,
                pairs_wanted,
                if reruns > 0 {
                    format!(" (rerun {reruns})")
                } else {
                    String::new()
                }
            );
            let ours = broadcast_run(Kind::Ours, options.quick).await?;
            print_run(Kind::Ours, &ours);
            let axum = broadcast_run(Kind::Axum, options.quick).await?;
            print_run(Kind::Axum, &axum);
            let disturbed = ours.got_share() < 0.9 || axum.got_share() < 0.9;
            if ours.missing > 0 || axum.missing > 0 {
                return Err(io::Error::other(format!(
                    "lost deliveries (ours {}, axum {}): the lossless precondition failed",
                    ours.missing, axum.missing
                )));
            }
            if disturbed && reruns < 2 {
                eprintln!(
                    "  pair {} disturbed (a server got < 90 % of its core); rerunning",
                    k + 1
                );
                reruns += 1;
                continue;
            }
            pairs.push(Pair {
                ours,
                axum,
                reruns,
                disturbed,
            });
            break;
        }
    }
    Ok(Report {
        idle: [ours_idle, axum_idle],
        pairs,
        load_before,
        load_after: loadavg(),
        n,
    })
}

fn print_run(kind: Kind, run: &BroadcastRun) {
    eprintln!(
        "  [{}] {} deliveries, {:.2} server CPU-s over {:.2} s ({:.0} % of the wall time; got {:.0} % of the CPU it wanted): {:.2} M/CPU-s, missing {}",
        kind.name(),
        run.deliveries,
        run.server_cpu_s,
        run.wall_s,
        run.cpu_share() * 100.0,
        run.got_share() * 100.0,
        run.per_cpu_second() / 1e6,
        run.missing
    );
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    f64::from(sorted[rank.min(sorted.len() - 1)])
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// Criterion's mean estimate for `group/function`, in nanoseconds, if the
/// router benchmark has been run.
fn criterion_mean(group: &str, function: &str) -> Option<f64> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion");
    let text =
        std::fs::read_to_string(root.join(group).join(function).join("new/estimates.json")).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    value["mean"]["point_estimate"].as_f64()
}

fn write_results(out: &Path, report: &Report) -> io::Result<()> {
    std::fs::create_dir_all(out)?;
    let [ours_idle, axum_idle] = &report.idle;
    let mut lat = [
        ours_idle.latencies_us.clone(),
        axum_idle.latencies_us.clone(),
    ];
    for l in &mut lat {
        l.sort_unstable();
    }
    let pct = |i: usize, p: f64| percentile(&lat[i], p) / 1e3;

    let mut ratios: Vec<f64> = report.pairs.iter().map(Pair::ratio).collect();
    let ratio_min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let ratio_max = ratios.iter().copied().fold(0.0, f64::max);
    let ratio_median = median(&mut ratios);
    let mut ours_rates: Vec<f64> = report
        .pairs
        .iter()
        .map(|p| p.ours.per_cpu_second())
        .collect();
    let mut axum_rates: Vec<f64> = report
        .pairs
        .iter()
        .map(|p| p.axum.per_cpu_second())
        .collect();
    let ours_rate = median(&mut ours_rates);
    let axum_rate = median(&mut axum_rates);
    let rss_ratio = ours_idle.rss_per_connection / axum_idle.rss_per_connection;

    let router: Vec<(String, f64, f64)> = [("github-130", 130.0), ("synthetic-1000", 1000.0)]
        .iter()
        .filter_map(|(group, _)| {
            Some((
                (*group).to_owned(),
                criterion_mean(group, "sse_routes")?,
                criterion_mean(group, "matchit")?,
            ))
        })
        .collect();

    // The human table.
    let mut table = String::new();
    table.push_str(
        "| measure | sse | axum | ratio (sse / axum) | target |\n|---|---|---|---|---|\n",
    );
    table.push_str(&format!(
        "| RSS per idle connection, N = {} | {:.2} KB | {:.2} KB | {:.2}× | ≤ 0.5× |\n",
        report.n,
        ours_idle.rss_per_connection / 1e3,
        axum_idle.rss_per_connection / 1e3,
        rss_ratio
    ));
    table.push_str(&format!(
        "| broadcast deliveries per server CPU-s, {BROADCAST_SUBSCRIBERS} subscribers (median of {} pairs) | {:.2} M | {:.2} M | {:.2}× (min {:.2}, max {:.2}) | ≥ 1.5× |\n",
        report.pairs.len(),
        ours_rate / 1e6,
        axum_rate / 1e6,
        ratio_median,
        ratio_min,
        ratio_max
    ));
    table.push_str(&format!(
        "| latency p50, {} subscribers, {LATENCY_RATE}/s | {:.2} ms | {:.2} ms | {:.2}× | |\n",
        report.n + WARM_UP,
        pct(0, 50.0),
        pct(1, 50.0),
        pct(0, 50.0) / pct(1, 50.0)
    ));
    table.push_str(&format!(
        "| latency p99, {} subscribers, {LATENCY_RATE}/s | {:.2} ms | {:.2} ms | {:.2}× | ≤ 10 ms |\n",
        report.n + WARM_UP,
        pct(0, 99.0),
        pct(1, 99.0),
        pct(0, 99.0) / pct(1, 99.0)
    ));
    let mut small = [
        ours_idle.latencies_small_us.clone(),
        axum_idle.latencies_small_us.clone(),
    ];
    for l in &mut small {
        l.sort_unstable();
    }
    let small_pct = |i: usize, p: f64| percentile(&small[i], p) / 1e3;
    table.push_str(&format!(
        "| latency p50, {SMALL_FAN_OUT} subscribers, {LATENCY_RATE}/s | {:.2} ms | {:.2} ms | {:.2}× | |\n",
        small_pct(0, 50.0),
        small_pct(1, 50.0),
        small_pct(0, 50.0) / small_pct(1, 50.0)
    ));
    table.push_str(&format!(
        "| latency p99, {SMALL_FAN_OUT} subscribers, {LATENCY_RATE}/s | {:.2} ms | {:.2} ms | {:.2}× | |\n",
        small_pct(0, 99.0),
        small_pct(1, 99.0),
        small_pct(0, 99.0) / small_pct(1, 99.0)
    ));
    for (group, ours, theirs) in &router {
        table.push_str(&format!(
            "| router, {group} (all paths per iteration) | {:.2} µs | matchit {:.2} µs | {:.2}× faster | ≥ 2× |\n",
            ours / 1e3,
            theirs / 1e3,
            theirs / ours
        ));
    }
    let mut pairs_table = String::from(
        "| pair | sse M/CPU-s | sse busy / got | axum M/CPU-s | axum busy / got | ratio | reruns | disturbed |\n|---|---|---|---|---|---|---|---|\n",
    );
    for (i, pair) in report.pairs.iter().enumerate() {
        pairs_table.push_str(&format!(
            "| {} | {:.2} | {:.0} % / {:.0} % | {:.2} | {:.0} % / {:.0} % | {:.2}× | {} | {} |\n",
            i + 1,
            pair.ours.per_cpu_second() / 1e6,
            pair.ours.cpu_share() * 100.0,
            pair.ours.got_share() * 100.0,
            pair.axum.per_cpu_second() / 1e6,
            pair.axum.cpu_share() * 100.0,
            pair.axum.got_share() * 100.0,
            pair.ratio(),
            pair.reruns,
            if pair.disturbed { "yes" } else { "no" }
        ));
    }
    println!("\n{table}\n{pairs_table}");
    println!(
        "missing deliveries: latency sse {} + {}, axum {} + {}; broadcast 0 (checked per run)",
        ours_idle.missing, ours_idle.missing_small, axum_idle.missing, axum_idle.missing_small
    );
    println!(
        "load average: before {}, after {}",
        report.load_before, report.load_after
    );
    std::fs::write(out.join("table.md"), format!("{table}\n{pairs_table}"))?;

    let idle_json = |r: &IdleResult, l: &[u32], small: &[u32]| {
        json!({
            "latency_server_got_cpu_share": r.got,
            "latency_small_server_got_cpu_share": r.got_small,
            "latency_small_subscribers": SMALL_FAN_OUT,
            "latency_small_samples": small.len(),
            "latency_small_missing": r.missing_small,
            "latency_small_p50_ms": percentile(small, 50.0) / 1e3,
            "latency_small_p99_ms": percentile(small, 99.0) / 1e3,
            "rss_per_connection_bytes": r.rss_per_connection,
            "baseline_rss_bytes": r.baseline_rss,
            "loaded_rss_bytes": r.loaded_rss,
            "latency_events": r.events,
            "latency_samples": l.len(),
            "latency_missing": r.missing,
            "latency_p50_ms": percentile(l, 50.0) / 1e3,
            "latency_p90_ms": percentile(l, 90.0) / 1e3,
            "latency_p99_ms": percentile(l, 99.0) / 1e3,
            "latency_max_ms": l.last().map_or(f64::NAN, |m| f64::from(*m) / 1e3),
        })
    };
    let json = json!({
        "machine": {
            "load_before": report.load_before,
            "load_after": report.load_after,
        },
        "settings": {
            "idle_connections": report.n,
            "warm_up_connections": WARM_UP,
            "broadcast_subscribers": BROADCAST_SUBSCRIBERS,
            "burst_events": BURST,
            "window_bursts": WINDOW,
            "latency_rate_per_s": LATENCY_RATE,
            "payload_bytes": sse_benches::proc::PAYLOAD_BYTES,
            "keep_alive_s": sse_benches::proc::KEEP_ALIVE.as_secs(),
            "backlog": sse_benches::proc::BACKLOG,
        },
        "sse": idle_json(ours_idle, &lat[0], &small[0]),
        "axum": idle_json(axum_idle, &lat[1], &small[1]),
        "rss_ratio": rss_ratio,
        "broadcast": {
            "sse_median_per_cpu_s": ours_rate,
            "axum_median_per_cpu_s": axum_rate,
            "ratio_median": ratio_median,
            "ratio_min": ratio_min,
            "ratio_max": ratio_max,
            "pairs": report.pairs.iter().map(|p| json!({
                "sse": {"deliveries": p.ours.deliveries, "cpu_s": p.ours.server_cpu_s, "run_delay_s": p.ours.server_run_delay_s, "wall_s": p.ours.wall_s, "missing": p.ours.missing},
                "axum": {"deliveries": p.axum.deliveries, "cpu_s": p.axum.server_cpu_s, "run_delay_s": p.axum.server_run_delay_s, "wall_s": p.axum.wall_s, "missing": p.axum.missing},
                "ratio": p.ratio(),
                "reruns": p.reruns,
                "disturbed": p.disturbed,
            })).collect::<Vec<_>>(),
        },
        "router": router.iter().map(|(g, o, t)| json!({"set": g, "sse_ns": o, "matchit_ns": t, "speedup": t / o})).collect::<Vec<_>>(),
    });
    std::fs::write(
        out.join("loadtest.json"),
        serde_json::to_string_pretty(&json).map_err(io::Error::other)?,
    )?;

    std::fs::write(
        out.join("latency.svg"),
        svg::latency_cdf(
            &format!(
                "Publish → receive latency, {LATENCY_RATE} events/s (kernel receive timestamps)"
            ),
            &[
                (&format!("sse, {} subscribers", report.n + WARM_UP), &lat[0]),
                (
                    &format!("axum, {} subscribers", report.n + WARM_UP),
                    &lat[1],
                ),
                (&format!("sse, {SMALL_FAN_OUT} subscribers"), &small[0]),
                (&format!("axum, {SMALL_FAN_OUT} subscribers"), &small[1]),
            ],
        ),
    )?;
    let mut bars = vec![
        svg::Bars {
            title: format!(
                "RSS per idle connection, KB (N = {}; lower is better)",
                report.n
            ),
            sse: ours_idle.rss_per_connection / 1e3,
            other: axum_idle.rss_per_connection / 1e3,
            other_name: "axum",
        },
        svg::Bars {
            title: format!(
                "Broadcast deliveries per server CPU-second, M ({BROADCAST_SUBSCRIBERS} subscribers; higher is better)"
            ),
            sse: ours_rate / 1e6,
            other: axum_rate / 1e6,
            other_name: "axum",
        },
        svg::Bars {
            title: "Latency p99, ms (lower is better)".to_owned(),
            sse: pct(0, 99.0),
            other: pct(1, 99.0),
            other_name: "axum",
        },
    ];
    for (group, ours, theirs) in &router {
        bars.push(svg::Bars {
            title: format!("Router, {group}: µs per iteration (lower is better)"),
            sse: ours / 1e3,
            other: theirs / 1e3,
            other_name: "matchit",
        });
    }
    std::fs::write(out.join("comparison.svg"), svg::bar_panels(&bars))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

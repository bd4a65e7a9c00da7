//! The `make bench` driver (`cargo run --release --example bench`, run by `scripts/bench.sh`).
//!
//! Measures the release `bootstrap` as FC would run it — a separate process pushed
//! `POST /invoke` requests over loopback — against the in-process emulator, and writes every
//! figure with its target to `target/bench/results.json`:
//!
//! | Figure | How |
//! |---|---|
//! | cold start, ready | spawn → the port accepts a TCP connection; median of 30 starts |
//! | cold start, first invocation | spawn → first `/invoke` (1 risky group, remediated) answered; median of 30 |
//! | latency as users meet it | 20 ms added to every API call (a region's round trip): one process, keep-alive connection, 300 one-resource invocations per case; p50 (with its target) and p99 beside the ideal (the sequential round trips × 20 ms) |
//! | warm latency | the same without added latency, 500 invocations: p50, p99 (the function's and the emulator's CPU and loopback); then p50 again against recorded answers ([`Replay`]), without the emulator's CPU |
//! | peak RSS | `VmHWM` of the process after a 1,000-resource event |
//! | CPU per resource | criterion medians (sign + parse Config + parse ECS + select), read from `target/criterion`, against serde_json's floor for the same answers |
//! | CPU per group | whole-process CPU per remediated / compliant group, against the floor of the same work measured in the same run |
//! | throughput | 1,000 resources with 20 ms added to every API call: wall time ÷ ideal, the ideal being the groups' sequential round trips × 20 ms ÷ `MAX_CONCURRENCY` |
//! | size | static binary and zip, when built |
//! | bounds | the hardening bounds, each from a fresh process: peak RSS (`VmHWM`) after one event of exactly `MAX_EVENT_BYTES` (16 MiB, one resource whose `resourceId` fills it, answered as a function error with that resource failed); the response size of 1,000 resources under a throttling storm (every call answers HTTP 400 `Throttling.User` with a 20 KB message, `MAX_CONCURRENCY=256`, a 10 s invocation), every resource with its status — on an emulator of its own |
//!
//! The emulator runs on one tokio worker thread of this process, so on a 2-core machine the
//! function, the emulator and this driver share the CPUs; the figures include that contention.
//! Every run checks that the function did the right thing (the expected number of groups
//! remediated) so a figure never comes from a broken run.
//!
//! Environment: `BENCH_BOOTSTRAP` (default `target/release/bootstrap`), `BENCH_STATIC_BOOTSTRAP`
//! (a static build to cold-start too, optional), `BENCH_ZIP` (optional), `BENCH_NOTES` (lines for
//! the report), `BENCH_STRICT=1` (exit 1 when a target is missed), `BENCH_ONLY` (a comma-separated
//! subset of `cold,latency,warm,memory,throughput,classes,capped,bounds,criterion,floors,sizes`,
//! for a quick A/B of two binaries; `make bench` runs them all). `floors` reads criterion's
//! results and `target/bench/transport_floor.json`, which `make bench` writes before it starts
//! the driver.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant, SystemTime};

use acs_emulator::{Emulator, Fixture};
use serde_json::{json, Value};
use sg_remediator::config::DEFAULT_MAX_CONCURRENCY;
use sg_test_kit::fc::connect_when_ready;
use sg_test_kit::{free_port, Answer, Caller, Conn, Key, Launch, Replay, Spawned};

const ACCOUNT: &str = "1234567890123456";
const REGION: &str = "cn-hangzhou";
const KEY_ID: &str = "STS.BenchFunctionRole0000001";
const KEY_SECRET: &str = "benchSecret/+=00000000000000000000000000";
const KEY_TOKEN: &str = "CAIS+bench/token+value==";

const COLD_STARTS: usize = 30;
const WARM_INVOCATIONS: usize = 500;
/// Invocations per case with [`ADDED_LATENCY`] (300 × 65 ms ≈ 20 s for the remediated case).
const LATENCY_INVOCATIONS: usize = 300;
const BIG_EVENT: usize = 1000;
/// One group in five exposes SSH to the world (and is remediated); the rest are compliant.
const RISKY_EVERY: usize = 5;
const ADDED_LATENCY: Duration = Duration::from_millis(20);
/// Sequential round trips of a remediated VPC group with one page of rules: Config's re-fetch
/// and the live read together, the revoke, the verify read (4 calls).
const REMEDIATED_ROUND_TRIPS: usize = 3;
/// ... and of a compliant one: the two reads together (2 calls).
const COMPLIANT_ROUND_TRIPS: usize = 1;
/// What the latency targets allow beyond the ideal: scheduling, loopback, the function's and
/// the emulator's CPU.
const LATENCY_ALLOWANCE_MS: f64 = 5.0;
/// The 1,000-resource event's wall time may be this much over its ideal.
const THROUGHPUT_TARGET: f64 = 1.15;
/// A group's whole-process CPU may be this many times the floor of the same work.
const TIMES_FLOOR_TARGET: f64 = 2.5;
/// The function's own warm latency (against recorded answers, no added latency): the targets
/// sit on these figures rather than on the ones against the emulator, whose CPU (about as much
/// as the function's, on the same two cores) is the cloud's work on FC.
const WARM_TARGET_MS: f64 = 1.0;
/// The criterion sum may be this many times the same sum at serde_json's floor.
const TIMES_SERDE_FLOOR_TARGET: f64 = 1.5;

const MIB: usize = 1024 * 1024;
/// Peak RSS allowed for one event as large as `MAX_EVENT_BYTES` lets it be.
const BOUND_EVENT_RSS_MIB: f64 = 64.0;
/// The largest answer allowed for 1,000 resources, whatever the cloud answers.
const BOUND_RESPONSE_MIB: f64 = 4.0;
/// The throttling storm's `MAX_CONCURRENCY`: the most calls in flight, each answered 20 KB.
const STORM_CONCURRENCY: u32 = 256;
/// The storm's invocation timeout: the storm outlasts any invocation, so what is still
/// throttled at the deadline fails with "deadline exceeded"; short keeps the section quick.
const STORM_TIMEOUT_S: u32 = 10;
/// The size of every throttling message in the storm.
const STORM_MESSAGE_BYTES: usize = 20_000;

const WARM_RISKY: &str = "sg-benchwarmrisky0001";
const WARM_COMPLIANT: &str = "sg-benchwarmclean0001";

/// One measured figure; every target is an upper bound.
struct Figure {
    id: String,
    label: String,
    value: f64,
    unit: &'static str,
    target: Option<f64>,
    detail: Value,
}

impl Figure {
    fn new(id: &str, label: impl Into<String>, value: f64, unit: &'static str) -> Self {
        Figure {
            id: id.to_string(),
            label: label.into(),
            value,
            unit,
            target: None,
            detail: Value::Null,
        }
    }

    fn target(mut self, max: f64) -> Self {
        self.target = Some(max);
        self
    }

    fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }

    /// The same figure measured on another build: suffixed id and label.
    fn flavour(mut self, id_suffix: &str, label_suffix: &str) -> Self {
        self.id = format!("{}{id_suffix}", self.id);
        self.label.push_str(label_suffix);
        self
    }

    fn pass(&self) -> Option<bool> {
        self.target.map(|t| self.value <= t)
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, String> {
    let stat_at_start = CpuStat::read();
    let bootstrap = PathBuf::from(
        std::env::var("BENCH_BOOTSTRAP").unwrap_or_else(|_| "target/release/bootstrap".into()),
    );
    if !bootstrap.is_file() {
        return Err(format!(
            "{} not found: run `cargo build --release --bin bootstrap` first",
            bootstrap.display()
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;
    let small = runtime
        .block_on(Emulator::start(fixture(0)))
        .map_err(|e| e.to_string())?;
    let big = runtime
        .block_on(Emulator::start(fixture(BIG_EVENT)))
        .map_err(|e| e.to_string())?;
    let mut figures = Vec::new();
    let only = std::env::var("BENCH_ONLY").ok();
    let wanted = |section: &str| {
        only.as_deref()
            .is_none_or(|list| list.split(',').any(|s| s.trim() == section))
    };

    if wanted("cold") {
        eprintln!("bench: cold start ({COLD_STARTS} starts each)…");
        figures.extend(cold_start(&bootstrap, &small)?);
    }
    if let Some(path) = static_bootstrap().filter(|_| wanted("cold")) {
        figures.extend(
            cold_start(&path, &small)?
                .into_iter()
                .map(|f| f.flavour("_static", " (static musl build)")),
        );
    }

    if wanted("latency") {
        eprintln!(
            "bench: latency with {} ms per call ({LATENCY_INVOCATIONS} invocations each)…",
            ADDED_LATENCY.as_millis()
        );
        figures.extend(latency_as_met(&bootstrap, &small)?);
    }

    if wanted("warm") {
        eprintln!("bench: warm latency ({WARM_INVOCATIONS} invocations each)…");
        figures.extend(warm_latency(&bootstrap, &small)?);
    }

    if wanted("memory") {
        eprintln!("bench: {BIG_EVENT}-resource event (memory, process CPU)…");
        figures.extend(big_event(&bootstrap, &big, Duration::ZERO)?);
    }

    if let Some(path) = static_bootstrap().filter(|_| wanted("memory")) {
        eprintln!("bench: {BIG_EVENT}-resource event, static build…");
        big.reset();
        figures.extend(
            big_event(&path, &big, Duration::ZERO)?
                .into_iter()
                .map(|f| f.flavour("_static", " (static musl build)")),
        );
    }

    if wanted("throughput") {
        big.reset();
        eprintln!(
            "bench: {BIG_EVENT}-resource event with {} ms per call (throughput)…",
            ADDED_LATENCY.as_millis()
        );
        figures.extend(big_event(&bootstrap, &big, ADDED_LATENCY)?);
    }

    if wanted("classes") {
        eprintln!("bench: CPU per remediated and per compliant group ({BIG_EVENT} groups each)…");
        let classes = runtime
            .block_on(Emulator::start(class_fixture()))
            .map_err(|e| e.to_string())?;
        figures.extend(cpu_per_group_by_class(&bootstrap, &classes)?);
        drop(classes);
    }

    if wanted("capped") {
        eprintln!("bench: {BIG_EVENT}-resource event under {CPU_CAP} CPU…");
        figures.extend(capped_event(&bootstrap, &big, CPU_CAP)?);
        eprintln!("bench: {BIG_EVENT}-resource event under {CPU_CAP_LOW} CPU…");
        figures.extend(capped_event(&bootstrap, &big, CPU_CAP_LOW)?);
    }

    if wanted("bounds") {
        eprintln!(
            "bench: bounds ({} MiB event; {BIG_EVENT}-resource throttling storm)…",
            fc_runtime::DEFAULT_MAX_EVENT_BYTES / MIB
        );
        figures.extend(bounds(&bootstrap, &runtime, &small)?);
    }

    if wanted("criterion") {
        figures.extend(cpu_per_resource()?);
    }
    if wanted("floors") {
        let floors = floors_per_group(&figures)?;
        figures.extend(floors);
    }
    if wanted("sizes") {
        figures.extend(sizes(&bootstrap));
    }

    let report = report(
        &figures,
        &bootstrap,
        CpuStat::steal_percent_since(stat_at_start),
    );
    let out = Path::new("target/bench");
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let file = out.join("results.json");
    std::fs::write(&file, serde_json::to_string_pretty(&report).unwrap())
        .map_err(|e| format!("{}: {e}", file.display()))?;
    print_table(&report, &figures);
    println!("\nwritten: {}", file.display());

    let missed = figures.iter().filter(|f| f.pass() == Some(false)).count();
    if missed > 0 && std::env::var("BENCH_STRICT").as_deref() == Ok("1") {
        return Ok(ExitCode::FAILURE);
    }
    drop(runtime);
    Ok(ExitCode::SUCCESS)
}

// ------------------------------------------------------------------------------------------
// Fixture and events
// ------------------------------------------------------------------------------------------

fn rule(id: String, description: &str, fields: &[(&str, &str)]) -> Value {
    let mut r = json!({
        "SecurityGroupRuleId": id, "Direction": "ingress", "Policy": "Accept", "Priority": "1",
        "IpProtocol": "TCP", "PortRange": "", "SourcePortRange": "", "SourceCidrIp": "",
        "Ipv6SourceCidrIp": "", "SourceGroupId": "", "SourceGroupOwnerAccount": "",
        "SourcePrefixListId": "", "DestCidrIp": "", "Ipv6DestCidrIp": "", "NicType": "intranet",
        "Description": description, "CreateTime": "2024-04-30T09:12:44Z",
    });
    for (k, v) in fields {
        r[*k] = json!(v);
    }
    r
}

/// A realistic group: eight rules that must stay (web ports, private and security-group
/// sources, egress, ICMP, a Drop rule), plus an SSH-from-anywhere rule when `risky`.
fn group(sg: &str, risky: bool) -> Value {
    // ECS's shape, `sgr-` and 20 characters: the group id's last 18 and the rule's number.
    let id = |n: usize| format!("sgr-{}{n:02}", &sg[sg.len().saturating_sub(18).max(3)..]);
    let mut rules = vec![
        rule(
            id(1),
            "https",
            &[("PortRange", "443/443"), ("SourceCidrIp", "0.0.0.0/0")],
        ),
        rule(
            id(2),
            "http",
            &[("PortRange", "80/80"), ("SourceCidrIp", "0.0.0.0/0")],
        ),
        rule(
            id(3),
            "office ssh",
            &[("PortRange", "22/22"), ("SourceCidrIp", "10.0.0.0/8")],
        ),
        rule(
            id(4),
            "egress",
            &[
                ("Direction", "egress"),
                ("IpProtocol", "ALL"),
                ("PortRange", "-1/-1"),
                ("DestCidrIp", "0.0.0.0/0"),
            ],
        ),
        rule(
            id(5),
            "ping",
            &[
                ("IpProtocol", "ICMP"),
                ("PortRange", "-1/-1"),
                ("SourceCidrIp", "0.0.0.0/0"),
            ],
        ),
        rule(
            id(6),
            "no mysql from outside",
            &[
                ("Policy", "Drop"),
                ("PortRange", "3306/3306"),
                ("SourceCidrIp", "0.0.0.0/0"),
            ],
        ),
        rule(
            id(7),
            "mysql from app",
            &[
                ("PortRange", "3306/3306"),
                ("SourceGroupId", "sg-bp1apptier000000000"),
            ],
        ),
        rule(
            id(8),
            "dns",
            &[
                ("IpProtocol", "UDP"),
                ("PortRange", "53/53"),
                ("SourceCidrIp", "172.16.0.0/12"),
            ],
        ),
    ];
    if risky {
        rules.push(rule(
            id(9),
            "ssh from anywhere",
            &[("PortRange", "22/22"), ("SourceCidrIp", "0.0.0.0/0")],
        ));
    }
    json!({
        "accountId": ACCOUNT, "regionId": REGION, "securityGroupId": sg,
        "securityGroupName": sg, "vpcId": "vpc-bp1bench000000000000", "serviceManaged": false,
        "tags": {"env": "prod"}, "rules": rules,
    })
}

fn big_group_id(i: usize) -> String {
    format!("sg-benchbig{i:010}")
}

fn big_group_is_risky(i: usize) -> bool {
    i % RISKY_EVERY == 0
}

/// The two warm groups, plus `n` generated ones (one in [`RISKY_EVERY`] risky).
fn fixture(n: usize) -> Fixture {
    let mut groups = vec![group(WARM_RISKY, true), group(WARM_COMPLIANT, false)];
    groups.extend((0..n).map(|i| group(&big_group_id(i), big_group_is_risky(i))));
    let f = json!({
        "accounts": [{"accountId": ACCOUNT, "credentials": [
            {"accessKeyId": KEY_ID, "accessKeySecret": KEY_SECRET, "securityToken": KEY_TOKEN}
        ]}],
        "regions": [REGION],
        "securityGroups": groups,
    });
    Fixture::from_json_str(&f.to_string()).expect("the generated fixture is valid")
}

fn event(groups: &[String]) -> Vec<u8> {
    let items: Vec<Value> = groups
        .iter()
        .map(|sg| {
            json!({"regionId": REGION, "accountId": 1_234_567_890_123_456u64, "resourceId": sg,
                   "resourceType": "ACS::ECS::SecurityGroup", "configRuleId": "cr-bench"})
        })
        .collect();
    Value::Array(items).to_string().into_bytes()
}

// ------------------------------------------------------------------------------------------
// The function process and a minimal FC-like HTTP client
// ------------------------------------------------------------------------------------------
// The test kit's (crates/test-kit): the process, its environment, FC's headers.

/// `bin` on `port`, pointed at the emulator. FC collects stdout through a pipe; writing to
/// /dev/null keeps the write cost.
fn spawn(bin: &Path, emu: &Emulator, port: u16) -> Result<Spawned, String> {
    Launch::new(bin)
        .emulator(emu)
        .port(port)
        .discard_output()
        .spawn()
}

fn stop(child: Spawned) {
    child.stop();
}

/// One keep-alive HTTP/1.1 connection, invoking as the fixture's function role.
fn conn(stream: TcpStream) -> Conn {
    let key = Key::sts(KEY_ID, KEY_SECRET, KEY_TOKEN);
    Conn::new(
        stream,
        Caller::new(key).content_type("application/json"),
        "bench",
    )
}

/// Fails unless the report has exactly these counts.
fn expect_summary(body: &Value, remediated: u64, compliant: u64) -> Result<(), String> {
    let s = &body["summary"];
    if s["remediated"] == remediated && s["compliant"] == compliant && s["failed"] == 0 {
        Ok(())
    } else {
        Err(format!(
            "unexpected outcome, the figures would be meaningless: summary {s}, expected \
             {remediated} remediated and {compliant} compliant"
        ))
    }
}

// ------------------------------------------------------------------------------------------
// Measurements
// ------------------------------------------------------------------------------------------

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn spread(sorted: &[f64]) -> Value {
    json!({
        "samples": sorted.len(),
        "min": sorted[0],
        "p50": percentile(sorted, 0.5),
        "p90": percentile(sorted, 0.9),
        "max": sorted[sorted.len() - 1],
    })
}

/// `BENCH_STATIC_BOOTSTRAP`, when it names a file.
fn static_bootstrap() -> Option<PathBuf> {
    std::env::var_os("BENCH_STATIC_BOOTSTRAP")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
}

fn cold_start(bin: &Path, emu: &Emulator) -> Result<Vec<Figure>, String> {
    let one = event(&[WARM_RISKY.to_string()]);
    let (mut ready, mut first) = (Vec::new(), Vec::new());
    for _ in 0..COLD_STARTS {
        let port = free_port()?;
        let started = Instant::now();
        let child = spawn(bin, emu, port)?;
        let probe = connect_when_ready(port, started)?;
        ready.push(ms(started.elapsed()));
        drop(probe);
        stop(child);

        emu.reset();
        let port = free_port()?;
        let started = Instant::now();
        let child = spawn(bin, emu, port)?;
        let mut conn = conn(connect_when_ready(port, started)?);
        let (status, body) = conn.invoke(&one, 60)?;
        first.push(ms(started.elapsed()));
        stop(child);
        if status != 200 {
            return Err(format!("first invocation answered {status}: {body}"));
        }
        expect_summary(&body, 1, 0)?;
    }
    let (ready, first) = (sorted(ready), sorted(first));
    Ok(vec![
        Figure::new(
            "cold_start_ready",
            "Cold start: spawn → port accepting, median",
            percentile(&ready, 0.5),
            "ms",
        )
        .target(5.0)
        .detail(spread(&ready)),
        Figure::new(
            "cold_start_first_invocation",
            "Cold start: spawn → first /invoke answered (1 group remediated), median",
            percentile(&first, 0.5),
            "ms",
        )
        .target(15.0)
        .detail(spread(&first)),
    ])
}

/// The latency users meet: one warm process, every API call 20 ms away (a region's round trip),
/// one group per invocation as Config invokes the function. Each case beside its ideal, the
/// sequential round trips × 20 ms: a remediated group's reads go out together, then the revoke,
/// then the verify read; a compliant group's reads are all there is.
fn latency_as_met(bin: &Path, emu: &Emulator) -> Result<Vec<Figure>, String> {
    emu.reset();
    let port = free_port()?;
    let child = spawn(bin, emu, port)?;
    let mut conn = conn(connect_when_ready(port, Instant::now())?);
    let clean = event(&[WARM_COMPLIANT.to_string()]);
    let risky = event(&[WARM_RISKY.to_string()]);
    for _ in 0..20 {
        conn.invoke(&clean, 60)?;
    }
    let pid = child.pid();
    let with_latency = || {
        // `reset` puts the SSH rule back and the fixture's latency (none): set it again.
        emu.reset();
        emu.set_latency(ADDED_LATENCY);
    };
    let remediate = timed_case(
        LATENCY_INVOCATIONS,
        pid,
        with_latency,
        || conn.invoke(&risky, 60),
        (1, 0),
    );
    emu.clear_journal();
    let compliant = timed_case(
        LATENCY_INVOCATIONS,
        pid,
        || {},
        || conn.invoke(&clean, 60),
        (0, 1),
    );
    let compliant_calls = emu.journal().len();
    emu.set_latency(Duration::ZERO);
    stop(child);
    let (remediate, compliant) = (remediate?, compliant?);
    if compliant_calls != 2 * LATENCY_INVOCATIONS {
        return Err(format!(
            "{compliant_calls} API calls for {LATENCY_INVOCATIONS} compliant groups, expected 2 each"
        ));
    }
    let added = ADDED_LATENCY.as_secs_f64() * 1e3;
    let rig = rig_round_trip(emu)?;
    let mut figures = Vec::new();
    for (case, id, what, calls, trips) in [
        (
            &remediate,
            "remediate",
            "1 group remediated",
            4,
            REMEDIATED_ROUND_TRIPS,
        ),
        (
            &compliant,
            "compliant",
            "1 group already compliant",
            2,
            COMPLIANT_ROUND_TRIPS,
        ),
    ] {
        let ideal = trips as f64 * added;
        let p50 = percentile(&case.wall, 0.5);
        let p99 = percentile(&case.wall, 0.99);
        let mut detail = case.detail();
        detail["idealMs"] = json!(ideal);
        detail["roundTrips"] = json!(trips);
        detail["apiCalls"] = json!(calls);
        detail["addedLatencyMsPerCall"] = json!(added);
        detail["p50TimesIdeal"] = json!(p50 / ideal);
        detail["rigRoundTripP50Ms"] = json!(rig.value);
        detail["idealOnThisRigMs"] = json!(trips as f64 * rig.value);
        figures.push(
            Figure::new(
                &format!("latency_p50_{id}"),
                format!(
                    "Latency, +{added:.0} ms per call: {what} ({calls} calls), p50 \
                     (ideal {ideal:.0} ms: {trips} round trip{})",
                    if trips == 1 { "" } else { "s" }
                ),
                p50,
                "ms",
            )
            .target(ideal + LATENCY_ALLOWANCE_MS)
            .detail(detail),
        );
        figures.push(Figure::new(
            &format!("latency_p99_{id}"),
            format!("Latency, +{added:.0} ms per call: {what}, p99 (ideal {ideal:.0} ms)"),
            p99,
            "ms",
        ));
    }
    figures.push(rig);
    Ok(figures)
}

/// What one round trip costs on this rig, without the function: one signed
/// `DescribeSecurityGroupAttribute` straight to the emulator with the added latency, from the
/// function's own client on a thread of its own; p50 of [`LATENCY_INVOCATIONS`]. Above the
/// added 20 ms it is the emulator's work for the call, its timer's rounding and the wake-ups
/// after each wait: times the round trips, the least the latency figures can show here.
fn rig_round_trip(emu: &Emulator) -> Result<Figure, String> {
    use acs_openapi::credentials::Credentials;
    use acs_openapi::{CallContext, Client, ClientSettings};
    use sg_remediator::config::Config;
    use sg_remediator::services::ecs;

    let endpoint = emu.ecs_endpoint();
    let config = Config::from_lookup(|name| (name == "ECS_ENDPOINT").then(|| endpoint.clone()))
        .map_err(|e| e.to_string())?;
    let endpoint = config.endpoints.ecs(REGION).map_err(|e| e.to_string())?;
    let client = Client::new(ClientSettings {
        allow_http: true,
        ..ClientSettings::default()
    })
    .map_err(|e| e.to_string())?;
    let credentials = Credentials::new(KEY_ID, KEY_SECRET, Some(KEY_TOKEN.to_string()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;
    emu.reset();
    let wall = runtime.block_on(async {
        let mut wall = Vec::with_capacity(LATENCY_INVOCATIONS);
        for i in 0..20 + LATENCY_INVOCATIONS {
            if i == 20 {
                emu.set_latency(ADDED_LATENCY);
            }
            let cx = CallContext {
                credentials: &credentials,
                deadline: Instant::now() + Duration::from_secs(10),
            };
            let started = Instant::now();
            ecs::describe_security_group_attribute(&client, &cx, &endpoint, REGION, WARM_COMPLIANT)
                .await
                .map_err(|e| format!("rig round trip: {e}"))?;
            if i >= 20 {
                wall.push(ms(started.elapsed()));
            }
        }
        Ok::<_, String>(wall)
    });
    emu.set_latency(Duration::ZERO);
    let wall = sorted(wall?);
    Ok(Figure::new(
        "latency_rig_round_trip_p50",
        format!(
            "  the rig: one call straight to the emulator, +{} ms, p50 (no target: the floor \
             under each round trip above)",
            ADDED_LATENCY.as_millis()
        ),
        percentile(&wall, 0.5),
        "ms",
    )
    .detail(spread(&wall)))
}

fn warm_latency(bin: &Path, emu: &Emulator) -> Result<Vec<Figure>, String> {
    emu.reset();
    let port = free_port()?;
    let child = spawn(bin, emu, port)?;
    let mut conn = conn(connect_when_ready(port, Instant::now())?);
    let clean = event(&[WARM_COMPLIANT.to_string()]);
    let risky = event(&[WARM_RISKY.to_string()]);
    // Warm up: connection pool to the emulator, allocator, lazy statics.
    for _ in 0..20 {
        conn.invoke(&clean, 60)?;
    }
    let pid = child.pid();
    // Put the SSH rule back (and forget ClientTokens) outside the measured time.
    let remediate = warm_case(pid, || emu.reset(), || conn.invoke(&risky, 60), (1, 0))?;
    let compliant = warm_case(pid, || {}, || conn.invoke(&clean, 60), (0, 1))?;
    stop(child);
    let replayed = replayed_warm(bin, emu, [(&risky, (1, 0), 4), (&clean, (0, 1), 2)])?;
    let [replayed_remediate, replayed_compliant] = replayed.map(|case| {
        let mut detail = case.detail();
        detail["rig"] = json!(
            "test_kit::Replay: every call answered with the bytes the emulator answered for \
             the same call of a recorded invocation; emulatorCpuMsPerInvocation is the \
             replay's threads"
        );
        (percentile(&case.wall, 0.5), detail)
    });
    Ok(vec![
        Figure::new(
            "warm_p50_remediate",
            "Warm: 1 group remediated (4 API calls), p50",
            percentile(&remediate.wall, 0.5),
            "ms",
        )
        .detail(remediate.detail()),
        Figure::new(
            "warm_p99_remediate",
            "Warm: 1 group remediated (4 API calls), p99",
            percentile(&remediate.wall, 0.99),
            "ms",
        ),
        Figure::new(
            "warm_p50_compliant",
            "Warm: 1 group already compliant (2 API calls), p50",
            percentile(&compliant.wall, 0.5),
            "ms",
        )
        .detail(compliant.detail()),
        Figure::new(
            "warm_p99_compliant",
            "Warm: 1 group already compliant (2 API calls), p99",
            percentile(&compliant.wall, 0.99),
            "ms",
        ),
        Figure::new(
            "warm_p50_remediate_replayed",
            "Warm: 1 group remediated, p50, against recorded answers (no emulator CPU)",
            replayed_remediate.0,
            "ms",
        )
        .target(WARM_TARGET_MS)
        .detail(replayed_remediate.1),
        Figure::new(
            "warm_p50_compliant_replayed",
            "Warm: 1 group already compliant, p50, against recorded answers (no emulator CPU)",
            replayed_compliant.0,
            "ms",
        )
        .target(WARM_TARGET_MS)
        .detail(replayed_compliant.1),
    ])
}

/// The warm cases again, against [`Replay`] instead of the emulator: each case's invocation
/// is recorded once through to the emulator (`(event, expected summary, API calls)`), then
/// timed [`WARM_INVOCATIONS`] times with every call answered from the tape. The emulator's
/// work (signatures, contracts, state, rendering) leaves the two cores the function runs on,
/// as the cloud's work does on FC; what is left of the wall time is the function's own, over
/// loopback. Every replayed invocation's report is still checked.
fn replayed_warm(
    bin: &Path,
    emu: &Emulator,
    cases: [(&[u8], (u64, u64), usize); 2],
) -> Result<[WarmCase; 2], String> {
    let replay = Replay::start(emu)?;
    let port = free_port()?;
    let child = Launch::new(bin)
        .replay(&replay)
        .port(port)
        .discard_output()
        .spawn()?;
    let mut conn = conn(connect_when_ready(port, Instant::now())?);
    let pid = child.pid();
    // Through to the emulator first, so that no first-call work of the process is taped.
    for _ in 0..20 {
        conn.invoke(cases[1].0, 60)?;
    }
    let mut timed = Vec::new();
    for (event, summary, calls) in cases {
        emu.reset();
        replay.record();
        let (status, body) = conn.invoke(event, 60)?;
        if status != 200 {
            return Err(format!("recorded invocation answered {status}: {body}"));
        }
        expect_summary(&body, summary.0, summary.1)?;
        let tape = replay.replay();
        if tape.len() != calls {
            return Err(format!("recorded {tape:?}, expected {calls} API calls"));
        }
        // Warm up against the tape, then time.
        for _ in 0..20 {
            let (status, body) = conn.invoke(event, 60)?;
            if status != 200 {
                return Err(format!("replayed invocation answered {status}: {body}"));
            }
        }
        timed.push(warm_case(pid, || {}, || conn.invoke(event, 60), summary)?);
        if let Some(mismatch) = replay.mismatch() {
            return Err(mismatch);
        }
    }
    stop(child);
    timed
        .try_into()
        .map_err(|_| "two replayed cases expected".to_string())
}

/// `(key, value in kB)` lines of `/proc/<pid>/status`.
fn proc_status_kib(pid: u32, key: &str) -> Result<f64, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("{key} missing from /proc/{pid}/status"))
}

/// One warm case: [`WARM_INVOCATIONS`] timed invocations, each with the CPU it cost the
/// function and the emulator.
struct WarmCase {
    /// Wall time of each invocation, ms, sorted.
    wall: Vec<f64>,
    /// How many invocations were timed.
    count: usize,
    /// CPU of `bootstrap` (schedstat) over the timed invocations, ns.
    function_ns: u64,
    /// CPU of every thread of this process but the driver's over the same invocations, ns: the
    /// emulator's tokio worker, which answers the function's calls.
    emulator_ns: u64,
}

impl WarmCase {
    /// The spread of the wall times, and where the CPU of a mean invocation went: what is left
    /// of the wall time is waiting (wake-ups, loopback round trips, the two sharing 2 vCPUs).
    fn detail(&self) -> Value {
        let per_invocation = |ns: u64| ns as f64 / 1e6 / self.count as f64;
        let mut detail = spread(&self.wall);
        detail["functionCpuMsPerInvocation"] = json!(per_invocation(self.function_ns));
        detail["emulatorCpuMsPerInvocation"] = json!(per_invocation(self.emulator_ns));
        detail["cpuNote"] = json!(
            "means over the timed invocations, from /proc/<pid>/task/*/schedstat: the function \
             (bootstrap) and the emulator (every thread of the bench process but the driver's); \
             both are in the wall time, and so are the waits between them"
        );
        detail
    }
}

/// Times `invoke` [`WARM_INVOCATIONS`] times, `prepare` before each outside the clock, and
/// checks each answer's summary is (remediated, compliant).
fn warm_case(
    pid: u32,
    prepare: impl FnMut(),
    invoke: impl FnMut() -> Result<(u16, Value), String>,
    summary: (u64, u64),
) -> Result<WarmCase, String> {
    timed_case(WARM_INVOCATIONS, pid, prepare, invoke, summary)
}

/// [`warm_case`], `count` times.
fn timed_case(
    count: usize,
    pid: u32,
    mut prepare: impl FnMut(),
    mut invoke: impl FnMut() -> Result<(u16, Value), String>,
    summary: (u64, u64),
) -> Result<WarmCase, String> {
    let me = this_thread_id();
    let mut case = WarmCase {
        wall: Vec::with_capacity(count),
        count,
        function_ns: 0,
        emulator_ns: 0,
    };
    for _ in 0..count {
        prepare();
        let (function_before, others_before) = (cpu_time_ns(pid)?, threads_cpu_ns(me.as_deref())?);
        let started = Instant::now();
        let (status, body) = invoke()?;
        let wall = started.elapsed();
        let (function_after, others_after) = (cpu_time_ns(pid)?, threads_cpu_ns(me.as_deref())?);
        case.wall.push(ms(wall));
        case.function_ns += function_after.saturating_sub(function_before);
        case.emulator_ns += others_after.saturating_sub(others_before);
        if status != 200 {
            return Err(format!("warm invocation answered {status}: {body}"));
        }
        expect_summary(&body, summary.0, summary.1)?;
    }
    case.wall = sorted(case.wall);
    Ok(case)
}

/// This thread's id (the last part of `/proc/thread-self`).
fn this_thread_id() -> Option<String> {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
}

/// CPU nanoseconds of every thread of this process but `except` (see [`tasks_cpu_ns`]).
fn threads_cpu_ns(except: Option<&str>) -> Result<u64, String> {
    tasks_cpu_ns("/proc/self/task", except)
}

/// User + system CPU time of a process, from `/proc/<pid>/stat` (clock ticks of 10 ms).
fn cpu_time(pid: u32) -> Result<Duration, String> {
    cpu_user_system(pid).map(|(user, system)| user + system)
}

/// User and system CPU time of a process apart (utime, stime; clock ticks of 10 ms): how much
/// of a figure is the function's own code and how much the kernel's work for it.
fn cpu_user_system(pid: u32) -> Result<(Duration, Duration), String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => Ok((Duration::from_millis(u * 10), Duration::from_millis(s * 10))),
        _ => Err("unreadable /proc/<pid>/stat".into()),
    }
}

fn big_event(bin: &Path, emu: &Emulator, latency: Duration) -> Result<Vec<Figure>, String> {
    let groups: Vec<String> = (0..BIG_EVENT).map(big_group_id).collect();
    let risky = (0..BIG_EVENT).filter(|i| big_group_is_risky(*i)).count() as u64;
    let body = event(&groups);
    let port = free_port()?;
    let child = spawn(bin, emu, port)?;
    let pid = child.pid();
    let mut conn = conn(connect_when_ready(port, Instant::now())?);
    let idle_hwm = proc_status_kib(pid, "VmHWM:")?;
    let cpu_before = cpu_time(pid)?;
    emu.clear_journal();
    emu.set_latency(latency);
    let started = Instant::now();
    let (status, report) = conn.invoke(&body, 600)?;
    let wall = started.elapsed();
    emu.set_latency(Duration::ZERO);
    let cpu = cpu_time(pid)?.saturating_sub(cpu_before);
    let hwm = proc_status_kib(pid, "VmHWM:")?;
    stop(child);
    if status != 200 {
        return Err(format!("the {BIG_EVENT}-resource event answered {status}"));
    }
    expect_summary(&report, risky, BIG_EVENT as u64 - risky)?;
    let calls = emu.journal().len();
    let concurrency = f64::from(DEFAULT_MAX_CONCURRENCY);
    if latency.is_zero() {
        return Ok(vec![
            Figure::new(
                "peak_rss_1000",
                format!("Peak RSS (VmHWM) during a {BIG_EVENT}-resource event"),
                hwm / 1024.0,
                "MiB",
            )
            .target(16.0)
            .detail(json!({"idleVmHwmMiB": idle_hwm / 1024.0, "bodyBytes": body.len()})),
            Figure::new(
                "process_cpu_per_resource",
                "Process CPU per resource, whole function (HTTP, JSON, logs), 1,000-resource event",
                cpu.as_secs_f64() * 1e6 / BIG_EVENT as f64,
                "µs",
            )
            .detail(
                json!({"cpuMs": ms(cpu), "wallMs": ms(wall), "apiCalls": calls,
                           "note": "from /proc/<pid>/stat, 10 ms resolution"}),
            ),
        ]);
    }
    let trips = round_trips(risky, calls)?;
    let ideal = latency.as_secs_f64() * trips as f64 / concurrency;
    let calls_bound = latency.as_secs_f64() * calls as f64 / concurrency;
    Ok(vec![
        Figure::new(
            "throughput_ratio_1000",
            format!(
                "Throughput: {BIG_EVENT} resources, +{} ms per call, wall ÷ ideal \
                 (round trips × {} ms ÷ {DEFAULT_MAX_CONCURRENCY})",
                latency.as_millis(),
                latency.as_millis()
            ),
            wall.as_secs_f64() / ideal,
            "×",
        )
        .target(THROUGHPUT_TARGET)
        .detail(json!({
            "wallMs": ms(wall), "idealMs": ideal * 1e3, "roundTrips": trips, "apiCalls": calls,
            "maxConcurrency": DEFAULT_MAX_CONCURRENCY, "remediated": risky,
            "callsTimesLatencyMs": calls_bound * 1e3,
            "wallOverCallsTimesLatency": wall.as_secs_f64() / calls_bound,
            "vmHwmMiB": hwm / 1024.0,
        })),
        Figure::new(
            "throughput_wall_1000",
            format!(
                "Throughput: wall time, {BIG_EVENT} resources (ideal {:.0} ms: {trips} round \
                 trips, {calls} calls)",
                ideal * 1e3
            ),
            ms(wall),
            "ms",
        ),
    ])
}

/// The hardening bounds, each from a fresh process: the peak RSS of one event of exactly
/// `MAX_EVENT_BYTES`, and the response size of 1,000 resources under a throttling storm.
fn bounds(
    bin: &Path,
    runtime: &tokio::runtime::Runtime,
    emu: &Emulator,
) -> Result<Vec<Figure>, String> {
    Ok(vec![
        bounds_event_rss(bin, runtime, emu)?,
        bounds_storm_response(bin, runtime)?,
    ])
}

/// `{"resources":[{"resourceId":"iii…"}]}`, exactly `MAX_EVENT_BYTES` long: the largest body
/// the runtime accepts, nearly all of it one string the function must not copy.
fn max_size_event() -> Vec<u8> {
    let size = fc_runtime::DEFAULT_MAX_EVENT_BYTES;
    let (head, tail) = (r#"{"resources":[{"resourceId":""#, r#""}]}"#);
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(head.as_bytes());
    body.resize(size - tail.len(), b'i');
    body.extend_from_slice(tail.as_bytes());
    body
}

fn bounds_event_rss(
    bin: &Path,
    runtime: &tokio::runtime::Runtime,
    emu: &Emulator,
) -> Result<Figure, String> {
    emu.reset();
    let body = max_size_event();
    let body_bytes = body.len();
    let port = free_port()?;
    let child = spawn(bin, emu, port)?;
    let pid = child.pid();
    drop(connect_when_ready(port, Instant::now())?);
    let idle_hwm = proc_status_kib(pid, "VmHWM:")?;
    let answer = invoke_raw(runtime, port, &bench_caller(60), body)?;
    let hwm = proc_status_kib(pid, "VmHWM:")?;
    stop(child);
    if !answer.is_function_error() || answer.body["summary"]["failed"] != 1 {
        return Err(format!(
            "the {body_bytes}-byte event answered HTTP {} {:?}, expected a function error with \
             1 failed resource: {:.300}",
            answer.status, answer.fc_status, answer.text
        ));
    }
    Ok(Figure::new(
        "bounds_event_peak_rss",
        format!(
            "Bounds: peak RSS (VmHWM) after one {} MiB event (MAX_EVENT_BYTES)",
            body_bytes / MIB
        ),
        hwm / 1024.0,
        "MiB",
    )
    .target(BOUND_EVENT_RSS_MIB)
    .detail(json!({
        "idleVmHwmMiB": idle_hwm / 1024.0, "bodyBytes": body_bytes,
        "responseBytes": answer.text.len(),
    })))
}

fn bounds_storm_response(bin: &Path, runtime: &tokio::runtime::Runtime) -> Result<Figure, String> {
    // An emulator of its own: the fault never reaches another section.
    let emu = runtime
        .block_on(Emulator::start(fixture(0)))
        .map_err(|e| e.to_string())?;
    let message = format!(
        "Request was denied due to user flow control. {}",
        "x".repeat(STORM_MESSAGE_BYTES)
    );
    emu.inject(
        serde_json::from_value(json!({
            "kind": {"type": "error", "status": 400, "code": "Throttling.User", "message": message},
        }))
        .map_err(|e| format!("the storm's fault: {e}"))?,
    );
    let ids: Vec<String> = (0..BIG_EVENT)
        .map(|i| format!("sg-benchstorm{i:08}"))
        .collect();
    let port = free_port()?;
    let child = Launch::new(bin)
        .emulator(&emu)
        .port(port)
        .env("MAX_CONCURRENCY", STORM_CONCURRENCY.to_string())
        .discard_output()
        .spawn()?;
    drop(connect_when_ready(port, Instant::now())?);
    let answer = invoke_raw(runtime, port, &bench_caller(STORM_TIMEOUT_S), event(&ids))?;
    stop(child);
    let calls = emu.journal().len();
    emu.clear_faults();
    drop(emu);

    let results = answer.body["results"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let status_of = |id: &str| {
        results
            .iter()
            .find(|r| r["resourceId"] == id)
            .and_then(|r| r["status"].as_str())
    };
    let missing = ids.iter().filter(|id| status_of(id).is_none()).count();
    if results.len() != BIG_EVENT || missing > 0 {
        return Err(format!(
            "the throttling storm answered HTTP {} with {} results, {missing} resources without \
             a status: {:.300}",
            answer.status,
            results.len(),
            answer.text
        ));
    }
    let failed = ids
        .iter()
        .filter(|id| status_of(id) == Some("failed"))
        .count();
    let throttled = results
        .iter()
        .filter(|r| {
            r["reason"]
                .as_str()
                .is_some_and(|s| s.contains("Throttling.User"))
        })
        .count();
    Ok(Figure::new(
        "bounds_storm_response",
        format!(
            "Bounds: response size, {BIG_EVENT} resources under a throttling storm (every call \
             HTTP 400 Throttling.User, {} KB message; MAX_CONCURRENCY={STORM_CONCURRENCY}, \
             {STORM_TIMEOUT_S} s)",
            STORM_MESSAGE_BYTES / 1000
        ),
        answer.text.len() as f64 / MIB as f64,
        "MiB",
    )
    .target(BOUND_RESPONSE_MIB)
    .detail(json!({
        "responseBytes": answer.text.len(), "httpStatus": answer.status, "results": results.len(),
        "failed": failed, "reasonsNamingThrottling": throttled, "apiCalls": calls,
        "wallMs": ms(answer.elapsed),
    })))
}

/// The fixture's function role invoking with a `timeout_s` deadline.
fn bench_caller(timeout_s: u32) -> Caller {
    Caller::new(Key::sts(KEY_ID, KEY_SECRET, KEY_TOKEN))
        .content_type("application/json")
        .timeout(timeout_s)
}

/// One invocation with FC's headers on a connection of its own, keeping the answer's exact
/// bytes (the keep-alive [`Conn`] hands back only the parsed JSON).
fn invoke_raw(
    runtime: &tokio::runtime::Runtime,
    port: u16,
    caller: &Caller,
    body: Vec<u8>,
) -> Result<Answer, String> {
    runtime.block_on(async {
        let mut request = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/invoke"))
            .body(body);
        for (name, value) in caller.headers("bench-bounds") {
            request = request.header(name, value);
        }
        let started = Instant::now();
        let response = request.send().await.map_err(|e| format!("invoke: {e}"))?;
        Answer::read(response, started)
            .await
            .map_err(|e| format!("the answer: {e}"))
    })
}

/// The sequential round trips of the mixed event's groups ([`REMEDIATED_ROUND_TRIPS`] per
/// remediated group, [`COMPLIANT_ROUND_TRIPS`] per compliant one), once the journal confirms
/// the calls those stand for (4 and 2: VPC groups, one page each).
fn round_trips(remediated: u64, calls: usize) -> Result<usize, String> {
    let remediated = remediated as usize;
    let compliant = BIG_EVENT - remediated;
    if calls != remediated * 4 + compliant * 2 {
        return Err(format!(
            "{calls} API calls for {remediated} remediated and {compliant} compliant groups, \
             expected 4 and 2 each"
        ));
    }
    Ok(remediated * REMEDIATED_ROUND_TRIPS + compliant * COMPLIANT_ROUND_TRIPS)
}

/// Criterion's median for `cpu/<name>`, in µs.
fn criterion_median_us(name: &str) -> Result<f64, String> {
    let path = format!("target/criterion/cpu/{name}/new/estimates.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{path}: {e} (run `cargo bench --bench cpu` first)"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    v["median"]["point_estimate"]
        .as_f64()
        .map(|ns| ns / 1e3)
        .ok_or_else(|| format!("{path}: no median"))
}

fn cpu_per_resource() -> Result<Vec<Figure>, String> {
    // (criterion name, figure id, label, serde_json's floor for the same answer when a parse)
    let parts = [
        ("sign_request", "cpu_sign", "CPU: sign one request", None),
        (
            "parse_config_resource",
            "cpu_parse_config",
            "CPU: parse GetDiscoveredResource (10 rules)",
            Some("serde_floor_config_resource"),
        ),
        (
            "parse_describe_page",
            "cpu_parse_describe",
            "CPU: parse DescribeSecurityGroupAttribute (10 rules)",
            Some("serde_floor_describe_page"),
        ),
        (
            "select_10_rules",
            "cpu_select",
            "CPU: Selector::evaluate, 10 rules",
            None,
        ),
    ];
    let mut figures = Vec::new();
    let (mut sum, mut floor_sum) = (0.0, 0.0);
    for (name, id, label, floor) in parts {
        let us = criterion_median_us(name)?;
        sum += us;
        let mut figure = Figure::new(id, label, us, "µs");
        match floor {
            None => floor_sum += us,
            Some(floor) => {
                let floor_us = criterion_median_us(floor)?;
                floor_sum += floor_us;
                figures.push(figure.detail(json!({
                    "serdeFloorUs": floor_us,
                    "timesSerdeFloor": us / floor_us,
                })));
                figure = Figure::new(
                    &format!("{id}_serde_floor"),
                    "  serde_json's floor for the same answer (derived, borrowed, unchecked)",
                    floor_us,
                    "µs",
                )
                .detail(json!({
                    "criterion": floor,
                    "note": "serde_json deriving borrowed structs of the same answer: the fields \
                             the function reads, as plain strings, nothing checked \
                             (benches/cpu.rs, mod floor)",
                }));
            }
        }
        figures.push(figure);
    }
    figures.push(Figure::new(
        "cpu_per_resource",
        "CPU per resource: sign + parse + parse + select (criterion medians)",
        sum,
        "µs",
    ));
    figures.push(
        Figure::new(
            "cpu_per_resource_serde_floor",
            "  the same sum with serde_json's floor for each parse",
            floor_sum,
            "µs",
        )
        .detail(json!({
            "note": "sign + the two serde_json floors + select, medians of the same criterion run: \
                     what the sum would be if the readers cost no more than serde_json's own \
                     derived parse of the same bytes",
        })),
    );
    // The target is relative to the floor measured in the same run: an absolute figure on a
    // machine whose speed drifts from minute to minute is either out of reach or too loose.
    figures.push(
        Figure::new(
            "cpu_per_resource_times_serde_floor",
            "  the sum ÷ its floor",
            sum / floor_sum,
            "×",
        )
        .target(TIMES_SERDE_FLOOR_TARGET),
    );
    Ok(figures)
}

/// Written by `make bench` before the driver runs (the `transport_floor` example of
/// acs-openapi, with `TRANSPORT_FLOOR_JSON`).
const TRANSPORT_FLOOR_FILE: &str = "target/bench/transport_floor.json";

/// One API call over loopback, µs of the caller's CPU: the mean of the example's rounds.
struct TransportFloor {
    kernel: f64,
    hyper: f64,
    client: f64,
}

fn transport_floor() -> Result<TransportFloor, String> {
    let text = std::fs::read_to_string(TRANSPORT_FLOOR_FILE).map_err(|e| {
        format!(
            "{TRANSPORT_FLOOR_FILE}: {e} (run `TRANSPORT_FLOOR_JSON={TRANSPORT_FLOOR_FILE} \
             cargo run --release -p acs-openapi --example transport_floor` first)"
        )
    })?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("{TRANSPORT_FLOOR_FILE}: {e}"))?;
    let rounds = v["rounds"].as_array().filter(|r| !r.is_empty());
    let rounds = rounds.ok_or_else(|| format!("{TRANSPORT_FLOOR_FILE}: no rounds"))?;
    let mean = |key: &str| -> Result<f64, String> {
        let values: Option<Vec<f64>> = rounds.iter().map(|r| r[key].as_f64()).collect();
        let values =
            values.ok_or_else(|| format!("{TRANSPORT_FLOOR_FILE}: a round has no {key}"))?;
        Ok(values.iter().sum::<f64>() / values.len() as f64)
    };
    Ok(TransportFloor {
        kernel: mean("kernelUs")?,
        hyper: mean("hyperUs")?,
        client: mean("clientUs")?,
    })
}

/// The least a group's work can cost this machine with hyper and serde_json, measured in this
/// run: each call through hyper's own connection, signed, and each answer read at
/// serde_json's floor (no selection, revoke logic, audit line or report). Beside it, when the
/// class figures ran, the function's figure as a multiple of it.
fn floors_per_group(figures: &[Figure]) -> Result<Vec<Figure>, String> {
    let transport = transport_floor()?;
    let sign = criterion_median_us("sign_request")?;
    let describe = criterion_median_us("serde_floor_describe_page")?;
    let config = criterion_median_us("serde_floor_config_resource")?;
    let measured = |id: &str| figures.iter().find(|f| f.id == id).map(|f| f.value);
    // (figure id, label, calls, ECS pages read, the class figure it bounds)
    let classes = [
        (
            "process_cpu_per_remediated_group_floor",
            "  its floor: 4 × (hyper call + sign) + 2 ECS pages + 1 Config answer, serde_json's floor",
            4.0,
            2.0,
            "process_cpu_per_remediated_group",
        ),
        (
            "process_cpu_per_compliant_group_floor",
            "  its floor: 2 × (hyper call + sign) + 1 ECS page + 1 Config answer, serde_json's floor",
            2.0,
            1.0,
            "process_cpu_per_compliant_group",
        ),
    ];
    let mut figures = Vec::new();
    for (id, label, calls, pages, bounds) in classes {
        let floor = calls * (transport.hyper + sign) + pages * describe + config;
        let mut detail = json!({
            "hyperUsPerCall": transport.hyper, "kernelUsPerCall": transport.kernel,
            "clientUsPerCall": transport.client, "signUs": sign,
            "ecsPageFloorUs": describe, "configAnswerFloorUs": config,
            "note": "transport from target/bench/transport_floor.json (one call at a time, \
                     one thread), the rest criterion medians of this run",
        });
        let measured = measured(bounds);
        if let Some(value) = measured {
            detail["measuredUs"] = json!(value);
            detail["timesFloor"] = json!(value / floor);
        }
        figures.push(Figure::new(id, label, floor, "µs").detail(detail));
        // The per-group target: the function's CPU against the floor of the same work in
        // the same run (an absolute figure sat below this machine's floor).
        if let Some(value) = measured {
            figures.push(
                Figure::new(
                    &format!("{bounds}_times_floor"),
                    "  the function's CPU ÷ its floor",
                    value / floor,
                    "×",
                )
                .target(TIMES_FLOOR_TARGET),
            );
        }
    }
    Ok(figures)
}

fn file_size(path: &Path) -> Option<f64> {
    std::fs::metadata(path).ok().map(|m| m.len() as f64)
}

fn sizes(bootstrap: &Path) -> Vec<Figure> {
    let mut figures = Vec::new();
    let static_bin = [
        "dist/bootstrap",
        "target/x86_64-unknown-linux-musl/release/bootstrap",
    ]
    .into_iter()
    .map(Path::new)
    .find(|p| p.is_file());
    if let Some(path) = static_bin {
        figures.push(
            Figure::new(
                "size_static_binary",
                format!("Size: static binary ({})", path.display()),
                file_size(path).unwrap_or(0.0) / 1e6,
                "MB",
            )
            .target(8.0),
        );
    }
    if let Some(size) = file_size(bootstrap) {
        figures.push(Figure::new(
            "size_release_binary",
            format!("Size: {} (glibc, dynamically linked)", bootstrap.display()),
            size / 1e6,
            "MB",
        ));
    }
    let zip = std::env::var("BENCH_ZIP").unwrap_or_else(|_| "dist/sg-remediator.zip".into());
    if let Some(size) = file_size(Path::new(&zip)) {
        figures.push(Figure::new(
            "size_zip",
            format!("Size: {zip}"),
            size / 1e6,
            "MB",
        ));
    }
    figures
}

// ------------------------------------------------------------------------------------------
// Report
// ------------------------------------------------------------------------------------------

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The machine-wide CPU counters of `/proc/stat` (its `cpu` line), in ticks.
#[derive(Clone, Copy)]
struct CpuStat {
    total: u64,
    steal: u64,
}

impl CpuStat {
    fn read() -> Option<CpuStat> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        let line = text.lines().find(|l| l.starts_with("cpu "))?;
        let ticks: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        // user nice system idle iowait irq softirq steal (guest time is already in user).
        Some(CpuStat {
            total: ticks.iter().take(8).sum(),
            steal: *ticks.get(7)?,
        })
    }

    /// The share of the machine's CPU time the hypervisor gave to other guests since `start`
    /// (`steal`): on a shared VM the reason a run reads slow, printed with every table.
    fn steal_percent_since(start: Option<CpuStat>) -> Option<f64> {
        let (start, now) = (start?, CpuStat::read()?);
        let total = now.total.checked_sub(start.total).filter(|t| *t > 0)?;
        let steal = now.steal.saturating_sub(start.steal);
        Some((steal as f64 * 1000.0 / total as f64).round() / 10.0)
    }
}

/// The machine, and the CPU steal during the run (see [`CpuStat::steal_percent_since`]).
fn machine(steal_percent: Option<f64>) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: Option<u64> = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpuModel": model,
        "memoryGiB": mem_kib.map(|k| (k as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0),
        "kernel": command_output("uname", &["-sr"]),
        "stealPercent": steal_percent,
    })
}

fn report(figures: &[Figure], bootstrap: &Path, steal_percent: Option<f64>) -> Value {
    let notes: Vec<String> = std::env::var("BENCH_NOTES")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    json!({
        "commit": command_output("git", &["rev-parse", "HEAD"]),
        "dirty": command_output("git", &["status", "--porcelain", "--untracked-files=no"])
            .map(|s| !s.is_empty()),
        "date": humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        "machine": machine(steal_percent),
        "bootstrap": bootstrap.display().to_string(),
        "settings": {
            "coldStarts": COLD_STARTS, "warmInvocations": WARM_INVOCATIONS,
            "bigEvent": BIG_EVENT, "riskyShare": 1.0 / RISKY_EVERY as f64,
            "addedLatencyMs": ADDED_LATENCY.as_millis() as u64,
            "maxConcurrency": DEFAULT_MAX_CONCURRENCY,
        },
        "notes": notes,
        "figures": figures.iter().map(|f| json!({
            "id": f.id, "label": f.label, "value": (f.value * 1000.0).round() / 1000.0,
            "unit": f.unit, "target": f.target, "pass": f.pass(), "detail": f.detail,
        })).collect::<Vec<_>>(),
    })
}

fn print_table(report: &Value, figures: &[Figure]) {
    let m = &report["machine"];
    println!(
        "\nsg-remediator bench — commit {} — {} — {} CPUs ({}) — CPU steal during the run {}",
        report["commit"].as_str().unwrap_or("?"),
        report["date"].as_str().unwrap_or("?"),
        m["cpus"],
        m["cpuModel"].as_str().unwrap_or("?"),
        m["stealPercent"]
            .as_f64()
            .map_or_else(|| "unknown".to_string(), |p| format!("{p} %")),
    );
    println!("{:<92} {:>12} {:>10}  result", "figure", "value", "target");
    for f in figures {
        let value = format!("{:.3} {}", f.value, f.unit);
        let target = f
            .target
            .map(|t| format!("≤ {t} {}", f.unit))
            .unwrap_or_default();
        let result = match f.pass() {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "",
        };
        println!("{:<92} {:>12} {:>10}  {result}", f.label, value, target);
    }
    for note in report["notes"].as_array().into_iter().flatten() {
        println!("note: {}", note.as_str().unwrap_or(""));
    }
}

// ------------------------------------------------------------------------------------------
// CPU per group by class, and the event under a CPU cap
// ------------------------------------------------------------------------------------------

/// The CPU that FC's smallest instance gets: 0.1 vCPU (docs/performance.md quotes FC's ratio).
const CPU_CAP: f64 = 0.1;
/// The least a 128 MB instance can be given (0.05 vCPU, the 1:4 end of FC's ratio): measured
/// too, without a target, to show how much room is left under the 0.1 figure.
const CPU_CAP_LOW: f64 = 0.05;

fn class_group_id(risky: bool, i: usize) -> String {
    if risky {
        format!("sg-benchcpur{i:09}")
    } else {
        format!("sg-benchcpuc{i:09}")
    }
}

/// [`BIG_EVENT`] groups that are all remediated and as many that are all compliant, plus the
/// warm-up group.
fn class_fixture() -> Fixture {
    let mut groups = vec![group(WARM_COMPLIANT, false)];
    for risky in [true, false] {
        groups.extend((0..BIG_EVENT).map(|i| group(&class_group_id(risky, i), risky)));
    }
    let f = json!({
        "accounts": [{"accountId": ACCOUNT, "credentials": [
            {"accessKeyId": KEY_ID, "accessKeySecret": KEY_SECRET, "securityToken": KEY_TOKEN}
        ]}],
        "regions": [REGION],
        "securityGroups": groups,
    });
    Fixture::from_json_str(&f.to_string()).expect("the generated class fixture is valid")
}

/// Nanoseconds every thread of `pid` has run on a CPU (`/proc/<pid>/task/*/schedstat`, first
/// field): the same quantity as utime + stime, without their 10 ms ticks.
fn cpu_time_ns(pid: u32) -> Result<u64, String> {
    tasks_cpu_ns(&format!("/proc/{pid}/task"), None)
}

/// The schedstat run time (ns) summed over the threads listed in `dir`, but the thread `except`.
fn tasks_cpu_ns(dir: &str, except: Option<&str>) -> Result<u64, String> {
    let mut total = 0u64;
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{dir}: {e}"))? {
        let entry = entry.map_err(|e| e.to_string())?;
        if except.is_some_and(|tid| entry.file_name() == tid) {
            continue;
        }
        let path = entry.path().join("schedstat");
        // A thread may end between the listing and the read: it no longer counts either way.
        if let Ok(text) = std::fs::read_to_string(&path) {
            total += text
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| format!("unreadable {}", path.display()))?;
        }
    }
    Ok(total)
}

/// One class event's measurements: the whole process's CPU for one 1,000-group event of one
/// class, per group, with the calls it made, its wall time and a tick-based cross-check.
struct ClassRun {
    /// Run time of every thread (schedstat) per group, µs.
    per_group_us: f64,
    /// API calls the emulator journaled.
    calls: usize,
    wall_ms: f64,
    /// utime and stime per group (10 ms ticks), µs.
    user_us: f64,
    system_us: f64,
}

fn class_event(bin: &Path, emu: &Emulator, risky: bool) -> Result<ClassRun, String> {
    emu.reset();
    let groups: Vec<String> = (0..BIG_EVENT).map(|i| class_group_id(risky, i)).collect();
    let body = event(&groups);
    let port = free_port()?;
    let child = spawn(bin, emu, port)?;
    let pid = child.pid();
    let mut conn = conn(connect_when_ready(port, Instant::now())?);
    // Warm up (connection pool, lazy statics), as a warm FC instance is.
    let (status, _) = conn.invoke(&event(&[WARM_COMPLIANT.to_string()]), 60)?;
    if status != 200 {
        return Err(format!("warm-up answered {status}"));
    }
    emu.clear_journal();
    let (ns_before, ticks_before) = (cpu_time_ns(pid)?, cpu_user_system(pid)?);
    let started = Instant::now();
    let (status, report) = conn.invoke(&body, 600)?;
    let wall = started.elapsed();
    let (ns_after, ticks_after) = (cpu_time_ns(pid)?, cpu_user_system(pid)?);
    stop(child);
    if status != 200 {
        return Err(format!("the class event answered {status}"));
    }
    let n = BIG_EVENT as u64;
    if risky {
        expect_summary(&report, n, 0)?;
    } else {
        expect_summary(&report, 0, n)?;
    }
    let per_group = |d: Duration| d.as_secs_f64() * 1e6 / BIG_EVENT as f64;
    Ok(ClassRun {
        per_group_us: (ns_after - ns_before) as f64 / 1e3 / BIG_EVENT as f64,
        calls: emu.journal().len(),
        wall_ms: ms(wall),
        user_us: per_group(ticks_after.0.saturating_sub(ticks_before.0)),
        system_us: per_group(ticks_after.1.saturating_sub(ticks_before.1)),
    })
}

/// How many events of each class [`cpu_per_group_by_class`] runs, in turn.
const CLASS_RUNS: usize = 3;

/// Whole-process CPU per remediated group (4 calls) and per compliant group (2 calls): the
/// median of [`CLASS_RUNS`] events of each class, run in turn (remediated, compliant, …), so
/// that a minute in which the VM runs slow moves one event, not the figure.
fn cpu_per_group_by_class(bin: &Path, emu: &Emulator) -> Result<Vec<Figure>, String> {
    // (risky, figure id, label, calls per group)
    let classes = [
        (
            true,
            "process_cpu_per_remediated_group",
            "Process CPU per remediated group (4 calls), 1,000 remediated groups, median of 3",
            4,
        ),
        (
            false,
            "process_cpu_per_compliant_group",
            "Process CPU per compliant group (2 calls), 1,000 compliant groups, median of 3",
            2,
        ),
    ];
    let mut runs: [Vec<ClassRun>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..CLASS_RUNS {
        for (k, &(risky, id, _, calls_per_group)) in classes.iter().enumerate() {
            let run = class_event(bin, emu, risky)?;
            if run.calls != BIG_EVENT * calls_per_group {
                return Err(format!(
                    "{id}: {} API calls, expected {} per group",
                    run.calls, calls_per_group
                ));
            }
            runs[k].push(run);
        }
    }
    // No absolute target: the floor of the same work, measured in the same run, is the
    // reference (`floors_per_group`, ≤ TIMES_FLOOR_TARGET × it).
    let mut figures = Vec::new();
    for ((_, id, label, _), mut runs) in classes.into_iter().zip(runs) {
        runs.sort_by(|a, b| a.per_group_us.total_cmp(&b.per_group_us));
        let every: Vec<f64> = runs.iter().map(|r| r.per_group_us).collect();
        let run = &runs[runs.len() / 2];
        figures.push(
            Figure::new(id, label, run.per_group_us, "µs").detail(json!({
                "everyRunUsPerGroup": every,
                "apiCalls": run.calls, "wallMs": run.wall_ms,
                "ticksUsPerGroup": run.user_us + run.system_us,
                "userUsPerGroup": run.user_us, "systemUsPerGroup": run.system_us,
                "note": "sum of /proc/<pid>/task/*/schedstat run time (ns) over the event, \
                         ÷ 1,000, the median of the runs in everyRunUsPerGroup; the rest is \
                         the median run's: ticksUsPerGroup is utime + stime (10 ms ticks) as \
                         a cross-check, userUsPerGroup and systemUsPerGroup the two apart",
            })),
        );
    }
    Ok(figures)
}

/// A CPU controller this process may use to cap `bootstrap`: a child group with
/// `cpu.max` (cgroup v2) or `cpu.cfs_quota_us` (v1), removed again by [`CpuCap::remove`].
struct CpuCap {
    dir: PathBuf,
    procs: PathBuf,
    kind: &'static str,
}

impl CpuCap {
    fn create(share: f64) -> Result<CpuCap, String> {
        let name = format!("sg-remediator-bench-{}", std::process::id());
        let period = 100_000u64;
        let quota = (share * period as f64).round() as u64;
        let v2 = Path::new("/sys/fs/cgroup");
        let v2_cpu = std::fs::read_to_string(v2.join("cgroup.controllers"))
            .is_ok_and(|c| c.split_whitespace().any(|w| w == "cpu"));
        let (dir, file, value, kind) = if v2_cpu {
            (
                v2.join(&name),
                "cpu.max",
                format!("{quota} {period}"),
                "cgroup v2 cpu.max",
            )
        } else {
            (
                Path::new("/sys/fs/cgroup/cpu").join(&name),
                "cpu.cfs_quota_us",
                quota.to_string(),
                "cgroup v1 cpu.cfs_quota_us (period 100 ms)",
            )
        };
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let cap = CpuCap {
            procs: dir.join("cgroup.procs"),
            dir,
            kind,
        };
        if kind.starts_with("cgroup v1") {
            std::fs::write(cap.dir.join("cpu.cfs_period_us"), period.to_string())
                .map_err(|e| format!("cpu.cfs_period_us: {e}"))?;
        }
        if let Err(e) = std::fs::write(cap.dir.join(file), value) {
            cap.remove();
            return Err(format!("{file}: {e}"));
        }
        Ok(cap)
    }

    fn add(&self, pid: u32) -> Result<(), String> {
        std::fs::write(&self.procs, pid.to_string()).map_err(|e| format!("cgroup.procs: {e}"))
    }

    fn remove(self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// The mixed 1,000-resource event (20 ms per call) with `bootstrap` held to `share` of a CPU
/// ([`CPU_CAP`], the target's, or [`CPU_CAP_LOW`], without one), against the API-bound ideal. Without a usable cgroup the figure is derived: the
/// uncapped wall time plus the event's CPU time stretched by 1/cap (each CPU second takes
/// 1/cap seconds of wall time), i.e. as if no CPU work overlapped any wait.
fn capped_event(bin: &Path, emu: &Emulator, share: f64) -> Result<Vec<Figure>, String> {
    let groups: Vec<String> = (0..BIG_EVENT).map(big_group_id).collect();
    let risky = (0..BIG_EVENT).filter(|i| big_group_is_risky(*i)).count() as u64;
    let body = event(&groups);
    let run = |cap: Option<&CpuCap>| -> Result<(Duration, u64, usize), String> {
        emu.reset();
        let port = free_port()?;
        let child = spawn(bin, emu, port)?;
        let pid = child.pid();
        if let Some(cap) = cap {
            if let Err(e) = cap.add(pid) {
                stop(child);
                return Err(e);
            }
        }
        let mut conn = conn(connect_when_ready(port, Instant::now())?);
        let (status, _) = conn.invoke(&event(&[WARM_COMPLIANT.to_string()]), 60)?;
        if status != 200 {
            stop(child);
            return Err(format!("warm-up answered {status}"));
        }
        emu.clear_journal();
        emu.set_latency(ADDED_LATENCY);
        let ns_before = cpu_time_ns(pid)?;
        let started = Instant::now();
        let answer = conn.invoke(&body, 600);
        let wall = started.elapsed();
        emu.set_latency(Duration::ZERO);
        let ns = cpu_time_ns(pid)?.saturating_sub(ns_before);
        stop(child);
        let (status, report) = answer?;
        if status != 200 {
            return Err(format!("the capped event answered {status}"));
        }
        expect_summary(&report, risky, BIG_EVENT as u64 - risky)?;
        Ok((wall, ns, emu.journal().len()))
    };
    let concurrency = f64::from(DEFAULT_MAX_CONCURRENCY);
    let ideal_of = |calls: usize| -> Result<f64, String> {
        Ok(ADDED_LATENCY.as_secs_f64() * round_trips(risky, calls)? as f64 / concurrency)
    };
    let label = format!(
        "Under {share} CPU: {BIG_EVENT} resources, +{} ms per call, wall ÷ ideal \
         (round trips × {} ms ÷ {DEFAULT_MAX_CONCURRENCY})",
        ADDED_LATENCY.as_millis(),
        ADDED_LATENCY.as_millis()
    );
    // The 0.1 figure keeps its id (and its target); the others are named for their share.
    let (id, target) = if share == CPU_CAP {
        ("capped_ratio_1000".to_string(), Some(1.3))
    } else {
        (
            // `capped_ratio_1000_at_0_05`.
            format!(
                "capped_ratio_1000_at_{}",
                share.to_string().replace('.', "_")
            ),
            None,
        )
    };
    let with_target = |f: Figure| match target {
        Some(t) => f.target(t),
        None => f,
    };
    match CpuCap::create(share) {
        Ok(cap) => {
            let kind = cap.kind;
            let result = run(Some(&cap));
            cap.remove();
            let (wall, ns, calls) = result?;
            let ideal = ideal_of(calls)?;
            Ok(vec![with_target(Figure::new(
                &id,
                label,
                wall.as_secs_f64() / ideal,
                "×",
            ))
            .detail(json!({
                "method": format!("measured: bootstrap in a {kind} group at {share} CPU"),
                "wallMs": ms(wall), "idealMs": ideal * 1e3, "apiCalls": calls,
                "cpuMs": ns as f64 / 1e6,
            }))])
        }
        Err(why) => {
            let (wall, ns, calls) = run(None)?;
            let ideal = ideal_of(calls)?;
            let cpu = ns as f64 / 1e9;
            let derived = wall.as_secs_f64() + cpu * (1.0 / share - 1.0);
            Ok(vec![with_target(Figure::new(
                &id,
                label,
                derived / ideal,
                "×",
            ))
            .detail(json!({
                "method": format!(
                    "derived (no CPU cgroup: {why}): uncapped wall + CPU × (1/{share} − 1)"
                ),
                "uncappedWallMs": ms(wall), "cpuMs": cpu * 1e3, "derivedWallMs": derived * 1e3,
                "idealMs": ideal * 1e3, "apiCalls": calls,
            }))])
        }
    }
}

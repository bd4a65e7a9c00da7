//! `sg-remediator-emulator`: the cloud emulator as a separate process (demo, bench, manual
//! testing). Prints one JSON line with the four endpoints once listening, then runs until
//! SIGTERM or SIGINT.
//!
//! Usage: `sg-remediator-emulator --fixture FILE [--config-port N] [--ecs-port N]
//! [--sts-port N] [--actiontrail-port N] [--bind ADDR --allow-non-loopback]`. Each flag can also come from the
//! environment: `SG_EMULATOR_FIXTURE`, `SG_EMULATOR_CONFIG_PORT`, `SG_EMULATOR_ECS_PORT`,
//! `SG_EMULATOR_STS_PORT`, `SG_EMULATOR_ACTIONTRAIL_PORT`, `SG_EMULATOR_BIND`.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use acs_emulator::{Emulator, Fixture, Options};

const USAGE: &str = "usage: sg-remediator-emulator --fixture FILE [--config-port N] [--ecs-port N] [--sts-port N] [--actiontrail-port N] [--bind ADDR --allow-non-loopback]";

struct Args {
    fixture: PathBuf,
    options: Options,
}

fn parse_args() -> Result<Args, String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut fixture = env("SG_EMULATOR_FIXTURE").map(PathBuf::from);
    let mut options = Options::default();
    let mut allow_remote = false;
    let port = |flag: &str, v: &str| {
        v.parse::<u16>()
            .map_err(|_| format!("{flag}: {v:?} is not a port number"))
    };
    let bind = |v: &str| {
        v.parse::<IpAddr>()
            .map_err(|_| format!("--bind: {v:?} is not an IP address"))
    };
    if let Some(v) = env("SG_EMULATOR_CONFIG_PORT") {
        options.config_port = port("SG_EMULATOR_CONFIG_PORT", &v)?;
    }
    if let Some(v) = env("SG_EMULATOR_ECS_PORT") {
        options.ecs_port = port("SG_EMULATOR_ECS_PORT", &v)?;
    }
    if let Some(v) = env("SG_EMULATOR_STS_PORT") {
        options.sts_port = port("SG_EMULATOR_STS_PORT", &v)?;
    }
    if let Some(v) = env("SG_EMULATOR_ACTIONTRAIL_PORT") {
        options.actiontrail_port = port("SG_EMULATOR_ACTIONTRAIL_PORT", &v)?;
    }
    if let Some(v) = env("SG_EMULATOR_BIND") {
        options.bind = bind(&v)?;
    }
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--allow-non-loopback" {
            allow_remote = true;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.to_string());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--fixture" => fixture = Some(PathBuf::from(value)),
            "--config-port" => options.config_port = port(&flag, &value)?,
            "--ecs-port" => options.ecs_port = port(&flag, &value)?,
            "--sts-port" => options.sts_port = port(&flag, &value)?,
            "--actiontrail-port" => options.actiontrail_port = port(&flag, &value)?,
            "--bind" => options.bind = bind(&value)?,
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    if !options.bind.is_loopback() && !allow_remote {
        return Err(format!(
            "refusing to listen on {} without --allow-non-loopback: the admin endpoints are unauthenticated",
            options.bind
        ));
    }
    let fixture = fixture.ok_or_else(|| format!("--fixture is required\n{USAGE}"))?;
    Ok(Args { fixture, options })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let fixture = match Fixture::from_path(&args.fixture) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let emulator = match Emulator::start_with(fixture, args.options).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let line = serde_json::json!({
        "config": emulator.config_endpoint(),
        "ecs": emulator.ecs_endpoint(),
        "sts": emulator.sts_endpoint(),
        "actiontrail": emulator.actiontrail_endpoint(),
    });
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
        return ExitCode::FAILURE;
    }
    drop(out);
    wait_for_signal().await;
    emulator.shutdown().await;
    ExitCode::SUCCESS
}

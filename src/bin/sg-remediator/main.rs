//! `sg-remediator`: the function's engine on the command line, to see and fix an account from a
//! laptop or a CI job before (or without) deploying. Only wiring: arguments → session
//! (configuration, credentials) → subcommand → output → exit status.
//!
//! Exit status: 0 nothing risky / all done, 2 risky rules found (scan, check) or any failure,
//! 1 usage, configuration or credential error, or a change not confirmed.

mod args;
mod commands;
mod session;
mod terminal;

use std::process::ExitCode;

use acs_openapi::credentials::Scrubber;
use clap::Parser;
use sg_remediator::config::Mode;

use args::{Cli, Command};
use commands::{Outcome, Target};
use session::{Fatal, Session};
use terminal::Refusal;

/// Risky rules found, or a failure.
const FLAGGED: u8 = 2;

fn main() -> ExitCode {
    // clap exits 2 on a usage error; here 2 means "risky rules found", so usage errors exit 1.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fatal(
                Fatal(format!("cannot start the async runtime: {e}")),
                &Scrubber::new(),
            )
        }
    };
    // Every output (the table, --json, --output, error messages) goes through one scrubber; the
    // session registers the access key it resolves, and the remediator the roles it assumes.
    let scrubber = Scrubber::new();
    match runtime.block_on(run(&cli, &scrubber)) {
        Ok(outcome) => match emit(&cli, &outcome, &scrubber) {
            Ok(()) if outcome.flagged => ExitCode::from(FLAGGED),
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fatal(e, &scrubber),
        },
        Err(e) => fatal(e, &scrubber),
    }
}

/// The error on stderr, scrubbed of every live secret and its control characters escaped: it
/// may quote a cloud's message.
fn fatal(e: Fatal, scrubber: &Scrubber) -> ExitCode {
    eprintln!(
        "sg-remediator: {}",
        sg_remediator::escape::control(&scrubber.scrub(&e.0))
    );
    ExitCode::FAILURE
}

async fn run(cli: &Cli, scrubber: &Scrubber) -> Result<Outcome, Fatal> {
    let global = &cli.global;
    match &cli.command {
        Command::Scan {
            regions,
            all_regions,
        } => {
            let session = Session::open(global, Mode::DryRun, scrubber).await?;
            commands::scan(session, regions, *all_regions).await
        }
        Command::Check { groups, region } => {
            let session = Session::open(global, Mode::DryRun, scrubber).await?;
            commands::run_engine(session, targets(groups, Some(region))?, Mode::DryRun).await
        }
        Command::Remediate {
            groups,
            region,
            from_scan,
            yes,
            notify,
        } => {
            let mut all = targets(groups, region.as_ref())?;
            if let Some(path) = from_scan {
                all.extend(commands::targets_from_scan(&commands::read_report(path)?)?);
            }
            if all.is_empty() {
                return Err(Fatal(
                    "nothing to remediate: name security groups (with --region) or give --from-scan FILE"
                        .into(),
                ));
            }
            let ids: Vec<&str> = all.iter().map(|t| t.id.as_str()).collect();
            if !yes {
                ask(&format!(
                    "Revoke every world-open rule on a risky port in {} group(s) ({})?",
                    all.len(),
                    ids.join(", ")
                ))?;
            }
            if global.output.is_none() && !global.json {
                eprintln!(
                    "sg-remediator: note: without --output FILE (or --json) the revoked rules' full \
                     attributes, which `restore` needs, are not kept"
                );
            }
            let mut session = Session::open(global, Mode::Enforce, scrubber).await?;
            if !notify {
                session.notify = None;
            } else if session.notify.is_none() {
                return Err(Fatal(
                    "--notify needs NOTIFY_WEBHOOK_URL and NOTIFY_FORMAT (and NOTIFY_WEBHOOK_SECRET \
                     for a signed DingTalk or Lark webhook)"
                        .into(),
                ));
            }
            if session.config.restore_seal_key.is_none() {
                eprintln!(
                    "sg-remediator: note: RESTORE_SEAL_KEY is not set, so the revoked rules carry \
                     no seal and `restore` cannot put them back (re-create them by hand from the \
                     report)"
                );
            }
            commands::run_engine(session, all, Mode::Enforce).await
        }
        Command::Restore {
            report,
            resource,
            yes,
        } => {
            let report = commands::read_report(report)?;
            let requests = commands::restore_requests(&report, resource.as_deref())?;
            if !yes {
                ask(&format!(
                    "Re-authorize the revoked rules of {} group(s)? This re-opens their ports.",
                    requests.len()
                ))?;
            }
            let session = Session::open(global, Mode::Enforce, scrubber).await?;
            if session.config.restore_seal_key.is_none() {
                return Err(Fatal(
                    "restore needs RESTORE_SEAL_KEY, the key that was set when the rules were \
                     revoked: only rules sealed by it are restored"
                        .into(),
                ));
            }
            commands::restore(session, &report, resource.as_deref()).await
        }
    }
}

/// Named groups in `region`.
fn targets(groups: &[String], region: Option<&String>) -> Result<Vec<Target>, Fatal> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let region =
        region.ok_or_else(|| Fatal("--region is required with security group ids".into()))?;
    Ok(groups
        .iter()
        .map(|id| Target {
            region: region.clone(),
            id: id.clone(),
        })
        .collect())
}

fn ask(question: &str) -> Result<(), Fatal> {
    terminal::confirm(question).map_err(|refusal| {
        Fatal(match refusal {
            Refusal::NotATerminal => {
                "refusing to change anything without --yes: stdin is not a terminal, so there is \
                 no one to confirm (nothing was changed)"
                    .into()
            }
            Refusal::Declined => "not confirmed: nothing was changed".into(),
        })
    })
}

/// The table (or the JSON report with --json) on stdout; the JSON report to --output. Each is
/// scrubbed of every live secret first.
fn emit(cli: &Cli, outcome: &Outcome, scrubber: &Scrubber) -> Result<(), Fatal> {
    let json = serde_json::to_string_pretty(&outcome.report).expect("the report serializes");
    let json = scrubber.scrub(&json);
    if let Some(path) = &cli.global.output {
        write_private(path, format!("{json}\n").as_bytes())?;
    }
    if cli.global.json {
        println!("{json}");
    } else {
        print!("{}", scrubber.scrub(&outcome.table));
    }
    Ok(())
}

/// Writes the report to `path` readable by its owner only (it lists every revoked rule), never
/// through a symlink: a link at `path` is refused, and the file is written under a fresh name
/// beside it (created exclusively, mode 0600) and renamed over `path`, so a link swapped in
/// meanwhile is replaced, not followed.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), Fatal> {
    use std::io::Write;
    let shown = path.display();
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Fatal(format!(
            "refusing to write {shown}: it is a symbolic link (name the file itself)"
        )));
    }
    let name = path
        .file_name()
        .ok_or_else(|| Fatal(format!("cannot write {shown}: it names no file")))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&temp)
        .map_err(|e| Fatal(format!("cannot write {}: {e}", temp.display())))?;
    let result = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temp, path));
    result.map_err(|e| {
        // Only the file created above, never one that was already there.
        let _ = std::fs::remove_file(&temp);
        Fatal(format!("cannot write {shown}: {e}"))
    })
}

//! `make demo`: start the real `bootstrap` on a free port, send it a Config-shaped event the way
//! Function Compute would, and print what comes back.
//!
//! TEMPORARY: remediation is not wired into `bootstrap` yet, so the answer only acknowledges the
//! event. A later step replaces this demo with one against the cloud emulator.
//!
//! Usage: `cargo run --example demo -- <path to bootstrap>` (the Makefile passes it).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const EVENT: &str = r#"[
  {"accountId": 1234567890123456, "regionId": "cn-hangzhou", "resourceId": "sg-bp67acfmxazb4p1234",
   "resourceType": "ACS::ECS::SecurityGroup", "configRuleId": "cr-5772ba41209e007b0000"}
]"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bootstrap = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/debug/bootstrap".to_string());
    println!(
        "demo: NOTE remediation is not wired into bootstrap yet; it only acknowledges events."
    );
    println!("demo: starting {bootstrap} on a free port");
    let mut child = Command::new(&bootstrap)
        .env("FC_CUSTOM_LISTEN_PORT", "0")
        .env("LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {bootstrap}: {e}"))?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    let port = loop {
        let line = lines.next().ok_or("bootstrap exited before listening")??;
        println!("bootstrap | {line}");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if v["message"] == "listening" {
            let addr: std::net::SocketAddr = v["addr"].as_str().ok_or("no addr")?.parse()?;
            break addr.port();
        }
    };
    // Keep echoing bootstrap's output (markers and logs) while the request runs.
    let echo = std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            println!("bootstrap | {line}");
        }
    });

    println!("demo: POST /invoke with a Config-style event:\n{EVENT}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(async {
        let resp = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/invoke"))
            .header("x-fc-request-id", "demo-1")
            .header("x-fc-region", "cn-hangzhou")
            .header("content-type", "application/octet-stream")
            .body(EVENT)
            .send()
            .await?;
        let status = resp.status();
        let fc_status = resp
            .headers()
            .get("x-fc-status")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(missing)")
            .to_string();
        let body = resp.text().await?;
        Ok::<_, reqwest::Error>((status, fc_status, body))
    });
    // Stop bootstrap gracefully (SIGTERM), as FC does.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let exit = child.wait()?;
    let _ = echo.join();
    let (status, fc_status, body) = result?;
    println!("demo: HTTP {status}, x-fc-status: {fc_status}");
    println!("demo: body: {body}");
    println!("demo: bootstrap exited with {exit}");
    println!("demo: NOTE nothing was remediated: remediation is not wired yet.");
    if !status.is_success() || !exit.success() {
        return Err("the demo invocation did not succeed".into());
    }
    Ok(())
}

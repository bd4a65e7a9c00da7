//! `scripts/setup.sh`, the one list of what `make test`, `make lint`, `scripts/package.sh` and
//! `.ci/run` need beyond rustup: it installs what is missing, changes nothing when everything is
//! present, and stops with one line naming the command to run when it cannot install.
//!
//! Every branch runs against stand-ins (a stateful `rustup`, `apt-get`, `apt-cache`, `sudo`, and
//! the commands looked for) through the script's `SETUP_*` hooks, so these tests do the same as
//! root in CI and as a developer, and never touch the machine. One test runs the real script
//! twice on this machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EVERYTHING_PRESENT: &str = "setup: everything present (musl-tools, python3, rustup target \
                                  x86_64-unknown-linux-musl, rustfmt clippy)\n";

fn script() -> PathBuf {
    crate::repo_root().join("scripts/setup.sh")
}

/// A pretend machine in a temporary directory: stand-in commands that log each call to `log`.
struct Machine {
    dir: PathBuf,
    uid: &'static str,
    sudo: bool,
    apt_get: bool,
    rustup: bool,
}

impl Machine {
    /// Root, apt-get with package lists, sudo, rustup with only the host target and no
    /// rustfmt/clippy, and neither musl-gcc nor python3.
    fn fresh(name: &str) -> Machine {
        let dir = std::env::temp_dir().join(format!("sg-setup-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).expect("create the stand-in bin directory");
        let machine = Machine {
            dir,
            uid: "0",
            sudo: true,
            apt_get: true,
            rustup: true,
        };
        machine.write("targets", "x86_64-unknown-linux-gnu\n");
        machine.write("components", "cargo-x86_64-unknown-linux-gnu\n");
        machine.write("candidate", "1.2.3-1");
        let bin = machine.bin("");
        let bin = bin.display();
        machine.stand_in(
            "rustup",
            &format!(
                r#"case "$1 $2" in
  "target list") cat "{dir}/targets" ;;
  "component list") cat "{dir}/components" ;;
  "target add") echo "$3" >>"{dir}/targets" ;;
  "component add") echo "$3-x86_64-unknown-linux-gnu" >>"{dir}/components" ;;
  *) exit 2 ;;
esac"#,
                dir = machine.dir.display()
            ),
        );
        machine.stand_in(
            "apt-get",
            &format!(
                r#"[ -f "{dir}/apt-fails" ] && exit 100
if [ "$1" = install ]; then
  for package in "$@"; do
    case "$package" in
      musl-tools) printf '#!/bin/sh\n' >"{bin}/x86_64-linux-musl-gcc"; chmod +x "{bin}/x86_64-linux-musl-gcc" ;;
      python3) printf '#!/bin/sh\n' >"{bin}/python3"; chmod +x "{bin}/python3" ;;
    esac
  done
fi"#,
                dir = machine.dir.display()
            ),
        );
        // apt-cache only reads, so it is not logged.
        let apt_cache = machine.bin("apt-cache");
        let policy = format!(
            "#!/bin/sh\necho \"  Candidate: $(cat {:?})\"\n",
            machine.dir.join("candidate").display().to_string()
        );
        std::fs::write(&apt_cache, policy).expect("write the apt-cache stand-in");
        make_executable(&apt_cache);
        machine.stand_in(
            "sudo",
            &format!(
                r#"if [ "$1" = -n ]; then [ -f "{dir}/sudo-needs-password" ] && exit 1; shift; fi
exec "$@""#,
                dir = machine.dir.display()
            ),
        );
        machine
    }

    fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.dir.join(file), text).expect("write a stand-in state file");
    }

    /// An executable that appends its name and arguments to `log`, then runs `body`.
    fn stand_in(&self, name: &str, body: &str) {
        let path = self.bin(name);
        let log = self.dir.join("log");
        let text = format!(
            "#!/usr/bin/env bash\nargs=(\"$@\")\n[ {name:?} = sudo ] && [ \"${{1#/}}\" != \"$1\" ] && args[0]=\"$(basename \"$1\")\"\n\
             echo {name:?} \"${{args[*]}}\" >>{log:?}\n{body}\n",
            log = log.display().to_string()
        );
        std::fs::write(&path, text).expect("write a stand-in command");
        make_executable(&path);
    }

    fn with_musl_gcc_and_python3(self) -> Machine {
        for name in ["x86_64-linux-musl-gcc", "python3"] {
            std::fs::write(self.bin(name), "#!/bin/sh\n").expect("write a stand-in compiler");
            make_executable(&self.bin(name));
        }
        self
    }

    fn env(&self) -> Vec<(&'static str, PathBuf)> {
        let present_or_absent = |present: bool, name: &str| {
            if present {
                self.bin(name)
            } else {
                self.bin(&format!("absent-{name}"))
            }
        };
        vec![
            ("SETUP_MUSL_GCC", self.bin("x86_64-linux-musl-gcc")),
            ("SETUP_PYTHON3", self.bin("python3")),
            ("SETUP_APT_GET", present_or_absent(self.apt_get, "apt-get")),
            ("SETUP_APT_CACHE", self.bin("apt-cache")),
            ("SETUP_SUDO", present_or_absent(self.sudo, "sudo")),
            ("SETUP_RUSTUP", present_or_absent(self.rustup, "rustup")),
            ("SETUP_UID", PathBuf::from(self.uid)),
        ]
    }

    fn run(&self) -> Output {
        Command::new("bash")
            .arg(script())
            .envs(self.env())
            .output()
            .expect("bash runs scripts/setup.sh")
    }

    /// The calls logged so far, then forgotten.
    fn take_log(&self) -> Vec<String> {
        let log = self.dir.join("log");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        text.lines().map(str::to_owned).collect()
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .expect("make a stand-in executable");
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Exit 1, nothing on stdout, and exactly `line` on stderr.
fn assert_stops_with(output: &Output, line: &str) {
    assert_eq!(output.status.code(), Some(1), "stderr: {}", stderr(output));
    assert_eq!(stdout(output), "");
    assert_eq!(stderr(output), format!("{line}\n"));
}

const LISTS: [&str; 2] = [
    "rustup target list --installed",
    "rustup component list --installed",
];

#[test]
fn a_fresh_root_machine_gets_musl_tools_python3_the_musl_target_rustfmt_and_clippy() {
    let machine = Machine::fresh("fresh-root");
    let output = machine.run();
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert_eq!(
        machine.take_log(),
        [
            LISTS[0],
            LISTS[1],
            "apt-get install -y -qq --no-install-recommends musl-tools python3",
            "rustup target add x86_64-unknown-linux-musl",
            "rustup component add rustfmt",
            "rustup component add clippy",
        ]
    );
    assert!(machine.bin("x86_64-linux-musl-gcc").exists());
}

#[test]
fn the_second_run_changes_nothing_and_says_everything_is_present() {
    let machine = Machine::fresh("twice");
    assert!(machine.run().status.success());
    machine.take_log();

    let second = machine.run();
    assert!(second.status.success(), "stderr: {}", stderr(&second));
    assert_eq!(stdout(&second), EVERYTHING_PRESENT);
    assert_eq!(stderr(&second), "");
    assert_eq!(machine.take_log(), LISTS, "only the two read-only queries");
}

#[test]
fn empty_package_lists_are_updated_before_the_install() {
    let machine = Machine::fresh("no-lists");
    machine.write("candidate", "(none)");
    assert!(machine.run().status.success());
    let log = machine.take_log();
    assert_eq!(
        log[2..4],
        [
            "apt-get update -qq",
            "apt-get install -y -qq --no-install-recommends musl-tools python3"
        ]
    );
}

#[test]
fn known_packages_are_installed_without_an_update() {
    let machine = Machine::fresh("lists");
    assert!(machine.run().status.success());
    assert!(!machine
        .take_log()
        .iter()
        .any(|call| call.contains("update")));
}

#[test]
fn not_root_the_packages_are_installed_through_sudo() {
    let mut machine = Machine::fresh("sudo");
    machine.uid = "1000";
    let output = machine.run();
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert_eq!(
        machine.take_log()[..5],
        [
            "sudo -n true",
            LISTS[0],
            LISTS[1],
            "sudo apt-get install -y -qq --no-install-recommends musl-tools python3",
            "apt-get install -y -qq --no-install-recommends musl-tools python3"
        ]
    );
    assert!(stdout(&output).contains("installing musl-tools python3 with sudo apt-get"));
}

#[test]
fn not_root_and_no_sudo_it_stops_with_one_line_before_changing_anything() {
    let mut machine = Machine::fresh("no-sudo");
    machine.uid = "1000";
    machine.sudo = false;
    assert_stops_with(
        &machine.run(),
        "setup: missing musl-tools python3, not root and no sudo; run: su -c 'apt-get update && \
         apt-get install -y --no-install-recommends musl-tools python3'",
    );
    assert_eq!(
        machine.take_log(),
        Vec::<String>::new(),
        "not even rustup ran"
    );
}

#[test]
fn not_root_and_a_sudo_that_wants_a_password_without_a_terminal_it_stops_with_one_line() {
    let mut machine = Machine::fresh("sudo-password");
    machine.uid = "1000";
    machine.write("sudo-needs-password", "");
    assert_stops_with(
        &machine.run(),
        "setup: missing musl-tools python3, not root and no sudo; run: su -c 'apt-get update && \
         apt-get install -y --no-install-recommends musl-tools python3'",
    );
    assert_eq!(
        machine.take_log(),
        ["sudo -n true"],
        "nothing but the probe"
    );
}

#[test]
fn not_root_and_no_sudo_the_rustup_parts_are_still_done_when_the_packages_are_present() {
    let mut machine = Machine::fresh("no-sudo-packages-present").with_musl_gcc_and_python3();
    machine.uid = "1000";
    machine.sudo = false;
    assert!(machine.run().status.success());
    assert_eq!(
        machine.take_log()[2..],
        [
            "rustup target add x86_64-unknown-linux-musl",
            "rustup component add rustfmt",
            "rustup component add clippy",
        ]
    );
}

#[test]
fn without_apt_get_it_stops_with_one_line_before_changing_anything() {
    let mut machine = Machine::fresh("no-apt");
    machine.apt_get = false;
    assert_stops_with(
        &machine.run(),
        "setup: missing musl-tools python3 and no apt-get here; run: install the equivalent of \
         Debian's musl-tools python3 with your package manager",
    );
    assert_eq!(machine.take_log(), Vec::<String>::new());
}

#[test]
fn without_rustup_it_stops_with_the_installer_command() {
    let mut machine = Machine::fresh("no-rustup").with_musl_gcc_and_python3();
    machine.rustup = false;
    assert_stops_with(
        &machine.run(),
        "setup: rustup not found (the toolchain manager this project builds with); run: curl \
         --proto '=https' -sSf https://sh.rustup.rs | sh",
    );
}

#[test]
fn a_failed_install_stops_with_the_command_to_run_and_adds_no_target() {
    let mut machine = Machine::fresh("apt-fails");
    machine.uid = "1000";
    machine.write("apt-fails", "");
    assert_stops_after_progress_with(
        &machine.run(),
        "setup: apt-get could not install musl-tools python3; run: sudo apt-get install -y \
         --no-install-recommends musl-tools python3",
    );
    assert!(!machine.take_log().iter().any(|call| call.contains(" add ")));
}

/// Exit 1 and exactly `line` on stderr (the progress lines before it went to stdout).
fn assert_stops_after_progress_with(output: &Output, line: &str) {
    assert_eq!(output.status.code(), Some(1), "stderr: {}", stderr(output));
    assert_eq!(stderr(output), format!("{line}\n"));
}

#[test]
fn make_test_stops_at_the_set_up_before_cargo_runs() {
    let mut machine = Machine::fresh("make-test");
    machine.uid = "1000";
    machine.sudo = false;
    machine.stand_in("cargo", "");
    let output = Command::new("make")
        .arg("--no-print-directory")
        .arg("-C")
        .arg(crate::repo_root())
        .arg("test")
        .arg(format!("CARGO={}", machine.bin("cargo").display()))
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .envs(machine.env())
        .output()
        .expect("make runs");
    assert!(!output.status.success());
    assert!(
        stderr(&output)
            .starts_with("setup: missing musl-tools python3, not root and no sudo; run:"),
        "stderr: {}",
        stderr(&output)
    );
    assert_eq!(machine.take_log(), Vec::<String>::new(), "cargo never ran");
}

/// This machine, for real: after one run (a no-op once `make test` has run it), a second run
/// says everything is present and leaves the installed targets, components and packages as
/// they were.
#[test]
fn on_this_machine_a_second_run_changes_nothing() {
    let run = || {
        let mut command = Command::new("bash");
        command.arg(script());
        for (hook, _) in std::env::vars().filter(|(name, _)| name.starts_with("SETUP_")) {
            command.env_remove(hook);
        }
        command.output().expect("bash runs scripts/setup.sh")
    };
    let first = run();
    assert!(first.status.success(), "stderr: {}", stderr(&first));
    let before = installed_state();
    let second = run();
    assert!(second.status.success(), "stderr: {}", stderr(&second));
    assert_eq!(stdout(&second), EVERYTHING_PRESENT);
    assert_eq!(installed_state(), before);
}

fn installed_state() -> String {
    let mut state = String::new();
    for args in [
        &["rustup", "target", "list", "--installed"][..],
        &["rustup", "component", "list", "--installed"],
        &["dpkg-query", "-W", "musl-tools", "python3"],
    ] {
        if let Ok(output) = Command::new(args[0]).args(&args[1..]).output() {
            state.push_str(&stdout(&output));
        }
    }
    state
}

#[test]
fn the_readme_quick_start_quotes_the_line_a_user_without_sudo_sees() {
    let mut machine = Machine::fresh("readme");
    machine.uid = "1000";
    machine.sudo = false;
    std::fs::write(machine.bin("python3"), "#!/bin/sh\n").expect("write a stand-in python3");
    make_executable(&machine.bin("python3"));
    let output = machine.run();
    let line = stderr(&output);
    let readme = include_str!("../README.md");
    let start = readme
        .find("## Quick start")
        .expect("a quick start section");
    let end = readme
        .find("## Configuration")
        .expect("a configuration section");
    let quick_start = &readme[start..end];
    assert!(
        quick_start.contains(line.trim_end()),
        "README quick start must quote {line:?}"
    );
}

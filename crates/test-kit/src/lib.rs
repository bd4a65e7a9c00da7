//! The dev-only test kit of sg-remediator: one way to start the emulator and the real
//! `bootstrap`, invoke it as FC does and read its answer and logs, used by every integration
//! test, `make demo` and `make bench`; and the static checker of the Terraform module and
//! `s.yaml` ([`terraform_check`]).
//!
//! It knows processes, environment variables, HTTP, FC's invocation headers and the emulator
//! (and [`Replay`], the emulator's recorded answers, for the bench); it knows nothing of which
//! rules are risky (that is what the tests check).
//!
//! ```no_run
//! # async fn example() {
//! use sg_test_kit::{world, Function, Launch};
//! let emulator = world::groups().await;
//! // In an integration test of the product: `sg_test_kit::bootstrap!()`.
//! let launch = Launch::new("target/debug/bootstrap");
//! let function = Function::start(launch, &emulator, &[("REMEDIATION_MODE", "dry-run")]);
//! let answer = function.invoke(&world::event(&["sg-ssh-world"])).await;
//! assert!(answer.is_success());
//! # }
//! ```
//!
//! The product only dev-depends on this crate, so none of it ships in `bootstrap`.

pub mod fc;
pub mod process;
pub mod replay;
pub mod secrets;
pub mod terraform_check;
pub mod world;

pub use fc::{invoke, invoke_at, read_json, strings, Answer, Caller, Conn, Function, Key};
pub use process::{free_port, wait_with_patience, Bootstrap, Launch, Spawned};
pub use replay::Replay;

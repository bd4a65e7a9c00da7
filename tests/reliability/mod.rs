//! Reliability evidence, through the real `bootstrap` process and the in-process emulator:
//!
//! - [`faults`]: the cloud misbehaves (throttling, 5xx, slow answers, dropped connections,
//!   garbage bodies, credentials expiring mid-event, one group's revoke failing). Every resource
//!   still gets a truthful status, nothing is revoked that should not be, the function answers
//!   before its deadline and keeps serving.
//! - [`bad_input`]: arbitrary bytes and event-shaped JSON (property tests on the parser, a few
//!   hundred bodies through the process), oversized and non-UTF-8 bodies.
//! - [`isolation`]: 100 concurrent invocations with distinct credentials; the emulator's journal
//!   proves each API call was signed with its own invocation's key.
//! - [`secrets`]: scenarios built to make a secret leak (role credentials, a rejected signature,
//!   an expired token). Every scenario of every module ends with [`cloud::Cloud::finish`], which
//!   checks the function's whole output and every response for secrets.
//!
//! No timing assertions except "answered before the deadline", which is correctness: FC kills
//! an invocation at its timeout and the report is lost.

mod cloud;

mod bad_input;
mod faults;
mod isolation;
mod secrets;

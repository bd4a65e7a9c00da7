//! The library side of the `sg-remediator` command line (`src/bin/sg-remediator/`): finding an
//! access key the way Alibaba Cloud's own tools do, and judging listed groups on their live rules
//! for `scan`. `check`, `remediate` and `restore` run the function's own engine
//! ([`crate::remediation::Remediator`]) unchanged; the report table is [`crate::render`].

pub mod credential_chain;
pub mod scan;

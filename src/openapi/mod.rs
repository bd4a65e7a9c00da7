//! The Alibaba Cloud OpenAPI client: RPC signing, transport and retries.

pub mod signing;

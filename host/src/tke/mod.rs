//! Tencent Cloud API 3.0 support shared by the product's TKE client and the practice cluster.
//!
//! - [`sign`]: TC3-HMAC-SHA256 request signing and verification as pure functions.
//! - [`credentials`]: SecretId/SecretKey/token/region from flags and the environment, redacted.
//! - [`actions`]: typed requests and responses of the TKE and CVM actions used.
//! - [`client`]: the HTTP client: envelope, errors with RequestId, retries, rate limit.
//! - [`retry`]: which failures a read-only call retries, the backoff, the client-side rate limit.
//! - [`mapping`]: which node is which instance, confirmed by TKE.

pub mod actions;
pub mod client;
pub mod credentials;
pub mod mapping;
pub mod retry;
pub mod sign;

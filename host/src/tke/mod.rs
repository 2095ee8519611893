//! Tencent Cloud API 3.0 support shared by the product's TKE client and the practice cluster.
//!
//! Today this holds only [`sign`]: TC3-HMAC-SHA256 request signing and verification as pure
//! functions. The HTTP client, the actions and the retry policy live elsewhere.

pub mod sign;

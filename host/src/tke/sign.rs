//! TC3-HMAC-SHA256, the signature of Tencent Cloud API 3.0, as pure functions.
//!
//! This module owns the canonical request, the string to sign, the signing-key derivation, and
//! building and parsing the `Authorization` header. It does no I/O and reads no clock: the caller
//! passes the timestamp, so the same code signs requests (the product's client) and verifies them
//! (the practice cluster) and is tested against the published vectors.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The algorithm name that starts every TC3 `Authorization` header and string to sign.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";

/// The payload hash marker a client sends in `X-TC-Content-SHA256` to leave the body unsigned.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Why an `Authorization` header could not be parsed or a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The header is not `TC3-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..`.
    #[error("malformed TC3 authorization header: {0}")]
    MalformedAuthorization(&'static str),
    /// The timestamp cannot be turned into a UTC date.
    #[error("timestamp {0} is out of range")]
    TimestampOutOfRange(i64),
    /// A header listed in SignedHeaders is absent from the request.
    #[error("signed header {0} is missing from the request")]
    SignedHeaderMissing(String),
    /// The credential scope's date is not the UTC date of the request timestamp.
    #[error("credential date {scope_date} does not match the timestamp's date {timestamp_date}")]
    DateMismatch {
        /// Date in the credential scope.
        scope_date: String,
        /// UTC date of `X-TC-Timestamp`.
        timestamp_date: String,
    },
    /// The recomputed signature differs from the one sent.
    #[error("signature does not match")]
    SignatureMismatch,
}

/// Everything needed to sign one POST request to `/` with an empty query string.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Service name in the credential scope, e.g. `tke` or `cvm`.
    pub service: &'a str,
    /// `Host` header exactly as sent, including `:port` when the client used one.
    pub host: &'a str,
    /// `Content-Type` header exactly as sent, e.g. `application/json`.
    pub content_type: &'a str,
    /// `X-TC-Timestamp`, Unix seconds.
    pub timestamp: i64,
    /// The request body bytes.
    pub payload: &'a [u8],
}

/// A parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// SecretId from the credential.
    pub secret_id: String,
    /// Date (YYYY-MM-DD) from the credential scope.
    pub date: String,
    /// Service from the credential scope.
    pub service: String,
    /// Lower-case header names, in the order listed.
    pub signed_headers: Vec<String>,
    /// Hex signature.
    pub signature: String,
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The UTC date (YYYY-MM-DD) of a Unix timestamp, as used in the credential scope.
pub fn utc_date(timestamp: i64) -> Result<String, SignError> {
    let ts = jiff::Timestamp::from_second(timestamp)
        .map_err(|_| SignError::TimestampOutOfRange(timestamp))?;
    Ok(ts
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%d")
        .to_string())
}

/// The canonical request for a POST to `/` with no query string, over `headers`
/// (name, value) pairs that are lower-cased, trimmed and sorted here.
pub fn canonical_request(headers: &[(&str, &str)], payload_hash: &str) -> String {
    let mut canon: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase()))
        .collect();
    canon.sort();
    let mut out = String::from("POST\n/\n\n");
    for (k, v) in &canon {
        out.push_str(k);
        out.push(':');
        out.push_str(v);
        out.push('\n');
    }
    out.push('\n');
    let names: Vec<&str> = canon.iter().map(|(k, _)| k.as_str()).collect();
    out.push_str(&names.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// `DATE/service/tc3_request`.
pub fn credential_scope(date: &str, service: &str) -> String {
    format!("{date}/{service}/tc3_request")
}

/// The string to sign for a canonical request.
pub fn string_to_sign(timestamp: i64, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{timestamp}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The hex signature: HMAC chain `TC3`+key -> date -> service -> `tc3_request` -> string to sign.
pub fn signature(secret_key: &str, date: &str, service: &str, string_to_sign: &str) -> String {
    let k_date = hmac_sha256(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac_sha256(&k_date, service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"tc3_request");
    hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()))
}

/// Sign `req` (signed headers `content-type;host`) and return the `Authorization` header value.
pub fn authorization(
    secret_id: &str,
    secret_key: &str,
    req: &Request<'_>,
) -> Result<String, SignError> {
    let date = utc_date(req.timestamp)?;
    let canonical = canonical_request(
        &[("content-type", req.content_type), ("host", req.host)],
        &sha256_hex(req.payload),
    );
    let scope = credential_scope(&date, req.service);
    let sig = signature(
        secret_key,
        &date,
        req.service,
        &string_to_sign(req.timestamp, &scope, &canonical),
    );
    Ok(format!(
        "{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={sig}"
    ))
}

/// Parse an `Authorization` header value.
pub fn parse_authorization(header: &str) -> Result<Authorization, SignError> {
    let rest = header
        .trim()
        .strip_prefix(ALGORITHM)
        .ok_or(SignError::MalformedAuthorization(
            "algorithm is not TC3-HMAC-SHA256",
        ))?;
    let (mut credential, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            sig = Some(v);
        }
    }
    let credential = credential.ok_or(SignError::MalformedAuthorization("no Credential"))?;
    let signed = signed.ok_or(SignError::MalformedAuthorization("no SignedHeaders"))?;
    let sig = sig.ok_or(SignError::MalformedAuthorization("no Signature"))?;
    let mut parts = credential.split('/');
    let (Some(secret_id), Some(date), Some(service), Some("tc3_request"), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(SignError::MalformedAuthorization(
            "Credential is not SecretId/DATE/service/tc3_request",
        ));
    };
    if secret_id.is_empty() || date.len() != 10 || service.is_empty() {
        return Err(SignError::MalformedAuthorization("empty credential field"));
    }
    let signed_headers: Vec<String> = signed
        .split(';')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    if signed_headers.is_empty() || sig.len() != 64 || !sig.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SignError::MalformedAuthorization(
            "bad SignedHeaders or Signature",
        ));
    }
    Ok(Authorization {
        secret_id: secret_id.to_owned(),
        date: date.to_owned(),
        service: service.to_owned(),
        signed_headers,
        signature: sig.to_ascii_lowercase(),
    })
}

/// Recompute the signature of a received request and compare it with `auth`.
///
/// `header` looks up a request header by lower-case name; `payload_hash` is
/// [`sha256_hex`] of the body, or of [`UNSIGNED_PAYLOAD`] when the client asked for it.
pub fn verify(
    auth: &Authorization,
    secret_key: &str,
    timestamp: i64,
    header: impl Fn(&str) -> Option<String>,
    payload_hash: &str,
) -> Result<(), SignError> {
    let timestamp_date = utc_date(timestamp)?;
    if timestamp_date != auth.date {
        return Err(SignError::DateMismatch {
            scope_date: auth.date.clone(),
            timestamp_date,
        });
    }
    let mut values = Vec::with_capacity(auth.signed_headers.len());
    for name in &auth.signed_headers {
        let value = header(name).ok_or_else(|| SignError::SignedHeaderMissing(name.clone()))?;
        values.push((name.as_str(), value));
    }
    let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let canonical = canonical_request(&pairs, payload_hash);
    let scope = credential_scope(&auth.date, &auth.service);
    let expected = signature(
        secret_key,
        &auth.date,
        &auth.service,
        &string_to_sign(timestamp, &scope, &canonical),
    );
    // Constant-time comparison: the signature is a secret-derived MAC.
    let equal = expected.len() == auth.signature.len()
        && expected
            .bytes()
            .zip(auth.signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if equal {
        Ok(())
    } else {
        Err(SignError::SignatureMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
    const KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
    const BODY: &str =
        r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
    const TS: i64 = 1551113065;

    fn check_vector(content_type: &str, canonical_hash: &str, sig: &str) {
        assert_eq!(
            sha256_hex(BODY.as_bytes()),
            "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        assert_eq!(utc_date(TS).expect("date"), "2019-02-25");
        let canonical = canonical_request(
            &[
                ("content-type", content_type),
                ("host", "cvm.tencentcloudapi.com"),
            ],
            &sha256_hex(BODY.as_bytes()),
        );
        assert_eq!(sha256_hex(canonical.as_bytes()), canonical_hash);
        let req = Request {
            service: "cvm",
            host: "cvm.tencentcloudapi.com",
            content_type,
            timestamp: TS,
            payload: BODY.as_bytes(),
        };
        let header = authorization(ID, KEY, &req).expect("sign");
        assert_eq!(
            header,
            format!(
                "TC3-HMAC-SHA256 Credential={ID}/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature={sig}"
            )
        );
        let parsed = parse_authorization(&header).expect("parse");
        assert_eq!(parsed.secret_id, ID);
        assert_eq!(parsed.service, "cvm");
        let lookup = |name: &str| match name {
            "content-type" => Some(content_type.to_owned()),
            "host" => Some("cvm.tencentcloudapi.com".to_owned()),
            _ => None,
        };
        verify(&parsed, KEY, TS, lookup, &sha256_hex(BODY.as_bytes())).expect("verifies");
        assert_eq!(
            verify(&parsed, "wrong", TS, lookup, &sha256_hex(BODY.as_bytes())),
            Err(SignError::SignatureMismatch)
        );
        assert_eq!(
            verify(&parsed, KEY, TS, lookup, &sha256_hex(b"{}")),
            Err(SignError::SignatureMismatch)
        );
    }

    #[test]
    fn published_vector_with_charset_verifies() {
        check_vector(
            "application/json; charset=utf-8",
            "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031",
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
        );
    }

    #[test]
    fn published_vector_plain_json_verifies() {
        check_vector(
            "application/json",
            "df142fa7176428137ac6a6b25b5efcb6b4c08a91fc30d75ecebe47877d3143d8",
            "683bd0b53659853c39699162253251192320a09b3937e27bf8e08a559b1465b8",
        );
    }

    #[test]
    fn malformed_headers_are_rejected() {
        for bad in [
            "",
            "HMAC-SHA1 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature=00",
            "TC3-HMAC-SHA256 SignedHeaders=host, Signature=00",
            "TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm, SignedHeaders=host, Signature=00",
            "TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature=zz",
        ] {
            assert!(
                matches!(
                    parse_authorization(bad),
                    Err(SignError::MalformedAuthorization(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn date_must_match_timestamp() {
        let mut parsed = parse_authorization(&format!(
            "TC3-HMAC-SHA256 Credential={ID}/2019-02-24/cvm/tc3_request, SignedHeaders=content-type;host, Signature={}",
            "0".repeat(64)
        ))
        .expect("parse");
        let err = verify(&parsed, KEY, TS, |_| Some(String::new()), "");
        assert!(matches!(err, Err(SignError::DateMismatch { .. })));
        parsed.date = "2019-02-25".into();
        let err = verify(&parsed, KEY, TS, |_| None, "");
        assert_eq!(
            err,
            Err(SignError::SignedHeaderMissing("content-type".into()))
        );
    }
}

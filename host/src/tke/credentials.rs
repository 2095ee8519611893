//! Tencent Cloud credentials and region, read as the official SDKs and CLI read them, with the
//! secret parts redacted from every `Debug` output.
//!
//! The secret key and the session token live in [`Secret`], which has no `Display`, prints
//! `Secret(<redacted>)` under `Debug`, and is only readable through [`Secret::expose`], which the
//! request signer calls. Nothing in this crate logs, formats or hands a guest a `Secret`'s value;
//! `tests/all/tke_secret.rs` proves it for logs, errors and debug output.

use std::fmt;

/// `TENCENTCLOUD_SECRET_ID`.
pub const ENV_SECRET_ID: &str = "TENCENTCLOUD_SECRET_ID";
/// `TENCENTCLOUD_SECRET_KEY`.
pub const ENV_SECRET_KEY: &str = "TENCENTCLOUD_SECRET_KEY";
/// `TENCENTCLOUD_SESSION_TOKEN` (temporary credentials).
pub const ENV_SESSION_TOKEN: &str = "TENCENTCLOUD_SESSION_TOKEN";
/// `TENCENTCLOUD_REGION`.
pub const ENV_REGION: &str = "TENCENTCLOUD_REGION";

/// A value that must never be printed: a secret key or a session token.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the signer and the `X-TC-Token` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

/// A credential or the region is missing or empty.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Neither the flag nor the environment variable gives a value.
    #[error("no Tencent Cloud {what}: set {env} or pass {flag}")]
    Missing {
        /// What is missing, e.g. `secret key`.
        what: &'static str,
        /// The environment variable.
        env: &'static str,
        /// The flag.
        flag: &'static str,
    },
}

/// A SecretId/SecretKey pair, optionally temporary (with a session token).
#[derive(Debug, Clone)]
pub struct Credentials {
    /// SecretId (`AKID...`): not secret, it names the key in logs and errors.
    pub secret_id: String,
    /// SecretKey.
    pub secret_key: Secret,
    /// Session token of temporary credentials (`X-TC-Token`).
    pub session_token: Option<Secret>,
}

/// Explicit values (from flags) that override the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--secret-id`.
    pub secret_id: Option<String>,
    /// `--secret-key`.
    pub secret_key: Option<Secret>,
    /// `--session-token`.
    pub session_token: Option<Secret>,
    /// `--region`.
    pub region: Option<String>,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

impl Credentials {
    /// Resolve credentials and region: each flag wins over its environment variable. `env` is
    /// the lookup (`std::env::var` in production, a map in tests).
    pub fn resolve(
        overrides: &Overrides,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Self, String), CredentialsError> {
        let secret_id = non_empty(overrides.secret_id.clone())
            .or_else(|| non_empty(env(ENV_SECRET_ID)))
            .ok_or(CredentialsError::Missing {
                what: "secret id",
                env: ENV_SECRET_ID,
                flag: "--secret-id",
            })?;
        let secret_key = overrides
            .secret_key
            .clone()
            .filter(|s| !s.0.is_empty())
            .or_else(|| non_empty(env(ENV_SECRET_KEY)).map(Secret))
            .ok_or(CredentialsError::Missing {
                what: "secret key",
                env: ENV_SECRET_KEY,
                flag: "--secret-key",
            })?;
        let session_token = overrides
            .session_token
            .clone()
            .filter(|s| !s.0.is_empty())
            .or_else(|| non_empty(env(ENV_SESSION_TOKEN)).map(Secret));
        let region = non_empty(overrides.region.clone())
            .or_else(|| non_empty(env(ENV_REGION)))
            .ok_or(CredentialsError::Missing {
                what: "region",
                env: ENV_REGION,
                flag: "--region",
            })?;
        Ok((
            Self {
                secret_id,
                secret_key,
                session_token,
            },
            region,
        ))
    }

    /// Resolve from the flags and the process environment.
    pub fn from_env(overrides: &Overrides) -> Result<(Self, String), CredentialsError> {
        Self::resolve(overrides, |k| std::env::var(k).ok())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn flags_override_environment() {
        let e = env(&[
            (ENV_SECRET_ID, "AKIDenv"),
            (ENV_SECRET_KEY, "envkey"),
            (ENV_REGION, "ap-guangzhou"),
            (ENV_SESSION_TOKEN, "tok"),
        ]);
        let (c, region) = Credentials::resolve(&Overrides::default(), &e).expect("complete");
        assert_eq!(
            (c.secret_id.as_str(), region.as_str()),
            ("AKIDenv", "ap-guangzhou")
        );
        assert_eq!(c.session_token.as_ref().map(Secret::expose), Some("tok"));
        let flags = Overrides {
            secret_id: Some("AKIDflag".into()),
            secret_key: Some(Secret::new(KEY)),
            session_token: None,
            region: Some("ap-hongkong".into()),
        };
        let (c, region) = Credentials::resolve(&flags, &e).expect("complete");
        assert_eq!(
            (c.secret_id.as_str(), region.as_str()),
            ("AKIDflag", "ap-hongkong")
        );
        assert_eq!(c.secret_key.expose(), KEY);
    }

    #[test]
    fn missing_values_name_the_variable_and_flag() {
        let err = Credentials::resolve(&Overrides::default(), env(&[(ENV_SECRET_ID, "AKID")]))
            .expect_err("no key");
        assert_eq!(
            err.to_string(),
            "no Tencent Cloud secret key: set TENCENTCLOUD_SECRET_KEY or pass --secret-key"
        );
        let err = Credentials::resolve(
            &Overrides::default(),
            env(&[
                (ENV_SECRET_ID, "AKID"),
                (ENV_SECRET_KEY, "k"),
                (ENV_REGION, " "),
            ]),
        )
        .expect_err("blank region");
        assert!(err.to_string().contains("TENCENTCLOUD_REGION"), "{err}");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let (c, _) = Credentials::resolve(
            &Overrides::default(),
            env(&[
                (ENV_SECRET_ID, "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"),
                (ENV_SECRET_KEY, KEY),
                (ENV_SESSION_TOKEN, "session-token-value"),
                (ENV_REGION, "ap-guangzhou"),
            ]),
        )
        .expect("complete");
        let shown = format!("{c:?} {c:#?}");
        assert!(
            !shown.contains(KEY) && !shown.contains("session-token-value"),
            "{shown}"
        );
        assert!(
            shown.contains("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"),
            "{shown}"
        );
    }
}

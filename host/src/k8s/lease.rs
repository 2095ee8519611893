//! One recycle per cluster: a `coordination.k8s.io/v1` Lease is the lock.
//!
//! The holder writes its identity, when it acquired the lock and when it last renewed it, and a
//! TTL. Another run is refused with the holder's name and since when, until the lease expires
//! (renewTime + TTL in the past); only then may it take over. Every write carries the
//! resourceVersion it read, so two runs racing for an expired lease cannot both win: the loser
//! gets a 409 and is refused. Clocks: expiry compares the holder's renewTime with this machine's
//! clock, so the TTL must be much larger than any plausible clock skew (minutes, not seconds).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};

/// The lease's default name and namespace.
pub const DEFAULT_NAME: &str = "tke-recycle";
/// Where the lease lives by default.
pub const DEFAULT_NAMESPACE: &str = "kube-system";

/// The lock could not be taken, kept or released.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another run holds the lock and it has not expired.
    #[error(
        "another recycle holds the lock: {holder} since {since} (renewed {renewed}, expires {expires}); wait for it to finish or for the lease {namespace}/{name} to expire"
    )]
    Held {
        /// The other holder's identity.
        holder: String,
        /// When it acquired the lock (RFC 3339), or `unknown`.
        since: String,
        /// When it last renewed.
        renewed: String,
        /// When it expires unless renewed.
        expires: String,
        /// Lease namespace.
        namespace: String,
        /// Lease name.
        name: String,
    },
    /// This run no longer holds the lock (it expired and someone took over).
    #[error("lost the lock {namespace}/{name}: it is now held by {holder}")]
    Lost {
        /// The new holder.
        holder: String,
        /// Lease namespace.
        namespace: String,
        /// Lease name.
        name: String,
    },
    /// A read or write of the lease failed.
    #[error("failed to {action} lease {namespace}/{name}")]
    Api {
        /// `read`, `create`, `update`.
        action: &'static str,
        /// Lease namespace.
        namespace: String,
        /// Lease name.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// What to do with the lease as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No lease exists: create it.
    Create,
    /// Free, expired or ours: write ourselves as holder (a takeover when `transition`).
    Take {
        /// Another holder is replaced, so `leaseTransitions` is incremented.
        transition: bool,
    },
    /// Someone else holds it.
    Held {
        /// Their identity.
        holder: String,
        /// acquireTime.
        since: Option<jiff::Timestamp>,
        /// renewTime.
        renewed: Option<jiff::Timestamp>,
        /// renewTime + TTL.
        expires: Option<jiff::Timestamp>,
    },
}

fn ts(t: Option<&MicroTime>) -> Option<jiff::Timestamp> {
    t.map(|t| t.0)
}

/// Decide from the lease as read, for `me`, at `now`.
pub fn decide(spec: Option<&LeaseSpec>, me: &str, now: jiff::Timestamp) -> Decision {
    let Some(spec) = spec else {
        return Decision::Create;
    };
    let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
    let Some(holder) = holder else {
        return Decision::Take { transition: false };
    };
    if holder == me {
        return Decision::Take { transition: false };
    }
    let renewed = ts(spec.renew_time.as_ref()).or(ts(spec.acquire_time.as_ref()));
    let ttl = jiff::SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(0)));
    let expires = renewed.and_then(|r| r.checked_add(ttl).ok());
    match expires {
        Some(e) if e < now => Decision::Take { transition: true },
        _ => Decision::Held {
            holder,
            since: ts(spec.acquire_time.as_ref()),
            renewed,
            expires,
        },
    }
}

/// A held lock. Renew it well within its TTL; release it when the run ends.
#[derive(Debug)]
pub struct LeaseLock {
    api: Api<Lease>,
    namespace: String,
    name: String,
    holder: String,
    ttl: Duration,
    /// The lease as last written.
    lease: Lease,
}

fn show(t: Option<jiff::Timestamp>) -> String {
    t.map_or_else(|| "unknown".to_owned(), |t| t.to_string())
}

impl LeaseLock {
    /// Take the lock `namespace/name` for `holder` with `ttl`, or fail with [`LeaseError::Held`].
    pub async fn acquire(
        client: &kube::Client,
        namespace: &str,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Self, LeaseError> {
        let api = Api::<Lease>::namespaced(client.clone(), namespace);
        let err = |action, source| LeaseError::Api {
            action,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            source,
        };
        let current = api.get_opt(name).await.map_err(|e| err("read", e))?;
        let now = jiff::Timestamp::now();
        let ttl_secs = i32::try_from(ttl.as_secs()).unwrap_or(i32::MAX);
        let lost_race = |e: kube::Error| match &e {
            kube::Error::Api(s) if s.code == 409 => LeaseError::Held {
                holder: "another run (it won a race for the lease just now)".into(),
                since: now.to_string(),
                renewed: now.to_string(),
                expires: "unknown".into(),
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            },
            _ => err("write", e),
        };
        let decision = decide(current.as_ref().and_then(|l| l.spec.as_ref()), holder, now);
        let lease = match (decision, current) {
            (
                Decision::Held {
                    holder,
                    since,
                    renewed,
                    expires,
                },
                _,
            ) => {
                return Err(LeaseError::Held {
                    holder,
                    since: show(since),
                    renewed: show(renewed),
                    expires: show(expires),
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                });
            }
            (Decision::Create, _) | (Decision::Take { .. }, None) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(name.to_owned()),
                        namespace: Some(namespace.to_owned()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(holder.to_owned()),
                        lease_duration_seconds: Some(ttl_secs),
                        acquire_time: Some(MicroTime(now)),
                        renew_time: Some(MicroTime(now)),
                        lease_transitions: Some(0),
                        ..LeaseSpec::default()
                    }),
                };
                api.create(&PostParams::default(), &lease)
                    .await
                    .map_err(lost_race)?
            }
            (Decision::Take { transition }, Some(mut existing)) => {
                let spec = existing.spec.get_or_insert_with(LeaseSpec::default);
                let ours = spec.holder_identity.as_deref() == Some(holder);
                if !ours {
                    spec.acquire_time = Some(MicroTime(now));
                }
                if transition {
                    spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                }
                spec.holder_identity = Some(holder.to_owned());
                spec.lease_duration_seconds = Some(ttl_secs);
                spec.renew_time = Some(MicroTime(now));
                // `replace` sends the resourceVersion read above: a concurrent writer makes it 409.
                api.replace(name, &PostParams::default(), &existing)
                    .await
                    .map_err(lost_race)?
            }
        };
        tracing::info!(namespace, name, holder, "recycle lock acquired");
        Ok(Self {
            api,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            holder: holder.to_owned(),
            ttl,
            lease,
        })
    }

    /// This run's identity.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The TTL; renew at least every third of it.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn api_err(&self, action: &'static str, source: kube::Error) -> LeaseError {
        LeaseError::Api {
            action,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            source,
        }
    }

    /// Write a new renewTime, or fail with [`LeaseError::Lost`] if someone else holds it now.
    pub async fn renew(&mut self) -> Result<(), LeaseError> {
        let mut lease = self.lease.clone();
        if let Some(spec) = lease.spec.as_mut() {
            spec.renew_time = Some(MicroTime(jiff::Timestamp::now()));
        }
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(written) => {
                self.lease = written;
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let now = self
                    .api
                    .get_opt(&self.name)
                    .await
                    .map_err(|e| self.api_err("read", e))?;
                let holder = now
                    .and_then(|l| l.spec?.holder_identity)
                    .unwrap_or_else(|| "nobody".into());
                if holder == self.holder {
                    // Our own lease changed under us (e.g. a label added): reread and retry once.
                    let fresh = self
                        .api
                        .get(&self.name)
                        .await
                        .map_err(|e| self.api_err("read", e))?;
                    self.lease = fresh;
                    return Box::pin(self.renew()).await;
                }
                Err(LeaseError::Lost {
                    holder,
                    namespace: self.namespace.clone(),
                    name: self.name.clone(),
                })
            }
            Err(e) => Err(self.api_err("update", e)),
        }
    }

    /// Give the lock up: clear the holder so the next run need not wait for the TTL.
    pub async fn release(mut self) -> Result<(), LeaseError> {
        if let Some(spec) = self.lease.spec.as_mut() {
            spec.holder_identity = None;
            spec.renew_time = None;
            spec.acquire_time = None;
        }
        match self
            .api
            .replace(&self.name, &PostParams::default(), &self.lease)
            .await
        {
            Ok(_) => Ok(()),
            // Someone took over after our lease expired: it is not ours to release any more.
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(e) => Err(self.api_err("update", e)),
        }
    }
}

/// A holder identity for this process: `user@host pid N`.
pub fn default_identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    format!("{user}@{host} pid {}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().expect("timestamp")
    }

    fn spec(holder: Option<&str>, renewed: &str, ttl: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(Into::into),
            acquire_time: Some(MicroTime(at("2026-11-27T10:00:00Z"))),
            renew_time: Some(MicroTime(at(renewed))),
            lease_duration_seconds: Some(ttl),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn takeover_only_after_expiry() {
        let now = at("2026-11-27T10:10:00Z");
        let cases: Vec<(&str, Option<LeaseSpec>, Decision)> = vec![
            ("no_lease", None, Decision::Create),
            (
                "released",
                Some(spec(None, "2026-11-27T10:09:00Z", 300)),
                Decision::Take { transition: false },
            ),
            (
                "ours",
                Some(spec(Some("me"), "2026-11-27T10:09:00Z", 300)),
                Decision::Take { transition: false },
            ),
            (
                "expired",
                Some(spec(Some("alice"), "2026-11-27T10:04:59Z", 300)),
                Decision::Take { transition: true },
            ),
            (
                "held",
                Some(spec(Some("alice"), "2026-11-27T10:09:00Z", 300)),
                Decision::Held {
                    holder: "alice".into(),
                    since: Some(at("2026-11-27T10:00:00Z")),
                    renewed: Some(at("2026-11-27T10:09:00Z")),
                    expires: Some(at("2026-11-27T10:14:00Z")),
                },
            ),
        ];
        for (case, spec, want) in cases {
            assert_eq!(decide(spec.as_ref(), "me", now), want, "{case}");
        }
    }
}

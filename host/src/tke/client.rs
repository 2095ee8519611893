//! The Tencent Cloud API 3.0 client: signed POSTs, the response envelope, errors with RequestId,
//! retries of read-only calls, and the client-side rate limit.
//!
//! Every answer is HTTP 200 with `{"Response": {..., "RequestId"}}`; an error is a `Response.Error`
//! with `Code` and `Message`. A non-200 status is a transport failure. Read-only calls retry
//! throttling, `InternalError` and transport failures with exponential backoff and jitter;
//! mutating calls never retry, and when their outcome is unknown (timeout after sending, a 5xx,
//! `InternalError`) they fail with [`TkeError::OutcomeUnknown`] so that the caller re-reads the
//! state before anything else. The secret key is only read by the signer.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HOST};
use serde_json::Value;

use super::actions::{
    Action, Cluster, DescribeClusterInstances, DescribeClusters, Instance, Service,
};
use super::credentials::Credentials;
use super::retry::{Backoff, DEFAULT_RATE_PER_SECOND, RateLimiter, is_retryable_code};
use super::sign;

/// The content type the API documents; the official SDKs send exactly this.
const JSON: &str = "application/json";

/// A Tencent Cloud API call failed. Every variant names the action; API errors carry TKE's code,
/// message and RequestId (quote it to Tencent support).
#[derive(Debug, thiserror::Error)]
pub enum TkeError {
    /// The API answered with an error.
    #[error("{action} failed: {code}: {message} (RequestId {request_id})")]
    Api {
        /// Action.
        action: &'static str,
        /// e.g. `RequestLimitExceeded`, `InvalidParameter.ClusterNotFound`.
        code: String,
        /// TKE's message.
        message: String,
        /// RequestId of the answer.
        request_id: String,
    },
    /// The request never got an answer (connection refused, reset, timed out).
    #[error("{action}: no answer from {endpoint}")]
    Transport {
        /// Action.
        action: &'static str,
        /// The endpoint URL.
        endpoint: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// A status other than 200: the request did not reach the API or the gateway failed.
    #[error("{action}: HTTP status {status} from {endpoint}")]
    Status {
        /// Action.
        action: &'static str,
        /// The endpoint URL.
        endpoint: String,
        /// HTTP status.
        status: u16,
    },
    /// The answer is not the documented envelope or response.
    #[error("{action}: the answer is not a valid response (RequestId {request_id})")]
    Decode {
        /// Action.
        action: &'static str,
        /// RequestId, when the envelope had one.
        request_id: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The request could not be serialised (a bug in a request type).
    #[error("{action}: cannot encode the request")]
    Encode {
        /// Action.
        action: &'static str,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A mutating call may or may not have taken effect: re-read the state before retrying.
    #[error(
        "{action}: outcome unknown, the change may or may not have been made; re-read the state before trying again"
    )]
    OutcomeUnknown {
        /// Action.
        action: &'static str,
        /// What happened.
        #[source]
        source: Box<TkeError>,
    },
    /// The request could not be signed (a clock before 1970).
    #[error("{action}: cannot sign the request")]
    Sign {
        /// Action.
        action: &'static str,
        /// Why.
        #[source]
        source: sign::SignError,
    },
    /// An endpoint URL is not usable.
    #[error("invalid endpoint {endpoint}: {reason}")]
    Endpoint {
        /// The URL given.
        endpoint: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTP client")]
    HttpClient(#[source] reqwest::Error),
}

impl TkeError {
    /// The API error code, when the API answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            Self::OutcomeUnknown { source, .. } => source.code(),
            _ => None,
        }
    }

    /// Whether a read-only call that failed like this is worth repeating.
    fn retryable(&self) -> bool {
        match self {
            Self::Api { code, .. } => is_retryable_code(code),
            Self::Transport { .. } | Self::Status { .. } => true,
            _ => false,
        }
    }
}

/// Where to send each service's requests.
#[derive(Debug, Clone)]
struct Endpoint {
    url: reqwest::Url,
    /// `Host` header as signed: host plus `:port` when the URL names one.
    host: String,
}

impl Endpoint {
    fn parse(raw: &str) -> Result<Self, TkeError> {
        let bad = |reason| TkeError::Endpoint {
            endpoint: raw.to_owned(),
            reason,
        };
        let url = reqwest::Url::parse(raw).map_err(|_| bad("not a URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("use http:// or https://"));
        }
        let host = url.host_str().ok_or_else(|| bad("no host"))?;
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        Ok(Self { url, host })
    }

    fn default_for(service: Service) -> Self {
        let host = format!("{}.tencentcloudapi.com", service.name());
        Self {
            url: reqwest::Url::parse(&format!("https://{host}/"))
                .unwrap_or_else(|_| unreachable!("static URL")),
            host,
        }
    }
}

/// How to reach and call the API.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Credentials.
    pub credentials: Credentials,
    /// `X-TC-Region`, e.g. `ap-guangzhou`.
    pub region: String,
    /// TKE endpoint (default `https://tke.tencentcloudapi.com/`); the practice cluster's URL.
    pub tke_endpoint: Option<String>,
    /// CVM endpoint (default `https://cvm.tencentcloudapi.com/`, or the TKE endpoint when only
    /// that one is overridden: the practice cluster serves both).
    pub cvm_endpoint: Option<String>,
    /// Retry schedule of read-only calls.
    pub backoff: Backoff,
    /// Requests per second per action.
    pub rate_per_second: u32,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
}

impl ClientConfig {
    /// Defaults for everything but credentials and region.
    pub fn new(credentials: Credentials, region: String) -> Self {
        Self {
            credentials,
            region,
            tke_endpoint: None,
            cvm_endpoint: None,
            backoff: Backoff::default(),
            rate_per_second: DEFAULT_RATE_PER_SECOND,
            timeout: Duration::from_secs(30),
        }
    }
}

/// A Tencent Cloud API client for TKE and CVM.
#[derive(Debug)]
pub struct TcClient {
    http: reqwest::Client,
    credentials: Credentials,
    region: String,
    tke: Endpoint,
    cvm: Endpoint,
    backoff: Backoff,
    limiter: RateLimiter,
}

impl TcClient {
    /// A client for `config`.
    pub fn new(config: ClientConfig) -> Result<Self, TkeError> {
        crate::k8s::client::install_crypto_provider();
        let tke = match &config.tke_endpoint {
            Some(raw) => Endpoint::parse(raw)?,
            None => Endpoint::default_for(Service::Tke),
        };
        let cvm = match (&config.cvm_endpoint, &config.tke_endpoint) {
            (Some(raw), _) => Endpoint::parse(raw)?,
            (None, Some(_)) => tke.clone(),
            (None, None) => Endpoint::default_for(Service::Cvm),
        };
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(TkeError::HttpClient)?;
        Ok(Self {
            http,
            credentials: config.credentials,
            region: config.region,
            tke,
            cvm,
            backoff: config.backoff,
            limiter: RateLimiter::new(config.rate_per_second),
        })
    }

    /// The region requests are sent for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Call `A`: read-only actions are retried as documented; mutating ones are sent once.
    pub async fn call<A: Action>(&self, request: &A) -> Result<A::Response, TkeError> {
        let body = serde_json::to_vec(request).map_err(|source| TkeError::Encode {
            action: A::NAME,
            source,
        })?;
        if A::MUTATING {
            return self
                .send::<A>(&body)
                .await
                .map_err(|e| mutating_error(A::NAME, e));
        }
        let mut retry = 0;
        loop {
            match self.send::<A>(&body).await {
                Ok(resp) => return Ok(resp),
                Err(e) if e.retryable() && retry + 1 < self.backoff.attempts => {
                    let delay = self.backoff.jittered(retry);
                    tracing::debug!(action = A::NAME, retry, ?delay, error = %e, "retrying read-only call");
                    tokio::time::sleep(delay).await;
                    retry += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One signed request.
    async fn send<A: Action>(&self, body: &[u8]) -> Result<A::Response, TkeError> {
        let endpoint = match A::SERVICE {
            Service::Tke => &self.tke,
            Service::Cvm => &self.cvm,
        };
        self.limiter.acquire(A::NAME).await;
        let timestamp = jiff::Timestamp::now().as_second();
        let authorization = sign::authorization(
            &self.credentials.secret_id,
            self.credentials.secret_key.expose(),
            &sign::Request {
                service: A::SERVICE.name(),
                host: &endpoint.host,
                content_type: JSON,
                timestamp,
                payload: body,
            },
        )
        .map_err(|source| TkeError::Sign {
            action: A::NAME,
            source,
        })?;
        let mut req = self
            .http
            .post(endpoint.url.clone())
            .header(HOST, &endpoint.host)
            .header(CONTENT_TYPE, JSON)
            .header("X-TC-Action", A::NAME)
            .header("X-TC-Version", A::SERVICE.version())
            .header("X-TC-Timestamp", timestamp.to_string())
            .header("X-TC-Region", &self.region)
            .header("X-TC-Language", "en-US")
            .header("Authorization", sensitive(&authorization))
            .body(body.to_vec());
        if let Some(token) = &self.credentials.session_token {
            req = req.header("X-TC-Token", sensitive(token.expose()));
        }
        let transport = |source| TkeError::Transport {
            action: A::NAME,
            endpoint: endpoint.url.to_string(),
            source,
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        if status != reqwest::StatusCode::OK {
            return Err(TkeError::Status {
                action: A::NAME,
                endpoint: endpoint.url.to_string(),
                status: status.as_u16(),
            });
        }
        let bytes = resp.bytes().await.map_err(transport)?;
        decode::<A>(&bytes)
    }

    /// Every instance of a cluster (workers by default), paging 100 at a time.
    pub async fn cluster_instances(
        &self,
        cluster_id: &str,
        instance_ids: &[String],
    ) -> Result<Vec<Instance>, TkeError> {
        all_pages(|offset, limit| async move {
            let page = self
                .call(&DescribeClusterInstances {
                    cluster_id: cluster_id.to_owned(),
                    offset: Some(offset),
                    limit: Some(limit),
                    instance_ids: instance_ids.to_vec(),
                    ..Default::default()
                })
                .await?;
            Ok((page.instance_set.unwrap_or_default(), page.total_count))
        })
        .await
    }

    /// Every cluster of the account in the region that matches `filters` (all pages).
    pub async fn clusters(
        &self,
        filters: Vec<super::actions::Filter>,
    ) -> Result<Vec<Cluster>, TkeError> {
        let filters = &filters;
        all_pages(|offset, limit| async move {
            let page = self
                .call(&DescribeClusters {
                    offset: Some(offset),
                    limit: Some(limit),
                    filters: filters.clone(),
                    ..Default::default()
                })
                .await?;
            Ok((page.clusters.unwrap_or_default(), page.total_count))
        })
        .await
    }

    /// One cluster, or `None` when the account has no such cluster in this region.
    pub async fn cluster(&self, cluster_id: &str) -> Result<Option<Cluster>, TkeError> {
        let resp = self
            .call(&DescribeClusters {
                cluster_ids: vec![cluster_id.to_owned()],
                ..Default::default()
            })
            .await?;
        Ok(resp
            .clusters
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.cluster_id == cluster_id))
    }
}

/// Page size of the listing actions (100 is the most `DescribeClusterInstances` takes).
const PAGE: u64 = 100;

/// Every item of a paged listing: `page(offset, limit)` answers one page and the total.
async fn all_pages<T, F, Fut>(mut page: F) -> Result<Vec<T>, TkeError>
where
    F: FnMut(u64, u64) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, u64), TkeError>>,
{
    let mut all = Vec::new();
    loop {
        let offset = all.len() as u64;
        let (got, total) = page(offset, PAGE).await?;
        let n = got.len() as u64;
        all.extend(got);
        // Stop on a short or empty page too: a server whose TotalCount is wrong must not make
        // us loop forever.
        if n < PAGE || all.len() as u64 >= total {
            return Ok(all);
        }
    }
}

/// A header value that HTTP libraries must not print (hyper and reqwest honour the flag in their
/// debug output). A value that is not a valid header becomes an empty one, which the server
/// rejects as an authentication failure rather than us printing it in an error.
fn sensitive(value: &str) -> reqwest::header::HeaderValue {
    let mut v = reqwest::header::HeaderValue::from_str(value)
        .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static(""));
    v.set_sensitive(true);
    v
}

/// A failed mutating call, classified: rejected before it ran (the error as it is), or
/// possibly executed (wrapped in [`TkeError::OutcomeUnknown`]).
fn mutating_error(action: &'static str, e: TkeError) -> TkeError {
    let ambiguous = match &e {
        // Connection refused: nothing was sent.
        TkeError::Transport { source, .. } => !source.is_connect(),
        // A gateway or server failure: it may have been applied.
        TkeError::Status { status, .. } => *status >= 500,
        TkeError::Api { code, .. } => code.starts_with("InternalError"),
        _ => false,
    };
    if ambiguous {
        TkeError::OutcomeUnknown {
            action,
            source: Box::new(e),
        }
    } else {
        e
    }
}

/// Parse the envelope: `Response.Error` becomes [`TkeError::Api`], anything else the response.
fn decode<A: Action>(bytes: &[u8]) -> Result<A::Response, TkeError> {
    let bad = |request_id: &str, source| TkeError::Decode {
        action: A::NAME,
        request_id: request_id.to_owned(),
        source,
    };
    let mut envelope: Value = serde_json::from_slice(bytes).map_err(|e| bad("", e))?;
    let response = envelope
        .get_mut("Response")
        .map(Value::take)
        .filter(Value::is_object)
        .ok_or_else(|| bad("", serde::de::Error::custom("no Response object")))?;
    let request_id = response
        .get("RequestId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if let Some(error) = response.get("Error").filter(|e| !e.is_null()) {
        let field = |k| {
            error
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        return Err(TkeError::Api {
            action: A::NAME,
            code: field("Code"),
            message: field("Message"),
            request_id,
        });
    }
    tracing::debug!(
        action = A::NAME,
        request_id,
        "tencent cloud api call succeeded"
    );
    serde_json::from_value(response).map_err(|e| bad(&request_id, e))
}

#[cfg(test)]
mod tests {
    use super::super::actions::DescribeClusterInstances;
    use super::*;

    #[test]
    fn envelope_error_carries_code_message_and_request_id() {
        let body = br#"{"Response":{"Error":{"Code":"InvalidParameter.ClusterNotFound","Message":"cluster cls-x not found"},"RequestId":"r-1"}}"#;
        let err = decode::<DescribeClusterInstances>(body).expect_err("error envelope");
        assert_eq!(
            err.to_string(),
            "DescribeClusterInstances failed: InvalidParameter.ClusterNotFound: cluster cls-x not found (RequestId r-1)"
        );
        assert_eq!(err.code(), Some("InvalidParameter.ClusterNotFound"));
    }

    #[test]
    fn envelope_success_and_garbage() {
        let ok = br#"{"Response":{"TotalCount":0,"InstanceSet":null,"RequestId":"r-2"}}"#;
        let resp = decode::<DescribeClusterInstances>(ok).expect("success");
        assert_eq!(resp.total_count, 0);
        for bad in [&b"not json"[..], br#"{"Foo":{}}"#, br#"{"Response":"x"}"#] {
            let err = decode::<DescribeClusterInstances>(bad).expect_err("garbage");
            assert!(matches!(err, TkeError::Decode { .. }), "{err:?}");
        }
    }

    #[test]
    fn mutating_failures_are_classified() {
        let api = |code: &str| TkeError::Api {
            action: "AddExistedInstances",
            code: code.into(),
            message: String::new(),
            request_id: "r".into(),
        };
        let status = |status| TkeError::Status {
            action: "AddExistedInstances",
            endpoint: "e".into(),
            status,
        };
        let unknown = |e| {
            matches!(
                mutating_error("AddExistedInstances", e),
                TkeError::OutcomeUnknown { .. }
            )
        };
        assert!(unknown(api("InternalError")));
        assert!(unknown(api("InternalError.UnexceptedInternal")));
        assert!(unknown(status(502)));
        assert!(!unknown(status(404)));
        assert!(!unknown(api("RequestLimitExceeded")));
        assert!(!unknown(api("InvalidParameter")));
    }

    #[test]
    fn endpoint_host_keeps_the_port() {
        let e = Endpoint::parse("http://127.0.0.1:8443/").expect("valid");
        assert_eq!(e.host, "127.0.0.1:8443");
        let e = Endpoint::parse("https://tke.ap-guangzhou.tencentcloudapi.com").expect("valid");
        assert_eq!(e.host, "tke.ap-guangzhou.tencentcloudapi.com");
        assert!(Endpoint::parse("ftp://x").is_err());
        assert!(Endpoint::parse("nonsense").is_err());
    }
}

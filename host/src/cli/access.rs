//! Flag groups for reaching the cluster (kubeconfig, context) and the cloud (credentials, region,
//! endpoints), and turning them into clients.
//!
//! Configuration problems (no kubeconfig, no such context, missing credentials, a bad endpoint)
//! are usage errors (exit 2); a cluster or cloud that does not answer is exit 3.

use std::path::PathBuf;

use clap::Args;

use super::args::UsageError;
use crate::k8s::api_error;
use crate::k8s::client::{ClientError, Clients, KubeOptions};
use crate::tke::client::{ClientConfig, TcClient, TkeError};
use crate::tke::credentials::{Credentials, Overrides, Secret};

/// Which Kubernetes cluster: kubectl's flags, resolved as kubectl resolves them.
#[derive(Debug, Args)]
pub struct KubeArgs {
    /// Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: its current-context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

impl KubeArgs {
    /// Connect: both clients, or a usage error when the configuration is missing or bad.
    pub async fn clients(&self) -> anyhow::Result<Clients> {
        let options = KubeOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
        };
        Clients::connect(&options).await.map_err(|e| match e {
            ClientError::Build(_) => anyhow::Error::new(e),
            other => anyhow::Error::new(UsageError(api_error::render(&other))),
        })
    }
}

/// Tencent Cloud credentials, region and endpoints. The flags override the environment
/// variables the official SDKs read; prefer the environment for the secret key (flags show up in
/// `ps`).
#[derive(Debug, Clone, Args)]
pub struct CloudArgs {
    /// SecretId (default: $TENCENTCLOUD_SECRET_ID).
    #[arg(long, value_name = "ID")]
    pub secret_id: Option<String>,
    /// SecretKey (default: $TENCENTCLOUD_SECRET_KEY, which is safer than this flag).
    #[arg(long, value_name = "KEY")]
    pub secret_key: Option<Secret>,
    /// Session token of temporary credentials (default: $TENCENTCLOUD_SESSION_TOKEN).
    #[arg(long, value_name = "TOKEN")]
    pub session_token: Option<Secret>,
    /// Region, e.g. ap-guangzhou (default: $TENCENTCLOUD_REGION).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// TKE API endpoint URL (default https://tke.tencentcloudapi.com/); the practice cluster's
    /// URL for tests and demos.
    #[arg(long, value_name = "URL")]
    pub tke_endpoint: Option<String>,
    /// CVM API endpoint URL (default https://cvm.tencentcloudapi.com/, or --tke-endpoint).
    #[arg(long, value_name = "URL")]
    pub cvm_endpoint: Option<String>,
}

impl CloudArgs {
    /// The client, or a usage error when credentials, region or an endpoint are missing or bad.
    pub fn client(&self) -> anyhow::Result<TcClient> {
        let overrides = Overrides {
            secret_id: self.secret_id.clone(),
            secret_key: self.secret_key.clone(),
            session_token: self.session_token.clone(),
            region: self.region.clone(),
        };
        let (credentials, region) =
            Credentials::from_env(&overrides).map_err(|e| UsageError(e.to_string()))?;
        let mut config = ClientConfig::new(credentials, region);
        config.tke_endpoint = self.tke_endpoint.clone();
        config.cvm_endpoint = self.cvm_endpoint.clone();
        TcClient::new(config).map_err(|e| match e {
            TkeError::Endpoint { .. } => UsageError(e.to_string()).into(),
            other => anyhow::Error::new(other),
        })
    }
}

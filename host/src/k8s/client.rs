//! Building kube-rs clients the way kubectl resolves its configuration.
//!
//! `--kubeconfig FILE` uses that file alone; otherwise `KUBECONFIG` (a list of files, merged,
//! first value wins) or `~/.kube/config`; when none of those exists, the in-cluster service
//! account (the tool running as a Job). `--context` picks a context of the kubeconfig.
//!
//! Two clients come out of one configuration: [`Clients::reads`] keeps kube-rs' default retry of
//! 429/503/504 (good for large lists under API priority and fairness), and [`Clients::direct`]
//! has no retry layer at all: an eviction answered 429 because of a PodDisruptionBudget must
//! reach the caller at once, so that it can name the PDB and back off on its own terms, instead
//! of kube-rs retrying silently for minutes.

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};

/// The client configuration could not be found, read or used.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The kubeconfig (flag, KUBECONFIG or ~/.kube/config) is unreadable or invalid, or has no
    /// such context.
    #[error("cannot use kubeconfig {source_name}")]
    Kubeconfig {
        /// Which file(s).
        source_name: String,
        /// Why.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// No kubeconfig exists and the in-cluster service account is not available.
    #[error(
        "no kubeconfig found (--kubeconfig, KUBECONFIG, ~/.kube/config) and not running in a cluster"
    )]
    InCluster(#[source] kube::config::InClusterError),
    /// `--context` was given but there is no kubeconfig to take it from.
    #[error(
        "--context {0} needs a kubeconfig, but none was found (--kubeconfig, KUBECONFIG, ~/.kube/config)"
    )]
    ContextWithoutKubeconfig(String),
    /// The HTTP client could not be built from the configuration (TLS, proxy, auth plugin).
    #[error("cannot build a Kubernetes client")]
    Build(#[source] kube::Error),
}

/// Where the configuration comes from, decided as kubectl decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// `--kubeconfig FILE`.
    Explicit(PathBuf),
    /// `KUBECONFIG` (one or more files).
    Env,
    /// `~/.kube/config`.
    Home(PathBuf),
    /// The pod's service account.
    InCluster,
}

/// Decide the source: the flag, else a non-empty `KUBECONFIG`, else an existing
/// `~/.kube/config`, else in-cluster.
pub fn config_source(
    flag: Option<&Path>,
    kubeconfig_env: Option<&str>,
    home_config: Option<&Path>,
) -> ConfigSource {
    if let Some(path) = flag {
        return ConfigSource::Explicit(path.to_owned());
    }
    if kubeconfig_env.is_some_and(|v| std::env::split_paths(v).any(|p| !p.as_os_str().is_empty())) {
        return ConfigSource::Env;
    }
    match home_config.filter(|p| p.is_file()) {
        Some(p) => ConfigSource::Home(p.to_owned()),
        None => ConfigSource::InCluster,
    }
}

/// Flags that choose the cluster.
#[derive(Debug, Clone, Default)]
pub struct KubeOptions {
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`.
    pub context: Option<String>,
}

/// The two clients of one cluster (see the module docs).
#[derive(Clone)]
pub struct Clients {
    /// For reads (lists, gets, watches): kube-rs retries 429/503/504 itself.
    pub reads: kube::Client,
    /// For evictions, the lease and other writes: no retries, every answer reaches the caller.
    pub direct: kube::Client,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients").finish_non_exhaustive()
    }
}

/// Resolve the configuration for `options`.
pub async fn resolve_config(options: &KubeOptions) -> Result<kube::Config, ClientError> {
    let home = dirs::home_dir().map(|h| h.join(".kube").join("config"));
    let env = std::env::var("KUBECONFIG").ok();
    let source = config_source(
        options.kubeconfig.as_deref(),
        env.as_deref(),
        home.as_deref(),
    );
    let kube_options = KubeConfigOptions {
        context: options.context.clone(),
        ..Default::default()
    };
    let (name, kubeconfig) = match &source {
        ConfigSource::Explicit(path) | ConfigSource::Home(path) => {
            (path.display().to_string(), Kubeconfig::read_from(path))
        }
        ConfigSource::Env => (
            format!("from KUBECONFIG={}", env.unwrap_or_default()),
            Kubeconfig::read(),
        ),
        ConfigSource::InCluster => {
            if let Some(context) = &options.context {
                return Err(ClientError::ContextWithoutKubeconfig(context.clone()));
            }
            return kube::Config::incluster().map_err(ClientError::InCluster);
        }
    };
    let wrap = |source| ClientError::Kubeconfig {
        source_name: name.clone(),
        source,
    };
    let kubeconfig = kubeconfig.map_err(wrap)?;
    kube::Config::from_custom_kubeconfig(kubeconfig, &kube_options)
        .await
        .map_err(wrap)
}

/// Install rustls' ring provider once per process (kube and the TKE client both use rustls);
/// a second install attempt is harmless and ignored.
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Clients {
    /// Both clients from one configuration.
    pub fn from_config(config: kube::Config) -> Result<Self, ClientError> {
        install_crypto_provider();
        let mut direct_config = config.clone();
        direct_config.default_retry = false;
        Ok(Self {
            reads: kube::Client::try_from(config).map_err(ClientError::Build)?,
            direct: kube::Client::try_from(direct_config).map_err(ClientError::Build)?,
        })
    }

    /// Resolve the configuration as kubectl would and build both clients.
    pub async fn connect(options: &KubeOptions) -> Result<Self, ClientError> {
        Self::from_config(resolve_config(options).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_is_chosen_like_kubectl() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("config");
        std::fs::write(&home, "apiVersion: v1\nkind: Config\n").expect("write");
        let missing = dir.path().join("missing");
        let flag = PathBuf::from("/etc/k.yaml");
        // (case, --kubeconfig, KUBECONFIG, ~/.kube/config, expected source)
        type Case<'a> = (
            &'a str,
            Option<&'a Path>,
            Option<&'a str>,
            Option<&'a Path>,
            ConfigSource,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                "flag_wins",
                Some(&flag),
                Some("/a"),
                Some(&home),
                ConfigSource::Explicit(flag.clone()),
            ),
            (
                "env_next",
                None,
                Some("/a:/b"),
                Some(&home),
                ConfigSource::Env,
            ),
            (
                "empty_env_is_ignored",
                None,
                Some(""),
                Some(&home),
                ConfigSource::Home(home.clone()),
            ),
            (
                "home_when_it_exists",
                None,
                None,
                Some(&home),
                ConfigSource::Home(home.clone()),
            ),
            (
                "in_cluster_last",
                None,
                None,
                Some(&missing),
                ConfigSource::InCluster,
            ),
            ("no_home_dir", None, None, None, ConfigSource::InCluster),
        ];
        for (case, flag, env, home, want) in cases {
            assert_eq!(config_source(flag, env, home), want, "{case}");
        }
    }

    #[tokio::test]
    async fn explicit_kubeconfig_and_context_are_honoured() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kubeconfig");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncurrent-context: a\n\
             clusters:\n- name: ca\n  cluster: {server: 'http://127.0.0.1:1'}\n\
             - name: cb\n  cluster: {server: 'http://127.0.0.1:2'}\n\
             users:\n- name: u\n  user: {token: t}\n\
             contexts:\n- name: a\n  context: {cluster: ca, user: u}\n\
             - name: b\n  context: {cluster: cb, user: u, namespace: shop}\n",
        )
        .expect("write");
        let opts = |context: Option<&str>| KubeOptions {
            kubeconfig: Some(path.clone()),
            context: context.map(Into::into),
        };
        let current = resolve_config(&opts(None)).await.expect("current context");
        assert_eq!(current.cluster_url.port_u16(), Some(1));
        let b = resolve_config(&opts(Some("b"))).await.expect("context b");
        assert_eq!(
            (b.cluster_url.port_u16(), b.default_namespace.as_str()),
            (Some(2), "shop")
        );
        let err = resolve_config(&opts(Some("nope")))
            .await
            .expect_err("no such context");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }
}

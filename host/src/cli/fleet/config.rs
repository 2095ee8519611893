//! `fleet.yaml`: which clusters a fleet recycles, how to reach each, which of their nodes, in
//! batches of how many, the health gate, where the fleet's record lives, and the recycle
//! settings every cluster's run gets. Unknown fields are errors, and every problem names the
//! field and the fix before any cluster is touched. Secrets never go in the file: an account
//! names the environment variables that hold them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::access::CloudArgs;
use crate::cli::args::UsageError;
use crate::cli::config::RecycleConfig;
use crate::fleet::record::validate_name;
use crate::fleet::select::NodeSelection;
use crate::tke::credentials::Secret;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FleetConfig {
    /// The fleet's name: its run keys and record are named after it.
    pub fleet: String,
    /// Tencent Cloud accounts by a local name; without any, the `TENCENTCLOUD_*` environment.
    #[serde(default)]
    pub accounts: BTreeMap<String, Account>,
    /// The kubeconfig for clusters that name none (default: $KUBECONFIG, ~/.kube/config).
    pub kubeconfig: Option<PathBuf>,
    /// Clusters by ID.
    #[serde(default)]
    pub clusters: Vec<ClusterEntry>,
    /// Clusters found through `DescribeClusters` with tag filters, after those listed.
    #[serde(default)]
    pub discover: Vec<Discovery>,
    /// Which nodes of each cluster, unless the cluster says otherwise.
    pub nodes: Option<NodeSelection>,
    /// Clusters recycled at once (default 1).
    #[serde(default = "one")]
    pub batch_size: usize,
    /// The health gate after each cluster.
    #[serde(default)]
    pub gate: GateConfig,
    /// Where the fleet's record lives; without it, it is rebuilt from the clusters' journals.
    pub record: Option<RecordConfig>,
    /// The settings of every cluster's run (`recycle.yaml`'s fields but the cluster, nodes and
    /// journal, which the fleet sets).
    #[serde(default)]
    pub recycle: RecycleConfig,
}

fn one() -> usize {
    1
}

/// A Tencent Cloud account: where its credentials are and its default region.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Account {
    /// The environment variable holding the SecretId (default `TENCENTCLOUD_SECRET_ID`).
    pub secret_id_env: Option<String>,
    /// The environment variable holding the SecretKey (default `TENCENTCLOUD_SECRET_KEY`).
    pub secret_key_env: Option<String>,
    /// The environment variable holding a session token, for temporary credentials.
    pub session_token_env: Option<String>,
    /// Default region of its clusters.
    pub region: Option<String>,
    /// TKE API endpoint (the practice cluster's, in tests).
    pub tke_endpoint: Option<String>,
    /// CVM API endpoint.
    pub cvm_endpoint: Option<String>,
}

/// One cluster.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterEntry {
    /// `cls-...`.
    pub id: String,
    /// The account (a key of `accounts`); may be left out when there is at most one.
    pub account: Option<String>,
    /// Region, when not the account's.
    pub region: Option<String>,
    /// Kubeconfig file, when not the fleet's.
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: the file's current context).
    pub context: Option<String>,
    /// Which nodes, when not the fleet's.
    pub nodes: Option<NodeSelection>,
}

/// Clusters found by tags.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Discovery {
    /// The account to ask.
    pub account: Option<String>,
    /// Region, when not the account's.
    pub region: Option<String>,
    /// Tags every found cluster has (`DescribeClusters` filter `Tags`, `key:value`).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Kubeconfig file of the found clusters, when not the fleet's.
    pub kubeconfig: Option<PathBuf>,
    /// Their kubeconfig context, with `{cluster}` standing for the cluster ID (e.g.
    /// `{cluster}-context-default`, as TKE names the context of a downloaded kubeconfig).
    pub context: Option<String>,
    /// Which nodes, when not the fleet's.
    pub nodes: Option<NodeSelection>,
}

/// The health gate.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GateConfig {
    /// Seconds the cluster has to become healthy after its recycle (default 600).
    #[serde(default = "gate_timeout")]
    pub timeout: u64,
    /// Seconds between looks (default 10).
    #[serde(default = "gate_interval")]
    pub interval: u64,
}

fn gate_timeout() -> u64 {
    600
}

fn gate_interval() -> u64 {
    10
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            timeout: gate_timeout(),
            interval: gate_interval(),
        }
    }
}

/// Where the fleet's record lives.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RecordConfig {
    /// A cluster of the fleet (its ID) that keeps the record.
    pub cluster: String,
    /// The namespace (default `kube-system`).
    #[serde(default = "kube_system")]
    pub namespace: String,
}

fn kube_system() -> String {
    "kube-system".into()
}

fn bad(path: &Path, message: impl std::fmt::Display) -> UsageError {
    UsageError(format!("fleet config {}: {message}", path.display()))
}

/// How to reach one cluster of the fleet, resolved.
#[derive(Debug)]
pub struct ClusterTarget {
    /// `cls-...`.
    pub id: String,
    /// The cloud: credentials, region, endpoints.
    pub cloud: CloudArgs,
    /// Kubeconfig file.
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    pub context: Option<String>,
    /// Which nodes.
    pub nodes: NodeSelection,
}

impl FleetConfig {
    /// Read and check the file. Relative paths are taken relative to its directory.
    pub fn load(path: &Path) -> Result<Self, UsageError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| bad(path, format!("cannot read it: {e}")))?;
        let mut config: Self = serde_yaml::from_str(&text).map_err(|e| {
            bad(
                path,
                format!("{e} (fields: fleet, accounts, kubeconfig, clusters, discover, nodes, batchSize, gate, record, recycle)"),
            )
        })?;
        validate_name(&config.fleet).map_err(|e| bad(path, e))?;
        let base = path.parent().unwrap_or_else(|| Path::new(".")).to_owned();
        let rebase = |p: &mut Option<PathBuf>| {
            if let Some(p) = p.as_mut().filter(|p| p.is_relative()) {
                *p = base.join(&*p);
            }
        };
        rebase(&mut config.kubeconfig);
        for c in &mut config.clusters {
            rebase(&mut c.kubeconfig);
        }
        for d in &mut config.discover {
            rebase(&mut d.kubeconfig);
        }
        let r = &config.recycle;
        if r.cluster.is_some() || !r.nodes.is_empty() || r.selector.is_some() {
            return Err(bad(
                path,
                "recycle: has cluster, nodes or selector; a fleet chooses them per cluster (clusters:, discover:, nodes:)",
            ));
        }
        if r.journal.dir.is_some() || r.journal.in_cluster || r.journal.namespace.is_some() {
            return Err(bad(
                path,
                "recycle.journal: a fleet always keeps each run's journal in its own cluster (kube-system); drop it",
            ));
        }
        config.recycle = std::mem::take(&mut config.recycle)
            .checked(path, "recycle.")
            .map_err(|e| UsageError(e.0))?;
        if config.clusters.is_empty() && config.discover.is_empty() {
            return Err(bad(
                path,
                "no clusters: list them under clusters: (- id: cls-...) or find them with discover: (tags)",
            ));
        }
        if config.batch_size == 0 {
            return Err(bad(path, "batchSize must be at least 1"));
        }
        if config.gate.timeout == 0 || config.gate.interval == 0 {
            return Err(bad(
                path,
                "gate.timeout and gate.interval must be at least 1 (seconds)",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, c) in config.clusters.iter().enumerate() {
            if !c.id.starts_with("cls-") {
                return Err(bad(
                    path,
                    format!(
                        "clusters[{i}].id {:?} is not a TKE cluster ID (cls-...)",
                        c.id
                    ),
                ));
            }
            if !seen.insert(c.id.clone()) {
                return Err(bad(path, format!("cluster {} is listed twice", c.id)));
            }
            config
                .account_of(c.account.as_deref())
                .map_err(|e| bad(path, format!("clusters[{i}]: {e}")))?;
            config
                .selection(c.nodes.as_ref())
                .map_err(|e| bad(path, format!("clusters[{i}] ({}): {e}", c.id)))?;
        }
        for (i, d) in config.discover.iter().enumerate() {
            config
                .account_of(d.account.as_deref())
                .map_err(|e| bad(path, format!("discover[{i}]: {e}")))?;
            config
                .selection(d.nodes.as_ref())
                .map_err(|e| bad(path, format!("discover[{i}]: {e}")))?;
            if d.tags.is_empty() {
                return Err(bad(
                    path,
                    format!(
                        "discover[{i}] has no tags; name the tags that mark the fleet's clusters (a discovery without them would take every cluster of the account)"
                    ),
                ));
            }
        }
        if let Some(r) = &config.record
            && config.discover.is_empty()
            && !config.clusters.iter().any(|c| c.id == r.cluster)
        {
            return Err(bad(
                path,
                format!(
                    "record.cluster {} is not one of the fleet's clusters",
                    r.cluster
                ),
            ));
        }
        Ok(config)
    }

    /// The account a cluster names, or the only one there is (`None`: the environment).
    fn account_of(&self, name: Option<&str>) -> Result<Option<&Account>, String> {
        match name {
            Some(n) => self.accounts.get(n).map(Some).ok_or_else(|| {
                format!(
                    "account {n:?} is not under accounts: (accounts: {})",
                    self.accounts.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            }),
            None if self.accounts.len() > 1 => Err(format!(
                "there are {} accounts; say which with account:",
                self.accounts.len()
            )),
            None => Ok(self.accounts.values().next()),
        }
    }

    fn selection(&self, own: Option<&NodeSelection>) -> Result<NodeSelection, String> {
        let sel = own.or(self.nodes.as_ref()).cloned().ok_or_else(|| {
            "no node selection: set nodes: at the top (e.g. nodes: {kubeletOlderThan: \"1.30\"}) or per cluster".to_owned()
        })?;
        sel.validate().map_err(|e| e.to_string())?;
        Ok(sel)
    }

    /// The cloud flags of an account (and a region override), as `run` would get them.
    fn cloud(&self, account: Option<&str>, region: Option<&str>) -> Result<CloudArgs, UsageError> {
        let account = self.account_of(account).map_err(UsageError)?;
        let env = |name: Option<&String>, what: &str| -> Result<Option<String>, UsageError> {
            match name {
                None => Ok(None),
                Some(var) => std::env::var(var).map(Some).map_err(|_| {
                    UsageError(format!(
                        "the {what} of an account is to be in the environment variable {var}, which is not set"
                    ))
                }),
            }
        };
        let account_default = Account::default();
        let a = account.unwrap_or(&account_default);
        Ok(CloudArgs {
            secret_id: env(a.secret_id_env.as_ref(), "SecretId")?,
            secret_key: env(a.secret_key_env.as_ref(), "SecretKey")?.map(Secret::new),
            session_token: env(a.session_token_env.as_ref(), "session token")?.map(Secret::new),
            region: region.map(str::to_owned).or_else(|| a.region.clone()),
            tke_endpoint: a.tke_endpoint.clone(),
            cvm_endpoint: a.cvm_endpoint.clone(),
        })
    }

    /// Every cluster of the fleet, listed first, then discovered (each discovery's clusters
    /// sorted by ID; a cluster found twice is taken once).
    pub async fn targets(&self) -> anyhow::Result<Vec<ClusterTarget>> {
        let mut out: Vec<ClusterTarget> = Vec::new();
        for c in &self.clusters {
            out.push(ClusterTarget {
                id: c.id.clone(),
                cloud: self.cloud(c.account.as_deref(), c.region.as_deref())?,
                kubeconfig: c.kubeconfig.clone().or_else(|| self.kubeconfig.clone()),
                context: c.context.clone(),
                nodes: self.selection(c.nodes.as_ref()).map_err(UsageError)?,
            });
        }
        for d in &self.discover {
            let cloud = self.cloud(d.account.as_deref(), d.region.as_deref())?;
            let client = cloud.client()?;
            let tags: Vec<String> = d.tags.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            // One `Tags` filter per tag: filters are ANDed, a filter's values ORed.
            let filters = tags
                .iter()
                .map(|t| crate::tke::actions::Filter {
                    name: "Tags".into(),
                    values: vec![t.clone()],
                })
                .collect();
            let mut found = client.clusters(filters).await.map_err(|e| {
                anyhow::Error::new(e).context(format!(
                    "cannot discover the clusters tagged {}",
                    tags.join(", ")
                ))
            })?;
            found.sort_by(|a, b| a.cluster_id.cmp(&b.cluster_id));
            let nodes = self.selection(d.nodes.as_ref()).map_err(UsageError)?;
            let kubeconfig = d.kubeconfig.clone().or_else(|| self.kubeconfig.clone());
            for cluster in found {
                if out.iter().any(|t| t.id == cluster.cluster_id) {
                    continue;
                }
                out.push(ClusterTarget {
                    context: d
                        .context
                        .as_ref()
                        .map(|t| t.replace("{cluster}", &cluster.cluster_id)),
                    id: cluster.cluster_id,
                    cloud: cloud.clone(),
                    kubeconfig: kubeconfig.clone(),
                    nodes: nodes.clone(),
                });
            }
        }
        if out.is_empty() {
            return Err(UsageError(
                "the fleet has no clusters: discovery found none with its tags".into(),
            )
            .into());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<FleetConfig, UsageError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fleet.yaml");
        std::fs::write(&path, text).expect("write");
        FleetConfig::load(&path)
    }

    #[test]
    fn a_full_fleet_config_loads() {
        let c = load(
            "fleet: k8s-1-30\naccounts:\n  prod: {secretIdEnv: P_ID, secretKeyEnv: P_KEY, region: ap-guangzhou}\nkubeconfig: kc.yaml\nclusters:\n- id: cls-a\n  context: a\n  nodes: {nodePool: np-1}\n- id: cls-b\ndiscover:\n- tags: {env: prod}\n  context: '{cluster}-context-default'\nnodes: {kubeletOlderThan: '1.30'}\nbatchSize: 2\ngate: {timeout: 60, interval: 5}\nrecord: {cluster: cls-a}\nrecycle:\n  yes: true\n  accept: [pdb.exhausted]\n  timeouts: {drain: 120}\n",
        )
        .expect("loads");
        assert_eq!(c.batch_size, 2);
        assert!(c.kubeconfig.as_ref().is_some_and(|p| p.is_absolute()));
        assert_eq!(
            c.clusters[0].nodes,
            Some(NodeSelection::NodePool("np-1".into()))
        );
        assert_eq!(
            c.record.as_ref().map(|r| r.namespace.as_str()),
            Some("kube-system")
        );
        assert!(c.recycle.yes);
    }

    #[test]
    fn mistakes_name_the_field_and_the_fix() {
        let base = "fleet: f\nnodes: {all: true}\n";
        let cases = [
            (
                "name",
                "fleet: Big_Fleet\nclusters: [{id: cls-a}]\nnodes: {all: true}\n",
                "lowercase",
            ),
            ("typo", "fleet: f\nclustrs: []\n", "unknown field `clustrs`"),
            ("no_clusters", base, "no clusters"),
            (
                "bad_id",
                "fleet: f\nnodes: {all: true}\nclusters: [{id: a}]\n",
                "not a TKE cluster ID",
            ),
            (
                "twice",
                "fleet: f\nnodes: {all: true}\nclusters: [{id: cls-a}, {id: cls-a}]\n",
                "listed twice",
            ),
            (
                "no_nodes",
                "fleet: f\nclusters: [{id: cls-a}]\n",
                "no node selection",
            ),
            (
                "two_selections",
                "fleet: f\nclusters: [{id: cls-a}]\nnodes: {all: true, nodePool: np}\n",
                "nodes",
            ),
            (
                "version",
                "fleet: f\nclusters: [{id: cls-a}]\nnodes: {kubeletOlderThan: new}\n",
                "not a version",
            ),
            (
                "account",
                "fleet: f\nnodes: {all: true}\nclusters: [{id: cls-a, account: x}]\n",
                "account \"x\"",
            ),
            (
                "which_account",
                "fleet: f\nnodes: {all: true}\naccounts: {a: {}, b: {}}\nclusters: [{id: cls-a}]\n",
                "say which",
            ),
            (
                "recycle_nodes",
                "fleet: f\nnodes: {all: true}\nclusters: [{id: cls-a}]\nrecycle: {nodes: [x]}\n",
                "chooses them per cluster",
            ),
            (
                "recycle_journal",
                "fleet: f\nnodes: {all: true}\nclusters: [{id: cls-a}]\nrecycle: {journal: {inCluster: true}}\n",
                "recycle.journal",
            ),
            (
                "recycle_checked",
                "fleet: f\nnodes: {all: true}\nclusters: [{id: cls-a}]\nrecycle: {onBlocked: later}\n",
                "recycle.onBlocked",
            ),
            (
                "batch",
                "fleet: f\nnodes: {all: true}\nclusters: [{id: cls-a}]\nbatchSize: 0\n",
                "batchSize",
            ),
            (
                "record",
                "fleet: f\nnodes: {all: true}\nclusters: [{id: cls-a}]\nrecord: {cluster: cls-z}\n",
                "record.cluster",
            ),
            (
                "untagged",
                "fleet: f\nnodes: {all: true}\ndiscover: [{context: x}]\n",
                "no tags",
            ),
        ];
        for (case, text, want) in cases {
            let err = load(text).expect_err(case).to_string();
            assert!(err.contains(want), "{case}: {err}");
        }
    }

    #[test]
    fn the_practice_fleet_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/fleet/fleet.yaml");
        let c = FleetConfig::load(&path).expect("the practice fleet config loads");
        assert_eq!(c.clusters.len(), 3);
        assert_eq!(c.batch_size, 2);
    }

    #[test]
    fn secrets_come_from_the_named_environment_variables() {
        let c = load("fleet: f\nnodes: {all: true}\naccounts: {a: {secretIdEnv: TKE_RECYCLE_TEST_UNSET_ID}}\nclusters: [{id: cls-a}]\n")
            .expect("loads");
        let err = c.cloud(None, None).expect_err("unset").to_string();
        assert!(err.contains("TKE_RECYCLE_TEST_UNSET_ID"), "{err}");
    }
}

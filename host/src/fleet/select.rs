//! Which nodes of a cluster a fleet recycles: all of them, one node pool, a label selector, or
//! those whose kubelet is older than a version (what an upgrade leaves behind).

use k8s_openapi::api::core::v1::Node;
use serde::Deserialize;

/// The label TKE puts on a node pool's nodes.
pub const NODE_POOL_LABEL: &str = "tke.cloud.tencent.com/nodepool-id";

/// How a cluster's nodes are chosen. In the config, exactly one of the fields.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "SelectionFields")]
pub enum NodeSelection {
    /// Every node (`all: true`).
    All(bool),
    /// The nodes of one node pool (`nodePool: np-...`).
    NodePool(String),
    /// A label selector, as `kubectl get nodes -l` takes it.
    Selector(String),
    /// Nodes whose kubelet is older than this version (`kubeletOlderThan: "1.30"`).
    KubeletOlderThan(String),
}

/// The selection as the config writes it: a map with exactly one of the fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SelectionFields {
    all: Option<bool>,
    node_pool: Option<String>,
    selector: Option<String>,
    kubelet_older_than: Option<String>,
}

impl TryFrom<SelectionFields> for NodeSelection {
    type Error = String;

    fn try_from(f: SelectionFields) -> Result<Self, String> {
        let mut chosen = Vec::new();
        if let Some(a) = f.all {
            chosen.push(Self::All(a));
        }
        if let Some(p) = f.node_pool {
            chosen.push(Self::NodePool(p));
        }
        if let Some(s) = f.selector {
            chosen.push(Self::Selector(s));
        }
        if let Some(v) = f.kubelet_older_than {
            chosen.push(Self::KubeletOlderThan(v));
        }
        match (chosen.pop(), chosen.is_empty()) {
            (Some(one), true) => Ok(one),
            _ => Err("nodes: give exactly one of all, nodePool, selector, kubeletOlderThan".into()),
        }
    }
}

/// A selection that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// `kubeletOlderThan` is not a version.
    #[error("kubeletOlderThan {0:?} is not a version; write it as 1.30 or v1.30.2")]
    BadVersion(String),
    /// `all: false` selects nothing, which is certainly not what was meant.
    #[error(
        "`all: false` selects no node; drop it or choose nodePool, selector or kubeletOlderThan"
    )]
    AllFalse,
    /// An empty selector would choose every node by accident.
    #[error("the node selector is empty; write `all: true` to recycle every node")]
    EmptySelector,
    /// A node reports a kubelet version that cannot be compared: recycling it, or leaving it,
    /// would both be guesses.
    #[error(
        "node {node} reports kubelet version {version:?}, which is not a version; choose its nodes by nodePool or selector instead"
    )]
    NodeVersion {
        /// The node.
        node: String,
        /// What it reports.
        version: String,
    },
}

/// `major.minor.patch` of `v1.28.3-tke.5`, `1.30` or `v1.30.2+k3s1`; missing parts are 0.
pub fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let t = text.trim();
    let t = t.strip_prefix('v').unwrap_or(t);
    let core = t.split(['-', '+']).next()?;
    let mut parts = core.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    if parts.next().is_some() {
        return None;
    }
    Some((major, minor, patch))
}

impl NodeSelection {
    /// Check the selection itself, before any cluster is read.
    pub fn validate(&self) -> Result<(), SelectError> {
        match self {
            Self::All(false) => Err(SelectError::AllFalse),
            Self::KubeletOlderThan(v) if parse_version(v).is_none() => {
                Err(SelectError::BadVersion(v.clone()))
            }
            Self::Selector(s) if s.trim().is_empty() => Err(SelectError::EmptySelector),
            _ => Ok(()),
        }
    }

    /// The label selector the API server applies (node pools and selectors are labels).
    pub fn label_selector(&self) -> Option<String> {
        match self {
            Self::NodePool(pool) => Some(format!("{NODE_POOL_LABEL}={pool}")),
            Self::Selector(s) => Some(s.clone()),
            Self::All(_) | Self::KubeletOlderThan(_) => None,
        }
    }

    /// The names of the chosen nodes among `nodes` (already filtered by
    /// [`Self::label_selector`]), sorted.
    pub fn select(&self, nodes: &[Node]) -> Result<Vec<String>, SelectError> {
        self.validate()?;
        let mut names = Vec::new();
        for node in nodes {
            let Some(name) = node.metadata.name.clone() else {
                continue;
            };
            if let Self::KubeletOlderThan(limit) = self {
                let limit =
                    parse_version(limit).ok_or_else(|| SelectError::BadVersion(limit.clone()))?;
                let reported = node
                    .status
                    .as_ref()
                    .and_then(|s| s.node_info.as_ref())
                    .map(|i| i.kubelet_version.clone())
                    .unwrap_or_default();
                let version = parse_version(&reported).ok_or_else(|| SelectError::NodeVersion {
                    node: name.clone(),
                    version: reported.clone(),
                })?;
                if version >= limit {
                    continue;
                }
            }
            names.push(name);
        }
        names.sort();
        Ok(names)
    }

    /// For people: `all`, `node pool np-1`, ...
    pub fn describe(&self) -> String {
        match self {
            Self::All(_) => "all nodes".into(),
            Self::NodePool(p) => format!("node pool {p}"),
            Self::Selector(s) => format!("nodes matching {s}"),
            Self::KubeletOlderThan(v) => format!("nodes with kubelet older than {v}"),
        }
    }
}

/// List the cluster's nodes and choose among them.
pub async fn choose(
    client: &kube::Client,
    selection: &NodeSelection,
) -> Result<Vec<String>, ChooseError> {
    selection.validate()?;
    let api = kube::Api::<Node>::all(client.clone());
    let mut params = kube::api::ListParams::default();
    if let Some(s) = selection.label_selector() {
        params = params.labels(&s);
    }
    let list = api.list(&params).await.map_err(ChooseError::List)?;
    Ok(selection.select(&list.items)?)
}

/// Choosing the nodes failed.
#[derive(Debug, thiserror::Error)]
pub enum ChooseError {
    /// The selection is wrong.
    #[error(transparent)]
    Select(#[from] SelectError),
    /// The nodes could not be listed.
    #[error("cannot list the cluster's nodes")]
    List(#[source] kube::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, kubelet: &str) -> Node {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "status": {"nodeInfo": {"kubeletVersion": kubelet, "architecture": "", "bootID": "",
                "containerRuntimeVersion": "", "kernelVersion": "", "kubeProxyVersion": "",
                "machineID": "", "operatingSystem": "", "osImage": "", "systemUUID": ""}}
        }))
        .expect("node")
    }

    #[test]
    fn versions_parse_as_kubelets_report_them() {
        let cases = [
            ("v1.28.3-tke.5", Some((1, 28, 3))),
            ("1.30", Some((1, 30, 0))),
            ("v1.30.2+k3s1", Some((1, 30, 2))),
            ("v1", Some((1, 0, 0))),
            ("latest", None),
            ("1.2.3.4", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_version(text), want, "{text}");
        }
    }

    #[test]
    fn kubelet_older_than_keeps_only_older_nodes() {
        let nodes = [
            node("b", "v1.28.3-tke.5"),
            node("a", "v1.26.1"),
            node("c", "v1.30.0-tke.1"),
        ];
        let sel = NodeSelection::KubeletOlderThan("1.30".into());
        assert_eq!(sel.select(&nodes).expect("select"), ["a", "b"]);
        let sel = NodeSelection::KubeletOlderThan("v1.26.1".into());
        assert!(sel.select(&nodes).expect("select").is_empty());
    }

    #[test]
    fn an_unreadable_kubelet_version_is_an_error_naming_the_node() {
        let nodes = [node("a", "v1.26.1"), node("x", "weird")];
        let err = NodeSelection::KubeletOlderThan("1.30".into())
            .select(&nodes)
            .expect_err("weird version");
        assert!(err.to_string().contains("node x"), "{err}");
    }

    #[test]
    fn selections_are_checked_before_any_cluster_is_read() {
        assert_eq!(
            NodeSelection::All(false).validate(),
            Err(SelectError::AllFalse)
        );
        assert!(
            NodeSelection::KubeletOlderThan("new".into())
                .validate()
                .is_err()
        );
        assert!(NodeSelection::Selector(" ".into()).validate().is_err());
        assert_eq!(
            NodeSelection::NodePool("np-1".into())
                .label_selector()
                .as_deref(),
            Some("tke.cloud.tencent.com/nodepool-id=np-1")
        );
        assert_eq!(
            NodeSelection::All(true)
                .select(&[node("b", "v1"), node("a", "v1")])
                .expect("all"),
            ["a", "b"]
        );
    }
}

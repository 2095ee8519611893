//! The resource types the practice cluster serves, with the facts discovery and routing need.
//!
//! Adding a resource here makes it stored, listable, watchable and discoverable; behaviour beyond
//! plain CRUD (eviction, graceful pod deletion, status subresources) lives in `kube_api`.

/// A served resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Res {
    /// core/v1 namespaces.
    Namespaces,
    /// core/v1 nodes.
    Nodes,
    /// core/v1 pods.
    Pods,
    /// core/v1 events.
    Events,
    /// core/v1 configmaps.
    ConfigMaps,
    /// core/v1 services.
    Services,
    /// core/v1 persistentvolumes.
    PersistentVolumes,
    /// core/v1 persistentvolumeclaims.
    PersistentVolumeClaims,
    /// apps/v1 deployments.
    Deployments,
    /// apps/v1 replicasets.
    ReplicaSets,
    /// apps/v1 statefulsets.
    StatefulSets,
    /// apps/v1 daemonsets.
    DaemonSets,
    /// apps/v1 controllerrevisions (kubectl rollout and drain look at them rarely; served empty).
    ControllerRevisions,
    /// batch/v1 jobs.
    Jobs,
    /// batch/v1 cronjobs.
    CronJobs,
    /// policy/v1 poddisruptionbudgets.
    PodDisruptionBudgets,
    /// coordination.k8s.io/v1 leases.
    Leases,
}

/// Static facts about one resource type.
#[derive(Debug)]
pub struct ResDef {
    /// API group, "" for core.
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// Plural resource name used in paths.
    pub plural: &'static str,
    /// Singular name for discovery.
    pub singular: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// kubectl short names.
    pub short_names: &'static [&'static str],
    /// Whether a `/status` subresource exists (main-resource writes then keep the old status).
    pub has_status: bool,
}

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

impl Res {
    /// Every served resource.
    pub const ALL: [Res; 17] = [
        Res::Namespaces,
        Res::Nodes,
        Res::Pods,
        Res::Events,
        Res::ConfigMaps,
        Res::Services,
        Res::PersistentVolumes,
        Res::PersistentVolumeClaims,
        Res::Deployments,
        Res::ReplicaSets,
        Res::StatefulSets,
        Res::DaemonSets,
        Res::ControllerRevisions,
        Res::Jobs,
        Res::CronJobs,
        Res::PodDisruptionBudgets,
        Res::Leases,
    ];

    /// The verbs discovery advertises for every resource.
    pub fn verbs() -> &'static [&'static str] {
        VERBS
    }

    /// Static facts.
    pub fn def(self) -> &'static ResDef {
        macro_rules! d {
            ($g:literal, $v:literal, $p:literal, $s:literal, $k:literal, $ns:literal, $sn:expr, $st:literal) => {{
                static D: ResDef = ResDef {
                    group: $g,
                    version: $v,
                    plural: $p,
                    singular: $s,
                    kind: $k,
                    namespaced: $ns,
                    short_names: $sn,
                    has_status: $st,
                };
                &D
            }};
        }
        match self {
            Res::Namespaces => d!(
                "",
                "v1",
                "namespaces",
                "namespace",
                "Namespace",
                false,
                &["ns"],
                true
            ),
            Res::Nodes => d!("", "v1", "nodes", "node", "Node", false, &["no"], true),
            Res::Pods => d!("", "v1", "pods", "pod", "Pod", true, &["po"], true),
            Res::Events => d!("", "v1", "events", "event", "Event", true, &["ev"], false),
            Res::ConfigMaps => d!(
                "",
                "v1",
                "configmaps",
                "configmap",
                "ConfigMap",
                true,
                &["cm"],
                false
            ),
            Res::Services => d!(
                "",
                "v1",
                "services",
                "service",
                "Service",
                true,
                &["svc"],
                true
            ),
            Res::PersistentVolumes => {
                d!(
                    "",
                    "v1",
                    "persistentvolumes",
                    "persistentvolume",
                    "PersistentVolume",
                    false,
                    &["pv"],
                    true
                )
            }
            Res::PersistentVolumeClaims => d!(
                "",
                "v1",
                "persistentvolumeclaims",
                "persistentvolumeclaim",
                "PersistentVolumeClaim",
                true,
                &["pvc"],
                true
            ),
            Res::Deployments => d!(
                "apps",
                "v1",
                "deployments",
                "deployment",
                "Deployment",
                true,
                &["deploy"],
                true
            ),
            Res::ReplicaSets => d!(
                "apps",
                "v1",
                "replicasets",
                "replicaset",
                "ReplicaSet",
                true,
                &["rs"],
                true
            ),
            Res::StatefulSets => d!(
                "apps",
                "v1",
                "statefulsets",
                "statefulset",
                "StatefulSet",
                true,
                &["sts"],
                true
            ),
            Res::DaemonSets => d!(
                "apps",
                "v1",
                "daemonsets",
                "daemonset",
                "DaemonSet",
                true,
                &["ds"],
                true
            ),
            Res::ControllerRevisions => d!(
                "apps",
                "v1",
                "controllerrevisions",
                "controllerrevision",
                "ControllerRevision",
                true,
                &[],
                false
            ),
            Res::Jobs => d!("batch", "v1", "jobs", "job", "Job", true, &[], true),
            Res::CronJobs => d!(
                "batch",
                "v1",
                "cronjobs",
                "cronjob",
                "CronJob",
                true,
                &["cj"],
                true
            ),
            Res::PodDisruptionBudgets => d!(
                "policy",
                "v1",
                "poddisruptionbudgets",
                "poddisruptionbudget",
                "PodDisruptionBudget",
                true,
                &["pdb"],
                true
            ),
            Res::Leases => d!(
                "coordination.k8s.io",
                "v1",
                "leases",
                "lease",
                "Lease",
                true,
                &[],
                false
            ),
        }
    }

    /// `apiVersion` as written in objects: `v1` or `group/version`.
    pub fn api_version(self) -> String {
        let d = self.def();
        if d.group.is_empty() {
            d.version.to_owned()
        } else {
            format!("{}/{}", d.group, d.version)
        }
    }

    /// Find a resource by the `apiVersion` and kind of a scenario manifest: also
    /// `policy/v1beta1` PodDisruptionBudgets (stored as policy/v1, served at the versions the
    /// played Kubernetes version has, whichever version the manifest was written for).
    pub fn by_manifest_kind(api_version: &str, kind: &str) -> Option<Res> {
        match (api_version, kind) {
            ("policy/v1beta1", "PodDisruptionBudget") => Some(Res::PodDisruptionBudgets),
            _ => Self::by_kind(api_version, kind),
        }
    }

    /// Find a resource by `apiVersion` and `kind` (scenario manifests).
    pub fn by_kind(api_version: &str, kind: &str) -> Option<Res> {
        Res::ALL
            .into_iter()
            .find(|r| r.def().kind == kind && r.api_version() == api_version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_round_trip() {
        for r in Res::ALL {
            let d = r.def();
            assert_eq!(Res::by_kind(&r.api_version(), d.kind), Some(r));
        }
        assert_eq!(Res::PodDisruptionBudgets.api_version(), "policy/v1");
    }
}

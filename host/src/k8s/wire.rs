//! The lean wire form of a pod, for reading pods in bulk.
//!
//! A snapshot reads every pod of the cluster (150,000 at 5,000 nodes), and the projection
//! ([`super::project::pod`]) reads a small part of each: no image, probe, environment, port,
//! timestamp or container status. Deserializing into full `k8s_openapi` pods parses and allocates
//! all of that only to drop it; the profile of a 150,000-pod snapshot had a third of the client's
//! CPU in `Pod`'s deserializer and another third in the allocator. [`LeanPod`] declares only what
//! the projection reads, so serde skips the rest while scanning, then becomes a `core::Pod` with
//! everything else left at its default: the projection is the same code for both forms.
//!
//! The contract: every pod field that [`super::project`] reads is declared here. The test
//! `lean_and_full_pods_project_alike` projects a pod that sets each of them both ways and
//! compares; a field the projection starts to read must be added to it and here.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use serde::{Deserialize, Deserializer};

use super::project::MIRROR_ANNOTATION;

/// A pod with only the fields the projection reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LeanPod {
    #[serde(default)]
    metadata: LeanMeta,
    spec: Option<LeanSpec>,
    status: Option<LeanStatus>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanMeta {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    /// Only the annotations the projection looks at; others (which can be large, e.g.
    /// `kubectl.kubernetes.io/last-applied-configuration`) are skipped unread.
    #[serde(default, deserialize_with = "projected_annotations")]
    annotations: Option<BTreeMap<String, String>>,
    owner_references: Option<Vec<LeanOwner>>,
    deletion_timestamp: Option<meta::Time>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanSpec {
    #[serde(default)]
    containers: Vec<LeanContainer>,
    init_containers: Option<Vec<LeanContainer>>,
    resources: Option<LeanRequirements>,
    overhead: Option<BTreeMap<String, Quantity>>,
    affinity: Option<core::Affinity>,
    tolerations: Option<Vec<core::Toleration>>,
    topology_spread_constraints: Option<Vec<core::TopologySpreadConstraint>>,
    volumes: Option<Vec<core::Volume>>,
    node_name: Option<String>,
    node_selector: Option<BTreeMap<String, String>>,
    priority: Option<i32>,
    preemption_policy: Option<String>,
    termination_grace_period_seconds: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanContainer {
    #[serde(default)]
    name: String,
    resources: Option<LeanRequirements>,
    restart_policy: Option<String>,
}

/// Requests only: the scheduler reserves requests; limits play no part in placement.
#[derive(Debug, Clone, Default, Deserialize)]
struct LeanRequirements {
    requests: Option<BTreeMap<String, Quantity>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanOwner {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    controller: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct LeanStatus {
    phase: Option<String>,
    conditions: Option<Vec<LeanCondition>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct LeanCondition {
    #[serde(rename = "type", default)]
    type_: String,
    #[serde(default)]
    status: String,
}

/// The annotations the projection reads (the static pod mirror marker), skipping the values of
/// all others without allocating them.
fn projected_annotations<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    struct Keep;
    impl<'de> serde::de::Visitor<'de> for Keep {
        type Value = Option<BTreeMap<String, String>>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of annotations")
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_map(self)
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut kept = BTreeMap::new();
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if key == MIRROR_ANNOTATION {
                    kept.insert(key.into_owned(), map.next_value::<String>()?);
                } else {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
            Ok(Some(kept))
        }
    }
    d.deserialize_option(Keep)
}

impl From<LeanRequirements> for core::ResourceRequirements {
    fn from(r: LeanRequirements) -> Self {
        Self {
            requests: r.requests,
            ..Self::default()
        }
    }
}

impl From<LeanOwner> for meta::OwnerReference {
    fn from(o: LeanOwner) -> Self {
        Self {
            api_version: o.api_version,
            kind: o.kind,
            name: o.name,
            controller: o.controller,
            ..Self::default()
        }
    }
}

impl From<LeanContainer> for core::Container {
    fn from(c: LeanContainer) -> Self {
        Self {
            name: c.name,
            resources: c.resources.map(Into::into),
            restart_policy: c.restart_policy,
            ..Self::default()
        }
    }
}

impl From<LeanPod> for core::Pod {
    fn from(p: LeanPod) -> Self {
        let m = p.metadata;
        Self {
            metadata: meta::ObjectMeta {
                name: m.name,
                namespace: m.namespace,
                uid: m.uid,
                labels: m.labels,
                annotations: m.annotations,
                owner_references: m
                    .owner_references
                    .map(|o| o.into_iter().map(Into::into).collect()),
                deletion_timestamp: m.deletion_timestamp,
                ..meta::ObjectMeta::default()
            },
            spec: p.spec.map(|s| core::PodSpec {
                containers: s.containers.into_iter().map(Into::into).collect(),
                init_containers: s
                    .init_containers
                    .map(|c| c.into_iter().map(Into::into).collect()),
                resources: s.resources.map(Into::into),
                overhead: s.overhead,
                affinity: s.affinity,
                tolerations: s.tolerations,
                topology_spread_constraints: s.topology_spread_constraints,
                volumes: s.volumes,
                node_name: s.node_name,
                node_selector: s.node_selector,
                priority: s.priority,
                preemption_policy: s.preemption_policy,
                termination_grace_period_seconds: s.termination_grace_period_seconds,
                ..core::PodSpec::default()
            }),
            status: p.status.map(|s| core::PodStatus {
                phase: s.phase,
                conditions: s.conditions.map(|c| {
                    c.into_iter()
                        .map(|c| core::PodCondition {
                            type_: c.type_,
                            status: c.status,
                            ..core::PodCondition::default()
                        })
                        .collect()
                }),
                ..core::PodStatus::default()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::k8s::project::{self, Resolver};

    /// A pod that sets every field the projection reads, and much it does not.
    fn rich_pod() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"namespace": "shop", "name": "web-1", "uid": "u1",
                "resourceVersion": "12", "creationTimestamp": "2026-11-27T09:00:00Z",
                "deletionTimestamp": "2026-11-27T10:00:00Z",
                "labels": {"app": "web", "tier": "front"},
                "annotations": {"kubernetes.io/config.mirror": "abc",
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"big\": [1, 2, {\"x\": null}]}",
                    "other": "x"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "web-abc", "uid": "r", "controller": true}],
                "managedFields": [{"manager": "kubectl", "operation": "Apply",
                    "fieldsV1": {"f:spec": {}}}]},
            "spec": {"nodeName": "10.0.1.11", "priority": 1000, "preemptionPolicy": "Never",
                "terminationGracePeriodSeconds": 45,
                "nodeSelector": {"disk": "ssd"},
                "resources": {"requests": {"cpu": "2"}},
                "overhead": {"memory": "120Mi"},
                "initContainers": [
                    {"name": "mesh", "restartPolicy": "Always", "image": "envoy",
                     "resources": {"requests": {"cpu": "200m", "memory": "64Mi"}}},
                    {"name": "migrate", "image": "m",
                     "resources": {"requests": {"cpu": "1", "nvidia.com/gpu": "1"}}}],
                "containers": [{"name": "app", "image": "web:1",
                    "env": [{"name": "A", "value": "b"}],
                    "ports": [{"containerPort": 80}],
                    "livenessProbe": {"httpGet": {"path": "/", "port": 80}},
                    "resources": {"requests": {"cpu": "100m", "memory": "1Gi"},
                                  "limits": {"cpu": "1"}}}],
                "tolerations": [{"operator": "Exists"},
                                {"key": "k", "value": "v", "effect": "NoExecute"}],
                "topologySpreadConstraints": [
                    {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                     "whenUnsatisfiable": "DoNotSchedule", "minDomains": 3,
                     "nodeTaintsPolicy": "Honor", "matchLabelKeys": ["tier", "absent"],
                     "labelSelector": {"matchLabels": {"app": "web"}}},
                    {"maxSkew": 2, "topologyKey": "kubernetes.io/hostname",
                     "whenUnsatisfiable": "ScheduleAnyway"}],
                "affinity": {
                    "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [
                            {"key": "zone", "operator": "NotIn", "values": ["a"]}]}]}},
                    "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": {"app": "cache"}},
                         "namespaces": ["infra"],
                         "topologyKey": "topology.kubernetes.io/zone"}]},
                    "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": {"app": "web"}},
                         "topologyKey": "kubernetes.io/hostname"}]}},
                "volumes": [
                    {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-1"}},
                    {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                    {"name": "logs", "hostPath": {"path": "/var/log"}},
                    {"name": "tmp", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
                    {"name": "cfg", "configMap": {"name": "web"}}]},
            "status": {"phase": "Running", "podIP": "172.16.0.5", "hostIP": "10.0.1.11",
                "startTime": "2026-11-27T09:00:01Z",
                "conditions": [
                    {"type": "PodScheduled", "status": "True",
                     "lastTransitionTime": "2026-11-27T09:00:00Z"},
                    {"type": "Ready", "status": "True",
                     "lastTransitionTime": "2026-11-27T09:00:05Z"}],
                "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0,
                    "image": "web:1", "imageID": "sha256:x", "started": true,
                    "state": {"running": {"startedAt": "2026-11-27T09:00:04Z"}}}]}
        })
    }

    fn both_ways(v: Value) -> (core::Pod, core::Pod) {
        let full: core::Pod = serde_json::from_value(v.clone()).expect("a valid pod");
        let lean: LeanPod = serde_json::from_value(v).expect("a valid lean pod");
        (full, lean.into())
    }

    #[test]
    fn lean_and_full_pods_project_alike() {
        let cases = [
            ("rich", rich_pod()),
            ("bare", json!({"metadata": {"name": "p"}})),
            (
                "nulls",
                json!({"metadata": {"name": "p", "annotations": null, "labels": null},
                       "spec": {"containers": [{"name": "a", "resources": null}]},
                       "status": null}),
            ),
            (
                "pending",
                json!({"metadata": {"name": "p", "namespace": "n"},
                       "spec": {"containers": [{"name": "a"}]},
                       "status": {"phase": "Pending", "conditions": [
                           {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}}),
            ),
        ];
        let resolver = Resolver::default();
        for (case, v) in cases {
            let (full, lean) = both_ways(v);
            let full = project::pod(&resolver, &full).expect(case);
            let lean = project::pod(&resolver, &lean).expect(case);
            assert_eq!(
                serde_json::to_value(&lean).expect("serializes"),
                serde_json::to_value(&full).expect("serializes"),
                "{case}"
            );
        }
    }

    #[test]
    fn the_rich_pod_exercises_what_it_claims() {
        let (_, lean) = both_ways(rich_pod());
        let p = project::pod(&Resolver::default(), &lean).expect("projects");
        assert!(p.mirror && p.terminating && p.ready);
        assert_eq!(p.priority, 1000);
        assert_eq!(p.preempts, Some(false), "preemptionPolicy: Never");
        assert_eq!(p.termination_grace_seconds, 45);
        assert_eq!(p.volumes.len(), 4, "{:?}", p.volumes);
        assert_eq!(p.requests.cpu_millis, 2000, "pod-level cpu wins");
        assert_eq!(p.requests.extended.len(), 1);
        assert_eq!(p.required_anti_affinity.len(), 1);
        assert_eq!(p.required_affinity.as_deref().unwrap_or_default().len(), 1);
        assert_eq!(p.tolerations.len(), 2);
        // The selector-less constraint counts no pods and is dropped; matchLabelKeys adds
        // `tier In [front]` and skips the key the pod lacks.
        let spread = p.topology_spread.as_deref().unwrap_or_default();
        assert_eq!(spread.len(), 1, "{spread:?}");
        assert_eq!(spread[0].min_domains, Some(3));
        assert_eq!(spread[0].selector.match_expressions.len(), 1);
        assert_eq!(
            spread[0].node_taints_policy,
            crate::bindings::types::NodeInclusionPolicy::Honor
        );
    }

    #[test]
    fn only_projected_annotations_are_kept() {
        let lean: LeanPod = serde_json::from_value(rich_pod()).expect("valid");
        let kept = lean.metadata.annotations.expect("present");
        assert_eq!(kept.keys().collect::<Vec<_>>(), vec![MIRROR_ANNOTATION]);
    }

    #[test]
    fn a_wrongly_typed_field_is_still_an_error() {
        let bad = json!({"metadata": {"name": "p"}, "spec": {"priority": "high"}});
        assert!(serde_json::from_value::<LeanPod>(bad).is_err());
    }
}

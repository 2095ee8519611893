//! The capture record: everything the runbook must know to put a node back as it was, worked out
//! before the first mutating call and journaled under `node/<name>/capture`.
//!
//! Pure functions of the node, the instance capture the host read from TKE and CVM, the pods a
//! drain will evict and the settings. The host journals its own copy of the instance capture
//! (`tke.capture-instance`); this record adds the runbook's decisions: the node's own labels and
//! taints to restore, the workloads and PDBs the post-check gate watches, and the exact add
//! request.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::bindings::tke::recycle::types::WorkloadKind;
use crate::host::{
    AddRequest, CoveringPdb, InstanceCapture, Label, Login, Node, ObjectRef, Pod, Taint,
    TaintEffect,
};
use crate::script::{Runtime, keep_data_disk_script};
use crate::settings::{KeepDataDisk, LoginChoice, Settings};

/// What `node/<name>/capture` holds (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capture {
    /// The instance (`ins-...`).
    pub instance_id: String,
    /// Its node pool, if any.
    pub node_pool_id: Option<String>,
    /// The node's own labels: not managed by Kubernetes or TKE, not in TKE's node settings.
    pub labels: Vec<Label>,
    /// The node's own taints, likewise.
    pub taints: Vec<Taint>,
    /// Workloads and PDBs that had pods to evict on the node (the post-check's `affected`).
    pub affected: Vec<ObjectRef>,
    /// The request `add-existing-instance` gets.
    pub add_request: AddRequest,
}

/// True for a key that Kubernetes, the cloud provider or TKE sets on a node by itself: its
/// prefix is `kubernetes.io`, `k8s.io`, `cloud.tencent.com` or a subdomain of one of them
/// (`node.kubernetes.io/...`, `topology.kubernetes.io/...`, `node-role.kubernetes.io/...`,
/// `tke.cloud.tencent.com/...`, `node.cloudprovider.kubernetes.io/...`). Restoring those would
/// fight the kubelet, the cloud controller or TKE.
pub fn is_managed_key(key: &str) -> bool {
    let Some((prefix, _)) = key.split_once('/') else {
        return false;
    };
    ["kubernetes.io", "k8s.io", "cloud.tencent.com"]
        .iter()
        .any(|domain| prefix == *domain || prefix.ends_with(&format!(".{domain}")))
}

/// The node's labels that the runbook restores itself.
pub fn own_labels(node: &Node, settings_labels: &[Label]) -> Vec<Label> {
    node.labels
        .iter()
        .filter(|l| !is_managed_key(&l.key))
        .filter(|l| !settings_labels.iter().any(|s| s.key == l.key))
        .cloned()
        .collect()
}

/// The node's taints that the runbook restores itself.
pub fn own_taints(node: &Node, settings_taints: &[Taint]) -> Vec<Taint> {
    node.taints
        .iter()
        .filter(|t| !is_managed_key(&t.key))
        .filter(|t| {
            !settings_taints
                .iter()
                .any(|s| s.key == t.key && s.effect == t.effect)
        })
        .cloned()
        .collect()
}

/// The Kubernetes kind of a workload.
pub fn workload_kind_name(kind: &WorkloadKind) -> &str {
    match kind {
        WorkloadKind::Deployment => "Deployment",
        WorkloadKind::ReplicaSet => "ReplicaSet",
        WorkloadKind::StatefulSet => "StatefulSet",
        WorkloadKind::DaemonSet => "DaemonSet",
        WorkloadKind::Job => "Job",
        WorkloadKind::Other(kind) => kind,
    }
}

/// References to pods, as `cluster.pdbs-covering` takes them.
pub fn pod_refs(pods: &[Pod]) -> Vec<ObjectRef> {
    pods.iter()
        .map(|p| ObjectRef {
            kind: "Pod".into(),
            namespace: Some(p.namespace.clone()),
            name: p.name.clone(),
        })
        .collect()
}

/// The workloads owning `pods` and the PDBs covering them, sorted and without duplicates. Bare
/// pods have no workload to come back: they are not gated on.
pub fn affected(pods: &[Pod], pdbs: &[CoveringPdb]) -> Vec<ObjectRef> {
    let mut refs: Vec<ObjectRef> = pods
        .iter()
        .filter_map(|p| {
            let owner = p.owner.as_ref()?;
            Some(ObjectRef {
                kind: workload_kind_name(&owner.kind).to_owned(),
                namespace: Some(p.namespace.clone()),
                name: owner.name.clone(),
            })
        })
        .chain(pdbs.iter().map(|c| ObjectRef {
            kind: "PodDisruptionBudget".into(),
            namespace: Some(c.pdb.namespace.clone()),
            name: c.pdb.name.clone(),
        }))
        .collect();
    let key = |r: &ObjectRef| (r.kind.clone(), r.namespace.clone(), r.name.clone());
    refs.sort_by_key(key);
    refs.dedup_by(|a, b| key(a) == key(b));
    refs
}

/// The login of the reinstalled node: the settings', else the key IDs captured from CVM.
pub fn login(settings: &Settings, capture: &InstanceCapture, node: &str) -> Result<Login, String> {
    match &settings.login {
        Some(LoginChoice::KeyIds(ids)) => Ok(Login::KeyIds(ids.clone())),
        Some(LoginChoice::KeepImageLogin) => Ok(Login::KeepImageLogin),
        None if !capture.login_key_ids.is_empty() => {
            Ok(Login::KeyIds(capture.login_key_ids.clone()))
        }
        None => Err(format!(
            "node {node}: instance {} has no SSH key bound in CVM, so the reinstalled node would have no login; pass --login-key-id KEY or --keep-image-login",
            capture.instance.instance_id
        )),
    }
}

/// Decode a base64 user script captured from TKE.
pub fn decode_script(encoded: &str) -> Result<String, String> {
    let bytes = BASE64
        .decode(encoded.trim())
        .map_err(|e| format!("not base64 ({e})"))?;
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())
}

/// The add request: the captured settings, added cordoned, into the same node pool with its
/// first security group (TKE takes one) and the login worked out; with `keep` the data disk is
/// taken out of TKE's hands and mounted by the generated user script instead.
pub fn add_request(
    capture: &InstanceCapture,
    login: Login,
    keep: Option<&KeepDataDisk>,
) -> Result<AddRequest, String> {
    let instance = &capture.instance;
    let mut settings = instance.advanced_settings.clone();
    // Added cordoned: nothing may land on the node before the runbook restored it (and, with a
    // kept disk, before the user script mounted it).
    settings.unschedulable = true;
    if let Some(keep) = keep {
        let runtime = Runtime::parse(&capture.container_runtime).ok_or_else(|| {
            format!(
                "the cluster's container runtime {:?} is neither containerd nor docker, so keep_data_disk cannot point it at {}; leave keep_data_disk out",
                capture.container_runtime, keep.mount_target
            )
        })?;
        settings.data_disks.retain(|d| {
            d.disk_partition.as_deref() != Some(keep.device.as_str())
                && d.mount_target.as_deref().map(|m| m.trim_end_matches('/'))
                    != Some(keep.mount_target.as_str())
        });
        if settings
            .mount_target
            .as_deref()
            .map(|m| m.trim_end_matches('/'))
            == Some(keep.mount_target.as_str())
        {
            settings.mount_target = None;
        }
        let previous = match settings.user_script.as_deref() {
            Some(encoded) if !encoded.trim().is_empty() => {
                Some(decode_script(encoded).map_err(|why| {
                    format!(
                        "the captured user script of instance {} is {why}, so it cannot run after the keep_data_disk script; fix the node's user script in TKE or leave keep_data_disk out",
                        instance.instance_id
                    )
                })?)
            }
            _ => None,
        };
        let script = keep_data_disk_script(keep, runtime, previous.as_deref());
        settings.user_script = Some(BASE64.encode(script));
    }
    let host_name = if capture.node_name_type.eq_ignore_ascii_case("hostname") {
        capture.instance_name.clone()
    } else {
        None
    };
    Ok(AddRequest {
        instance_id: instance.instance_id.clone(),
        settings,
        node_pool_id: instance.node_pool_id.clone(),
        security_group_ids: capture.security_group_ids.iter().take(1).cloned().collect(),
        login,
        host_name,
    })
}

/// The whole record. `Err` is the reason the node is `invalid` (the message names the fix).
pub fn build(
    node: &Node,
    capture: &InstanceCapture,
    pods: &[Pod],
    pdbs: &[CoveringPdb],
    settings: &Settings,
) -> Result<Capture, String> {
    let instance = &capture.instance;
    if let (Some(lan_ip), Some(internal_ip)) = (&instance.lan_ip, &node.internal_ip)
        && lan_ip != internal_ip
    {
        return Err(format!(
            "node {}: its internal IP {internal_ip} is not the LAN IP {lan_ip} TKE has for instance {}; the node and the instance do not match (check the node's providerID / cloud.tencent.com/node-instance-id label; `tke-recycle nodes` lists nodes with their instances)",
            node.name, instance.instance_id
        ));
    }
    let login = login(settings, capture, &node.name)?;
    let add_request = add_request(capture, login, settings.keep_data_disk.as_ref())
        .map_err(|why| format!("node {}: {why}", node.name))?;
    Ok(Capture {
        instance_id: instance.instance_id.clone(),
        node_pool_id: instance.node_pool_id.clone(),
        labels: own_labels(node, &instance.advanced_settings.labels),
        taints: own_taints(node, &instance.advanced_settings.taints),
        affected: affected(pods, pdbs),
        add_request,
    })
}

/// The captured labels and taints that `node` lacks (missing, or with another value).
pub fn missing_metadata(capture: &Capture, node: &Node) -> (Vec<Label>, Vec<Taint>) {
    let labels = capture
        .labels
        .iter()
        .filter(|l| {
            !node
                .labels
                .iter()
                .any(|n| n.key == l.key && n.value == l.value)
        })
        .cloned()
        .collect();
    let taints = capture
        .taints
        .iter()
        .filter(|t| {
            !node
                .taints
                .iter()
                .any(|n| n.key == t.key && n.value == t.value && n.effect == t.effect)
        })
        .cloned()
        .collect();
    (labels, taints)
}

/// `key=value`.
pub fn label_text(l: &Label) -> String {
    format!("{}={}", l.key, l.value)
}

/// `key=value:Effect`, as kubectl writes taints.
pub fn taint_text(t: &Taint) -> String {
    let effect = match t.effect {
        TaintEffect::NoSchedule => "NoSchedule",
        TaintEffect::PreferNoSchedule => "PreferNoSchedule",
        TaintEffect::NoExecute => "NoExecute",
    };
    if t.value.is_empty() {
        format!("{}:{effect}", t.key)
    } else {
        format!("{}={}:{effect}", t.key, t.value)
    }
}

/// `Kind namespace/name` (or `Kind name`).
pub fn ref_text(r: &ObjectRef) -> String {
    match &r.namespace {
        Some(ns) => format!("{} {ns}/{}", r.kind, r.name),
        None => format!("{} {}", r.kind, r.name),
    }
}

/// An object reference as JSON.
pub fn ref_json(r: &ObjectRef) -> Value {
    json!({"kind": r.kind, "namespace": r.namespace, "name": r.name})
}

/// The add request as the operator reads it in a plan: the settings in short, the login kind
/// (key IDs are not secrets), and the user script decoded.
pub fn add_request_json(request: &AddRequest, keep: Option<&KeepDataDisk>) -> Value {
    let s = &request.settings;
    let login = match &request.login {
        Login::KeyIds(ids) => json!({"kind": "key-ids", "key_ids": ids}),
        Login::KeepImageLogin => json!({"kind": "keep-image-login"}),
    };
    let user_script = s.user_script.as_deref().map(|encoded| {
        decode_script(encoded).unwrap_or_else(|why| format!("(undecodable: {why})"))
    });
    json!({
        "instance_id": request.instance_id,
        "node_pool_id": request.node_pool_id,
        "security_group_ids": request.security_group_ids,
        "login": login,
        "host_name": request.host_name,
        "keep_data_disk": keep.map(|k| json!({"device": k.device, "mount_target": k.mount_target})),
        "settings": {
            "unschedulable": s.unschedulable,
            "mount_target": s.mount_target,
            "docker_graph_path": s.docker_graph_path,
            "labels": s.labels.iter().map(label_text).collect::<Vec<_>>(),
            "taints": s.taints.iter().map(taint_text).collect::<Vec<_>>(),
            "data_disks": s.data_disks.iter().map(|d| json!({
                "disk_partition": d.disk_partition,
                "mount_target": d.mount_target,
                "file_system": d.file_system,
                "auto_format_and_mount": d.auto_format_and_mount,
                "disk_type": d.disk_type,
                "disk_size": d.disk_size,
            })).collect::<Vec<_>>(),
            "kubelet_extra_args": s.kubelet_extra_args,
            "desired_pod_number": s.desired_pod_number,
            "pre_start_user_script": s.pre_start_user_script.is_some(),
        },
        "user_script": user_script,
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::bindings::tke::recycle::types::WorkloadKind;
    use crate::tests::fake::{pod, tke_capture, tke_node};

    fn capture_of(name: &str) -> InstanceCapture {
        tke_capture(name, "ins-1")
    }

    fn node_with(labels: &[(&str, &str)], taints: &[(&str, &str, TaintEffect)]) -> Node {
        let mut node = tke_node("10.0.0.1", "ins-1");
        node.labels = labels
            .iter()
            .map(|(k, v)| Label {
                key: (*k).into(),
                value: (*v).into(),
            })
            .collect();
        node.taints = taints
            .iter()
            .map(|(k, v, e)| Taint {
                key: (*k).into(),
                value: (*v).into(),
                effect: *e,
            })
            .collect();
        node
    }

    fn pod_owned(name: &str, owner: Option<(WorkloadKind, &str)>) -> Pod {
        pod("10.0.0.1", "default", name, owner)
    }

    #[rstest]
    #[case::kubernetes_io("kubernetes.io/hostname", true)]
    #[case::beta("beta.kubernetes.io/arch", true)]
    #[case::node_role("node-role.kubernetes.io/worker", true)]
    #[case::topology("topology.kubernetes.io/zone", true)]
    #[case::failure_domain("failure-domain.beta.kubernetes.io/region", true)]
    #[case::cloud_provider_taint("node.cloudprovider.kubernetes.io/uninitialized", true)]
    #[case::k8s_io("k8s.io/something", true)]
    #[case::cloud_tencent("cloud.tencent.com/node-instance-id", true)]
    #[case::tke("tke.cloud.tencent.com/nodepool-id", true)]
    #[case::plain_key("team", false)]
    #[case::own_domain("example.com/team", false)]
    #[case::lookalike("notkubernetes.io/x", false)]
    fn managed_keys_are_recognised(#[case] key: &str, #[case] managed: bool) {
        assert_eq!(is_managed_key(key), managed);
    }

    #[test]
    fn own_labels_leave_out_managed_ones_and_those_tke_settings_put_back() {
        let node = node_with(
            &[
                ("kubernetes.io/hostname", "a"),
                ("pool", "general"),
                ("team", "x"),
            ],
            &[],
        );
        let own = own_labels(
            &node,
            &[Label {
                key: "pool".into(),
                value: "other".into(),
            }],
        );
        assert_eq!(
            own.iter().map(label_text).collect::<Vec<_>>(),
            vec!["team=x"]
        );
    }

    #[test]
    fn own_taints_leave_out_node_kubernetes_io_and_those_in_the_settings() {
        let node = node_with(
            &[],
            &[
                (
                    "node.kubernetes.io/unschedulable",
                    "",
                    TaintEffect::NoSchedule,
                ),
                ("gpu", "true", TaintEffect::NoSchedule),
                ("dedicated", "x", TaintEffect::NoExecute),
            ],
        );
        let settings = [Taint {
            key: "gpu".into(),
            value: "true".into(),
            effect: TaintEffect::NoSchedule,
        }];
        let own = own_taints(&node, &settings);
        assert_eq!(
            own.iter().map(taint_text).collect::<Vec<_>>(),
            vec!["dedicated=x:NoExecute"]
        );
    }

    #[test]
    fn missing_metadata_is_what_differs_or_is_absent() {
        let node = node_with(&[("team", "x"), ("tier", "old")], &[]);
        let capture = Capture {
            instance_id: "ins-1".into(),
            node_pool_id: None,
            labels: vec![
                Label {
                    key: "team".into(),
                    value: "x".into(),
                },
                Label {
                    key: "tier".into(),
                    value: "new".into(),
                },
                Label {
                    key: "zone".into(),
                    value: "a".into(),
                },
            ],
            taints: vec![Taint {
                key: "dedicated".into(),
                value: "x".into(),
                effect: TaintEffect::NoSchedule,
            }],
            affected: vec![],
            add_request: add_request(&capture_of("10.0.0.1"), Login::KeepImageLogin, None)
                .expect("request"),
        };
        let (labels, taints) = missing_metadata(&capture, &node);
        assert_eq!(
            labels.iter().map(label_text).collect::<Vec<_>>(),
            vec!["tier=new", "zone=a"]
        );
        assert_eq!(taints.len(), 1);
        let full = node_with(
            &[("team", "x"), ("tier", "new"), ("zone", "a")],
            &[("dedicated", "x", TaintEffect::NoSchedule)],
        );
        let (labels, taints) = missing_metadata(&capture, &full);
        assert!(labels.is_empty() && taints.is_empty());
    }

    #[test]
    fn keep_data_disk_matches_the_disk_by_device_or_by_mount_target() {
        let mut capture = capture_of("10.0.0.1");
        capture.instance.advanced_settings.mount_target = Some("/data/".into());
        let keep = KeepDataDisk {
            device: "/dev/vdx".into(),
            mount_target: "/data".into(),
        };
        let request = add_request(&capture, Login::KeepImageLogin, Some(&keep)).expect("request");
        let left: Vec<_> = request
            .settings
            .data_disks
            .iter()
            .map(|d| d.disk_partition.clone())
            .collect();
        assert_eq!(left, vec![Some("/dev/vdc".to_owned())]);
        assert_eq!(request.settings.mount_target, None);
    }

    #[test]
    fn keep_data_disk_needs_a_known_runtime() {
        let mut capture = capture_of("10.0.0.1");
        capture.container_runtime = "cri-o".into();
        let keep = KeepDataDisk {
            device: "/dev/vdb".into(),
            mount_target: "/data".into(),
        };
        let err = add_request(&capture, Login::KeepImageLogin, Some(&keep)).expect_err("refused");
        assert!(err.contains("neither containerd nor docker"), "{err}");
    }

    #[test]
    fn an_undecodable_captured_user_script_cannot_be_chained() {
        let mut capture = capture_of("10.0.0.1");
        capture.instance.advanced_settings.user_script = Some("%%%".into());
        let keep = KeepDataDisk {
            device: "/dev/vdb".into(),
            mount_target: "/data".into(),
        };
        let err = add_request(&capture, Login::KeepImageLogin, Some(&keep)).expect_err("refused");
        assert!(err.contains("is not base64"), "{err}");
    }

    #[test]
    fn without_keep_data_disk_the_captured_user_script_is_sent_as_it_was() {
        let mut capture = capture_of("10.0.0.1");
        capture.instance.advanced_settings.user_script = Some("ZWNobyBoaQo=".into());
        let request = add_request(&capture, Login::KeepImageLogin, None).expect("request");
        assert_eq!(
            request.settings.user_script.as_deref(),
            Some("ZWNobyBoaQo=")
        );
    }

    #[test]
    fn affected_lists_each_workload_and_pdb_once_and_skips_bare_pods() {
        let pods = vec![
            pod_owned("web-1", Some((WorkloadKind::Deployment, "web"))),
            pod_owned("web-2", Some((WorkloadKind::Deployment, "web"))),
            pod_owned("bare", None),
            pod_owned("r-1", Some((WorkloadKind::Other("Rollout".into()), "r"))),
        ];
        let refs: Vec<String> = affected(&pods, &[]).iter().map(ref_text).collect();
        assert_eq!(refs, vec!["Deployment default/web", "Rollout default/r"]);
    }
}

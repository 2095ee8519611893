//! The cloud side of the practice cluster: the VMs (CVM instances with charge types, states and
//! data disks), which of them are in the TKE cluster, delayed add-back, and a record of what
//! happened (every action called, disks formatted, VMs terminated, user scripts received) for
//! tests to inspect.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::sim::clock::Clock;
use crate::sim::resource::Res;
use crate::sim::scenario::{ClusterSpec, DiskSpec, Faults, NodeSpec, Scenario, VmSpec};
use crate::sim::store::Store;

/// A data disk of a VM.
#[derive(Debug, Clone, Serialize)]
pub struct Disk {
    /// Disk ID.
    pub disk_id: String,
    /// Current file system, `None` when unformatted.
    pub file_system: Option<String>,
    /// Current mount point.
    pub mount_target: Option<String>,
    /// Size in GB.
    pub size_gb: u64,
    /// Block device, e.g. `/dev/vdb` (TKE's DiskPartition).
    pub device: String,
    /// False once the sim formatted it.
    pub has_original_data: bool,
}

/// The VM's membership in the cluster.
#[derive(Debug, Clone, Serialize)]
pub struct Membership {
    /// Node name in Kubernetes.
    pub node_name: String,
    /// `running`, `initializing` or `failed`.
    pub state: String,
    /// The InstanceAdvancedSettings it was added with.
    pub advanced_settings: Value,
    /// Node pool.
    pub node_pool_id: String,
    /// When it was added.
    pub created_time: String,
    /// What AddExistedInstances was given; `None` for a node that was in the scenario at start.
    pub added_with: Option<AddRecord>,
    /// Simulated time at which an initializing node appears.
    #[serde(skip)]
    pub ready_at: Option<Duration>,
}

/// What one AddExistedInstances call was given for an instance, so that a test can check that a
/// recycled node came back with the pool, security group, keys and settings it had. Never holds
/// a password, only whether one was set.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AddRecord {
    /// `SecurityGroupIds` as sent (empty: TKE bound the default group).
    pub security_group_ids: Vec<String>,
    /// `LoginSettings.KeyIds` as sent.
    pub key_ids: Vec<String>,
    /// `LoginSettings.KeepImageLogin` was `"true"`.
    pub keep_image_login: bool,
    /// `LoginSettings.Password` was set.
    pub password_set: bool,
    /// `NodePool.NodePoolId` as sent (empty: none).
    pub node_pool_id: String,
    /// `NodePool.AddToNodePool` as sent.
    pub add_to_node_pool: Option<bool>,
    /// `NodePool.InheritConfigurationFromNodePool` as sent.
    pub inherit_configuration_from_node_pool: Option<bool>,
    /// `HostName` as sent.
    pub host_name: Option<String>,
    /// `ImageId` as sent.
    pub image_id: Option<String>,
    /// The InstanceAdvancedSettings that applied to this instance (the override or the default).
    pub advanced_settings: Value,
}

/// A CVM instance.
#[derive(Debug, Clone, Serialize)]
pub struct Vm {
    /// Instance ID.
    pub instance_id: String,
    /// LAN IP.
    pub lan_ip: String,
    /// Instance type.
    pub instance_type: String,
    /// PREPAID, POSTPAID_BY_HOUR...
    pub charge_type: String,
    /// RUNNING, STOPPED, TERMINATING...
    pub state: String,
    /// Zone name.
    pub zone: String,
    /// Cores.
    pub cpu: i64,
    /// GB.
    pub memory_gb: i64,
    /// Data disks.
    pub data_disks: Vec<Disk>,
    /// Security groups it is bound to.
    pub security_group_ids: Vec<String>,
    /// SSH key pairs it accepts (CVM `LoginSettings.KeyIds`).
    pub key_ids: Vec<String>,
    /// Cluster membership.
    pub membership: Option<Membership>,
    /// How many times the OS was reinstalled by AddExistedInstances.
    pub os_reinstalls: u32,
    /// Creation time.
    pub created_time: String,
    /// Allocatable and labels to rebuild its Node from.
    #[serde(skip)]
    pub node_template: NodeSpec,
}

/// One API call as the sim received it.
#[derive(Debug, Clone, Serialize)]
pub struct ActionRecord {
    /// `tke` or `cvm`.
    pub service: String,
    /// Action name.
    pub action: String,
    /// Request parameters.
    pub params: Value,
    /// Error code when it failed.
    pub error: Option<String>,
}

/// A disk that lost its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormattedDisk {
    /// Instance.
    pub instance_id: String,
    /// Disk.
    pub disk_id: String,
    /// File system before (None: unformatted).
    pub previous_file_system: Option<String>,
    /// Where TKE mounted it.
    pub mount_target: String,
}

/// The cloud.
#[derive(Debug)]
pub struct TkeState {
    /// The cluster.
    pub cluster: ClusterSpec,
    /// VMs by instance ID.
    pub vms: BTreeMap<String, Vm>,
    /// Every call received.
    pub actions: Vec<ActionRecord>,
    /// Disks formatted by add-back.
    pub formatted_disks: Vec<FormattedDisk>,
    /// Instances destroyed by DeleteClusterInstances with terminate.
    pub terminated: Vec<String>,
    /// (instance, decoded UserScript) received with AddExistedInstances.
    pub user_scripts: Vec<(String, String)>,
    /// Faults.
    pub faults: Faults,
    /// AddExistedInstances failures still to inject.
    pub add_failures_left: u32,
    /// Simulated seconds from add to the Node appearing.
    pub add_seconds: f64,
    /// (action, unix second) -> calls, for the per-action rate limit.
    pub rate: BTreeMap<String, (u64, u32)>,
    /// Calls per action so far, for the deterministic throttling ratio.
    pub throttle_calls: BTreeMap<String, u64>,
    /// Node pools some node of the scenario has been in: the pools AddExistedInstances accepts.
    pub known_node_pools: BTreeSet<String>,
    /// Security groups AddExistedInstances accepts.
    pub known_security_groups: BTreeSet<String>,
}

fn disks(specs: &[DiskSpec], instance_id: &str) -> Vec<Disk> {
    specs
        .iter()
        .enumerate()
        .map(|(i, d)| Disk {
            disk_id: d.disk_id.clone().unwrap_or_else(|| {
                format!("disk-{}{i}", &instance_id[4..instance_id.len().min(11)])
            }),
            file_system: d.file_system.clone().filter(|f| !f.is_empty()),
            mount_target: d.mount_target.clone(),
            size_gb: d.size_gb,
            device: d
                .device
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| format!("/dev/vd{}", char::from(b'b' + (i % 24) as u8))),
            has_original_data: true,
        })
        .collect()
}

fn cores_and_gb(spec: &NodeSpec) -> (i64, i64) {
    let cpu = crate::sim::quantity::parse_scaled(&spec.cpu, 1.0).unwrap_or(4);
    let mem = crate::sim::quantity::parse_scaled(&spec.memory, 1.0).unwrap_or(0) / (1 << 30);
    (cpu, mem.max(1) + 2)
}

/// The short region name TKE writes into node labels (`ap-guangzhou` -> `gz`).
pub fn short_region(region: &str) -> String {
    match region {
        "ap-guangzhou" => "gz",
        "ap-shanghai" => "sh",
        "ap-beijing" => "bj",
        "ap-hongkong" => "hk",
        "ap-singapore" => "sg",
        "ap-chengdu" => "cd",
        "ap-nanjing" => "nj",
        "ap-chongqing" => "cq",
        other => other,
    }
    .to_owned()
}

/// A Node object as TKE registers it.
pub fn node_object(
    cluster: &ClusterSpec,
    vm: &Vm,
    spec: &NodeSpec,
    name: &str,
    labels: &BTreeMap<String, String>,
    taints: &[Value],
    unschedulable: bool,
) -> Value {
    let mut l = json!({
        "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": vm.instance_type,
        "beta.kubernetes.io/instance-type": vm.instance_type,
        "topology.kubernetes.io/zone": cluster.zone_id, "topology.kubernetes.io/region": short_region(&cluster.region),
        "failure-domain.beta.kubernetes.io/zone": cluster.zone_id,
        "failure-domain.beta.kubernetes.io/region": short_region(&cluster.region),
        "cloud.tencent.com/node-instance-id": vm.instance_id,
    });
    if let Some(pool) = &spec.node_pool_id {
        l["tke.cloud.tencent.com/nodepool-id"] = json!(pool);
    }
    for (k, v) in labels {
        l[k] = json!(v);
    }
    let mut alloc = json!({"cpu": spec.cpu, "memory": spec.memory, "pods": spec.pods.to_string(), "ephemeral-storage": "47498714648"});
    for (k, v) in &spec.extended {
        alloc[k] = json!(v);
    }
    let now = Clock::wall_rfc3339();
    let mut node = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": l,
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {"providerID": format!("qcloud:///{}/{}", cluster.zone_id, vm.instance_id), "podCIDR": "172.16.0.0/26"},
        "status": {
            "capacity": alloc, "allocatable": alloc,
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "lastHeartbeatTime": now, "lastTransitionTime": now},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "lastHeartbeatTime": now, "lastTransitionTime": now},
                {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "lastHeartbeatTime": now, "lastTransitionTime": now},
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now}
            ],
            "addresses": [{"type": "InternalIP", "address": vm.lan_ip}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": format!("v{}-tke.1", cluster.version), "kubeProxyVersion": format!("v{}-tke.1", cluster.version),
                         "containerRuntimeVersion": "containerd://1.6.28-tke.4", "osImage": "TencentOS Server 3.1 (Final)",
                         "kernelVersion": "5.4.119-19.0009.44", "architecture": "amd64", "operatingSystem": "linux",
                         "machineID": vm.instance_id, "systemUUID": vm.instance_id, "bootID": crate::sim::store::new_uid()}
        }
    });
    if unschedulable {
        node["spec"]["unschedulable"] = json!(true);
    }
    if !taints.is_empty() {
        node["spec"]["taints"] = Value::Array(taints.to_vec());
    }
    node
}

impl TkeState {
    /// The cloud of a scenario (nodes become VMs in the cluster; `vms` stay outside).
    pub fn from_scenario(s: &Scenario) -> Self {
        let mut vms = BTreeMap::new();
        let now = Clock::wall_rfc3339();
        for n in &s.nodes {
            let id = n.instance_id();
            let (cpu, memory_gb) = cores_and_gb(n);
            let data_disks = disks(&n.data_disks, &id);
            let settings = json!({
                "MountTarget": "", "DockerGraphPath": "/var/lib/containerd", "UserScript": "",
                "Unschedulable": 0,
                "Labels": n.labels.iter().map(|(k, v)| json!({"Name": k, "Value": v})).collect::<Vec<_>>(),
                "Taints": n.taints.iter().map(|t| json!({"Key": t.key, "Value": t.value, "Effect": t.effect})).collect::<Vec<_>>(),
                "DataDisks": data_disks.iter().map(|d| json!({"DiskType": "CLOUD_PREMIUM", "FileSystem": d.file_system.clone().unwrap_or_default(),
                    "DiskSize": d.size_gb, "AutoFormatAndMount": d.mount_target.is_some(), "MountTarget": d.mount_target.clone().unwrap_or_default(), "DiskPartition": d.device})).collect::<Vec<_>>(),
                "ExtraArgs": {"Kubelet": []}, "DesiredPodNumber": n.pods, "GPUArgs": null, "PreStartUserScript": null
            });
            vms.insert(
                id.clone(),
                Vm {
                    instance_id: id,
                    lan_ip: n.lan_ip.clone(),
                    instance_type: n.instance_type.clone(),
                    charge_type: n.charge_type.clone(),
                    state: "RUNNING".into(),
                    zone: s.cluster.zone.clone(),
                    cpu,
                    memory_gb,
                    data_disks,
                    security_group_ids: n.security_group_ids.clone(),
                    key_ids: n.key_ids.clone(),
                    membership: Some(Membership {
                        node_name: n.node_name().to_owned(),
                        state: "running".into(),
                        advanced_settings: settings,
                        node_pool_id: n.node_pool_id.clone().unwrap_or_default(),
                        created_time: now.clone(),
                        added_with: None,
                        ready_at: None,
                    }),
                    os_reinstalls: 0,
                    created_time: now.clone(),
                    node_template: n.clone(),
                },
            );
        }
        for v in &s.vms {
            vms.insert(v.instance_id.clone(), vm_outside(v, &s.cluster.zone, &now));
        }
        let known_node_pools = s
            .nodes
            .iter()
            .filter_map(|n| n.node_pool_id.clone())
            .filter(|p| !p.is_empty())
            .collect();
        let known_security_groups = vms
            .values()
            .flat_map(|vm| vm.security_group_ids.iter().cloned())
            .chain(s.cluster.security_groups.iter().cloned())
            .chain(std::iter::once(s.cluster.default_security_group_id.clone()))
            .filter(|g| !g.is_empty())
            .collect();
        TkeState {
            cluster: s.cluster.clone(),
            vms,
            actions: Vec::new(),
            formatted_disks: Vec::new(),
            terminated: Vec::new(),
            user_scripts: Vec::new(),
            faults: s.faults.clone(),
            add_failures_left: s.faults.add_fail_times,
            add_seconds: s.timing.add_instance_seconds,
            rate: BTreeMap::new(),
            throttle_calls: BTreeMap::new(),
            known_node_pools,
            known_security_groups,
        }
    }

    /// Node objects for the VMs in the cluster at start: what TKE set (`labels`, `taints`) plus
    /// what an operator added by hand since (`nodeOnlyLabels`, `nodeOnlyTaints`).
    pub fn initial_nodes(&self) -> Vec<Value> {
        self.vms
            .values()
            .filter_map(|vm| {
                let m = vm.membership.as_ref()?;
                let t = &vm.node_template;
                let taints: Vec<Value> = t
                    .taints
                    .iter()
                    .chain(&t.node_only_taints)
                    .map(|x| json!({"key": x.key, "value": x.value, "effect": x.effect}))
                    .collect();
                let mut labels = t.labels.clone();
                labels.extend(t.node_only_labels.clone());
                Some(node_object(
                    &self.cluster,
                    vm,
                    t,
                    &m.node_name,
                    &labels,
                    &taints,
                    t.unschedulable,
                ))
            })
            .collect()
    }

    /// Bring initializing nodes whose time has come into the cluster; returns the next due time.
    pub fn step(&mut self, store: &Store, now: Duration) -> Option<Duration> {
        let mut next = None;
        let cluster = self.cluster.clone();
        for vm in self.vms.values_mut() {
            let Some(m) = vm.membership.clone() else {
                continue;
            };
            let Some(at) = m.ready_at else { continue };
            if now < at {
                next = Some(next.map_or(at, |n: Duration| n.min(at)));
                continue;
            }
            let s = &m.advanced_settings;
            let labels: BTreeMap<String, String> = s
                .get("Labels")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|l| {
                            (
                                l["Name"].as_str().unwrap_or("").to_owned(),
                                l["Value"].as_str().unwrap_or("").to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let taints: Vec<Value> = s
                .get("Taints")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|t| json!({"key": t["Key"], "value": t["Value"], "effect": t["Effect"]})).collect())
                .unwrap_or_default();
            let unschedulable = s.get("Unschedulable").and_then(Value::as_i64).unwrap_or(0) != 0;
            let mut template = vm.node_template.clone();
            template.node_pool_id = (!m.node_pool_id.is_empty()).then(|| m.node_pool_id.clone());
            let node = node_object(
                &cluster,
                vm,
                &template,
                &m.node_name,
                &labels,
                &taints,
                unschedulable,
            );
            // A leftover Node of the same name would be replaced by the kubelet's registration.
            let _ = store.delete(Res::Nodes, "", &m.node_name, None, None);
            let _ = store.create(Res::Nodes, node, false);
            if let Some(m) = vm.membership.as_mut() {
                m.state = "running".into();
                m.ready_at = None;
            }
        }
        next
    }
}

fn vm_outside(v: &VmSpec, zone: &str, now: &str) -> Vm {
    let template = NodeSpec {
        lan_ip: v.lan_ip.clone(),
        name: None,
        instance_id: Some(v.instance_id.clone()),
        instance_type: v.instance_type.clone(),
        cpu: "3920m".into(),
        memory: "14Gi".into(),
        pods: 61,
        extended: BTreeMap::new(),
        labels: BTreeMap::new(),
        taints: vec![],
        node_only_labels: BTreeMap::new(),
        node_only_taints: vec![],
        unschedulable: false,
        charge_type: v.charge_type.clone(),
        data_disks: v.data_disks.clone(),
        node_pool_id: None,
        security_group_ids: v.security_group_ids.clone(),
        key_ids: v.key_ids.clone(),
    };
    Vm {
        instance_id: v.instance_id.clone(),
        lan_ip: v.lan_ip.clone(),
        instance_type: v.instance_type.clone(),
        charge_type: v.charge_type.clone(),
        state: v.state.clone(),
        zone: zone.to_owned(),
        cpu: 4,
        memory_gb: 16,
        data_disks: disks(&v.data_disks, &v.instance_id),
        security_group_ids: v.security_group_ids.clone(),
        key_ids: v.key_ids.clone(),
        membership: None,
        os_reinstalls: 0,
        created_time: now.to_owned(),
        node_template: template,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_added_labels_and_taints_are_on_the_node_but_not_in_tke_settings() {
        let s = Scenario::from_yaml(
            "nodes:\n- lanIp: 10.0.0.1\n  nodePoolId: np-a\n  labels: {env: demo}\n  nodeOnlyLabels: {dedicated: payments}\n  nodeOnlyTaints: [{key: dedicated, value: payments, effect: NoSchedule}]\n",
        )
        .expect("scenario");
        let st = TkeState::from_scenario(&s);
        let node = &st.initial_nodes()[0];
        assert_eq!(node["metadata"]["labels"]["dedicated"], "payments");
        assert_eq!(node["metadata"]["labels"]["env"], "demo");
        assert_eq!(
            node["metadata"]["labels"]["tke.cloud.tencent.com/nodepool-id"],
            "np-a"
        );
        assert_eq!(node["spec"]["taints"][0]["key"], "dedicated");
        let settings = &st.vms[&s.nodes[0].instance_id()]
            .membership
            .as_ref()
            .expect("member")
            .advanced_settings;
        assert_eq!(
            settings["Labels"],
            json!([{"Name": "env", "Value": "demo"}])
        );
        assert_eq!(settings["Taints"], json!([]));
        assert!(st.known_node_pools.contains("np-a"));
        assert!(st.known_security_groups.contains("sg-sim00001"));
        assert!(st.known_security_groups.contains("sg-default0"));
    }
}

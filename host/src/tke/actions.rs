//! Typed requests and responses of the TKE (2018-05-25) and CVM (2017-03-12) actions tke-recycle
//! uses. Field names follow the API (PascalCase); unset request fields are omitted; every
//! response field may be null or absent, so responses default everything.
//!
//! There is deliberately no way to express `InstanceDeleteMode=terminate`: [`DeleteMode`] has one
//! value, `retain`, so this client cannot destroy a VM by mistake.

use serde::{Deserialize, Serialize};

/// Service name, version and action of one API call.
pub trait Action: Serialize {
    /// The response type (the contents of `Response`, without `RequestId` and `Error`).
    type Response: serde::de::DeserializeOwned;
    /// `X-TC-Action`.
    const NAME: &'static str;
    /// Which service.
    const SERVICE: Service;
    /// Whether the call changes anything (decides whether it may be retried).
    const MUTATING: bool;
}

/// The two services used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Tencent Kubernetes Engine, version 2018-05-25.
    Tke,
    /// Cloud Virtual Machine, version 2017-03-12.
    Cvm,
}

impl Service {
    /// Service name in the credential scope and the default host.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tke => "tke",
            Self::Cvm => "cvm",
        }
    }

    /// `X-TC-Version`.
    pub fn version(self) -> &'static str {
        match self {
            Self::Tke => "2018-05-25",
            Self::Cvm => "2017-03-12",
        }
    }
}

/// A `{Name, Values}` filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    /// Filter name, e.g. `nodepool-id`.
    pub name: String,
    /// Accepted values (ORed).
    pub values: Vec<String>,
}

/// `DescribeClusters`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeClusters {
    /// Clusters to describe; empty for all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cluster_ids: Vec<String>,
    /// Offset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Page size (default 20).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Filters (`Tags` with `key:value`, `tag-key`, `ClusterName`, ...), all of which must match.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
}

/// A cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Cluster {
    /// `cls-...`.
    pub cluster_id: String,
    /// Name.
    pub cluster_name: Option<String>,
    /// Kubernetes version.
    pub cluster_version: Option<String>,
    /// `Running`, `Upgrading`, `NodeUpgrading`, `Abnormal`, ...
    pub cluster_status: Option<String>,
    /// `docker` or `containerd`.
    pub container_runtime: Option<String>,
    /// JSON text such as `{"NodeNameType":"lan-ip"}`.
    pub property: Option<String>,
    /// Number of nodes.
    pub cluster_node_num: Option<u64>,
}

impl Cluster {
    /// `NodeNameType` from `Property`: `lan-ip` (the default) or `hostname`.
    pub fn node_name_type(&self) -> String {
        self.property
            .as_deref()
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
            .and_then(|v| v.get("NodeNameType")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| "lan-ip".to_owned())
    }
}

/// `DescribeClusters` answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeClustersResponse {
    /// Total matching.
    pub total_count: u64,
    /// This page.
    pub clusters: Option<Vec<Cluster>>,
}

impl Action for DescribeClusters {
    type Response = DescribeClustersResponse;
    const NAME: &'static str = "DescribeClusters";
    const SERVICE: Service = Service::Tke;
    const MUTATING: bool = false;
}

/// `DescribeClusterInstances`: one page. [`crate::tke::TcClient::cluster_instances`] pages
/// through all of them.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeClusterInstances {
    /// Cluster.
    pub cluster_id: String,
    /// Offset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Page size (default 20, at most 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Only these instances.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instance_ids: Vec<String>,
    /// `WORKER` (default), `MASTER`, `ETCD`, `MASTER_ETCD`, `ALL`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_role: Option<String>,
    /// e.g. `nodepool-id`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
}

/// A node's TKE settings as TKE reports them (and as they are given back to AddExistedInstances).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceAdvancedSettings {
    /// Data disk mount point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mount_target: Option<String>,
    /// Container runtime root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker_graph_path: Option<String>,
    /// Base64 script run after the Kubernetes components start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_script: Option<String>,
    /// Base64 script run before initialisation (existing nodes only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_start_user_script: Option<String>,
    /// 0: schedulable; non-zero: added cordoned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unschedulable: Option<i64>,
    /// Node labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<TkeLabel>>,
    /// Node taints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taints: Option<Vec<TkeTaint>>,
    /// Data disks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_disks: Option<Vec<DataDisk>>,
    /// Extra component arguments, e.g. `{"Kubelet": ["k=v"]}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<serde_json::Value>,
    /// Max pods with custom pod CIDR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_pod_number: Option<i64>,
    /// GPU driver settings, passed through as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_args: Option<serde_json::Value>,
}

/// A TKE `{Name, Value}` label.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TkeLabel {
    /// Key.
    pub name: String,
    /// Value.
    pub value: String,
}

/// A TKE `{Key, Value, Effect}` taint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TkeTaint {
    /// Key.
    pub key: Option<String>,
    /// Value.
    pub value: Option<String>,
    /// Effect.
    pub effect: Option<String>,
}

/// A data disk as TKE formats and mounts it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DataDisk {
    /// e.g. `CLOUD_PREMIUM`.
    pub disk_type: Option<String>,
    /// ext3, ext4 or xfs are mounted as they are; anything else is formatted.
    pub file_system: Option<String>,
    /// GB.
    pub disk_size: Option<i64>,
    /// Whether TKE formats and mounts it.
    pub auto_format_and_mount: Option<bool>,
    /// Mount point.
    pub mount_target: Option<String>,
    /// Device, e.g. `/dev/vdb`.
    pub disk_partition: Option<String>,
}

/// A cluster instance (node) as TKE sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Instance {
    /// `ins-...`.
    pub instance_id: String,
    /// `WORKER`, ...
    pub instance_role: Option<String>,
    /// `running`, `initializing`, `failed`.
    pub instance_state: Option<String>,
    /// Why it failed (or `=Ready:True`).
    pub failed_reason: Option<String>,
    /// Drain status.
    pub drain_status: Option<String>,
    /// The settings it was added with.
    pub instance_advanced_settings: Option<InstanceAdvancedSettings>,
    /// When it was added.
    pub created_time: Option<String>,
    /// LAN IP.
    #[serde(rename = "LanIP")]
    pub lan_ip: Option<String>,
    /// Node pool, empty when none.
    pub node_pool_id: Option<String>,
    /// Auto-scaling group.
    pub autoscaling_group_id: Option<String>,
}

/// `DescribeClusterInstances` answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeClusterInstancesResponse {
    /// Total matching.
    pub total_count: u64,
    /// This page.
    pub instance_set: Option<Vec<Instance>>,
}

impl Action for DescribeClusterInstances {
    type Response = DescribeClusterInstancesResponse;
    const NAME: &'static str = "DescribeClusterInstances";
    const SERVICE: Service = Service::Tke;
    const MUTATING: bool = false;
}

/// How `DeleteClusterInstances` removes an instance. Only `retain` exists here: the VM is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum DeleteMode {
    /// Remove the node from the cluster and keep the VM.
    #[default]
    #[serde(rename = "retain")]
    Retain,
}

/// `DeleteClusterInstances` with `InstanceDeleteMode=retain`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteClusterInstances {
    /// Cluster.
    pub cluster_id: String,
    /// Instances to remove.
    pub instance_ids: Vec<String>,
    /// Always `retain`.
    pub instance_delete_mode: DeleteMode,
    /// Remove even while initialising.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_delete: Option<bool>,
}

/// `DeleteClusterInstances` answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteClusterInstancesResponse {
    /// Removed.
    pub succ_instance_ids: Option<Vec<String>>,
    /// Not removed.
    pub failed_instance_ids: Option<Vec<String>>,
    /// Not in the cluster.
    pub not_found_instance_ids: Option<Vec<String>>,
}

impl Action for DeleteClusterInstances {
    type Response = DeleteClusterInstancesResponse;
    const NAME: &'static str = "DeleteClusterInstances";
    const SERVICE: Service = Service::Tke;
    const MUTATING: bool = true;
}

/// Login settings for a reinstalled node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoginSettings {
    /// SSH key IDs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_ids: Option<Vec<String>>,
    /// `"true"` keeps the image's login settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_image_login: Option<String>,
}

/// Node pool options of AddExistedInstances.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodePoolOption {
    /// Add into a node pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_to_node_pool: Option<bool>,
    /// Which pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_pool_id: Option<String>,
    /// Take the pool's settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inherit_configuration_from_node_pool: Option<bool>,
}

/// `AddExistedInstances`: reinstall existing VMs and add them to the cluster.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddExistedInstances {
    /// Cluster.
    pub cluster_id: String,
    /// Instances to add.
    pub instance_ids: Vec<String>,
    /// Settings for all of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_advanced_settings: Option<InstanceAdvancedSettings>,
    /// Login.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_settings: Option<LoginSettings>,
    /// Host name (required for clusters that name nodes by host name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    /// One security group.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_group_ids: Vec<String>,
    /// Node pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_pool: Option<NodePoolOption>,
    /// Validations to skip.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skip_validate_options: Vec<String>,
    /// Per-instance settings, in `instance_ids` order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instance_advanced_settings_overrides: Vec<InstanceAdvancedSettings>,
    /// Node image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
}

/// `AddExistedInstances` answer: each instance succeeded, failed (with a reason) or timed out
/// (outcome unknown: re-read the state before doing anything else).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AddExistedInstancesResponse {
    /// Added.
    pub succ_instance_ids: Option<Vec<String>>,
    /// Not added.
    pub failed_instance_ids: Option<Vec<String>>,
    /// Unknown.
    pub timeout_instance_ids: Option<Vec<String>>,
    /// Reasons of the failures, as TKE words them.
    pub failed_reasons: Option<Vec<String>>,
}

/// What happened to one instance of an AddExistedInstances call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    /// Added; it joins the cluster when its reinstall finishes.
    Succeeded,
    /// Not added, with TKE's reason when it gave one.
    Failed(Option<String>),
    /// TKE does not know yet: re-read with DescribeClusterInstances / DescribeExistedInstances.
    TimedOut,
    /// TKE did not mention it at all: treat like a timeout.
    NotReported,
}

impl AddExistedInstancesResponse {
    /// The outcome for one instance. TKE's `FailedReasons` carries no instance IDs: a reason
    /// that names the instance is taken, else the reason at the same position as the ID in
    /// `FailedInstanceIds`.
    pub fn outcome(&self, instance_id: &str) -> AddOutcome {
        let has = |list: &Option<Vec<String>>| list.iter().flatten().any(|i| i == instance_id);
        if has(&self.succ_instance_ids) {
            return AddOutcome::Succeeded;
        }
        if let Some(pos) = self
            .failed_instance_ids
            .iter()
            .flatten()
            .position(|i| i == instance_id)
        {
            let reasons = self.failed_reasons.as_deref().unwrap_or_default();
            let reason = reasons
                .iter()
                .find(|r| r.contains(instance_id))
                .or_else(|| reasons.get(pos))
                .cloned();
            return AddOutcome::Failed(reason);
        }
        if has(&self.timeout_instance_ids) {
            return AddOutcome::TimedOut;
        }
        AddOutcome::NotReported
    }
}

impl Action for AddExistedInstances {
    type Response = AddExistedInstancesResponse;
    const NAME: &'static str = "AddExistedInstances";
    const SERVICE: Service = Service::Tke;
    const MUTATING: bool = true;
}

/// `DescribeExistedInstances`: whether VMs can be added to a cluster.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeExistedInstances {
    /// Cluster (not together with `instance_ids`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// Up to 100 instances.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instance_ids: Vec<String>,
    /// Offset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Page size, at most 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// An existing VM and whether it can join.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExistedInstance {
    /// Can be added.
    pub usable: Option<bool>,
    /// Why not.
    pub unusable_reason: Option<String>,
    /// Cluster it is already in, if any.
    pub already_in_cluster: Option<String>,
    /// `ins-...`.
    pub instance_id: String,
    /// Name.
    pub instance_name: Option<String>,
    /// LAN IPs.
    pub private_ip_addresses: Option<Vec<String>>,
    /// `PREPAID`, `POSTPAID_BY_HOUR`, ...
    pub instance_charge_type: Option<String>,
    /// Cores.
    #[serde(rename = "CPU")]
    pub cpu: Option<u64>,
    /// GB.
    pub memory: Option<u64>,
    /// Model.
    pub instance_type: Option<String>,
}

/// `DescribeExistedInstances` answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeExistedInstancesResponse {
    /// Total matching.
    pub total_count: u64,
    /// This page.
    pub existed_instance_set: Option<Vec<ExistedInstance>>,
}

impl Action for DescribeExistedInstances {
    type Response = DescribeExistedInstancesResponse;
    const NAME: &'static str = "DescribeExistedInstances";
    const SERVICE: Service = Service::Tke;
    const MUTATING: bool = false;
}

/// CVM `DescribeInstances` by ID (up to 100).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstances {
    /// Up to 100 instances.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instance_ids: Vec<String>,
    /// Filters (not together with `instance_ids`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// Offset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Page size, at most 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// A CVM instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CvmInstance {
    /// `ins-...`.
    pub instance_id: String,
    /// Name.
    pub instance_name: Option<String>,
    /// Model.
    pub instance_type: Option<String>,
    /// `PREPAID`, `POSTPAID_BY_HOUR`, `CDHPAID`, `SPOTPAID`, `CDCPAID`.
    pub instance_charge_type: Option<String>,
    /// `RUNNING`, `STOPPED`, ...
    pub instance_state: Option<String>,
    /// LAN IPs.
    pub private_ip_addresses: Option<Vec<String>>,
    /// `SUCCESS`, `OPERATING`, `FAILED`.
    pub latest_operation_state: Option<String>,
    /// Last operation, e.g. `ResetInstance`.
    pub latest_operation: Option<String>,
    /// Security groups the VM belongs to.
    pub security_group_ids: Option<Vec<String>>,
    /// Login settings (only the bound key IDs are returned).
    pub login_settings: Option<CvmLoginSettings>,
}

/// The login settings CVM reports for an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CvmLoginSettings {
    /// SSH key IDs bound to the instance.
    pub key_ids: Option<Vec<String>>,
}

/// CVM `DescribeInstances` answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInstancesResponse {
    /// Total matching.
    pub total_count: u64,
    /// This page.
    pub instance_set: Option<Vec<CvmInstance>>,
}

impl Action for DescribeInstances {
    type Response = DescribeInstancesResponse;
    const NAME: &'static str = "DescribeInstances";
    const SERVICE: Service = Service::Cvm;
    const MUTATING: bool = false;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn delete_always_sends_retain() {
        let req = DeleteClusterInstances {
            cluster_id: "cls-1".into(),
            instance_ids: vec!["ins-1".into()],
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&req).expect("serialises"),
            json!({"ClusterId": "cls-1", "InstanceIds": ["ins-1"], "InstanceDeleteMode": "retain"})
        );
    }

    #[test]
    fn unset_fields_are_omitted_and_names_match_the_api() {
        let req = DescribeClusterInstances {
            cluster_id: "cls-1".into(),
            limit: Some(100),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&req).expect("serialises"),
            json!({"ClusterId": "cls-1", "Limit": 100})
        );
    }

    #[test]
    fn documented_example_answer_parses_with_nulls() {
        let resp: DescribeClusterInstancesResponse = serde_json::from_value(json!({
            "TotalCount": 1,
            "InstanceSet": [{"InstanceId": "ins-ocd7e1lx", "LanIP": "9.165.0.2",
                "InstanceRole": "WORKER", "InstanceState": "running", "NodePoolId": "",
                "FailedReason": "=Ready:True", "DrainStatus": "",
                "InstanceAdvancedSettings": {"MountTarget": "", "Unschedulable": 0,
                    "Labels": [{"Name": "node-type", "Value": "controller"}], "Taints": null,
                    "DataDisks": [{"DiskType": "CLOUD_PREMIUM", "FileSystem": "ext4",
                        "DiskSize": 200, "AutoFormatAndMount": true,
                        "MountTarget": "/var/lib/docker", "DiskPartition": ""}],
                    "ExtraArgs": {"Kubelet": []}, "DesiredPodNumber": 32, "GPUArgs": null,
                    "PreStartUserScript": null},
                "CreatedTime": "2021-03-09T08:26:51Z"}],
            "RequestId": "342ea0aa"
        }))
        .expect("documented example parses");
        let i = &resp.instance_set.expect("set")[0];
        assert_eq!(i.lan_ip.as_deref(), Some("9.165.0.2"));
        let s = i.instance_advanced_settings.as_ref().expect("settings");
        assert_eq!(s.unschedulable, Some(0));
        assert_eq!(
            s.data_disks.as_ref().expect("disks")[0]
                .file_system
                .as_deref(),
            Some("ext4")
        );
    }

    #[test]
    fn add_outcome_per_instance() {
        let resp: AddExistedInstancesResponse = serde_json::from_value(json!({
            "TimeoutInstanceIds": ["ins-lqdahrp3"],
            "SuccInstanceIds": ["ins-lqdahrp4"],
            "FailedInstanceIds": ["ins-lqdahrp5", "ins-lqdahrp6"],
            "FailedReasons": ["InstanceId ins-lqdahrp5 ServiceResetCvmV3 failed ...", "quota"],
            "RequestId": "eac6b301"
        }))
        .expect("parses");
        let cases = [
            ("ins-lqdahrp4", AddOutcome::Succeeded),
            (
                "ins-lqdahrp5",
                AddOutcome::Failed(Some(
                    "InstanceId ins-lqdahrp5 ServiceResetCvmV3 failed ...".into(),
                )),
            ),
            ("ins-lqdahrp6", AddOutcome::Failed(Some("quota".into()))),
            ("ins-lqdahrp3", AddOutcome::TimedOut),
            ("ins-other", AddOutcome::NotReported),
        ];
        for (id, want) in cases {
            assert_eq!(resp.outcome(id), want, "{id}");
        }
    }

    #[test]
    fn node_name_type_defaults_to_lan_ip() {
        let mut c = Cluster::default();
        assert_eq!(c.node_name_type(), "lan-ip");
        c.property = Some(r#"{"NodeNameType":"hostname","NetworkType":"GR"}"#.into());
        assert_eq!(c.node_name_type(), "hostname");
    }
}

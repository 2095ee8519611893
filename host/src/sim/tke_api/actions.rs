//! The TKE and CVM actions: request validation with the real error codes, and the effects on
//! the cloud state and the Kubernetes objects.

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use super::state::{AddRecord, FormattedDisk, Membership, TkeState, Vm};
use super::{TkeApi, TkeError};
use crate::sim::clock::Clock;
use crate::sim::resource::Res;

/// File systems TKE mounts as they are; anything else is formatted.
const KEPT_FILE_SYSTEMS: [&str; 3] = ["ext3", "ext4", "xfs"];

fn check_known(params: &Value, known: &[&str]) -> Result<(), TkeError> {
    if let Some(m) = params.as_object() {
        for k in m.keys() {
            if !known.contains(&k.as_str()) {
                return Err(TkeError::new(
                    "UnknownParameter",
                    format!("The parameter `{k}` is not recognized."),
                ));
            }
        }
    }
    Ok(())
}

fn opt_str<'a>(p: &'a Value, k: &str) -> Result<Option<&'a str>, TkeError> {
    match p.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(TkeError::invalid(format!(
            "The value type of parameter `{k}` is not valid: expected String."
        ))),
    }
}

fn req_str<'a>(p: &'a Value, k: &str) -> Result<&'a str, TkeError> {
    opt_str(p, k)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| TkeError::missing(k))
}

fn str_array(p: &Value, k: &str) -> Result<Option<Vec<String>>, TkeError> {
    match p.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    TkeError::invalid(format!(
                        "The value type of parameter `{k}` is not valid: expected Array of String."
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(TkeError::invalid(format!(
            "The value type of parameter `{k}` is not valid: expected Array of String."
        ))),
    }
}

fn uint(p: &Value, k: &str, default: u64) -> Result<u64, TkeError> {
    match p.get(k) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v.as_u64().ok_or_else(|| {
            TkeError::new(
                "InvalidParameterValue",
                format!("The value `{v}` of parameter `{k}` is not valid."),
            )
        }),
    }
}

fn filters(p: &Value) -> Result<Vec<(String, Vec<String>)>, TkeError> {
    let Some(fs) = p.get("Filters").filter(|v| !v.is_null()) else {
        return Ok(vec![]);
    };
    let arr = fs
        .as_array()
        .ok_or_else(|| TkeError::invalid("The value type of parameter `Filters` is not valid."))?;
    arr.iter()
        .map(|f| {
            let name = req_str(f, "Name")
                .map_err(|_| TkeError::missing("Filters.Name"))?
                .to_owned();
            let values = str_array(f, "Values")?.unwrap_or_default();
            Ok((name, values))
        })
        .collect()
}

fn page<T: Clone>(items: &[T], offset: u64, limit: u64) -> Vec<T> {
    items
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .cloned()
        .collect()
}

/// Answer for a region other than the cluster's: no resources there.
pub fn other_region(
    service: &str,
    action: &str,
    params: &Value,
    region: &str,
) -> Result<Value, TkeError> {
    let _ = params;
    match (service, action) {
        ("tke", "DescribeClusters") => Ok(json!({"TotalCount": 0, "Clusters": []})),
        ("cvm", "DescribeInstances") => Ok(json!({"TotalCount": 0, "InstanceSet": []})),
        ("tke", "DescribeExistedInstances") => {
            Ok(json!({"TotalCount": 0, "ExistedInstanceSet": []}))
        }
        ("tke", _) => Err(TkeError::new(
            "InvalidParameter.ClusterNotFound",
            format!("The cluster ID does not exist in region {region}."),
        )),
        _ => Err(TkeError::new(
            "InvalidAction",
            format!("The requested action `{action}` does not exist."),
        )),
    }
}

/// Run an action.
pub fn dispatch(
    st: &mut TkeState,
    api: &TkeApi,
    service: &str,
    action: &str,
    p: &Value,
) -> Result<Value, TkeError> {
    match (service, action) {
        ("tke", "DescribeClusters") => describe_clusters(st, p),
        ("tke", "DescribeClusterInstances") => describe_cluster_instances(st, p),
        ("tke", "DeleteClusterInstances") => delete_cluster_instances(st, api, p),
        ("tke", "AddExistedInstances") => add_existed_instances(st, api, p),
        ("tke", "DescribeExistedInstances") => describe_existed_instances(st, p),
        ("cvm", "DescribeInstances") => describe_instances(st, p),
        _ => Err(TkeError::new(
            "InvalidAction",
            format!("The requested action `{action}` does not exist."),
        )),
    }
}

fn cluster_check(st: &TkeState, p: &Value, not_found_code: &str) -> Result<(), TkeError> {
    let id = req_str(p, "ClusterId")?;
    if id != st.cluster.id {
        return Err(TkeError::new(
            not_found_code,
            format!("The cluster {id} does not exist."),
        ));
    }
    Ok(())
}

fn describe_clusters(st: &TkeState, p: &Value) -> Result<Value, TkeError> {
    check_known(
        p,
        &["ClusterIds", "Offset", "Limit", "Filters", "ClusterType"],
    )?;
    let ids = str_array(p, "ClusterIds")?;
    let (offset, limit) = (uint(p, "Offset", 0)?, uint(p, "Limit", 20)?);
    let c = &st.cluster;
    let nodes = st.vms.values().filter(|v| v.membership.is_some()).count();
    let cluster = json!({
        "ClusterId": c.id, "ClusterName": c.name, "ClusterDescription": "practice cluster",
        "ClusterVersion": c.version, "ClusterOs": "tlinux3.1x86_64", "ClusterType": "MANAGED_CLUSTER",
        "ClusterNetworkSettings": {"ClusterCIDR": "172.16.0.0/16", "IgnoreClusterCIDRConflict": false, "MaxNodePodNum": 64,
            "MaxClusterServiceNum": 1024, "Ipvs": false, "VpcId": "vpc-sim00001", "Cni": true, "KubeProxyMode": "iptables",
            "ServiceCIDR": "", "Subnets": [], "IgnoreServiceCIDRConflict": false, "IsDualStack": false, "Ipv6ServiceCIDR": "",
            "CiliumMode": ""},
        "ClusterNodeNum": nodes, "ProjectId": 0, "ClusterStatus": "Running",
        "TagSpecification": [{"ResourceType": "cluster", "Tags": c.tags.iter()
            .map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>()}],
        "Property": "{\"NodeNameType\":\"lan-ip\"}", "ClusterMaterNodeNum": 0, "ImageId": "img-sim00001",
        "OsCustomizeType": "GENERAL", "ContainerRuntime": c.container_runtime, "CreatedTime": "2024-01-01T00:00:00Z",
        "DeletionProtection": false, "EnableExternalNode": false, "ClusterLevel": "L20", "AutoUpgradeClusterLevel": false,
        "QGPUShareEnable": false, "RuntimeVersion": "1.6.9", "ClusterEtcdNodeNum": 0
    });
    let all = if ids
        .as_ref()
        .is_none_or(|ids| ids.is_empty() || ids.contains(&c.id))
        && cluster_matches(c, &filters(p)?)?
    {
        vec![cluster]
    } else {
        vec![]
    };
    Ok(json!({"TotalCount": all.len(), "Clusters": page(&all, offset, limit)}))
}

/// `DescribeClusters` filters, as the API documents them: every filter must match (AND), any of
/// a filter's values (OR). `Tags` values are `key:value`.
fn cluster_matches(
    c: &crate::sim::scenario::ClusterSpec,
    filters: &[(String, Vec<String>)],
) -> Result<bool, TkeError> {
    for (name, values) in filters {
        let any = |f: &dyn Fn(&str) -> bool| values.iter().any(|v| f(v));
        let ok = match name.as_str() {
            "ClusterName" => any(&|v| v == c.name),
            "ClusterStatus" => any(&|v| v == "Running"),
            "ClusterType" => any(&|v| v == "MANAGED_CLUSTER"),
            "vpc-id" => any(&|v| v == "vpc-sim00001"),
            "tag-key" => any(&|v| c.tags.contains_key(v)),
            "tag-value" => any(&|v| c.tags.values().any(|t| t == v)),
            "Tags" => any(&|v| {
                v.split_once(':')
                    .is_some_and(|(k, val)| c.tags.get(k).is_some_and(|t| t == val))
            }),
            other => {
                return Err(TkeError::new(
                    "InvalidParameterValue",
                    format!("The value `{other}` of parameter `Filters.Name` is not valid."),
                ));
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn instance_json(vm: &Vm, m: &Membership) -> Value {
    json!({
        "InstanceId": vm.instance_id, "InstanceRole": "WORKER", "FailedReason": "",
        "InstanceState": m.state, "DrainStatus": "", "InstanceAdvancedSettings": m.advanced_settings,
        "CreatedTime": m.created_time, "LanIP": vm.lan_ip, "NodePoolId": m.node_pool_id, "AutoscalingGroupId": ""
    })
}

fn describe_cluster_instances(st: &TkeState, p: &Value) -> Result<Value, TkeError> {
    check_known(
        p,
        &[
            "ClusterId",
            "Offset",
            "Limit",
            "InstanceIds",
            "InstanceRole",
            "Filters",
        ],
    )?;
    cluster_check(st, p, "InvalidParameter.ClusterNotFound")?;
    let ids = str_array(p, "InstanceIds")?;
    let (offset, limit) = (uint(p, "Offset", 0)?, uint(p, "Limit", 20)?);
    let role = opt_str(p, "InstanceRole")?.unwrap_or("WORKER");
    if !["MASTER", "WORKER", "ETCD", "MASTER_ETCD", "ALL"].contains(&role) {
        return Err(TkeError::invalid(format!(
            "InstanceRole {role} is not valid."
        )));
    }
    let pool_filter: Option<Vec<String>> = filters(p)?
        .into_iter()
        .find(|(n, _)| n == "nodepool-id")
        .map(|(_, v)| v);
    let all: Vec<Value> = st
        .vms
        .values()
        .filter_map(|vm| vm.membership.as_ref().map(|m| (vm, m)))
        .filter(|_| matches!(role, "WORKER" | "ALL"))
        .filter(|(vm, _)| {
            ids.as_ref()
                .is_none_or(|ids| ids.is_empty() || ids.contains(&vm.instance_id))
        })
        .filter(|(_, m)| {
            pool_filter
                .as_ref()
                .is_none_or(|ps| ps.contains(&m.node_pool_id))
        })
        .map(|(vm, m)| instance_json(vm, m))
        .collect();
    Ok(json!({"TotalCount": all.len(), "InstanceSet": page(&all, offset, limit)}))
}

fn delete_cluster_instances(st: &mut TkeState, api: &TkeApi, p: &Value) -> Result<Value, TkeError> {
    check_known(
        p,
        &[
            "ClusterId",
            "InstanceIds",
            "InstanceDeleteMode",
            "ForceDelete",
            "ResourceDeleteOptions",
        ],
    )?;
    cluster_check(st, p, "FailedOperation.ClusterNotFound")?;
    let ids = str_array(p, "InstanceIds")?
        .filter(|i| !i.is_empty())
        .ok_or_else(|| TkeError::missing("InstanceIds"))?;
    let mode = opt_str(p, "InstanceDeleteMode")?.unwrap_or("terminate");
    if mode != "retain" && mode != "terminate" {
        return Err(TkeError::invalid(format!(
            "InstanceDeleteMode {mode} is not valid: use terminate or retain."
        )));
    }
    let (mut succ, mut failed, mut not_found) = (vec![], vec![], vec![]);
    for id in ids {
        let Some(vm) = st.vms.get_mut(&id) else {
            not_found.push(id);
            continue;
        };
        let Some(m) = vm.membership.take() else {
            not_found.push(id);
            continue;
        };
        if mode == "terminate"
            && vm.charge_type != "POSTPAID_BY_HOUR"
            && vm.charge_type != "SPOTPAID"
        {
            // Only pay-as-you-go instances can be terminated this way; keep it in the cluster.
            vm.membership = Some(m);
            failed.push(id);
            continue;
        }
        // Removing the node deletes its Node object; the pod garbage collector removes its pods.
        let _ = api.store.delete(Res::Nodes, "", &m.node_name, None, None);
        if mode == "terminate" {
            vm.state = "TERMINATING".into();
            st.terminated.push(id.clone());
        }
        succ.push(id);
    }
    Ok(
        json!({"SuccInstanceIds": succ, "FailedInstanceIds": failed, "NotFoundInstanceIds": not_found}),
    )
}

/// `LoginSettings` of an add, validated as TKE does: exactly one of Password, a single KeyIds
/// entry, or KeepImageLogin.
struct Login {
    key_ids: Vec<String>,
    keep_image_login: bool,
    password_set: bool,
}

fn login_settings(p: &Value) -> Result<Login, TkeError> {
    let l = match p.get("LoginSettings") {
        None | Some(Value::Null) => &Value::Null,
        Some(l @ Value::Object(_)) => l,
        Some(_) => {
            return Err(TkeError::invalid(
                "The value type of parameter `LoginSettings` is not valid: expected Object.",
            ));
        }
    };
    let password_set = opt_str(l, "Password")?.is_some_and(|s| !s.is_empty());
    let key_ids = str_array(l, "KeyIds")
        .map_err(|_| {
            TkeError::invalid(
                "The value type of parameter `LoginSettings.KeyIds` is not valid: expected Array of String.",
            )
        })?
        .unwrap_or_default();
    let keep_image_login = match l.get("KeepImageLogin") {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) if s == "true" || s == "TRUE" => true,
        Some(Value::String(s)) if s == "false" || s == "FALSE" || s.is_empty() => false,
        Some(v) => {
            return Err(TkeError::invalid(format!(
                "LoginSettings.KeepImageLogin {v} is not valid: use \"true\" or \"false\"."
            )));
        }
    };
    if !password_set && key_ids.is_empty() && !keep_image_login {
        return Err(TkeError::invalid(
            "LoginSettings is required when adding existing instances: set Password, KeyIds or KeepImageLogin.",
        ));
    }
    if password_set && !key_ids.is_empty() {
        return Err(TkeError::invalid(
            "LoginSettings: a key and a password cannot be specified at the same time.",
        ));
    }
    if keep_image_login && (password_set || !key_ids.is_empty()) {
        return Err(TkeError::invalid(
            "LoginSettings.KeepImageLogin cannot be specified together with Password or KeyIds.",
        ));
    }
    if key_ids.len() > 1 {
        return Err(TkeError::invalid(
            "LoginSettings: only a single KeyIds entry is supported when adding existing instances.",
        ));
    }
    if let Some(k) = key_ids.iter().find(|k| !k.starts_with("skey-")) {
        return Err(TkeError::invalid(format!(
            "LoginSettings.KeyIds: the key ID `{k}` is malformed."
        )));
    }
    Ok(Login {
        key_ids,
        keep_image_login,
        password_set,
    })
}

/// `NodePool` of an add: (NodePoolId, AddToNodePool, InheritConfigurationFromNodePool).
fn node_pool_option(
    st: &TkeState,
    p: &Value,
) -> Result<(String, Option<bool>, Option<bool>), TkeError> {
    let np = match p.get("NodePool") {
        None | Some(Value::Null) => return Ok((String::new(), None, None)),
        Some(np @ Value::Object(_)) => np,
        Some(_) => {
            return Err(TkeError::invalid(
                "The value type of parameter `NodePool` is not valid: expected Object.",
            ));
        }
    };
    let flag = |k: &str| match np.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(TkeError::invalid(format!(
            "The value type of parameter `NodePool.{k}` is not valid: expected Boolean."
        ))),
    };
    let id = opt_str(np, "NodePoolId")?.unwrap_or("").to_owned();
    if !id.is_empty() && !st.known_node_pools.contains(&id) {
        return Err(TkeError::invalid(format!(
            "NodePool.NodePoolId {id} does not exist in cluster {}.",
            st.cluster.id
        )));
    }
    Ok((
        id,
        flag("AddToNodePool")?,
        flag("InheritConfigurationFromNodePool")?,
    ))
}

/// The data disks an add mounts: (index into the VM's disks, mount target, file system). A
/// `DiskPartition` names the disk; without one the n-th entry is the n-th disk. `MountTarget` of
/// the settings themselves mounts the first data disk.
fn mount_plan(vm: &Vm, settings: &Value) -> Result<Vec<(usize, String, String)>, String> {
    let mut targets = Vec::new();
    if let Some(mt) = settings
        .get("MountTarget")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        && !vm.data_disks.is_empty()
    {
        targets.push((0, mt.to_owned(), "ext4".to_owned()));
    }
    for (j, d) in settings
        .get("DataDisks")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let mt = d.get("MountTarget").and_then(Value::as_str).unwrap_or("");
        let auto = d
            .get("AutoFormatAndMount")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if mt.is_empty() || !auto {
            continue;
        }
        let index = match d
            .get("DiskPartition")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            Some(dev) => vm
                .data_disks
                .iter()
                .position(|x| x.device == dev)
                .ok_or_else(|| {
                    format!(
                        "InstanceId {} data disk partition {dev} does not exist on the instance",
                        vm.instance_id
                    )
                })?,
            None if j < vm.data_disks.len() => j,
            None => continue,
        };
        let fs = d
            .get("FileSystem")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("ext4");
        targets.push((index, mt.to_owned(), fs.to_owned()));
    }
    Ok(targets)
}

fn add_existed_instances(st: &mut TkeState, api: &TkeApi, p: &Value) -> Result<Value, TkeError> {
    check_known(
        p,
        &[
            "ClusterId",
            "InstanceIds",
            "InstanceAdvancedSettings",
            "EnhancedService",
            "LoginSettings",
            "HostName",
            "SecurityGroupIds",
            "NodePool",
            "SkipValidateOptions",
            "InstanceAdvancedSettingsOverrides",
            "ImageId",
            "NodeType",
            "Tags",
            "RenewFlag",
        ],
    )?;
    cluster_check(st, p, "FailedOperation.ClusterNotFound")?;
    let ids = str_array(p, "InstanceIds")?
        .filter(|i| !i.is_empty())
        .ok_or_else(|| TkeError::missing("InstanceIds"))?;
    let login = login_settings(p)?;
    let sgs = str_array(p, "SecurityGroupIds")?.unwrap_or_default();
    if sgs.len() > 1 {
        return Err(TkeError::invalid(
            "Only one security group can be set in SecurityGroupIds.",
        ));
    }
    if let Some(sg) = sgs.iter().find(|g| !st.known_security_groups.contains(*g)) {
        return Err(TkeError::invalid(format!(
            "SecurityGroupIds: the security group {sg} does not exist."
        )));
    }
    let (pool_id, add_to_pool, inherit) = node_pool_option(st, p)?;
    // A pool ID with AddToNodePool explicitly false adds the instance outside any pool.
    let pool = if add_to_pool == Some(false) {
        String::new()
    } else {
        pool_id.clone()
    };
    let overrides = p
        .get("InstanceAdvancedSettingsOverrides")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if overrides.len() > ids.len() {
        return Err(TkeError::invalid(
            "InstanceAdvancedSettingsOverrides is longer than InstanceIds.",
        ));
    }
    let default_settings = p
        .get("InstanceAdvancedSettings")
        .cloned()
        .unwrap_or(json!({}));
    let host_name = opt_str(p, "HostName")?
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let image_id = opt_str(p, "ImageId")?
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let inject_failure = st.add_failures_left > 0;
    if inject_failure {
        st.add_failures_left -= 1;
    }
    let now = api.clock.now();
    let add_after = Duration::from_secs_f64(st.add_seconds.max(0.0));
    let (mut succ, mut failed, mut timeout, mut reasons) = (vec![], vec![], vec![], vec![]);
    let cluster_id = st.cluster.id.clone();
    let default_sg = st.cluster.default_security_group_id.clone();
    for (i, id) in ids.iter().enumerate() {
        let settings = overrides
            .get(i)
            .cloned()
            .unwrap_or_else(|| default_settings.clone());
        let Some(vm) = st.vms.get_mut(id) else {
            failed.push(id.clone());
            reasons.push(format!("InstanceId {id} not found"));
            continue;
        };
        if vm.membership.is_some() {
            failed.push(id.clone());
            reasons.push(format!(
                "InstanceId {id} is already in cluster {cluster_id}"
            ));
            continue;
        }
        if vm.state != "RUNNING" {
            failed.push(id.clone());
            reasons.push(format!(
                "InstanceId {id} is in state {}, not RUNNING",
                vm.state
            ));
            continue;
        }
        if inject_failure {
            failed.push(id.clone());
            reasons.push(format!(
                "InstanceId {id} ServiceResetCvmV3 failed: injected fault"
            ));
            continue;
        }
        if let Some(pos) = st
            .faults
            .add_timeout_failed_instance_ids
            .iter()
            .position(|x| x == id)
        {
            // The answer timed out and the add did not happen: only re-reading tells.
            st.faults.add_timeout_failed_instance_ids.remove(pos);
            timeout.push(id.clone());
            continue;
        }
        let targets = match mount_plan(vm, &settings) {
            Ok(t) => t,
            Err(reason) => {
                failed.push(id.clone());
                reasons.push(reason);
                continue;
            }
        };
        // The OS is reinstalled; data disks TKE is told to mount are formatted unless they
        // already carry ext3/ext4/xfs.
        vm.os_reinstalls += 1;
        for (j, mt, fs) in targets {
            let Some(disk) = vm.data_disks.get_mut(j) else {
                continue;
            };
            let keep = disk
                .file_system
                .as_deref()
                .is_some_and(|f| KEPT_FILE_SYSTEMS.contains(&f));
            if !keep {
                st.formatted_disks.push(FormattedDisk {
                    instance_id: id.clone(),
                    disk_id: disk.disk_id.clone(),
                    previous_file_system: disk.file_system.clone(),
                    mount_target: mt.clone(),
                });
                disk.file_system = Some(fs);
                disk.has_original_data = false;
            }
            disk.mount_target = Some(mt);
        }
        // The reinstall binds the given group (TKE binds the default group when none is given)
        // and the given key; a password or the image's login settings leave no key pair.
        vm.security_group_ids = if sgs.is_empty() {
            vec![default_sg.clone()]
        } else {
            sgs.clone()
        };
        vm.key_ids = login.key_ids.clone();
        if let Some(script) = settings
            .get("UserScript")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(script)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_else(|| script.to_owned());
            st.user_scripts.push((id.clone(), decoded));
        }
        let node_name = host_name.clone().unwrap_or_else(|| vm.lan_ip.clone());
        vm.membership = Some(Membership {
            node_name,
            state: "initializing".into(),
            advanced_settings: settings.clone(),
            node_pool_id: pool.clone(),
            created_time: Clock::wall_rfc3339(),
            added_with: Some(AddRecord {
                security_group_ids: sgs.clone(),
                key_ids: login.key_ids.clone(),
                keep_image_login: login.keep_image_login,
                password_set: login.password_set,
                node_pool_id: pool_id.clone(),
                add_to_node_pool: add_to_pool,
                inherit_configuration_from_node_pool: inherit,
                host_name: host_name.clone(),
                image_id: image_id.clone(),
                advanced_settings: settings,
            }),
            ready_at: Some(now + add_after),
        });
        if st.faults.add_timeout_instance_ids.contains(id) {
            timeout.push(id.clone());
        } else {
            succ.push(id.clone());
        }
    }
    Ok(
        json!({"SuccInstanceIds": succ, "FailedInstanceIds": failed, "TimeoutInstanceIds": timeout, "FailedReasons": reasons}),
    )
}

fn describe_existed_instances(st: &TkeState, p: &Value) -> Result<Value, TkeError> {
    check_known(
        p,
        &[
            "ClusterId",
            "InstanceIds",
            "Filters",
            "VagueIpAddress",
            "VagueInstanceName",
            "Offset",
            "Limit",
            "IpAddresses",
        ],
    )?;
    let ids = str_array(p, "InstanceIds")?;
    if let Some(c) = opt_str(p, "ClusterId")?
        && ids.is_some()
    {
        let _ = c;
        return Err(TkeError::invalid(
            "ClusterId and InstanceIds cannot be specified at the same time.",
        ));
    }
    if let Some(c) = opt_str(p, "ClusterId")?
        && c != st.cluster.id
    {
        return Err(TkeError::new(
            "FailedOperation.ClusterNotFound",
            format!("The cluster {c} does not exist."),
        ));
    }
    if ids.as_ref().is_some_and(|i| i.len() > 100) {
        return Err(TkeError::invalid("At most 100 InstanceIds are allowed."));
    }
    let (offset, limit) = (uint(p, "Offset", 0)?, uint(p, "Limit", 20)?);
    if limit > 100 {
        return Err(TkeError::new(
            "InvalidParameterValue",
            "The value of parameter `Limit` must be at most 100.",
        ));
    }
    let vague = opt_str(p, "VagueIpAddress")?;
    let ips = str_array(p, "IpAddresses")?;
    let fs = filters(p)?;
    let all: Vec<Value> = st
        .vms
        .values()
        .filter(|vm| vm.state != "TERMINATED")
        .filter(|vm| ids.as_ref().is_none_or(|ids| ids.contains(&vm.instance_id)))
        .filter(|vm| vague.is_none_or(|v| vm.lan_ip.contains(v)))
        .filter(|vm| ips.as_ref().is_none_or(|ips| ips.contains(&vm.lan_ip)))
        .filter(|vm| cvm_filters_match(vm, &fs))
        .map(|vm| {
            let in_cluster = vm.membership.is_some();
            let usable = !in_cluster && vm.state == "RUNNING";
            json!({
                "Usable": usable,
                "UnusableReason": if in_cluster { "already in cluster" } else if usable { "" } else { "instance is not running" },
                "AlreadyInCluster": if in_cluster { st.cluster.id.as_str() } else { "" },
                "InstanceId": vm.instance_id, "InstanceName": vm.instance_id, "PrivateIpAddresses": [vm.lan_ip],
                "PublicIpAddresses": null, "CreatedTime": vm.created_time, "CPU": vm.cpu, "Memory": vm.memory_gb,
                "OsName": "TencentOS Server 3.1 (TK4)", "InstanceType": vm.instance_type, "AutoscalingGroupId": "",
                "InstanceChargeType": vm.charge_type, "IPv6Addresses": null
            })
        })
        .collect();
    Ok(json!({"TotalCount": all.len(), "ExistedInstanceSet": page(&all, offset, limit)}))
}

fn cvm_filters_match(vm: &Vm, fs: &[(String, Vec<String>)]) -> bool {
    fs.iter().all(|(name, values)| {
        let have = match name.as_str() {
            "instance-id" => vm.instance_id.clone(),
            "private-ip-address" => vm.lan_ip.clone(),
            "instance-charge-type" => vm.charge_type.clone(),
            "instance-state" => vm.state.clone(),
            "zone" => vm.zone.clone(),
            "instance-type" => vm.instance_type.clone(),
            _ => return true,
        };
        values.contains(&have)
    })
}

fn describe_instances(st: &TkeState, p: &Value) -> Result<Value, TkeError> {
    check_known(p, &["InstanceIds", "Filters", "Offset", "Limit"])?;
    let ids = str_array(p, "InstanceIds")?;
    let fs = filters(p)?;
    if ids.is_some() && !fs.is_empty() {
        return Err(TkeError::new(
            "InvalidParameterCombination",
            "InstanceIds and Filters cannot be specified at the same time.",
        ));
    }
    if ids.as_ref().is_some_and(|i| i.len() > 100) {
        return Err(TkeError::new(
            "InvalidParameterValue.LimitExceeded",
            "At most 100 InstanceIds are allowed.",
        ));
    }
    for (name, _) in &fs {
        if ![
            "instance-id",
            "private-ip-address",
            "instance-charge-type",
            "instance-state",
            "zone",
            "instance-type",
            "instance-name",
        ]
        .contains(&name.as_str())
        {
            return Err(TkeError::new(
                "InvalidFilter",
                format!("The filter `{name}` is not supported."),
            ));
        }
    }
    if let Some(ids) = &ids {
        for id in ids {
            if !id.starts_with("ins-") {
                return Err(TkeError::new(
                    "InvalidInstanceId.Malformed",
                    format!("The instance ID `{id}` is malformed."),
                ));
            }
        }
    }
    let (offset, limit) = (uint(p, "Offset", 0)?, uint(p, "Limit", 20)?);
    if limit > 100 {
        return Err(TkeError::new(
            "InvalidParameterValue.LimitExceeded",
            "The value of parameter `Limit` must be at most 100.",
        ));
    }
    let all: Vec<Value> = st
        .vms
        .values()
        .filter(|vm| ids.as_ref().is_none_or(|ids| ids.contains(&vm.instance_id)))
        .filter(|vm| cvm_filters_match(vm, &fs))
        .map(|vm| {
            json!({
                "Placement": {"Zone": vm.zone, "ProjectId": 0},
                "InstanceId": vm.instance_id, "InstanceType": vm.instance_type, "CPU": vm.cpu, "Memory": vm.memory_gb,
                "RestrictState": "NORMAL", "InstanceName": vm.instance_id, "InstanceChargeType": vm.charge_type,
                "SystemDisk": {"DiskType": "CLOUD_PREMIUM", "DiskId": format!("disk-sys{}", &vm.instance_id[4..]), "DiskSize": 50},
                "DataDisks": vm.data_disks.iter().map(|d| json!({"DiskSize": d.size_gb, "DiskType": "CLOUD_PREMIUM",
                    "DiskId": d.disk_id, "DeleteWithInstance": false, "Encrypt": false})).collect::<Vec<_>>(),
                "PrivateIpAddresses": [vm.lan_ip], "PublicIpAddresses": null,
                "InternetAccessible": {"InternetChargeType": "TRAFFIC_POSTPAID_BY_HOUR", "InternetMaxBandwidthOut": 0},
                "VirtualPrivateCloud": {"VpcId": "vpc-sim00001", "SubnetId": "subnet-sim00001", "AsVpcGateway": false},
                "ImageId": "img-sim00001", "RenewFlag": if vm.charge_type == "PREPAID" { "NOTIFY_AND_AUTO_RENEW" } else { "" },
                "CreatedTime": vm.created_time,
                "ExpiredTime": if vm.charge_type == "PREPAID" { json!("2030-01-01T00:00:00Z") } else { Value::Null },
                "OsName": "TencentOS Server 3.1 (TK4)", "SecurityGroupIds": vm.security_group_ids, "LoginSettings": {"KeyIds": vm.key_ids},
                "InstanceState": vm.state, "Tags": [], "StopChargingMode": "NOT_APPLICABLE",
                "Uuid": vm.instance_id, "LatestOperation": if vm.os_reinstalls > 0 { "ResetInstance" } else { "" },
                "LatestOperationState": if vm.os_reinstalls > 0 { "SUCCESS" } else { "" }, "LatestOperationRequestId": "",
                "IPv6Addresses": null, "CamRoleName": "", "HpcClusterId": "", "DisasterRecoverGroupId": "",
                "IsolatedSource": "NOTISOLATED", "LicenseType": "TencentCloud", "DisableApiTermination": false,
                "DefaultLoginUser": "root", "DefaultLoginPort": 22, "LatestOperationErrorMsg": ""
            })
        })
        .collect();
    Ok(json!({"TotalCount": all.len(), "InstanceSet": page(&all, offset, limit)}))
}

//! The TKE/CVM API of the practice cluster against the official Tencent Cloud Python SDK (a
//! client we did not write) and against hand-signed requests for the error paths.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use tke_recycle::sim::SimHandle;
use tke_recycle::sim::resource::Res;
use tke_recycle::tke::sign;

use crate::sim_common::{http, start};

/// The venv with the official SDK: under the target dir, created once and reused.
fn sdk_python() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    // target/debug/deps/all-xxxx -> target
    let target = exe.ancestors().nth(3).expect("target dir").to_path_buf();
    let venv = target.join("py-venv");
    let python = venv.join("bin").join("python");
    let ready = std::process::Command::new(&python)
        .args([
            "-c",
            "import tencentcloud.tke.v20180525, tencentcloud.cvm.v20170312",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        let ok = std::process::Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "python3 -m venv failed: Python 3 is needed for the SDK fidelity tests"
        );
        let ok = std::process::Command::new(venv.join("bin").join("pip"))
            .args([
                "install",
                "-q",
                "tencentcloud-sdk-python-tke",
                "tencentcloud-sdk-python-cvm",
            ])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "pip install of the official Tencent Cloud SDK failed");
    }
    python
}

const SCRIPT: &str = r##"
import json, os, sys
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.tke.v20180525 import tke_client, models as tke_models
from tencentcloud.cvm.v20170312 import cvm_client, models as cvm_models

env = os.environ
def profile():
    return ClientProfile(httpProfile=HttpProfile(endpoint=env["SIM_ENDPOINT"], protocol="http", reqTimeout=10))
def cred(key=None):
    return credential.Credential(env["SIM_SECRET_ID"], key or env["SIM_SECRET_KEY"])
def tke(key=None):
    return tke_client.TkeClient(cred(key), env["SIM_REGION"], profile())
def call(client, req_cls, action, params):
    req = req_cls()
    req.from_json_string(json.dumps(params))
    try:
        return {"ok": json.loads(getattr(client, action)(req).to_json_string())}
    except TencentCloudSDKException as e:
        return {"code": e.get_code(), "message": e.get_message(), "request_id": e.get_request_id()}

step = sys.argv[1]
cluster, ins = env["SIM_CLUSTER"], env["SIM_INSTANCE"]
out = {}
if step == "remove":
    out["describe"] = call(tke(), tke_models.DescribeClusterInstancesRequest, "DescribeClusterInstances",
                           {"ClusterId": cluster, "InstanceIds": [ins]})
    out["cvm"] = call(cvm_client.CvmClient(cred(), env["SIM_REGION"], profile()), cvm_models.DescribeInstancesRequest,
                      "DescribeInstances", {"InstanceIds": [ins, env["SIM_OUTSIDE"]]})
    out["delete"] = call(tke(), tke_models.DeleteClusterInstancesRequest, "DeleteClusterInstances",
                         {"ClusterId": cluster, "InstanceIds": [ins], "InstanceDeleteMode": "retain"})
    out["existed"] = call(tke(), tke_models.DescribeExistedInstancesRequest, "DescribeExistedInstances",
                          {"InstanceIds": [ins]})
    out["wrong_key"] = call(tke("not-the-key"), tke_models.DescribeClustersRequest, "DescribeClusters", {})
    out["clusters"] = call(tke(), tke_models.DescribeClustersRequest, "DescribeClusters", {"ClusterIds": [cluster]})
elif step == "add":
    import base64
    settings = {"Unschedulable": 1, "Labels": [{"Name": "recycled", "Value": "yes"}],
                "Taints": [{"Key": "maintenance", "Value": "os", "Effect": "NoSchedule"}],
                "UserScript": base64.b64encode(b"#!/bin/sh\nmount /dev/vdc /data\n").decode(),
                "DataDisks": [{"DiskType": "CLOUD_PREMIUM", "FileSystem": "ext4", "DiskSize": 100,
                               "AutoFormatAndMount": True, "MountTarget": "/var/lib/containerd"},
                              {"DiskType": "CLOUD_PREMIUM", "FileSystem": "ext4", "DiskSize": 100,
                               "AutoFormatAndMount": True, "MountTarget": "/data"}]}
    out["no_login"] = call(tke(), tke_models.AddExistedInstancesRequest, "AddExistedInstances",
                           {"ClusterId": cluster, "InstanceIds": [ins], "InstanceAdvancedSettings": settings})
    out["add"] = call(tke(), tke_models.AddExistedInstancesRequest, "AddExistedInstances",
                      {"ClusterId": cluster, "InstanceIds": [ins], "InstanceAdvancedSettings": settings,
                       "LoginSettings": {"KeepImageLogin": "true"}})
    out["describe"] = call(tke(), tke_models.DescribeClusterInstancesRequest, "DescribeClusterInstances",
                           {"ClusterId": cluster, "InstanceIds": [ins]})
print(json.dumps(out))
"##;

async fn run_sdk(sim: &SimHandle, step: &str, instance: &str) -> Value {
    let env: Vec<(&str, String)> = vec![
        ("SIM_ENDPOINT", sim.tke_endpoint.clone()),
        ("SIM_SECRET_ID", sim.secret_id.clone()),
        ("SIM_SECRET_KEY", sim.secret_key.clone()),
        ("SIM_REGION", sim.region.clone()),
        ("SIM_CLUSTER", sim.cluster_id.clone()),
        ("SIM_INSTANCE", instance.to_owned()),
        ("SIM_OUTSIDE", "ins-sim00020".to_owned()),
    ];
    let step = step.to_owned();
    // The SDK blocks; run it off the runtime so the sim keeps serving.
    let job = tokio::task::spawn_blocking(move || {
        let python = sdk_python();
        let script =
            std::env::temp_dir().join(format!("tke-recycle-sdk-{}.py", std::process::id()));
        std::fs::write(&script, SCRIPT).expect("write script");
        let mut cmd = std::process::Command::new(python);
        cmd.arg(&script).arg(&step);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run python")
    });
    let out = tokio::time::timeout(Duration::from_secs(240), job)
        .await
        .expect("sdk timed out")
        .expect("join");
    assert!(
        out.status.success(),
        "sdk script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_tke_official_python_sdk_remove_and_add_back() {
    let sim = start("small.yaml", 50.0).await;
    let ins = "ins-sim00013";
    let node = "10.0.1.13";
    // The SDK blocks; run it off the runtime so the sim keeps serving.
    let r = run_sdk(&sim, "remove", ins).await;
    let d = &r["describe"]["ok"];
    assert_eq!(d["TotalCount"], 1, "{r}");
    assert_eq!(d["InstanceSet"][0]["LanIP"], node);
    assert_eq!(d["InstanceSet"][0]["InstanceState"], "running");
    let cvm = &r["cvm"]["ok"];
    assert_eq!(cvm["TotalCount"], 2, "{r}");
    let charge: Vec<&str> = cvm["InstanceSet"]
        .as_array()
        .expect("set")
        .iter()
        .map(|i| i["InstanceChargeType"].as_str().expect("charge"))
        .collect();
    assert_eq!(charge, vec!["POSTPAID_BY_HOUR", "POSTPAID_BY_HOUR"]);
    assert_eq!(r["delete"]["ok"]["SuccInstanceIds"], json!([ins]), "{r}");
    assert_eq!(
        r["existed"]["ok"]["ExistedInstanceSet"][0]["Usable"], true,
        "{r}"
    );
    assert_eq!(
        r["wrong_key"]["code"], "AuthFailure.SignatureFailure",
        "{r}"
    );
    assert_eq!(
        r["clusters"]["ok"]["Clusters"][0]["ClusterId"],
        sim.cluster_id.as_str()
    );
    // Retain removed the Node (and with it its pods) but kept the VM.
    assert!(
        sim.wait_until(Duration::from_secs(5), |s| s
            .get(Res::Nodes, "", node)
            .is_none()
            && s.pods_on(node).is_empty())
            .await
    );
    assert_eq!(sim.vm(ins).expect("vm kept").state, "RUNNING");
    assert!(sim.terminated_instances().is_empty());

    let r = run_sdk(&sim, "add", ins).await;
    assert_eq!(r["no_login"]["code"], "InvalidParameter", "{r}");
    assert_eq!(r["add"]["ok"]["SuccInstanceIds"], json!([ins]), "{r}");
    assert_eq!(
        r["describe"]["ok"]["InstanceSet"][0]["InstanceState"], "initializing",
        "{r}"
    );
    // After the (accelerated) delay the node is back with the new settings, not the old labels.
    assert!(
        sim.wait_until(Duration::from_secs(10), |s| s
            .get(Res::Nodes, "", node)
            .is_some())
            .await,
        "node did not come back"
    );
    let n = sim.get(Res::Nodes, "", node).expect("node");
    assert_eq!(n["spec"]["unschedulable"], true);
    assert_eq!(n["metadata"]["labels"]["recycled"], "yes");
    assert!(
        n["metadata"]["labels"]["disktype"].is_null(),
        "old labels must not come back"
    );
    assert_eq!(n["spec"]["taints"][0]["key"], "maintenance");
    assert_eq!(
        n["metadata"]["labels"]["cloud.tencent.com/node-instance-id"],
        ins
    );
    // The xfs disk was mounted as it was; the unformatted /data disk lost its data.
    let formatted = sim.formatted_disks();
    assert_eq!(formatted.len(), 1, "{formatted:?}");
    assert_eq!(formatted[0].disk_id, "disk-sim0013b");
    assert_eq!(sim.vm(ins).expect("vm").os_reinstalls, 1);
    assert_eq!(sim.user_scripts()[0].1, "#!/bin/sh\nmount /dev/vdc /data\n");
    let log = sim.action_log();
    assert!(log.iter().all(|a| {
        a.params
            .get("InstanceDeleteMode")
            .is_none_or(|m| m == "retain")
    }));
}

/// Sign and send one request by hand.
async fn call(
    sim: &SimHandle,
    service: &str,
    version: &str,
    action: &str,
    body: &Value,
    key: &str,
    ts: i64,
) -> (reqwest::header::HeaderMap, Value) {
    let body = serde_json::to_vec(body).expect("body");
    let req = sign::Request {
        service,
        host: &sim.tke_endpoint,
        content_type: "application/json",
        timestamp: ts,
        payload: &body,
    };
    let auth = sign::authorization(&sim.secret_id, key, &req).expect("sign");
    let resp = http()
        .post(format!("{}/", sim.tke_url))
        .header("Content-Type", "application/json")
        .header("Authorization", auth)
        .header("X-TC-Action", action)
        .header("X-TC-Version", version)
        .header("X-TC-Timestamp", ts.to_string())
        .header("X-TC-Region", &sim.region)
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200, "every answer is HTTP 200");
    let headers = resp.headers().clone();
    (headers, resp.json().await.expect("json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_tke_auth_errors_and_validation_use_real_codes() {
    let sim = start("small.yaml", 50.0).await;
    let now = jiff::Timestamp::now().as_second();
    let key = sim.secret_key.clone();
    let code = |v: &Value| {
        v["Response"]["Error"]["Code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let (h, ok) = call(
        &sim,
        "tke",
        "2018-05-25",
        "DescribeClusters",
        &json!({}),
        &key,
        now,
    )
    .await;
    assert_eq!(h.get("content-type").expect("ct"), "application/json");
    assert!(ok["Response"]["RequestId"].is_string());
    assert_eq!(ok["Response"]["TotalCount"], 1);
    // (action, body, key, timestamp) -> the error code a real endpoint answers.
    let errors: [(&str, Value, &str, i64, &str); 6] = [
        (
            "DescribeClusters",
            json!({}),
            &key,
            now - 400,
            "AuthFailure.SignatureExpire",
        ),
        (
            "DescribeClusters",
            json!({}),
            "wrong",
            now,
            "AuthFailure.SignatureFailure",
        ),
        (
            "DescribeClusterInstances",
            json!({}),
            &key,
            now,
            "MissingParameter",
        ),
        (
            "DescribeClusterInstances",
            json!({"ClusterId": "cls-nope"}),
            &key,
            now,
            "InvalidParameter.ClusterNotFound",
        ),
        (
            "DescribeClusterInstances",
            json!({"ClusterId": sim.cluster_id, "Bogus": 1}),
            &key,
            now,
            "UnknownParameter",
        ),
        ("NoSuchAction", json!({}), &key, now, "InvalidAction"),
    ];
    for (action, body, secret, at, expected) in errors {
        let (_, v) = call(&sim, "tke", "2018-05-25", action, &body, secret, at).await;
        assert_eq!(code(&v), expected, "{action} {body}");
    }
    let (_, v) = call(
        &sim,
        "cvm",
        "2017-03-12",
        "DescribeInstances",
        &json!({"InstanceIds": ["ins-sim00012"]}),
        &key,
        now,
    )
    .await;
    assert_eq!(
        v["Response"]["InstanceSet"][0]["InstanceChargeType"],
        "PREPAID"
    );
    // Terminate is modelled faithfully: a pay-as-you-go VM is destroyed, and the sim records it.
    let (_, v) = call(&sim, "tke", "2018-05-25", "DeleteClusterInstances",
        &json!({"ClusterId": sim.cluster_id, "InstanceIds": ["ins-sim00015", "ins-nothere"], "InstanceDeleteMode": "terminate"}), &key, now).await;
    assert_eq!(v["Response"]["SuccInstanceIds"], json!(["ins-sim00015"]));
    assert_eq!(v["Response"]["NotFoundInstanceIds"], json!(["ins-nothere"]));
    assert_eq!(sim.terminated_instances(), vec!["ins-sim00015".to_owned()]);

    // Unknown SecretId and malformed Authorization.
    let resp = http()
        .post(format!("{}/", sim.tke_url))
        .header("Content-Type", "application/json")
        .header("Authorization", format!("TC3-HMAC-SHA256 Credential=AKIDunknown/{}/tke/tc3_request, SignedHeaders=content-type;host, Signature={}", sign::utc_date(now).expect("date"), "0".repeat(64)))
        .header("X-TC-Action", "DescribeClusters")
        .header("X-TC-Version", "2018-05-25")
        .header("X-TC-Timestamp", now.to_string())
        .header("X-TC-Region", &sim.region)
        .body("{}")
        .send()
        .await
        .expect("send");
    let v: Value = resp.json().await.expect("json");
    assert_eq!(code(&v), "AuthFailure.SecretIdNotFound");
    let resp = http()
        .post(format!("{}/", sim.tke_url))
        .header("Content-Type", "application/json")
        .header("Authorization", "Bearer nope")
        .header("X-TC-Action", "DescribeClusters")
        .header("X-TC-Version", "2018-05-25")
        .header("X-TC-Timestamp", now.to_string())
        .header("X-TC-Region", &sim.region)
        .body("{}")
        .send()
        .await
        .expect("send");
    let v: Value = resp.json().await.expect("json");
    assert_eq!(code(&v), "AuthFailure.InvalidAuthorization");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_tke_faults_failed_add_timeout_and_throttling() {
    let mut s = crate::sim_common::scenario("small.yaml");
    s.faults.add_fail_times = 1;
    s.faults.add_timeout_instance_ids = vec!["ins-sim00020".into()];
    s.faults.tke_rate_limit = Some(3);
    let sim = tke_recycle::sim::Sim::start(
        s,
        tke_recycle::sim::SimOptions {
            speed: Some(50.0),
            ..Default::default()
        },
    )
    .await
    .expect("start");
    let now = jiff::Timestamp::now().as_second();
    let key = sim.secret_key.clone();
    let add = json!({"ClusterId": sim.cluster_id, "InstanceIds": ["ins-sim00020"], "LoginSettings": {"KeepImageLogin": "true"}});
    let (_, v) = call(
        &sim,
        "tke",
        "2018-05-25",
        "AddExistedInstances",
        &add,
        &key,
        now,
    )
    .await;
    assert_eq!(
        v["Response"]["FailedInstanceIds"],
        json!(["ins-sim00020"]),
        "{v}"
    );
    assert!(
        v["Response"]["FailedReasons"][0]
            .as_str()
            .expect("reason")
            .contains("ins-sim00020")
    );
    let (_, v) = call(
        &sim,
        "tke",
        "2018-05-25",
        "AddExistedInstances",
        &add,
        &key,
        now,
    )
    .await;
    assert_eq!(
        v["Response"]["TimeoutInstanceIds"],
        json!(["ins-sim00020"]),
        "{v}"
    );
    // The add happened even though the answer timed out: re-reading shows it.
    assert!(
        sim.wait_until(Duration::from_secs(10), |s| s
            .get(Res::Nodes, "", "10.0.1.20")
            .is_some())
            .await
    );
    let (_, v) = call(
        &sim,
        "tke",
        "2018-05-25",
        "AddExistedInstances",
        &add,
        &key,
        now,
    )
    .await;
    assert!(
        v["Response"]["FailedReasons"][0]
            .as_str()
            .expect("reason")
            .contains("already in cluster"),
        "{v}"
    );
    // Over the per-action rate limit within one second: RequestLimitExceeded.
    let mut codes = Vec::new();
    for _ in 0..6 {
        let (_, v) = call(
            &sim,
            "tke",
            "2018-05-25",
            "DescribeClusters",
            &json!({}),
            &key,
            now,
        )
        .await;
        codes.push(
            v["Response"]["Error"]["Code"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
    }
    assert!(
        codes.iter().any(|c| c == "RequestLimitExceeded"),
        "{codes:?}"
    );
}

/// The error code of an envelope, or "" for a success.
fn error_code(v: &Value) -> String {
    v["Response"]["Error"]["Code"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// Sign and send a TKE (2018-05-25) call with the sim's key, now.
async fn tke_call(sim: &SimHandle, action: &str, body: &Value) -> Value {
    let now = jiff::Timestamp::now().as_second();
    let key = sim.secret_key.clone();
    call(sim, "tke", "2018-05-25", action, body, &key, now)
        .await
        .1
}

/// Sign and send a CVM (2017-03-12) call with the sim's key, now.
async fn cvm_call(sim: &SimHandle, action: &str, body: &Value) -> Value {
    let now = jiff::Timestamp::now().as_second();
    let key = sim.secret_key.clone();
    call(sim, "cvm", "2017-03-12", action, body, &key, now)
        .await
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_tke_describe_instances_returns_security_groups_and_keys() {
    let sim = start("small.yaml", 50.0).await;
    let v = cvm_call(
        &sim,
        "DescribeInstances",
        &json!({"InstanceIds": ["ins-sim00011", "ins-sim00020"]}),
    )
    .await;
    let set = v["Response"]["InstanceSet"].as_array().expect("set");
    assert_eq!(set.len(), 2, "{v}");
    for i in set {
        assert_eq!(i["SecurityGroupIds"], json!(["sg-sim00001"]), "{i}");
        assert_eq!(
            i["LoginSettings"]["KeyIds"],
            json!(["skey-sim00001"]),
            "{i}"
        );
    }
    let sim = start("demo.yaml", 30.0).await;
    let v = cvm_call(
        &sim,
        "DescribeInstances",
        &json!({"InstanceIds": ["ins-demo0012"]}),
    )
    .await;
    let i = &v["Response"]["InstanceSet"][0];
    assert_eq!(i["SecurityGroupIds"], json!(["sg-demo0001"]), "{v}");
    assert_eq!(
        i["LoginSettings"]["KeyIds"],
        json!(["skey-demo0001"]),
        "{v}"
    );
}

/// The InstanceAdvancedSettings TKE holds for an instance.
async fn settings_of(sim: &SimHandle, instance: &str) -> Value {
    let v = tke_call(
        sim,
        "DescribeClusterInstances",
        &json!({"ClusterId": sim.cluster_id, "InstanceIds": [instance]}),
    )
    .await;
    v["Response"]["InstanceSet"][0]["InstanceAdvancedSettings"].clone()
}

/// Remove instances keeping their VMs, and wait until their Nodes are gone.
async fn remove_keeping_vms(sim: &SimHandle, instances: &[&str], nodes: &[&str]) {
    let v = tke_call(
        sim,
        "DeleteClusterInstances",
        &json!({"ClusterId": sim.cluster_id, "InstanceIds": instances, "InstanceDeleteMode": "retain"}),
    )
    .await;
    assert_eq!(v["Response"]["SuccInstanceIds"], json!(instances), "{v}");
    assert!(
        sim.wait_until(Duration::from_secs(5), |s| nodes
            .iter()
            .all(|n| s.get(Res::Nodes, "", n).is_none()))
            .await
    );
}

fn labels_of(node: &Value) -> &serde_json::Map<String, Value> {
    node["metadata"]["labels"].as_object().expect("labels")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_tke_add_back_records_pool_security_group_and_keys_and_refuses_unknown_ones() {
    let sim = start("demo.yaml", 30.0).await;
    let (ins, node) = ("ins-demo0012", "10.0.8.12");
    // Before: the hand-added label and taint are on the Node, not in TKE's settings.
    let before = sim.get(Res::Nodes, "", node).expect("node");
    assert_eq!(labels_of(&before)["dedicated"], "payments");
    assert_eq!(labels_of(&before)["env"], "demo");
    assert_eq!(
        labels_of(&before)["tke.cloud.tencent.com/nodepool-id"],
        "np-demo0001"
    );
    assert_eq!(before["spec"]["taints"][0]["key"], "dedicated", "{before}");
    let settings = settings_of(&sim, ins).await;
    assert_eq!(
        settings["Labels"],
        json!([{"Name": "env", "Value": "demo"}]),
        "{settings}"
    );
    assert_eq!(settings["Taints"], json!([]), "{settings}");

    remove_keeping_vms(&sim, &[ins], &[node]).await;
    let add = |pool: &str, sg: &str| {
        json!({
            "ClusterId": sim.cluster_id, "InstanceIds": [ins],
            "InstanceAdvancedSettings": settings,
            "NodePool": {"AddToNodePool": true, "NodePoolId": pool},
            "SecurityGroupIds": [sg],
            "LoginSettings": {"KeyIds": ["skey-demo0001"]},
        })
    };
    // Refused as TKE does: a pool no node was ever in, a security group that does not exist.
    for (body, needle) in [
        (add("np-nothere", "sg-demo0001"), "np-nothere"),
        (add("np-demo0001", "sg-nothere"), "sg-nothere"),
    ] {
        let v = tke_call(&sim, "AddExistedInstances", &body).await;
        assert_eq!(error_code(&v), "InvalidParameter", "{v}");
        let message = v["Response"]["Error"]["Message"].as_str().expect("message");
        assert!(message.contains(needle), "{message}");
    }
    // Refused as TKE does: a key and a password together, two keys.
    for login in [
        json!({"KeyIds": ["skey-demo0001"], "Password": "Passw0rd!x"}),
        json!({"KeyIds": ["skey-demo0001", "skey-demo0002"]}),
    ] {
        let mut body = add("np-demo0001", "sg-demo0001");
        body["LoginSettings"] = login;
        let v = tke_call(&sim, "AddExistedInstances", &body).await;
        assert_eq!(error_code(&v), "InvalidParameter", "{v}");
    }
    assert_eq!(
        sim.vm(ins).expect("vm").os_reinstalls,
        0,
        "refused adds do nothing"
    );

    let v = tke_call(
        &sim,
        "AddExistedInstances",
        &add("np-demo0001", "sg-demo0001"),
    )
    .await;
    assert_eq!(v["Response"]["SuccInstanceIds"], json!([ins]), "{v}");
    let vm = sim.vm(ins).expect("vm");
    let m = vm.membership.as_ref().expect("member");
    let rec = m.added_with.as_ref().expect("add recorded");
    assert_eq!(rec.node_pool_id, "np-demo0001");
    assert_eq!(rec.add_to_node_pool, Some(true));
    assert_eq!(rec.security_group_ids, vec!["sg-demo0001".to_owned()]);
    assert_eq!(rec.key_ids, vec!["skey-demo0001".to_owned()]);
    assert!(!rec.keep_image_login && !rec.password_set);
    assert_eq!(rec.advanced_settings, settings);
    assert_eq!(m.node_pool_id, "np-demo0001");
    assert_eq!(vm.security_group_ids, vec!["sg-demo0001".to_owned()]);
    assert_eq!(vm.key_ids, vec!["skey-demo0001".to_owned()]);
    let d = tke_call(
        &sim,
        "DescribeClusterInstances",
        &json!({"ClusterId": sim.cluster_id, "InstanceIds": [ins]}),
    )
    .await;
    assert_eq!(d["Response"]["InstanceSet"][0]["NodePoolId"], "np-demo0001");

    // The Node TKE registers: TKE's labels and the pool label, none of the hand-added ones.
    assert!(
        sim.wait_until(Duration::from_secs(10), |s| s
            .get(Res::Nodes, "", node)
            .is_some())
            .await,
        "node did not come back"
    );
    let after = sim.get(Res::Nodes, "", node).expect("node");
    let l = labels_of(&after);
    assert_eq!(l["env"], "demo");
    assert_eq!(l["tke.cloud.tencent.com/nodepool-id"], "np-demo0001");
    assert_eq!(l["cloud.tencent.com/node-instance-id"], ins);
    assert!(
        !l.contains_key("dedicated"),
        "hand-added label came back: {after}"
    );
    assert!(
        after["spec"]["taints"].is_null(),
        "hand-added taint came back: {after}"
    );
    assert!(after["spec"]["unschedulable"].is_null());
    let v = cvm_call(&sim, "DescribeInstances", &json!({"InstanceIds": [ins]})).await;
    let i = &v["Response"]["InstanceSet"][0];
    assert_eq!(i["SecurityGroupIds"], json!(["sg-demo0001"]), "{v}");
    assert_eq!(
        i["LoginSettings"]["KeyIds"],
        json!(["skey-demo0001"]),
        "{v}"
    );

    // A careless add-back of the data-disk node: no security group, the image's login, the
    // settings as they were. TKE binds the default group, leaves no key, formats the ext2 disk.
    let (ins, node) = ("ins-demo0013", "10.0.8.13");
    let settings = settings_of(&sim, ins).await;
    assert_eq!(
        settings["DataDisks"][0]["DiskPartition"], "/dev/vdb",
        "{settings}"
    );
    remove_keeping_vms(&sim, &[ins], &[node]).await;
    let v = tke_call(
        &sim,
        "AddExistedInstances",
        &json!({"ClusterId": sim.cluster_id, "InstanceIds": [ins],
            "InstanceAdvancedSettings": settings, "LoginSettings": {"KeepImageLogin": "true"}}),
    )
    .await;
    assert_eq!(v["Response"]["SuccInstanceIds"], json!([ins]), "{v}");
    let vm = sim.vm(ins).expect("vm");
    assert_eq!(vm.security_group_ids, vec!["sg-default0".to_owned()]);
    assert!(vm.key_ids.is_empty());
    let m = vm.membership.as_ref().expect("member");
    assert_eq!(m.node_pool_id, "", "not added to the pool");
    assert!(m.added_with.as_ref().expect("recorded").keep_image_login);
    let formatted = sim.formatted_disks();
    assert_eq!(formatted.len(), 1, "{formatted:?}");
    assert_eq!(formatted[0].disk_id, "disk-demo0013b");
    assert_eq!(formatted[0].previous_file_system.as_deref(), Some("ext2"));
    assert!(
        sim.wait_until(Duration::from_secs(10), |s| s
            .get(Res::Nodes, "", node)
            .is_some())
            .await
    );
    let after = sim.get(Res::Nodes, "", node).expect("node");
    assert!(!labels_of(&after).contains_key("tke.cloud.tencent.com/nodepool-id"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_tke_throttle_ratio_is_a_deterministic_share_per_action() {
    let scenario = tke_recycle::sim::scenario::Scenario::from_yaml(
        "nodes:\n- {lanIp: 10.0.9.11, instanceId: ins-thr00011}\nfaults: {tkeThrottleRatio: 0.3, tkeRateLimit: 1000}\n",
    )
    .expect("scenario");
    let sim = tke_recycle::sim::Sim::start(scenario, Default::default())
        .await
        .expect("start");
    let mut throttled = Vec::new();
    for k in 1..=30 {
        let v = tke_call(&sim, "DescribeClusters", &json!({})).await;
        match error_code(&v).as_str() {
            "" => {}
            "RequestLimitExceeded" => throttled.push(k),
            other => panic!("call {k}: {other}: {v}"),
        }
    }
    assert_eq!(throttled, vec![4, 7, 10, 14, 17, 20, 24, 27, 30]);
    // Counted per action: the first call of another action goes through.
    let v = tke_call(
        &sim,
        "DescribeClusterInstances",
        &json!({"ClusterId": sim.cluster_id}),
    )
    .await;
    assert_eq!(error_code(&v), "", "{v}");
    let logged = sim
        .action_log()
        .iter()
        .filter(|a| a.error.as_deref() == Some("RequestLimitExceeded"))
        .count();
    assert_eq!(logged, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_tke_demo_scenario_settles_with_every_pod_running() {
    let sim = start("demo.yaml", 30.0).await;
    assert_eq!(sim.cluster_id, "cls-demo0001");
    let pods = sim.store().list(Res::Pods, None);
    // web 4, api 3, payments 2, db 2, node-exporter on each of the 5 nodes.
    assert_eq!(pods.len(), 16);
    for p in &pods {
        let v = p.value();
        assert_eq!(v["status"]["phase"], "Running", "{v}");
        assert!(v["spec"]["nodeName"].is_string(), "{v}");
    }
    for n in [
        "10.0.8.11",
        "10.0.8.12",
        "10.0.8.13",
        "10.0.8.14",
        "10.0.8.15",
    ] {
        let node = sim.get(Res::Nodes, "", n).expect("node");
        assert_eq!(
            labels_of(&node)["tke.cloud.tencent.com/nodepool-id"],
            "np-demo0001"
        );
        assert!(
            sim.pods_on(n)
                .iter()
                .any(|p| p.starts_with("kube-system/node-exporter")),
            "no exporter on {n}"
        );
    }
    // The StatefulSet's replicas are on different nodes.
    let db_nodes: std::collections::BTreeSet<String> = pods
        .iter()
        .filter(|p| p.name.starts_with("db-"))
        .map(|p| {
            p.value()["spec"]["nodeName"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(db_nodes.len(), 2, "{db_nodes:?}");
    // The hand taint keeps everything but payments and the exporter off 10.0.8.12.
    for p in sim.pods_on("10.0.8.12") {
        assert!(
            p.starts_with("shop/payments-") || p.starts_with("kube-system/node-exporter"),
            "{p}"
        );
    }
    let disk = &sim.vm("ins-demo0013").expect("vm").data_disks[0];
    assert_eq!(disk.device, "/dev/vdb");
    assert_eq!(disk.mount_target.as_deref(), Some("/data"));
}

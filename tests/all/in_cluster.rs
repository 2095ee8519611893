//! In-cluster mode, as `deploy/` runs it: the real binary with no kubeconfig, configured the way
//! a pod is (KUBERNETES_SERVICE_HOST/PORT, the service-account token, CA and namespace under
//! /var/run/secrets/kubernetes.io/serviceaccount/, POD_NAME/POD_NAMESPACE from the downward
//! API), authenticated to the practice cluster as the Job's service account.
//!
//! kube-rs reads the service-account files from that fixed path only, so each command runs in a
//! private mount namespace (`unshare --mount`, root) with a tmpfs over /run (/var/run links to
//! it) holding the files: what the kubelet's projected volume gives a pod, and nothing leaks to
//! the machine running the tests.
//!
//! The coverage test compares what that identity was seen to request with what `deploy/rbac.yaml`
//! grants, both ways.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tke_recycle::sim::SimHandle;
use tke_recycle::sim::kube_api::audit::Access;
use tke_recycle::sim::resource::Res;

use crate::recycle::{
    Ran, assert_back, assert_no_vm_lost, assert_workloads_healthy, calls, demo_sim, tke_recycle,
};
use crate::support::cache_dir;

/// The Job's service account, as the API server names it.
const SA_NAMESPACE: &str = "tke-recycle";
const SA_NAME: &str = "tke-recycle";
const IDENTITY: &str = "system:serviceaccount:tke-recycle:tke-recycle";
const SA_TOKEN: &str = "sa-token-3f9c1e7a";
const NODE: &str = "10.0.8.12";
const INSTANCE: &str = "ins-demo0012";

/// The files a pod finds in /var/run/secrets/kubernetes.io/serviceaccount/.
fn service_account_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (file, text) in [
        ("token", SA_TOKEN),
        ("ca.crt", tke_recycle::sim::tls::CA_PEM),
        ("namespace", SA_NAMESPACE),
    ] {
        std::fs::write(dir.path().join(file), text).expect("write service-account file");
    }
    dir
}

/// The binary as a Job's pod runs it: in-cluster configuration only.
fn in_pod(
    sim: &SimHandle,
    sa: &Path,
    home: &Path,
    args: &[&str],
    pod_name: &str,
) -> tokio::process::Command {
    let port = sim
        .k8s_url
        .rsplit(':')
        .next()
        .expect("the API URL has a port");
    // unshare without --fork execs its command, and so does sh: the child is the binary itself,
    // so killing it is what evicting the pod does to the process.
    let script = "mount -t tmpfs tmpfs /run \
        && mkdir -p /run/secrets/kubernetes.io/serviceaccount \
        && cp \"$SA_DIR\"/token \"$SA_DIR\"/ca.crt \"$SA_DIR\"/namespace /run/secrets/kubernetes.io/serviceaccount/ \
        && exec \"$@\"";
    let mut cmd = tokio::process::Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
    ])
    .arg(env!("CARGO_BIN_EXE_tke-recycle"))
    .args(args)
    .env_clear()
    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
    .env("SA_DIR", sa)
    .env("HOME", home)
    .env("TKE_RECYCLE_CACHE_DIR", cache_dir())
    .env("TKE_RECYCLE_STATE_DIR", home.join("state"))
    .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    .env("KUBERNETES_SERVICE_PORT", port)
    .env("POD_NAMESPACE", SA_NAMESPACE)
    .env("POD_NAME", pod_name)
    .env("TENCENTCLOUD_SECRET_ID", &sim.secret_id)
    .env("TENCENTCLOUD_SECRET_KEY", &sim.secret_key)
    .env("TENCENTCLOUD_REGION", &sim.region)
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .kill_on_drop(true);
    if matches!(args.first().copied(), Some("run" | "plan" | "resume")) {
        cmd.args(["--tke-endpoint", &sim.tke_url]);
    }
    cmd
}

async fn finish(child: tokio::process::Child, what: &str) -> Ran {
    let out = tokio::time::timeout(Duration::from_secs(240), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish in 240 s"))
        .expect("the binary runs");
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The Job's command (`deploy/job.yaml`) for one node, with the Job's UID as run key.
fn job_args<'a>(sim: &'a SimHandle, key: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "--cluster",
        &sim.cluster_id,
        "--node",
        NODE,
        "--journal-in-cluster",
        "--run-key",
        key,
        "--yes",
        "-o",
        "json",
    ]
}

fn run_id_of(ran: &Ran) -> Option<String> {
    ran.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|e| {
            let m = e["message"].as_str()?;
            let rest = m.split(" run ").nth(1)?;
            Some(rest.split_whitespace().next()?.to_owned())
        })
}

/// A Job's pod killed mid-recycle (its node removed from the cluster) and started again with the
/// same command finishes the same run from the in-cluster journal; a third start finds it done.
/// Everything as the Job's service account, through in-cluster configuration; then `plan` and
/// `check` as well, and what that identity requested is what `deploy/rbac.yaml` grants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_in_cluster_resumes_after_its_pod_dies_and_uses_exactly_the_shipped_rbac() {
    let sim = demo_sim(60.0, |_| {}).await;
    sim.add_identity(IDENTITY, SA_TOKEN);
    let sa = service_account_dir();
    let home = tempfile::tempdir().expect("tempdir");
    let key = "3c0c8f2e-job-uid";
    let args = job_args(&sim, key);

    // First pod: killed once the node is out of the cluster (the worst moment: only the journal
    // knows the instance and how to add it back).
    let first = in_pod(&sim, sa.path(), home.path(), &args, "recycle-x7k2p")
        .spawn()
        .expect("unshare runs");
    assert!(
        sim.wait_until(Duration::from_secs(120), |s| s
            .get(Res::Nodes, "", NODE)
            .is_none())
            .await,
        "the first pod never removed {NODE}"
    );
    let mut first = first;
    first.start_kill().expect("kill the first pod's process");
    let killed = finish(first, "the killed run").await;
    assert_eq!(
        killed.code, None,
        "the first run was not killed:\n{}",
        killed.stdout
    );
    let first_run = run_id_of(&killed).expect("the killed run printed its run id");

    // Second pod, same command: resumes that run.
    let second = in_pod(&sim, sa.path(), home.path(), &args, "recycle-q9w4d")
        .spawn()
        .expect("unshare runs");
    let resumed = finish(second, "the resumed run").await;
    assert_eq!(
        resumed.code,
        Some(0),
        "exit {:?}\n{}\n{}",
        resumed.code,
        resumed.stdout,
        resumed.stderr
    );
    assert!(
        resumed
            .stderr
            .contains(&format!("resuming run {first_run}")),
        "the second pod did not resume run {first_run}:\n{}",
        resumed.stderr
    );
    assert_eq!(resumed.end()["run"], first_run.as_str());
    assert_back(&sim, NODE);
    assert_no_vm_lost(&sim);
    assert_eq!(calls(&sim, "DeleteClusterInstances", INSTANCE), 1);
    assert_eq!(calls(&sim, "AddExistedInstances", INSTANCE), 1);
    assert_workloads_healthy(&sim).await;

    // Third pod (the Job retried after the run ended): nothing is done twice.
    let third = in_pod(&sim, sa.path(), home.path(), &args, "recycle-m3n8s")
        .spawn()
        .expect("unshare runs");
    let again = finish(third, "the third run").await;
    assert_eq!(again.code, Some(0), "{}\n{}", again.stdout, again.stderr);
    assert!(
        again.stderr.contains("is done; nothing to do"),
        "{}",
        again.stderr
    );
    assert_eq!(calls(&sim, "DeleteClusterInstances", INSTANCE), 1);

    // What an operator runs before: a dry run and a check, as the same identity.
    for extra in [
        vec![
            "plan",
            "--cluster",
            &sim.cluster_id,
            "--node",
            "10.0.8.13",
            "-o",
            "json",
        ],
        vec!["check", "--cluster", &sim.cluster_id, "--node", "10.0.8.13"],
    ] {
        let child = in_pod(&sim, sa.path(), home.path(), &extra, "recycle-plan")
            .spawn()
            .expect("unshare runs");
        let ran = finish(child, extra[0]).await;
        assert!(
            matches!(ran.code, Some(0 | 1)),
            "{} failed: exit {:?}\n{}\n{}",
            extra[0],
            ran.code,
            ran.stdout,
            ran.stderr
        );
    }

    let used = sim.accesses(IDENTITY);
    eprintln!("requests of {IDENTITY}:");
    for a in &used {
        eprintln!("  {a}");
    }
    assert!(
        sim.accesses(tke_recycle::sim::kube_api::audit::ADMIN)
            .is_empty(),
        "some command used the kubeconfig's admin instead of the service account"
    );
    let rbac = Rbac::load(&deploy_dir().join("rbac.yaml"));
    let ungranted: Vec<String> = used
        .iter()
        .filter(|a| !rbac.grants(a))
        .map(ToString::to_string)
        .collect();
    assert!(
        ungranted.is_empty(),
        "deploy/rbac.yaml does not grant what the tool uses:\n  {}",
        ungranted.join("\n  ")
    );
    let unused: Vec<String> = rbac
        .grants
        .iter()
        .filter(|g| !used.iter().any(|a| g.justified_by(a, &rbac)))
        .map(|g| format!("{g:?}"))
        .collect();
    assert!(
        unused.is_empty(),
        "deploy/rbac.yaml grants what the tool does not use (or a ClusterRole grants what a Role covers):\n  {}",
        unused.join("\n  ")
    );
}

/// A Job pod that sits on a node it is asked to recycle refuses to start: its drain would evict
/// the run itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_refuses_the_node_its_own_pod_runs_on() {
    let sim = demo_sim(60.0, |_| {}).await;
    let own = sim
        .pods_on(NODE)
        .into_iter()
        .next()
        .expect("the demo node runs pods");
    let (ns, name) = own.split_once('/').expect("namespace/name");
    let journal = tempfile::tempdir().expect("tempdir");
    let args = crate::recycle::run_args(&sim, &[NODE], &[]);
    let ran = tke_recycle(
        &sim,
        journal.path(),
        &args,
        &[("POD_NAME", name), ("POD_NAMESPACE", ns)],
    )
    .await;
    assert_eq!(ran.code, Some(2), "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr.contains(&format!(
            "node {NODE} runs this tke-recycle's own pod {own}"
        )),
        "{}",
        ran.stderr
    );
    let node = sim.get(Res::Nodes, "", NODE).expect("node");
    assert_ne!(
        node.pointer("/spec/unschedulable"),
        Some(&Value::Bool(true)),
        "the node was cordoned"
    );
    assert!(
        sim.action_log().is_empty(),
        "TKE was called: {:?}",
        sim.action_log()
    );
}

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("deploy")
}

/// One (verb, group, resource) a rule grants, cluster-wide (a bound ClusterRole) or in one
/// namespace (a bound Role).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Grant {
    namespace: Option<String>,
    verb: String,
    group: String,
    resource: String,
}

impl Grant {
    fn covers(&self, a: &Access) -> bool {
        self.verb == a.verb
            && self.group == a.group
            && self.resource == a.resource
            && (self.namespace.is_none() || self.namespace == a.namespace)
    }

    /// Used by `a`; a cluster-wide grant only counts for a request no Role covers (else the
    /// narrower Role is enough and the cluster-wide grant is excess).
    fn justified_by(&self, a: &Access, rbac: &Rbac) -> bool {
        if !self.covers(a) {
            return false;
        }
        self.namespace.is_some()
            || !rbac
                .grants
                .iter()
                .any(|g| g.namespace.is_some() && g.covers(a))
    }
}

/// What `deploy/rbac.yaml` grants the Job's service account.
struct Rbac {
    grants: BTreeSet<Grant>,
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not a list: {v}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("{key}: {s}"))
                .to_owned()
        })
        .collect()
}

impl Rbac {
    fn load(path: &Path) -> Self {
        use serde::Deserialize;
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
            .map(|d| Value::deserialize(d).expect("a YAML document"))
            .filter(|d| !d.is_null())
            .collect();
        let is_our_sa = |b: &Value| {
            b["subjects"].as_array().is_some_and(|s| {
                s.iter().any(|s| {
                    s["kind"] == "ServiceAccount"
                        && s["name"] == SA_NAME
                        && s["namespace"] == SA_NAMESPACE
                })
            })
        };
        let mut grants = BTreeSet::new();
        for binding in docs
            .iter()
            .filter(|d| {
                matches!(
                    d["kind"].as_str(),
                    Some("ClusterRoleBinding" | "RoleBinding")
                )
            })
            .filter(|b| is_our_sa(b))
        {
            let scope = (binding["kind"] == "RoleBinding").then(|| {
                binding["metadata"]["namespace"]
                    .as_str()
                    .expect("a RoleBinding has a namespace")
                    .to_owned()
            });
            let role_kind = binding["roleRef"]["kind"].as_str().expect("roleRef.kind");
            let role_name = binding["roleRef"]["name"].as_str().expect("roleRef.name");
            let role = docs
                .iter()
                .find(|d| {
                    d["kind"] == role_kind
                        && d["metadata"]["name"] == role_name
                        && (role_kind == "ClusterRole"
                            || d["metadata"]["namespace"].as_str() == scope.as_deref())
                })
                .unwrap_or_else(|| panic!("{role_kind} {role_name} is bound but not shipped"));
            for rule in role["rules"].as_array().expect("rules") {
                assert!(
                    rule.get("resourceNames").is_none() && rule.get("nonResourceURLs").is_none(),
                    "rules are (verbs, apiGroups, resources) only: {rule}"
                );
                for group in strings(rule, "apiGroups") {
                    for resource in strings(rule, "resources") {
                        for verb in strings(rule, "verbs") {
                            assert!(
                                ![&group, &resource, &verb].iter().any(|s| s.contains('*')),
                                "a wildcard in {role_name}: {rule}"
                            );
                            grants.insert(Grant {
                                namespace: scope.clone(),
                                verb: verb.clone(),
                                group: group.clone(),
                                resource: resource.clone(),
                            });
                        }
                    }
                }
            }
        }
        assert!(!grants.is_empty(), "{} grants nothing", path.display());
        Self { grants }
    }

    fn grants(&self, a: &Access) -> bool {
        self.grants.iter().any(|g| g.covers(a))
    }
}

/// Every document of `path`, as JSON.
fn documents(path: &Path) -> Vec<Value> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("a YAML document"))
        .filter(|d| !d.is_null())
        .collect()
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in deploy/"))
}

/// The manifests agree with each other and with the binary: they are the Kubernetes types they
/// claim, the Job's arguments parse, its affinity keeps it off exactly the nodes it recycles, it
/// reads the Secret's three variables and tells the run who its pod is.
#[test]
fn deploy_manifests_fit_together_and_the_job_command_parses() {
    use clap::Parser as _;
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};

    let dir = deploy_dir();
    let job_docs = documents(&dir.join("job.yaml"));
    let ns_docs = documents(&dir.join("namespace.yaml"));
    let secret_docs = documents(&dir.join("secret.example.yaml"));
    let job: Job = serde_json::from_value(kind(&job_docs, "Job").clone()).expect("a Job");
    let config: ConfigMap =
        serde_json::from_value(kind(&job_docs, "ConfigMap").clone()).expect("a ConfigMap");
    let sa: ServiceAccount =
        serde_json::from_value(kind(&ns_docs, "ServiceAccount").clone()).expect("a ServiceAccount");
    let secret: Secret =
        serde_json::from_value(kind(&secret_docs, "Secret").clone()).expect("a Secret");
    for d in documents(&dir.join("rbac.yaml")) {
        let k = d["kind"].as_str().unwrap_or_default().to_owned();
        let ok = match k.as_str() {
            "ClusterRole" => {
                serde_json::from_value::<k8s_openapi::api::rbac::v1::ClusterRole>(d).is_ok()
            }
            "Role" => serde_json::from_value::<k8s_openapi::api::rbac::v1::Role>(d).is_ok(),
            "ClusterRoleBinding" => {
                serde_json::from_value::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>(d).is_ok()
            }
            "RoleBinding" => {
                serde_json::from_value::<k8s_openapi::api::rbac::v1::RoleBinding>(d).is_ok()
            }
            _ => false,
        };
        assert!(ok, "rbac.yaml: {k} is not a valid RBAC object");
    }

    let spec = job.spec.expect("job spec");
    let pod = spec.template.spec.expect("pod spec");
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    assert!(
        spec.backoff_limit.is_some_and(|b| b > 0),
        "a dead pod must be replaced"
    );
    assert_eq!(
        (
            pod.service_account_name.as_deref(),
            job.metadata.namespace.as_deref()
        ),
        (
            sa.metadata.name.as_deref(),
            sa.metadata.namespace.as_deref()
        )
    );
    let container = &pod.containers[0];
    let env: Vec<(&str, String)> = container
        .env
        .iter()
        .flatten()
        .map(|e| {
            let field = e
                .value_from
                .as_ref()
                .and_then(|v| v.field_ref.as_ref())
                .map(|f| f.field_path.clone())
                .unwrap_or_default();
            (e.name.as_str(), field)
        })
        .collect();
    for (name, field) in [
        (
            tke_recycle::k8s::own_pod::POD_NAME_ENV,
            "metadata.name".to_owned(),
        ),
        (
            tke_recycle::k8s::own_pod::POD_NAMESPACE_ENV,
            "metadata.namespace".to_owned(),
        ),
    ] {
        assert!(
            env.contains(&(name, field.clone())),
            "{name} from {field}: {env:?}"
        );
    }
    let secret_ref = container
        .env_from
        .iter()
        .flatten()
        .find_map(|e| e.secret_ref.as_ref());
    assert_eq!(
        secret_ref.map(|s| s.name.as_str()),
        secret.metadata.name.as_deref()
    );
    let keys: BTreeSet<&str> = secret
        .string_data
        .iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            tke_recycle::tke::credentials::ENV_SECRET_ID,
            tke_recycle::tke::credentials::ENV_SECRET_KEY,
            "TENCENTCLOUD_REGION"
        ])
    );

    // The command, as the kubelet expands $(JOB_UID), is one the binary accepts.
    let args: Vec<String> = container
        .args
        .iter()
        .flatten()
        .map(|a| a.replace("$(JOB_UID)", "3c0c8f2e-job-uid"))
        .collect();
    assert!(
        args.iter().any(|a| a == "--run-key=3c0c8f2e-job-uid"),
        "{args:?}"
    );
    tke_recycle::cli::Cli::try_parse_from(std::iter::once("tke-recycle".to_owned()).chain(args))
        .unwrap_or_else(|e| panic!("the Job's args do not parse: {e}"));

    // The nodes it recycles are the nodes its affinity keeps it off.
    let recycle: Value = serde_yaml::from_str(
        config
            .data
            .as_ref()
            .and_then(|d| d.get("recycle.yaml"))
            .expect("recycle.yaml"),
    )
    .expect("recycle.yaml is YAML");
    assert_eq!(
        recycle["journal"]["inCluster"], true,
        "a Job keeps its journal in the cluster"
    );
    let nodes: BTreeSet<&str> = recycle["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let terms = pod
        .affinity
        .and_then(|a| a.node_affinity)
        .and_then(|n| n.required_during_scheduling_ignored_during_execution)
        .expect("a required node affinity")
        .node_selector_terms;
    let excluded: BTreeSet<String> = terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .filter(|r| r.key == "metadata.name" && r.operator == "NotIn")
        .flat_map(|r| r.values.iter().flatten().cloned())
        .collect();
    assert_eq!(
        excluded.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        nodes
    );
}

//! API errors as users see them, end to end: the real binary against API servers that answer
//! each class of failure (401, 403, a resource type not served, no PDB API at all, a 5xx, no
//! server), each asserting the whole message; none shows a Rust `Debug` structure.

use std::sync::Arc;

use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::support::{RunCli as _, assert_no_debug_dump, bin, serve_on_loopback};

/// How the stand-in answers.
#[derive(Clone, Default)]
struct Answers {
    /// Every request gets this (code, Status JSON).
    all: Option<(u16, Value)>,
    /// This path (no query) gets this.
    path: Option<(&'static str, u16, Value)>,
    /// `/apis/policy` answers 404 (a server without the policy group).
    no_policy_group: bool,
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "code": code, "reason": reason, "message": message})
}

fn reply(code: u16, body: &Value) -> Response {
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// An API server that serves discovery as Kubernetes 1.32 does, empty lists, and the failures
/// it is told to; returns a kubeconfig pointing at it.
async fn stand_in(answers: Answers, dir: &std::path::Path) -> std::path::PathBuf {
    let answers = Arc::new(answers);
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let answers = answers.clone();
        async move {
            if let Some((code, body)) = &answers.all {
                return reply(*code, body);
            }
            if let Some((path, code, body)) = &answers.path
                && uri.path() == *path
            {
                return reply(*code, body);
            }
            match uri.path() {
                "/apis/policy" if answers.no_policy_group => reply(
                    404,
                    &status(404, "NotFound", "the server could not find the requested resource"),
                ),
                "/apis/policy" => reply(
                    200,
                    &json!({"kind": "APIGroup", "apiVersion": "v1", "name": "policy",
                        "versions": [{"groupVersion": "policy/v1", "version": "v1"}],
                        "preferredVersion": {"groupVersion": "policy/v1", "version": "v1"}}),
                ),
                "/apis/batch/v1" => reply(200, &crate::support::batch_v1_resources()),
                _ => reply(
                    200,
                    &json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []}),
                ),
            }
        }
    });
    let addr = serve_on_loopback(app).await;
    kubeconfig(dir, &format!("http://{addr}"))
}

fn kubeconfig(dir: &std::path::Path, server: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n\
             contexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\n\
             users:\n- name: u\n  user: {{token: t0ken}}\n"
        ),
    )
    .expect("write kubeconfig");
    path
}

/// `tke-recycle snapshot` against the kubeconfig: exit code and stderr.
async fn snapshot(kubeconfig: std::path::PathBuf) -> (Option<i32>, String) {
    let out = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().expect("tempdir");
        bin()
            .args(["snapshot", "-o"])
            .arg(dir.path().join("s.json"))
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .run_cli()
            .expect("binary runs")
    })
    .await
    .expect("joined");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_no_debug_dump(&stderr);
    (out.status.code(), stderr)
}

/// `tke-recycle snapshot` against a stand-in answering `answers`: it must fail with exit code 3;
/// its stderr, without the trailing newline.
async fn refused(answers: Answers) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, stderr) = snapshot(stand_in(answers, dir.path()).await).await;
    assert_eq!(code, Some(3), "{stderr}");
    stderr.trim_end().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_names_the_credentials_and_how_to_refresh_them() {
    let stderr = refused(Answers {
        all: Some((401, status(401, "Unauthorized", "Unauthorized"))),
        ..Answers::default()
    })
    .await;
    assert_eq!(
        stderr,
        "error: cannot read the cluster: failed to find which PodDisruptionBudget version the \
         cluster serves: failed to read the cluster's API discovery document /apis/policy: the \
         API server answered HTTP 401 Unauthorized: Unauthorized. The cluster did not accept the \
         kubeconfig's credentials (token or client certificate missing, expired, or for another \
         cluster). Get a fresh kubeconfig (TKE console: the cluster's basic information, or \
         `tccli tke DescribeClusterKubeconfig`) and point --kubeconfig or KUBECONFIG at it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_names_the_missing_rbac_permission() {
    let stderr = refused(Answers {
        path: Some((
            "/api/v1/nodes",
            403,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "reason": "Forbidden", "code": 403, "details": {"kind": "nodes"},
                "message": "nodes is forbidden: User \"limited\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"}),
        )),
        ..Answers::default()
    })
    .await;
    assert_eq!(
        stderr,
        "error: cannot read the cluster: failed to list nodes: the API server answered HTTP 403 \
         Forbidden: nodes is forbidden: User \"limited\" cannot list resource \"nodes\" in API \
         group \"\" at the cluster scope. The kubeconfig's identity lacks an RBAC permission on \
         nodes (API group core); the message names the user and the verb. Have a cluster admin \
         grant it (a ClusterRole rule bound to that user; `kubectl auth can-i <verb> \
         <resource>` checks it), or use a kubeconfig whose identity has it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_type_not_served_names_the_versions_that_have_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Discovery names policy/v1, the list then 404s: the message the issue quoted, as a sentence.
    let kc = stand_in(
        Answers {
            path: Some((
                "/apis/policy/v1/poddisruptionbudgets",
                404,
                status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                ),
            )),
            ..Answers::default()
        },
        dir.path(),
    )
    .await;
    let (code, stderr) = snapshot(kc).await;
    assert_eq!(code, Some(3));
    assert_eq!(
        stderr.trim_end(),
        "error: cannot read the cluster: failed to list poddisruptionbudgets: the API server \
         answered HTTP 404 NotFound: the server could not find the requested resource. The \
         cluster does not serve poddisruptionbudgets at the API version asked for. \
         PodDisruptionBudgets are served as policy/v1 from Kubernetes 1.21 on and as \
         policy/v1beta1 up to 1.24; tke-recycle reads the one the cluster's discovery names. \
         Check the cluster's version with `kubectl version` and what it serves with `kubectl \
         api-resources`; tke-recycle supports Kubernetes 1.20 to 1.32"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_without_any_pdb_api_is_named_as_such() {
    let stderr = refused(Answers {
        no_policy_group: true,
        ..Answers::default()
    })
    .await;
    assert_eq!(
        stderr,
        "error: cannot read the cluster: failed to find which PodDisruptionBudget version the \
         cluster serves: the cluster serves no PodDisruptionBudget API: neither policy/v1 \
         (Kubernetes 1.21 and later) nor policy/v1beta1 (Kubernetes 1.24 and earlier); it serves \
         no policy group. tke-recycle supports Kubernetes 1.20 to 1.32"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_server_says_so_and_what_to_check() {
    let stderr = refused(Answers {
        path: Some((
            "/api/v1/pods",
            500,
            status(
                500,
                "InternalError",
                "Internal error occurred: etcdserver: request timed out",
            ),
        )),
        ..Answers::default()
    })
    .await;
    assert_eq!(
        stderr,
        "error: cannot read the cluster: failed to list pods: the API server answered HTTP 500 \
         InternalError: Internal error occurred: etcdserver: request timed out. The API server \
         failed to answer (overloaded, or its etcd unhealthy); check the control plane in the \
         TKE console and run the command again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_server_at_the_address_says_what_to_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let kc = kubeconfig(dir.path(), &format!("http://127.0.0.1:{port}"));
    let (code, stderr) = snapshot(kc).await;
    assert_eq!(code, Some(3));
    let want_start = "error: cannot read the cluster: failed to find which PodDisruptionBudget \
                      version the cluster serves: failed to read the cluster's API discovery \
                      document /apis/policy: cannot reach the Kubernetes API server: ";
    let want_end = "Connection refused (os error 111). Check that the server address in the \
                    kubeconfig is reachable from this machine (TKE clusters have an internal and \
                    a public endpoint; the public one must be enabled), then run the command again";
    let got = stderr.trim_end();
    assert!(
        got.starts_with(want_start) && got.ends_with(want_end),
        "{got}"
    );
}

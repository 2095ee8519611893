//! The practice cluster: a Kubernetes API server and a Tencent Cloud (TKE + CVM) API server on
//! 127.0.0.1, with controllers behind them on an accelerated clock, loaded from a scenario.
//!
//! It exists so that the product's real code paths (the kube-rs client, the reqwest TKE client)
//! and real third-party clients (kubectl, the official Tencent Cloud SDK) can run end to end
//! without a cloud account. Nothing in the product may branch on talking to it.
//!
//! Layout: [`store`] holds the objects; [`kube_api`] and [`tke_api`] serve them; `controllers`
//! act on them; [`scenario`] describes a cluster; [`clock`] scales simulated delays.

pub mod clock;
mod controllers;
pub mod kube_api;
pub mod kube_version;
pub mod quantity;
pub mod resource;
pub mod scenario;
pub mod selector;
pub mod store;
pub mod tke_api;
pub mod tls;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use clock::Clock;
use resource::Res;
use scenario::Scenario;
use store::Store;
use tke_api::state::{ActionRecord, FormattedDisk, TkeState, Vm};

/// Why the practice cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A listener could not be bound.
    #[error("failed to bind 127.0.0.1:{port}")]
    BindFailed {
        /// Port asked for (0 = any).
        port: u16,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The kubeconfig could not be written.
    #[error("failed to write kubeconfig {path}")]
    KubeconfigWriteFailed {
        /// Path.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The TLS listener could not be set up.
    #[error("failed to set up TLS for the Kubernetes API")]
    TlsFailed(#[source] tls::TlsError),
    /// The scenario names a Kubernetes version the practice cluster cannot play.
    #[error("cannot start the practice cluster")]
    Version(#[from] kube_version::VersionError),
    /// A scenario object could not be loaded.
    #[error("failed to load scenario object {index} ({kind} {name})")]
    LoadFailed {
        /// Index in `objects`.
        index: usize,
        /// Kind.
        kind: String,
        /// Name.
        name: String,
        /// Cause.
        #[source]
        source: store::StoreError,
    },
}

/// How to run it.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// Clock speed; overrides the scenario's.
    pub speed: Option<f64>,
    /// Kubernetes API port (0: any free port).
    pub k8s_port: u16,
    /// TKE/CVM API port (0: any free port).
    pub tke_port: u16,
    /// Where to write the kubeconfig (default: a fresh temporary directory).
    pub kubeconfig_out: Option<PathBuf>,
}

/// The practice cluster.
pub struct Sim;

/// A running practice cluster. Dropping it stops the servers and controllers.
pub struct SimHandle {
    /// `https://127.0.0.1:PORT` of the Kubernetes API (CA in the kubeconfig, [`tls::CA_PEM`]).
    pub k8s_url: String,
    /// `http://127.0.0.1:PORT` of the TKE/CVM API.
    pub tke_url: String,
    /// `127.0.0.1:PORT`: what an SDK takes as its endpoint (and signs as Host).
    pub tke_endpoint: String,
    /// The kubeconfig written for this cluster.
    pub kubeconfig: PathBuf,
    /// Kubernetes bearer token.
    pub token: String,
    /// Tencent Cloud SecretId.
    pub secret_id: String,
    /// Tencent Cloud SecretKey.
    pub secret_key: String,
    /// Region.
    pub region: String,
    /// TKE cluster ID.
    pub cluster_id: String,
    /// The clock.
    pub clock: Clock,
    store: Arc<Store>,
    kube_requests: Arc<std::sync::atomic::AtomicU64>,
    audit: Arc<kube_api::audit::Audit>,
    tke: Arc<Mutex<TkeState>>,
    stop: Arc<AtomicBool>,
    controllers: Option<std::thread::JoinHandle<()>>,
    servers: Vec<tokio::task::JoinHandle<()>>,
    temp_dir: Option<PathBuf>,
}

fn kubeconfig_yaml(url: &str, token: &str) -> String {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(tls::CA_PEM);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: tke-recycle-sim\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\ncontexts:\n- name: tke-recycle-sim\n  context:\n    cluster: tke-recycle-sim\n    user: tke-recycle-sim\n    namespace: default\ncurrent-context: tke-recycle-sim\nusers:\n- name: tke-recycle-sim\n  user:\n    token: {token}\n"
    )
}

async fn bind(port: u16) -> Result<tokio::net::TcpListener, SimError> {
    tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| SimError::BindFailed { port, source })
}

impl Sim {
    /// Load a scenario, settle its initial state (pods scheduled and Running), and serve it.
    pub async fn start(mut scenario: Scenario, options: SimOptions) -> Result<SimHandle, SimError> {
        let started = std::time::Instant::now();
        let generated: Box<dyn Iterator<Item = Value> + Send> = match scenario.generate.take() {
            Some(g) => Box::new(scenario.generate(g)),
            None => Box::new(std::iter::empty()),
        };
        let clock = Clock::new(options.speed.or(scenario.speed).unwrap_or(1.0));
        let k8s = scenario.cluster.kube_version()?;
        let store = Arc::new(Store::new());
        store.set_recording(false);
        let tke = TkeState::from_scenario(&scenario);
        let mut namespaces: Vec<String> =
            ["default", "kube-system", "kube-public", "kube-node-lease"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
        for o in &scenario.objects {
            if let Some(ns) = o.pointer("/metadata/namespace").and_then(Value::as_str)
                && !namespaces.iter().any(|n| n == ns)
            {
                namespaces.push(ns.to_owned());
            }
        }
        // Generated workloads live in team-0 .. team-49.
        if scenario.nodes.iter().any(|n| {
            n.instance_id
                .as_deref()
                .is_some_and(|i| i.starts_with("ins-g"))
        }) {
            namespaces.extend((0..50).map(|i| format!("team-{i}")));
        }
        let load_err = |index: usize, kind: &str, name: &str, source| SimError::LoadFailed {
            index,
            kind: kind.to_owned(),
            name: name.to_owned(),
            source,
        };
        for ns in namespaces {
            let v = json!({"metadata": {"name": ns}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
            store
                .create(Res::Namespaces, v, false)
                .map_err(|e| load_err(0, "Namespace", &ns, e))?;
        }
        for node in tke.initial_nodes() {
            let name = node
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            store
                .create(Res::Nodes, node, false)
                .map_err(|e| load_err(0, "Node", &name, e))?;
        }
        for (i, mut o) in std::mem::take(&mut scenario.objects)
            .into_iter()
            .chain(generated)
            .enumerate()
        {
            let kind = o
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let api = o
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let name = o
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let Some(res) = Res::by_manifest_kind(&api, &kind) else {
                continue;
            };
            if api == "policy/v1beta1" {
                o = kube_api::v1beta1_pdb_as_stored(o);
            }
            if res.def().namespaced && o.pointer("/metadata/namespace").is_none() {
                o["metadata"]["namespace"] = json!("default");
            }
            if res == Res::Pods {
                // Manifests are loaded as the API server would default them.
                let status = o.get("status").cloned();
                kube_api::default_on_create(res, &mut o);
                if let Some(s) = status {
                    o["status"] = s;
                }
            }
            store
                .create(res, o, true)
                .map_err(|e| load_err(i, &kind, &name, e))?;
        }
        let tke = Arc::new(Mutex::new(tke));
        let mut ctrl = controllers::Controllers::new(
            store.clone(),
            clock.clone(),
            scenario.timing.clone(),
            scenario.faults.clone(),
            tke.clone(),
        );
        let loaded = started.elapsed();
        ctrl.settle_boot();
        store.set_recording(true);
        tracing::info!(
            load_ms = loaded.as_millis() as u64,
            settle_ms = (started.elapsed() - loaded).as_millis() as u64,
            objects = store.rv(),
            "practice cluster loaded"
        );

        let k8s_listener = bind(options.k8s_port).await?;
        let tke_listener = bind(options.tke_port).await?;
        let k8s_addr = k8s_listener
            .local_addr()
            .map_err(|source| SimError::BindFailed {
                port: options.k8s_port,
                source,
            })?;
        let tke_addr = tke_listener
            .local_addr()
            .map_err(|source| SimError::BindFailed {
                port: options.tke_port,
                source,
            })?;
        let k8s_url = format!("https://{k8s_addr}");
        let creds = scenario.credentials.clone();

        let (kubeconfig, temp_dir) = match &options.kubeconfig_out {
            Some(p) => (p.clone(), None),
            None => {
                let dir = std::env::temp_dir().join(format!(
                    "tke-recycle-sim-{}-{}",
                    std::process::id(),
                    k8s_addr.port()
                ));
                std::fs::create_dir_all(&dir).map_err(|source| {
                    SimError::KubeconfigWriteFailed {
                        path: dir.display().to_string(),
                        source,
                    }
                })?;
                (dir.join("kubeconfig"), Some(dir))
            }
        };
        std::fs::write(&kubeconfig, kubeconfig_yaml(&k8s_url, &creds.token)).map_err(|source| {
            SimError::KubeconfigWriteFailed {
                path: kubeconfig.display().to_string(),
                source,
            }
        })?;

        let requests = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let audit = Arc::new(kube_api::audit::Audit::new(&creds.token));
        let kube = Arc::new(kube_api::KubeApi {
            store: store.clone(),
            audit: audit.clone(),
            version: k8s,
            address: k8s_addr.to_string(),
            faults: scenario.faults.clone(),
            resource_requests: Default::default(),
            requests: requests.clone(),
        });
        let tke_api = Arc::new(tke_api::TkeApi {
            state: tke.clone(),
            store: store.clone(),
            keys: vec![(creds.secret_id.clone(), creds.secret_key.clone())],
            clock: clock.clone(),
        });
        let k8s_tls = tls::TlsListener::new(k8s_listener).map_err(SimError::TlsFailed)?;
        let servers = vec![
            tokio::spawn(async move {
                let _ = axum::serve(k8s_tls, kube_api::router(kube)).await;
            }),
            tokio::spawn(async move {
                // Like the Kubernetes listener: no Nagle delay on a response's last segment.
                let tke_listener = axum::serve::ListenerExt::tap_io(tke_listener, |tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                let _ = axum::serve(tke_listener, tke_api::router(tke_api)).await;
            }),
        ];
        let stop = Arc::new(AtomicBool::new(false));
        let controllers = Some(ctrl.spawn(stop.clone()));
        Ok(SimHandle {
            k8s_url,
            tke_url: format!("http://{tke_addr}"),
            tke_endpoint: tke_addr.to_string(),
            kubeconfig,
            token: creds.token,
            secret_id: creds.secret_id,
            secret_key: creds.secret_key,
            region: scenario.cluster.region.clone(),
            cluster_id: scenario.cluster.id.clone(),
            clock,
            store,
            kube_requests: requests,
            audit,
            tke,
            stop,
            controllers,
            servers,
            temp_dir,
        })
    }
}

impl SimHandle {
    /// The object store, for inspection.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn tke_state<T>(&self, f: impl FnOnce(&TkeState) -> T) -> T {
        let g = self.tke.lock().unwrap_or_else(|e| e.into_inner());
        f(&g)
    }

    /// Requests the Kubernetes API has served so far (every path, every verb).
    pub fn kube_requests(&self) -> u64 {
        self.kube_requests.load(Ordering::Relaxed)
    }

    /// Accept `token` for `identity` (a service account, `system:serviceaccount:NS:NAME`) from
    /// now on; its requests are recorded apart from the admin's.
    pub fn add_identity(&self, identity: &str, token: &str) {
        self.audit.add_identity(identity, token);
    }

    /// Every distinct resource request `identity` made so far, as RBAC names it
    /// ([`kube_api::audit`]); [`kube_api::audit::ADMIN`] is the kubeconfig's user.
    pub fn accesses(&self, identity: &str) -> std::collections::BTreeSet<kube_api::audit::Access> {
        self.audit.accesses(identity)
    }

    /// Every TKE/CVM call received, in order.
    pub fn action_log(&self) -> Vec<ActionRecord> {
        self.tke_state(|s| s.actions.clone())
    }

    /// Data disks that lost their data to a format.
    pub fn formatted_disks(&self) -> Vec<FormattedDisk> {
        self.tke_state(|s| s.formatted_disks.clone())
    }

    /// Instances destroyed with InstanceDeleteMode=terminate.
    pub fn terminated_instances(&self) -> Vec<String> {
        self.tke_state(|s| s.terminated.clone())
    }

    /// (instance, decoded UserScript) pairs received by AddExistedInstances.
    pub fn user_scripts(&self) -> Vec<(String, String)> {
        self.tke_state(|s| s.user_scripts.clone())
    }

    /// One VM.
    pub fn vm(&self, instance_id: &str) -> Option<Vm> {
        self.tke_state(|s| s.vms.get(instance_id).cloned())
    }

    /// A Kubernetes object as JSON.
    pub fn get(&self, res: Res, ns: &str, name: &str) -> Option<Value> {
        self.store.get(res, ns, name).map(|o| o.value())
    }

    /// Names of the pods bound to a node.
    pub fn pods_on(&self, node: &str) -> Vec<String> {
        self.store
            .list(Res::Pods, None)
            .iter()
            .filter(|p| p.pod.as_ref().and_then(|f| f.node_name.as_deref()) == Some(node))
            .map(|p| format!("{}/{}", p.namespace, p.name))
            .collect()
    }

    /// True when no pod is starting or terminating (unschedulable pods may stay Pending).
    pub fn settled(&self) -> bool {
        self.store.list(Res::Pods, None).iter().all(|p| {
            p.pod.as_ref().is_some_and(|f| {
                !f.deleting
                    && ((&*f.phase == "Running" && f.ready)
                        // A finished pod (a Job's) has nothing left to do.
                        || matches!(&*f.phase, "Succeeded" | "Failed")
                        || (f.node_name.is_none() && &*f.phase == "Pending"))
            })
        })
    }

    /// Poll `cond` every 50 ms until it holds or `timeout` (real time) passes.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut cond: impl FnMut(&SimHandle) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The kubeconfig path as a string.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// Stop servers and controllers.
    pub fn shutdown(mut self) {
        self.stop_all();
    }

    fn stop_all(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for s in self.servers.drain(..) {
            s.abort();
        }
        if let Some(c) = self.controllers.take() {
            let _ = c.join();
        }
        if let Some(d) = self.temp_dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop_all();
    }
}

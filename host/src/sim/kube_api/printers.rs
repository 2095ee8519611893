//! The columns and cells the API server prints for each kind it serves, as the real
//! kube-apiserver's table printers (`pkg/printers/internalversion/printers.go`) compute them:
//! the same column names, types, formats and priorities (priority 1 is what `-o wide` adds),
//! and the same cell values, `<none>` placeholders and ages.
//!
//! Every kind the practice cluster serves has a printer in the real server, so none of them falls
//! back to the generic convertor (Name, Created At). Descriptions are the real ones where the
//! printer spells them out, and the first sentence of the API field's documentation where the
//! real printer quotes the OpenAPI docs. The wire format of a Table lives in `table`.

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::sim::resource::Res;

/// One `TableColumnDefinition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Column header (kubectl upper-cases it).
    pub name: &'static str,
    /// OpenAPI type of the cells: `string`, `integer` or `boolean`.
    pub kind: &'static str,
    /// `name` for the object-name column, empty otherwise.
    pub format: &'static str,
    /// What the column shows.
    pub description: &'static str,
    /// 0 for the default columns, 1 for those only `-o wide` shows.
    pub priority: u8,
}

impl Column {
    /// The column as JSON.
    pub fn to_json(self) -> Value {
        json!({"name": self.name, "type": self.kind, "format": self.format,
               "description": self.description, "priority": self.priority})
    }
}

/// One printed row: its cells and, for finished pods, the `Completed` row condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Cell values in column order.
    pub cells: Vec<Value>,
    /// `TableRowCondition`s, when the real printer sets any.
    pub conditions: Option<Value>,
}

const NAME_DOC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DOC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const CONTAINERS_DOC: &str = "Names of each container in the template.";
const IMAGES_DOC: &str = "Images referenced by each container in the template.";
const SELECTOR_DOC: &str = "Label query over pods that should match the replica count.";

const fn col(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind,
        format: "",
        description,
        priority: 0,
    }
}

const fn wide(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        priority: 1,
        ..col(name, kind, description)
    }
}

const NAME: Column = Column {
    format: "name",
    ..col("Name", "string", NAME_DOC)
};
const AGE: Column = col("Age", "string", AGE_DOC);

/// The columns the real server prints for `res`.
pub fn columns(res: Res) -> &'static [Column] {
    match res {
        Res::Pods => {
            const {
                &[
                    NAME,
                    col(
                        "Ready",
                        "string",
                        "The aggregate readiness state of this pod for accepting traffic.",
                    ),
                    col(
                        "Status",
                        "string",
                        "The aggregate status of the containers in this pod.",
                    ),
                    col(
                        "Restarts",
                        "string",
                        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
                    ),
                    AGE,
                    wide(
                        "IP",
                        "string",
                        "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
                    ),
                    wide(
                        "Node",
                        "string",
                        "NodeName indicates in which node this pod is scheduled.",
                    ),
                    wide(
                        "Nominated Node",
                        "string",
                        "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.",
                    ),
                    wide(
                        "Readiness Gates",
                        "string",
                        "If specified, all readiness gates will be evaluated for pod readiness.",
                    ),
                ]
            }
        }
        Res::Nodes => {
            const {
                &[
                    NAME,
                    col("Status", "string", "The status of the node"),
                    col("Roles", "string", "The roles of the node"),
                    AGE,
                    col("Version", "string", "Kubelet Version reported by the node."),
                    wide(
                        "Internal-IP",
                        "string",
                        "List of addresses reachable to the node.",
                    ),
                    wide(
                        "External-IP",
                        "string",
                        "List of addresses reachable to the node.",
                    ),
                    wide(
                        "OS-Image",
                        "string",
                        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
                    ),
                    wide(
                        "Kernel-Version",
                        "string",
                        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
                    ),
                    wide(
                        "Container-Runtime",
                        "string",
                        "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
                    ),
                ]
            }
        }
        Res::Namespaces => {
            const {
                &[
                    NAME,
                    col("Status", "string", "The status of the namespace"),
                    AGE,
                ]
            }
        }
        Res::Events => {
            const {
                &[
                    col(
                        "Last Seen",
                        "string",
                        "The time at which the most recent occurrence of this event was recorded.",
                    ),
                    col(
                        "Type",
                        "string",
                        "Type of this event (Normal, Warning), new types could be added in the future",
                    ),
                    col(
                        "Reason",
                        "string",
                        "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
                    ),
                    col("Object", "string", "The object that this event is about."),
                    wide(
                        "Subobject",
                        "string",
                        "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].",
                    ),
                    wide(
                        "Source",
                        "string",
                        "The component reporting this event. Should be a short machine understandable string.",
                    ),
                    col(
                        "Message",
                        "string",
                        "A human-readable description of the status of this operation.",
                    ),
                    wide(
                        "First Seen",
                        "string",
                        "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
                    ),
                    wide(
                        "Count",
                        "string",
                        "The number of times this event has occurred.",
                    ),
                    Column {
                        priority: 1,
                        ..NAME
                    },
                ]
            }
        }
        Res::ConfigMaps => {
            const {
                &[
                    NAME,
                    col(
                        "Data",
                        "string",
                        "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'.",
                    ),
                    AGE,
                ]
            }
        }
        Res::Services => {
            const {
                &[
                    NAME,
                    col(
                        "Type",
                        "string",
                        "type determines how the Service is exposed. Defaults to ClusterIP.",
                    ),
                    col(
                        "Cluster-IP",
                        "string",
                        "clusterIP is the IP address of the service and is usually assigned randomly.",
                    ),
                    col(
                        "External-IP",
                        "string",
                        "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
                    ),
                    col(
                        "Port(s)",
                        "string",
                        "The list of ports that are exposed by this service.",
                    ),
                    AGE,
                    wide(
                        "Selector",
                        "string",
                        "Route service traffic to pods with label keys and values matching this selector.",
                    ),
                ]
            }
        }
        Res::PersistentVolumes => {
            const {
                &[
                    NAME,
                    col(
                        "Capacity",
                        "string",
                        "capacity is the description of the persistent volume's resources and capacity.",
                    ),
                    col(
                        "Access Modes",
                        "string",
                        "accessModes contains all ways the volume can be mounted.",
                    ),
                    col(
                        "Reclaim Policy",
                        "string",
                        "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.",
                    ),
                    col(
                        "Status",
                        "string",
                        "phase indicates if a volume is available, bound to a claim, or released by a claim.",
                    ),
                    col(
                        "Claim",
                        "string",
                        "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.",
                    ),
                    col("StorageClass", "string", "StorageClass of the pv"),
                    col(
                        "VolumeAttributesClass",
                        "string",
                        "VolumeAttributesClass of the pv",
                    ),
                    col(
                        "Reason",
                        "string",
                        "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.",
                    ),
                    AGE,
                    wide(
                        "VolumeMode",
                        "string",
                        "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.",
                    ),
                ]
            }
        }
        Res::PersistentVolumeClaims => {
            const {
                &[
                    NAME,
                    col(
                        "Status",
                        "string",
                        "phase represents the current phase of PersistentVolumeClaim.",
                    ),
                    col(
                        "Volume",
                        "string",
                        "volumeName is the binding reference to the PersistentVolume backing this claim.",
                    ),
                    col(
                        "Capacity",
                        "string",
                        "capacity represents the actual resources of the underlying volume.",
                    ),
                    col(
                        "Access Modes",
                        "string",
                        "accessModes contains the actual access modes the volume backing the PVC has.",
                    ),
                    col("StorageClass", "string", "StorageClass of the pvc"),
                    col(
                        "VolumeAttributesClass",
                        "string",
                        "VolumeAttributesClass of the pvc",
                    ),
                    AGE,
                    wide(
                        "VolumeMode",
                        "string",
                        "volumeMode defines what type of volume is required by the claim.",
                    ),
                ]
            }
        }
        Res::Deployments => {
            const {
                &[
                    NAME,
                    col("Ready", "string", "Number of the pod with ready state"),
                    col(
                        "Up-to-date",
                        "string",
                        "Total number of non-terminating pods targeted by this deployment that have the desired template spec.",
                    ),
                    col(
                        "Available",
                        "string",
                        "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.",
                    ),
                    AGE,
                    wide("Containers", "string", CONTAINERS_DOC),
                    wide("Images", "string", IMAGES_DOC),
                    wide(
                        "Selector",
                        "string",
                        "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
                    ),
                ]
            }
        }
        Res::ReplicaSets => {
            const {
                &[
                    NAME,
                    col(
                        "Desired",
                        "integer",
                        "Replicas is the number of desired pods.",
                    ),
                    col(
                        "Current",
                        "integer",
                        "Replicas is the most recently observed number of non-terminating pods.",
                    ),
                    col(
                        "Ready",
                        "integer",
                        "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
                    ),
                    AGE,
                    wide("Containers", "string", CONTAINERS_DOC),
                    wide("Images", "string", IMAGES_DOC),
                    wide("Selector", "string", SELECTOR_DOC),
                ]
            }
        }
        Res::StatefulSets => {
            const {
                &[
                    NAME,
                    col("Ready", "string", "Number of the pod with ready state"),
                    AGE,
                    wide("Containers", "string", CONTAINERS_DOC),
                    wide("Images", "string", IMAGES_DOC),
                ]
            }
        }
        Res::DaemonSets => {
            const {
                &[
                    NAME,
                    col(
                        "Desired",
                        "integer",
                        "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).",
                    ),
                    col(
                        "Current",
                        "integer",
                        "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
                    ),
                    col(
                        "Ready",
                        "integer",
                        "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.",
                    ),
                    col(
                        "Up-to-date",
                        "integer",
                        "The total number of nodes that are running updated daemon pod",
                    ),
                    col(
                        "Available",
                        "integer",
                        "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
                    ),
                    col(
                        "Node Selector",
                        "string",
                        "NodeSelector is a selector which must be true for the pod to fit on a node.",
                    ),
                    AGE,
                    wide("Containers", "string", CONTAINERS_DOC),
                    wide("Images", "string", IMAGES_DOC),
                    wide(
                        "Selector",
                        "string",
                        "A label query over pods that are managed by the daemon set.",
                    ),
                ]
            }
        }
        Res::ControllerRevisions => {
            const {
                &[
                    NAME,
                    col("Controller", "string", "Controller of the object"),
                    col(
                        "Revision",
                        "string",
                        "Revision indicates the revision of the state represented by Data.",
                    ),
                    AGE,
                ]
            }
        }
        Res::Jobs => {
            const {
                &[
                    NAME,
                    col("Status", "string", "Status of the job."),
                    col(
                        "Completions",
                        "string",
                        "The desired number of successfully finished pods the job should be run with.",
                    ),
                    col("Duration", "string", "Time required to complete the job."),
                    AGE,
                    wide("Containers", "string", CONTAINERS_DOC),
                    wide("Images", "string", IMAGES_DOC),
                    wide(
                        "Selector",
                        "string",
                        "A label query over pods that should match the pod count.",
                    ),
                ]
            }
        }
        Res::CronJobs => {
            const {
                &[
                    NAME,
                    col(
                        "Schedule",
                        "string",
                        "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
                    ),
                    col(
                        "Timezone",
                        "string",
                        "The time zone name for the given schedule.",
                    ),
                    col(
                        "Suspend",
                        "boolean",
                        "This flag tells the controller to suspend subsequent executions.",
                    ),
                    col(
                        "Active",
                        "integer",
                        "A list of pointers to currently running jobs.",
                    ),
                    col(
                        "Last Schedule",
                        "date",
                        "Information when was the last time the job was successfully scheduled.",
                    ),
                    AGE,
                    wide("Containers", "string", CONTAINERS_DOC),
                    wide("Images", "string", IMAGES_DOC),
                    wide(
                        "Selector",
                        "string",
                        "A label query over pods that should match the pod count.",
                    ),
                ]
            }
        }
        Res::PodDisruptionBudgets => {
            const {
                &[
                    NAME,
                    col(
                        "Min Available",
                        "string",
                        "The minimum number of pods that must be available.",
                    ),
                    col(
                        "Max Unavailable",
                        "string",
                        "The maximum number of pods that may be unavailable.",
                    ),
                    col(
                        "Allowed Disruptions",
                        "integer",
                        "Calculated number of pods that may be disrupted at this time.",
                    ),
                    AGE,
                ]
            }
        }
        Res::Leases => {
            const {
                &[
                    NAME,
                    col(
                        "Holder",
                        "string",
                        "holderIdentity contains the identity of the holder of a current lease.",
                    ),
                    AGE,
                ]
            }
        }
    }
}

/// The row the real server prints for object `v` of `res`, ages measured at `now`.
pub fn row(res: Res, v: &Value, now: Timestamp) -> Row {
    let plain = |cells: Vec<Value>| Row {
        cells,
        conditions: None,
    };
    let name = json!(text(v, "/metadata/name"));
    let age = json!(age(v, "/metadata/creationTimestamp", now));
    match res {
        Res::Pods => pod_row(v, now),
        Res::Nodes => plain(node_cells(v, now)),
        Res::Namespaces => plain(vec![name, json!(text(v, "/status/phase")), age]),
        Res::Events => plain(event_cells(v, now)),
        Res::ConfigMaps => {
            let count = |p: &str| {
                v.pointer(p)
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len())
            };
            plain(vec![
                name,
                json!(count("/data") + count("/binaryData")),
                age,
            ])
        }
        Res::Services => plain(service_cells(v, name, age)),
        Res::PersistentVolumes => plain(pv_cells(v, name, age)),
        Res::PersistentVolumeClaims => plain(pvc_cells(v, name, age)),
        Res::Deployments => {
            let (names, images) = container_cells(v.pointer("/spec/template/spec/containers"));
            let selector = match v.pointer("/spec/selector") {
                None | Some(Value::Null) => String::new(),
                Some(s) => format_label_selector(s).unwrap_or_else(|| "<invalid>".to_owned()),
            };
            plain(vec![
                name,
                json!(format!(
                    "{}/{}",
                    int(v, "/status/readyReplicas"),
                    desired_replicas(v)
                )),
                json!(int(v, "/status/updatedReplicas")),
                json!(int(v, "/status/availableReplicas")),
                age,
                json!(names),
                json!(images),
                json!(selector),
            ])
        }
        Res::ReplicaSets => {
            let (names, images) = container_cells(v.pointer("/spec/template/spec/containers"));
            plain(vec![
                name,
                json!(desired_replicas(v)),
                json!(int(v, "/status/replicas")),
                json!(int(v, "/status/readyReplicas")),
                age,
                json!(names),
                json!(images),
                json!(selector_cell(v.pointer("/spec/selector"))),
            ])
        }
        Res::StatefulSets => {
            let (names, images) = container_cells(v.pointer("/spec/template/spec/containers"));
            plain(vec![
                name,
                json!(format!(
                    "{}/{}",
                    int(v, "/status/readyReplicas"),
                    desired_replicas(v)
                )),
                age,
                json!(names),
                json!(images),
            ])
        }
        Res::DaemonSets => {
            let (names, images) = container_cells(v.pointer("/spec/template/spec/containers"));
            plain(vec![
                name,
                json!(int(v, "/status/desiredNumberScheduled")),
                json!(int(v, "/status/currentNumberScheduled")),
                json!(int(v, "/status/numberReady")),
                json!(int(v, "/status/updatedNumberScheduled")),
                json!(int(v, "/status/numberAvailable")),
                json!(format_labels(v.pointer("/spec/template/spec/nodeSelector"))),
                age,
                json!(names),
                json!(images),
                json!(selector_cell(v.pointer("/spec/selector"))),
            ])
        }
        Res::ControllerRevisions => plain(vec![
            name,
            json!(controller_name(v)),
            json!(int(v, "/revision")),
            age,
        ]),
        Res::Jobs => {
            let (names, images) = container_cells(v.pointer("/spec/template/spec/containers"));
            plain(vec![
                name,
                json!(job_status(v)),
                json!(job_completions(v)),
                json!(job_duration(v, now)),
                age,
                json!(names),
                json!(images),
                json!(selector_cell(v.pointer("/spec/selector"))),
            ])
        }
        Res::CronJobs => {
            let (names, images) =
                container_cells(v.pointer("/spec/jobTemplate/spec/template/spec/containers"));
            let last = match timestamp(v, "/status/lastScheduleTime") {
                Some(t) => human_duration(now.duration_since(t).as_secs()),
                None => "<none>".to_owned(),
            };
            plain(vec![
                name,
                json!(text(v, "/spec/schedule")),
                json!(or_none(text(v, "/spec/timeZone"))),
                // `printBoolPtr`: a string; the API server defaults `suspend` to false.
                json!(
                    if v.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
                        "True"
                    } else {
                        "False"
                    }
                ),
                json!(array(v.pointer("/status/active")).len()),
                json!(last),
                age,
                json!(names),
                json!(images),
                json!(selector_cell(v.pointer("/spec/jobTemplate/spec/selector"))),
            ])
        }
        Res::PodDisruptionBudgets => {
            let bound = |p: &str| match v.pointer(p) {
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::String(s)) => s.clone(),
                _ => "N/A".to_owned(),
            };
            plain(vec![
                name,
                json!(bound("/spec/minAvailable")),
                json!(bound("/spec/maxUnavailable")),
                json!(int(v, "/status/disruptionsAllowed")),
                age,
            ])
        }
        Res::Leases => plain(vec![name, json!(text(v, "/spec/holderIdentity")), age]),
    }
}

/// `translateTimestampSince`: the age of the timestamp at `pointer`, `<unknown>` without one.
fn age(v: &Value, pointer: &str, now: Timestamp) -> String {
    match timestamp(v, pointer) {
        Some(t) => human_duration(now.duration_since(t).as_secs()),
        None => "<unknown>".to_owned(),
    }
}

fn timestamp(v: &Value, pointer: &str) -> Option<Timestamp> {
    v.pointer(pointer)?.as_str()?.parse().ok()
}

/// `duration.HumanDuration` of apimachinery, over whole seconds: the age format kubectl users
/// know (`45s`, `3m20s`, `5h12m`, `3d4h`, `2y10d`).
pub fn human_duration(seconds: i64) -> String {
    // Up to a second in the future is clock skew between machines: "0s".
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{}d", hours / 24),
            h => format!("{}d{h}h", hours / 24),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return match (hours / 24) % 365 {
            0 => format!("{}y", hours / 24 / 365),
            d => format!("{}y{d}d", hours / 24 / 365),
        };
    }
    format!("{}y", hours / 24 / 365)
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn int(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn array(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn or_none(s: &str) -> String {
    if s.is_empty() {
        "<none>".to_owned()
    } else {
        s.to_owned()
    }
}

/// `spec.replicas` as the API server defaults it for apps/v1 (1 when unset).
fn desired_replicas(v: &Value) -> i64 {
    v.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// `layoutContainerCells`: container names and images, comma-separated.
fn container_cells(containers: Option<&Value>) -> (String, String) {
    let cs = array(containers);
    let join = |key: &str| {
        cs.iter()
            .map(|c| c.get(key).and_then(Value::as_str).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(",")
    };
    (join("name"), join("image"))
}

/// `labels.FormatLabels`: `k=v` pairs sorted by key, `<none>` when empty.
fn format_labels(map: Option<&Value>) -> String {
    let Some(m) = map.and_then(Value::as_object) else {
        return "<none>".to_owned();
    };
    let mut pairs: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    or_none(&pairs.join(","))
}

/// `metav1.FormatLabelSelector`: the selector in query syntax, `<none>` when it selects
/// everything or is absent, `<error>` when it is malformed.
fn selector_cell(selector: Option<&Value>) -> String {
    match selector {
        None | Some(Value::Null) => "<none>".to_owned(),
        Some(s) => match format_label_selector(s) {
            Some(text) => or_none(&text),
            None => "<error>".to_owned(),
        },
    }
}

/// A `metav1.LabelSelector` as `labels.Selector.String()` writes it: requirements sorted by
/// key, values sorted; `None` for an operator the API does not know.
fn format_label_selector(selector: &Value) -> Option<String> {
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(m) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or(""))));
        }
    }
    for e in array(selector.get("matchExpressions")) {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let mut values: Vec<&str> = array(e.get("values"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        values.sort_unstable();
        let values = values.join(",");
        let text = match e.get("operator").and_then(Value::as_str) {
            Some("In") => format!("{key} in ({values})"),
            Some("NotIn") => format!("{key} notin ({values})"),
            Some("Exists") => key.to_owned(),
            Some("DoesNotExist") => format!("!{key}"),
            _ => return None,
        };
        reqs.push((key.to_owned(), text));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Some(
        reqs.into_iter()
            .map(|(_, t)| t)
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// `printJob`'s STATUS: the finished condition, else `Suspended` or `Running`.
fn job_status(v: &Value) -> &'static str {
    if condition_true(v, "/status/conditions", "Complete") {
        "Complete"
    } else if condition_true(v, "/status/conditions", "Failed") {
        "Failed"
    } else if condition_true(v, "/status/conditions", "Suspended") {
        "Suspended"
    } else {
        "Running"
    }
}

/// `printJob`'s COMPLETIONS: `succeeded/completions`, or `succeeded/1 of parallelism` for a Job
/// without completions (a work queue).
fn job_completions(v: &Value) -> String {
    let succeeded = int(v, "/status/succeeded");
    match v.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let parallelism = v
                .pointer("/spec/parallelism")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            if parallelism > 1 {
                format!("{succeeded}/1 of {parallelism}")
            } else {
                format!("{succeeded}/1")
            }
        }
    }
}

/// `printJob`'s DURATION: from start to completion (or now while running), empty before start.
fn job_duration(v: &Value, now: Timestamp) -> String {
    let Some(start) = timestamp(v, "/status/startTime") else {
        return String::new();
    };
    let end = timestamp(v, "/status/completionTime").unwrap_or(now);
    human_duration(end.duration_since(start).as_secs())
}

fn condition_true(v: &Value, pointer: &str, kind: &str) -> bool {
    array(v.pointer(pointer)).iter().any(|c| {
        c.get("type").and_then(Value::as_str) == Some(kind)
            && c.get("status").and_then(Value::as_str) == Some("True")
    })
}

/// `printPod`: READY counts ready containers (and started restartable init containers),
/// STATUS is the phase refined by init and container states, RESTARTS says when the last one
/// was.
fn pod_row(v: &Value, now: Timestamp) -> Row {
    let spec_init = array(v.pointer("/spec/initContainers"));
    let restartable = |name: &str| {
        spec_init.iter().any(|c| {
            c.get("name").and_then(Value::as_str) == Some(name)
                && c.get("restartPolicy").and_then(Value::as_str) == Some("Always")
        })
    };
    let total = array(v.pointer("/spec/containers")).len()
        + spec_init
            .iter()
            .filter(|c| c.get("restartPolicy").and_then(Value::as_str) == Some("Always"))
            .count();
    let phase = text(v, "/status/phase");
    let mut reason = match text(v, "/status/reason") {
        "" => phase.to_owned(),
        r => r.to_owned(),
    };
    for c in array(v.pointer("/status/conditions")) {
        if c.get("type").and_then(Value::as_str) == Some("PodScheduled")
            && c.get("reason").and_then(Value::as_str) == Some("SchedulingGated")
        {
            reason = "SchedulingGated".to_owned();
        }
    }
    let conditions = match phase {
        "Succeeded" => Some(
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}]),
        ),
        "Failed" => Some(
            json!([{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]),
        ),
        _ => None,
    };
    let finished_at = |c: &Value| timestamp(c, "/lastState/terminated/finishedAt");
    let (mut restarts, mut restartable_restarts, mut ready) = (0i64, 0i64, 0usize);
    let (mut last_restart, mut last_restartable): (Option<Timestamp>, Option<Timestamp>) =
        (None, None);
    let mut initializing = false;
    for (i, c) in array(v.pointer("/status/initContainerStatuses"))
        .iter()
        .enumerate()
    {
        let count = int(c, "/restartCount");
        restarts += count;
        last_restart = last_restart.max(finished_at(c));
        let name = text(c, "/name");
        if restartable(name) {
            restartable_restarts += count;
            last_restartable = last_restartable.max(finished_at(c));
        }
        let terminated = c.pointer("/state/terminated").filter(|t| t.is_object());
        let waiting_reason = text(c, "/state/waiting/reason");
        if terminated.is_some_and(|t| int(t, "/exitCode") == 0) {
            continue;
        }
        if restartable(name) && c.get("started") == Some(&Value::Bool(true)) {
            if c.get("ready") == Some(&Value::Bool(true)) {
                ready += 1;
            }
            continue;
        }
        reason = if let Some(t) = terminated {
            match (text(t, "/reason"), int(t, "/signal")) {
                ("", 0) => format!("Init:ExitCode:{}", int(t, "/exitCode")),
                ("", signal) => format!("Init:Signal:{signal}"),
                (r, _) => format!("Init:{r}"),
            }
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", spec_init.len())
        };
        initializing = true;
        break;
    }
    if !initializing || condition_true(v, "/status/conditions", "Initialized") {
        restarts = restartable_restarts;
        last_restart = last_restartable;
        let mut has_running = false;
        for c in array(v.pointer("/status/containerStatuses")).iter().rev() {
            restarts += int(c, "/restartCount");
            last_restart = last_restart.max(finished_at(c));
            let terminated = c.pointer("/state/terminated").filter(|t| t.is_object());
            let waiting_reason = text(c, "/state/waiting/reason");
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_owned();
            } else if let Some(t) = terminated {
                reason = match (text(t, "/reason"), int(t, "/signal")) {
                    ("", 0) => format!("ExitCode:{}", int(t, "/exitCode")),
                    ("", signal) => format!("Signal:{signal}"),
                    (r, _) => r.to_owned(),
                };
            } else if c.get("ready") == Some(&Value::Bool(true))
                && c.pointer("/state/running").is_some_and(Value::is_object)
            {
                has_running = true;
                ready += 1;
            }
        }
        // A pod whose last container completed but another still runs is not "Completed".
        if reason == "Completed" && has_running {
            reason = if condition_true(v, "/status/conditions", "Ready") {
                "Running".to_owned()
            } else {
                "NotReady".to_owned()
            };
        }
    }
    let deleting = v
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|d| !d.is_null());
    if deleting && text(v, "/status/reason") == "NodeLost" {
        reason = "Unknown".to_owned();
    } else if deleting && !matches!(phase, "Succeeded" | "Failed") {
        reason = "Terminating".to_owned();
    }
    let restarts = match last_restart {
        Some(t) if restarts != 0 => format!(
            "{restarts} ({} ago)",
            human_duration(now.duration_since(t).as_secs())
        ),
        _ => restarts.to_string(),
    };
    // podIPs is what the printer reads; podIP alone is what older writers set, and the API
    // server's conversion fills podIPs from it.
    let ip = match text(v, "/status/podIPs/0/ip") {
        "" => text(v, "/status/podIP"),
        ip => ip,
    };
    let gates = array(v.pointer("/spec/readinessGates"));
    let gates = if gates.is_empty() {
        "<none>".to_owned()
    } else {
        let met = gates
            .iter()
            .filter(|g| {
                let kind = g.get("conditionType").and_then(Value::as_str).unwrap_or("");
                array(v.pointer("/status/conditions"))
                    .iter()
                    .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
                    .is_some_and(|c| c.get("status").and_then(Value::as_str) == Some("True"))
            })
            .count();
        format!("{met}/{}", gates.len())
    };
    Row {
        cells: vec![
            json!(text(v, "/metadata/name")),
            json!(format!("{ready}/{total}")),
            json!(reason),
            json!(restarts),
            json!(age(v, "/metadata/creationTimestamp", now)),
            json!(or_none(ip)),
            json!(or_none(text(v, "/spec/nodeName"))),
            json!(or_none(text(v, "/status/nominatedNodeName"))),
            json!(gates),
        ],
        conditions,
    }
}

/// `printNode`: STATUS from the Ready condition plus `SchedulingDisabled` when cordoned, ROLES
/// from `node-role.kubernetes.io/<role>` and `kubernetes.io/role` labels.
fn node_cells(v: &Value, now: Timestamp) -> Vec<Value> {
    let mut status: Vec<&str> = Vec::new();
    if let Some(c) = array(v.pointer("/status/conditions"))
        .iter()
        .rev()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
    {
        status.push(match c.get("status").and_then(Value::as_str) {
            Some("True") => "Ready",
            _ => "NotReady",
        });
    }
    if status.is_empty() {
        status.push("Unknown");
    }
    if v.pointer("/spec/unschedulable") == Some(&Value::Bool(true)) {
        status.push("SchedulingDisabled");
    }
    let mut roles: Vec<&str> = v
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(
                    |(k, val)| match k.strip_prefix("node-role.kubernetes.io/") {
                        Some(role) if !role.is_empty() => Some(role),
                        Some(_) => None,
                        None if k == "kubernetes.io/role" => val.as_str().filter(|r| !r.is_empty()),
                        None => None,
                    },
                )
                .collect()
        })
        .unwrap_or_default();
    roles.sort_unstable();
    roles.dedup();
    let address = |kind: &str| {
        array(v.pointer("/status/addresses"))
            .iter()
            .find(|a| a.get("type").and_then(Value::as_str) == Some(kind))
            .and_then(|a| a.get("address").and_then(Value::as_str))
            .unwrap_or("<none>")
            .to_owned()
    };
    let info = |key: &str| match text(v, &format!("/status/nodeInfo/{key}")) {
        "" => "<unknown>".to_owned(),
        s => s.to_owned(),
    };
    vec![
        json!(text(v, "/metadata/name")),
        json!(status.join(",")),
        json!(or_none(&roles.join(","))),
        json!(age(v, "/metadata/creationTimestamp", now)),
        json!(text(v, "/status/nodeInfo/kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

/// `printEvent`: series and singleton events counted, the involved object as `kind/name`.
fn event_cells(v: &Value, now: Timestamp) -> Vec<Value> {
    let first = if timestamp(v, "/firstTimestamp").is_some() {
        age(v, "/firstTimestamp", now)
    } else {
        age(v, "/eventTime", now)
    };
    let mut last = if timestamp(v, "/lastTimestamp").is_some() {
        age(v, "/lastTimestamp", now)
    } else {
        first.clone()
    };
    let mut count = int(v, "/count");
    if v.get("series").is_some_and(Value::is_object) {
        last = age(v, "/series/lastObservedTime", now);
        count = int(v, "/series/count");
    } else if count == 0 {
        // Singleton events of the events.k8s.io API carry no count.
        count = 1;
    }
    let kind = text(v, "/involvedObject/kind").to_lowercase();
    let target = match text(v, "/involvedObject/name") {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let first_non_empty = |a: &str, b: &str| {
        if a.is_empty() {
            b.to_owned()
        } else {
            a.to_owned()
        }
    };
    let component = first_non_empty(text(v, "/source/component"), text(v, "/reportingComponent"));
    let instance = first_non_empty(text(v, "/source/host"), text(v, "/reportingInstance"));
    let source = match (component.is_empty(), instance.is_empty()) {
        (true, _) => "<unknown>".to_owned(),
        (false, true) => component,
        (false, false) => format!("{component}, {instance}"),
    };
    vec![
        json!(last),
        json!(text(v, "/type")),
        json!(text(v, "/reason")),
        json!(target),
        json!(text(v, "/involvedObject/fieldPath")),
        json!(source),
        json!(text(v, "/message").trim()),
        json!(first),
        json!(count),
        json!(text(v, "/metadata/name")),
    ]
}

/// `printService`; the type defaults to ClusterIP as the API server's defaulting sets it.
fn service_cells(v: &Value, name: Value, age: Value) -> Vec<Value> {
    let kind = match text(v, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = match text(v, "/spec/clusterIPs/0") {
        "" => or_none(text(v, "/spec/clusterIP")),
        ip => ip.to_owned(),
    };
    let external: Vec<&str> = array(v.pointer("/spec/externalIPs"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let external = match kind {
        "ClusterIP" | "NodePort" => or_none(&external.join(",")),
        "LoadBalancer" => {
            let mut ips: Vec<&str> = array(v.pointer("/status/loadBalancer/ingress"))
                .iter()
                .filter_map(|i| {
                    i.get("ip")
                        .or_else(|| i.get("hostname"))
                        .and_then(Value::as_str)
                })
                .collect();
            ips.extend(external);
            if ips.is_empty() {
                "<pending>".to_owned()
            } else {
                ips.join(",")
            }
        }
        "ExternalName" => text(v, "/spec/externalName").to_owned(),
        _ => "<unknown>".to_owned(),
    };
    let ports: Vec<String> = array(v.pointer("/spec/ports"))
        .iter()
        .map(|p| {
            let protocol = match text(p, "/protocol") {
                "" => "TCP",
                proto => proto,
            };
            match int(p, "/nodePort") {
                0 => format!("{}/{protocol}", int(p, "/port")),
                node_port => format!("{}:{node_port}/{protocol}", int(p, "/port")),
            }
        })
        .collect();
    vec![
        name,
        json!(kind),
        json!(cluster_ip),
        json!(external),
        json!(or_none(&ports.join(","))),
        age,
        json!(format_labels(v.pointer("/spec/selector"))),
    ]
}

/// `GetAccessModesAsString`: RWO, ROX, RWX, RWOP in that order, each once.
fn access_modes(modes: Option<&Value>) -> String {
    let modes: Vec<&str> = array(modes).iter().filter_map(Value::as_str).collect();
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| modes.contains(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// The storage class as the beta annotation or `spec.storageClassName` names it.
fn storage_class(v: &Value) -> String {
    match text(
        v,
        "/metadata/annotations/volume.beta.kubernetes.io~1storage-class",
    ) {
        "" => text(v, "/spec/storageClassName").to_owned(),
        class => class.to_owned(),
    }
}

fn unset_or(v: &Value, pointer: &str) -> String {
    match v.pointer(pointer).and_then(Value::as_str) {
        Some(s) => s.to_owned(),
        None => "<unset>".to_owned(),
    }
}

fn pv_cells(v: &Value, name: Value, age: Value) -> Vec<Value> {
    let claim = if v.pointer("/spec/claimRef").is_some_and(Value::is_object) {
        format!(
            "{}/{}",
            text(v, "/spec/claimRef/namespace"),
            text(v, "/spec/claimRef/name")
        )
    } else {
        String::new()
    };
    let deleting = v
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|d| !d.is_null());
    let phase = if deleting {
        "Terminating"
    } else {
        text(v, "/status/phase")
    };
    vec![
        name,
        json!(quantity(v.pointer("/spec/capacity/storage"))),
        json!(access_modes(v.pointer("/spec/accessModes"))),
        json!(text(v, "/spec/persistentVolumeReclaimPolicy")),
        json!(phase),
        json!(claim),
        json!(storage_class(v)),
        json!(unset_or(v, "/spec/volumeAttributesClassName")),
        json!(text(v, "/status/reason")),
        age,
        json!(unset_or(v, "/spec/volumeMode")),
    ]
}

fn pvc_cells(v: &Value, name: Value, age: Value) -> Vec<Value> {
    let deleting = v
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|d| !d.is_null());
    let phase = if deleting {
        "Terminating"
    } else {
        text(v, "/status/phase")
    };
    let volume = text(v, "/spec/volumeName");
    // Capacity and access modes are the bound volume's, so only a bound claim shows them.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(v.pointer("/status/capacity/storage")),
            access_modes(v.pointer("/status/accessModes")),
        )
    };
    vec![
        name,
        json!(phase),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(storage_class(v)),
        json!(unset_or(v, "/spec/volumeAttributesClassName")),
        age,
        json!(unset_or(v, "/spec/volumeMode")),
    ]
}

/// A quantity as stored; an absent one prints as the zero quantity.
fn quantity(q: Option<&Value>) -> String {
    match q {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".to_owned(),
    }
}

/// `printControllerRevision`'s controller: `kind.group/name` in lower case, `<none>` without one.
fn controller_name(v: &Value) -> String {
    array(v.pointer("/metadata/ownerReferences"))
        .iter()
        .find(|r| r.get("controller") == Some(&Value::Bool(true)))
        .map_or_else(
            || "<none>".to_owned(),
            |r| {
                let group = text(r, "/apiVersion")
                    .rsplit_once('/')
                    .map_or("", |(g, _)| g);
                let kind = text(r, "/kind");
                let gk = if group.is_empty() {
                    kind.to_owned()
                } else {
                    format!("{kind}.{group}")
                };
                format!("{}/{}", gk.to_lowercase(), text(r, "/name"))
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-12-04T08:00:00Z".parse().expect("timestamp")
    }

    #[test]
    fn ages_read_as_kubectl_prints_them() {
        for (secs, want) in [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (200, "3m20s"),
            (600, "10m"),
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (5 * 3600 + 12 * 60, "5h12m"),
            (47 * 3600, "47h"),
            (3 * 86400 + 4 * 3600, "3d4h"),
            (2 * 86400, "2d"),
            (100 * 86400, "100d"),
            (2 * 365 * 86400 + 10 * 86400, "2y10d"),
            (9 * 365 * 86400, "9y"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}s");
        }
    }

    #[test]
    fn every_kind_prints_one_cell_per_column() {
        let v = json!({"metadata": {"name": "x", "creationTimestamp": "2026-12-04T07:59:00Z"}});
        for res in Res::ALL {
            assert_eq!(
                row(res, &v, now()).cells.len(),
                columns(res).len(),
                "{res:?}"
            );
            assert_eq!(
                columns(res).iter().filter(|c| c.format == "name").count(),
                1,
                "{res:?} has one name column"
            );
        }
    }

    #[test]
    fn a_cordoned_node_is_ready_with_scheduling_disabled() {
        let node = json!({"metadata": {"name": "10.0.1.11", "creationTimestamp": "2026-12-04T07:00:00Z",
                "labels": {"node-role.kubernetes.io/worker": "", "kubernetes.io/role": "gpu", "node-role.kubernetes.io/": "x"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                "addresses": [{"type": "InternalIP", "address": "10.0.1.11"}],
                "nodeInfo": {"kubeletVersion": "v1.32.2-tke.1", "osImage": "TencentOS Server 3.1 (Final)"}}});
        assert_eq!(
            row(Res::Nodes, &node, now()).cells,
            vec![
                json!("10.0.1.11"),
                json!("Ready,SchedulingDisabled"),
                json!("gpu,worker"),
                json!("60m"),
                json!("v1.32.2-tke.1"),
                json!("10.0.1.11"),
                json!("<none>"),
                json!("TencentOS Server 3.1 (Final)"),
                json!("<unknown>"),
                json!("<unknown>"),
            ]
        );
        let not_ready = json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
        assert_eq!(
            row(Res::Nodes, &not_ready, now()).cells[1],
            json!("NotReady")
        );
        assert_eq!(
            row(Res::Nodes, &json!({}), now()).cells[1..3],
            [json!("Unknown"), json!("<none>")]
        );
    }

    /// (case, status, deletionTimestamp, READY, STATUS, RESTARTS)
    type PodCase = (
        &'static str,
        Value,
        Option<&'static str>,
        &'static str,
        &'static str,
        &'static str,
    );

    fn pod_cases() -> Vec<PodCase> {
        vec![
            (
                "pending_without_statuses",
                json!({"phase": "Pending"}),
                None,
                "0/1",
                "Pending",
                "0",
            ),
            (
                "running_and_ready",
                json!({"phase": "Running", "podIP": "172.16.0.9", "containerStatuses": [
                {"name": "web", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2026-12-04T07:00:00Z"}}}]}),
                None,
                "1/1",
                "Running",
                "0",
            ),
            (
                "crash_looping_with_last_restart",
                json!({"phase": "Running", "containerStatuses": [
                {"name": "web", "ready": false, "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2026-12-04T07:55:00Z"}}}]}),
                None,
                "0/1",
                "CrashLoopBackOff",
                "4 (5m ago)",
            ),
            (
                "terminating",
                json!({"phase": "Running"}),
                Some("2026-12-04T08:00:30Z"),
                "0/1",
                "Terminating",
                "0",
            ),
            (
                "succeeded_stays_completed_while_deleting",
                json!({"phase": "Succeeded", "containerStatuses": [
                {"name": "web", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
                Some("2026-12-04T08:00:30Z"),
                "0/1",
                "Completed",
                "0",
            ),
            (
                "waiting_on_an_init_container",
                json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "init", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]}),
                None,
                "0/1",
                "Init:0/1",
                "0",
            ),
            (
                "failed_init_container",
                json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "init", "ready": false, "restartCount": 2, "state": {"terminated": {"exitCode": 3}}}]}),
                None,
                "0/1",
                "Init:ExitCode:3",
                "2",
            ),
            (
                "evicted",
                json!({"phase": "Failed", "reason": "Evicted"}),
                None,
                "0/1",
                "Evicted",
                "0",
            ),
        ]
    }

    #[test]
    fn pod_status_column() {
        for (case, status, deletion, ready, reason, restarts) in pod_cases() {
            let mut pod = json!({"metadata": {"name": "web-1", "creationTimestamp": "2026-12-04T07:00:00Z"},
                "spec": {"containers": [{"name": "web", "image": "nginx"}],
                         "initContainers": [{"name": "init", "image": "busybox"}]},
                "status": status});
            if let Some(d) = deletion {
                pod["metadata"]["deletionTimestamp"] = json!(d);
            }
            let r = row(Res::Pods, &pod, now());
            assert_eq!(
                r.cells[1..4],
                [json!(ready), json!(reason), json!(restarts)],
                "{case}"
            );
            assert_eq!(r.cells[4], json!("60m"), "{case}");
            assert_eq!(
                r.conditions.is_some(),
                matches!(
                    pod["status"]["phase"].as_str(),
                    Some("Succeeded" | "Failed")
                ),
                "{case}"
            );
        }
    }

    #[test]
    fn wide_pod_columns_show_placeholders_until_scheduled() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}],
            "readinessGates": [{"conditionType": "lb/ready"}]},
            "status": {"phase": "Pending", "conditions": [{"type": "lb/ready", "status": "True"}]}});
        let r = row(Res::Pods, &pod, now());
        assert_eq!(
            r.cells[4..],
            [
                json!("<unknown>"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("1/1")
            ]
        );
    }

    #[test]
    fn workloads_and_budgets_print_their_usual_columns() {
        let meta = json!({"name": "web", "creationTimestamp": "2026-12-04T07:58:00Z"});
        let template = json!({"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}, {"name": "log", "image": "fluentbit"}],
            "nodeSelector": {"b": "2", "a": "1"}}});
        let selector = json!({"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}, {"key": "canary", "operator": "DoesNotExist"}]});
        let deploy = json!({"metadata": meta, "spec": {"replicas": 4, "selector": selector, "template": template},
            "status": {"readyReplicas": 3, "updatedReplicas": 4, "availableReplicas": 3}});
        assert_eq!(
            row(Res::Deployments, &deploy, now()).cells,
            vec![
                json!("web"),
                json!("3/4"),
                json!(4),
                json!(3),
                json!("2m"),
                json!("web,log"),
                json!("nginx:1.27,fluentbit"),
                json!("app=web,!canary,tier in (a,b)")
            ]
        );
        let sts = json!({"metadata": meta, "spec": {"template": template}, "status": {"readyReplicas": 1}});
        assert_eq!(
            row(Res::StatefulSets, &sts, now()).cells[..3],
            [json!("web"), json!("1/1"), json!("2m")]
        );
        let ds = json!({"metadata": meta, "spec": {"template": template, "selector": {"matchLabels": {}}},
            "status": {"desiredNumberScheduled": 5, "currentNumberScheduled": 5, "numberReady": 4, "updatedNumberScheduled": 5, "numberAvailable": 4}});
        assert_eq!(
            row(Res::DaemonSets, &ds, now()).cells,
            vec![
                json!("web"),
                json!(5),
                json!(5),
                json!(4),
                json!(5),
                json!(4),
                json!("a=1,b=2"),
                json!("2m"),
                json!("web,log"),
                json!("nginx:1.27,fluentbit"),
                json!("<none>")
            ]
        );
        let pdb = json!({"metadata": meta, "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(
            row(Res::PodDisruptionBudgets, &pdb, now()).cells,
            vec![
                json!("web"),
                json!("50%"),
                json!("N/A"),
                json!(1),
                json!("2m")
            ]
        );
    }

    #[test]
    fn events_name_their_object_and_source() {
        let ev = json!({"metadata": {"name": "n1.abc"}, "involvedObject": {"kind": "Node", "name": "n1"},
            "type": "Normal", "reason": "NodeNotSchedulable", "message": " Node n1 status is now: NodeNotSchedulable\n",
            "source": {"component": "kubelet", "host": "n1"}, "firstTimestamp": "2026-12-04T07:50:00Z",
            "lastTimestamp": "2026-12-04T07:59:00Z", "count": 2});
        assert_eq!(
            row(Res::Events, &ev, now()).cells,
            vec![
                json!("60s"),
                json!("Normal"),
                json!("NodeNotSchedulable"),
                json!("node/n1"),
                json!(""),
                json!("kubelet, n1"),
                json!("Node n1 status is now: NodeNotSchedulable"),
                json!("10m"),
                json!(2),
                json!("n1.abc")
            ]
        );
    }

    #[test]
    fn controller_revisions_name_their_owner_with_its_group() {
        let cr = json!({"metadata": {"name": "ds-1", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "node-exporter", "controller": true}]}, "revision": 3});
        assert_eq!(
            row(Res::ControllerRevisions, &cr, now()).cells[1..3],
            [json!("daemonset.apps/node-exporter"), json!(3)]
        );
    }
}

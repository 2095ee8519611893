//! `headroom` agrees with the practice cluster's scheduler: the pods it says fit nowhere are
//! exactly the ones whose replacements stay Pending after a real `kubectl drain` there, in a table
//! of scenarios (one test each): one per scheduling feature, Jobs, and a mixed one of 282 pods.
//! Both sides go through the product's real paths: a live snapshot by `tke-recycle snapshot`, the
//! bundled policy by `tke-recycle policy check`, the drain by kubectl, the result by another
//! snapshot.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use tke_recycle::sim::scenario::Scenario;
use tke_recycle::sim::{Sim, SimHandle, SimOptions};

use crate::sim_common::kubectl;
use crate::support::RunCli as _;
use crate::support::bin;

/// Four 2-CPU nodes. `big` (1.5 CPU each) fills one replica per node, so the drained node's
/// replica fits nowhere; `pinned` may only run on the drained node (pool=a); `small` fits anywhere.
const BASICS: &str = r#"
name: headroom-agreement-basics
speed: 50
nodes:
  - {lanIp: 10.0.7.11, instanceId: ins-agree0011, cpu: 2000m, memory: 8Gi, labels: {pool: a}}
  - {lanIp: 10.0.7.12, instanceId: ins-agree0012, cpu: 2000m, memory: 8Gi}
  - {lanIp: 10.0.7.13, instanceId: ins-agree0013, cpu: 2000m, memory: 8Gi}
  - {lanIp: 10.0.7.14, instanceId: ins-agree0014, cpu: 2000m, memory: 8Gi}
objects:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: big, namespace: shop}
    spec:
      replicas: 4
      selector: {matchLabels: {app: big}}
      template:
        metadata: {labels: {app: big}}
        spec:
          containers: [{name: big, image: example/big:1, resources: {requests: {cpu: 1500m, memory: 1Gi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: pinned, namespace: shop}
    spec:
      replicas: 1
      selector: {matchLabels: {app: pinned}}
      template:
        metadata: {labels: {app: pinned}}
        spec:
          nodeSelector: {pool: a}
          containers: [{name: pinned, image: example/pinned:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: small, namespace: shop}
    spec:
      replicas: 2
      selector: {matchLabels: {app: small}}
      template:
        metadata: {labels: {app: small}}
        spec:
          containers: [{name: small, image: example/small:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
"#;

/// Topology spread, `DoNotSchedule`. Zones: `.11` alone in z1, `.12`/`.13` in z2, `.14` in z3;
/// every workload has one replica per domain, so one replica sits on the drained `.11`.
/// - `host-spread` (hostname, maxSkew 1): the cordoned `.11` still counts as a domain, now empty,
///   so every other node would be at skew 2: Pending.
/// - `zone-spread` (zone, maxSkew 1): z1 keeps counting with 0 pods: Pending.
/// - `host-honor` (hostname, `nodeTaintsPolicy: Honor`): the cordoned node is no domain: placed.
/// - `host-min-domains` (Honor, `minDomains: 4`): three domains left, so the minimum is 0: Pending.
/// - `host-soft` (hostname, `ScheduleAnyway`): only a preference: placed.
const SPREAD: &str = r#"
name: headroom-agreement-spread
speed: 50
nodes:
  - {lanIp: 10.0.7.11, instanceId: ins-agree0011, cpu: 4000m, memory: 8Gi, labels: {topology.kubernetes.io/zone: z1}}
  - {lanIp: 10.0.7.12, instanceId: ins-agree0012, cpu: 4000m, memory: 8Gi, labels: {topology.kubernetes.io/zone: z2}}
  - {lanIp: 10.0.7.13, instanceId: ins-agree0013, cpu: 4000m, memory: 8Gi, labels: {topology.kubernetes.io/zone: z2}}
  - {lanIp: 10.0.7.14, instanceId: ins-agree0014, cpu: 4000m, memory: 8Gi, labels: {topology.kubernetes.io/zone: z3}}
objects:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: host-spread, namespace: shop}
    spec:
      replicas: 4
      selector: {matchLabels: {app: host-spread}}
      template:
        metadata: {labels: {app: host-spread}}
        spec:
          topologySpreadConstraints:
            - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: host-spread}}}
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: zone-spread, namespace: shop}
    spec:
      replicas: 3
      selector: {matchLabels: {app: zone-spread}}
      template:
        metadata: {labels: {app: zone-spread}}
        spec:
          topologySpreadConstraints:
            - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: zone-spread}}}
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: host-honor, namespace: shop}
    spec:
      replicas: 4
      selector: {matchLabels: {app: host-honor}}
      template:
        metadata: {labels: {app: host-honor}}
        spec:
          topologySpreadConstraints:
            - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Honor, labelSelector: {matchLabels: {app: host-honor}}}
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: host-min-domains, namespace: shop}
    spec:
      replicas: 4
      selector: {matchLabels: {app: host-min-domains}}
      template:
        metadata: {labels: {app: host-min-domains}}
        spec:
          topologySpreadConstraints:
            - {maxSkew: 1, minDomains: 4, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Honor, labelSelector: {matchLabels: {app: host-min-domains}}}
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: host-soft, namespace: shop}
    spec:
      replicas: 4
      selector: {matchLabels: {app: host-soft}}
      template:
        metadata: {labels: {app: host-soft}}
        spec:
          topologySpreadConstraints:
            - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: host-soft}}}
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
"#;

/// Required pod affinity. `agent` is a DaemonSet of pool `a`, which is only the drained `.11`;
/// `db` runs on `.12` (pool `b`). Zones: `.11`/`.12` z1, `.13`/`.14` z2.
/// - `follow-agent` (hostname affinity to `agent`): the agent stays on the cordoned node, no other
///   node runs one: Pending.
/// - `follow-db` (zone affinity to `db`, 2 replicas): z1 keeps `.12` with `db`: placed.
const AFFINITY: &str = r#"
name: headroom-agreement-affinity
speed: 50
nodes:
  - {lanIp: 10.0.7.11, instanceId: ins-agree0011, cpu: 4000m, memory: 8Gi, labels: {pool: a, topology.kubernetes.io/zone: z1}}
  - {lanIp: 10.0.7.12, instanceId: ins-agree0012, cpu: 4000m, memory: 8Gi, labels: {pool: b, topology.kubernetes.io/zone: z1}}
  - {lanIp: 10.0.7.13, instanceId: ins-agree0013, cpu: 4000m, memory: 8Gi, labels: {topology.kubernetes.io/zone: z2}}
  - {lanIp: 10.0.7.14, instanceId: ins-agree0014, cpu: 4000m, memory: 8Gi, labels: {topology.kubernetes.io/zone: z2}}
objects:
  - apiVersion: apps/v1
    kind: DaemonSet
    metadata: {name: agent, namespace: shop}
    spec:
      selector: {matchLabels: {app: agent}}
      template:
        metadata: {labels: {app: agent}}
        spec:
          nodeSelector: {pool: a}
          containers: [{name: c, image: example/agent:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: db, namespace: shop}
    spec:
      replicas: 1
      selector: {matchLabels: {app: db}}
      template:
        metadata: {labels: {app: db}}
        spec:
          nodeSelector: {pool: b}
          containers: [{name: c, image: example/db:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: follow-agent, namespace: shop}
    spec:
      replicas: 1
      selector: {matchLabels: {app: follow-agent}}
      template:
        metadata: {labels: {app: follow-agent}}
        spec:
          affinity:
            podAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                - {labelSelector: {matchLabels: {app: agent}}, topologyKey: kubernetes.io/hostname}
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: follow-db, namespace: shop}
    spec:
      replicas: 2
      selector: {matchLabels: {app: follow-db}}
      template:
        metadata: {labels: {app: follow-db}}
        spec:
          affinity:
            podAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                - {labelSelector: {matchLabels: {app: db}}, topologyKey: topology.kubernetes.io/zone}
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
"#;

/// Required anti-affinity of the pods that stay (the other direction). Zones: `.11`/`.12` z1,
/// `.13`/`.14` z2; `.12`-`.14` are `guard: "yes"`, `.12` is pool `b`, `.13` pool `g`.
/// - `noisy`: the `infra/host-guard` DaemonSet pods on `.12`-`.14` refuse it on their hosts
///   (a term naming the `shop` namespace), so it starts on `.11` and has nowhere to go: Pending.
/// - `zoned` (node affinity `pool NotIn [b]`): `infra/zone-guard` on `.13` refuses it in all of
///   z2, `.12` is pool `b`: Pending.
/// - `calm`: selected by no guard: placed.
const ANTI_AFFINITY: &str = r#"
name: headroom-agreement-anti-affinity
speed: 50
nodes:
  - {lanIp: 10.0.7.11, instanceId: ins-agree0011, cpu: 4000m, memory: 8Gi, labels: {topology.kubernetes.io/zone: z1}}
  - {lanIp: 10.0.7.12, instanceId: ins-agree0012, cpu: 4000m, memory: 8Gi, labels: {guard: "yes", pool: b, topology.kubernetes.io/zone: z1}}
  - {lanIp: 10.0.7.13, instanceId: ins-agree0013, cpu: 4000m, memory: 8Gi, labels: {guard: "yes", pool: g, topology.kubernetes.io/zone: z2}}
  - {lanIp: 10.0.7.14, instanceId: ins-agree0014, cpu: 4000m, memory: 8Gi, labels: {guard: "yes", topology.kubernetes.io/zone: z2}}
objects:
  - apiVersion: apps/v1
    kind: DaemonSet
    metadata: {name: host-guard, namespace: infra}
    spec:
      selector: {matchLabels: {app: host-guard}}
      template:
        metadata: {labels: {app: host-guard}}
        spec:
          nodeSelector: {guard: "yes"}
          affinity:
            podAntiAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                - {labelSelector: {matchLabels: {app: noisy}}, namespaces: [shop], topologyKey: kubernetes.io/hostname}
          containers: [{name: c, image: example/guard:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: zone-guard, namespace: infra}
    spec:
      replicas: 1
      selector: {matchLabels: {app: zone-guard}}
      template:
        metadata: {labels: {app: zone-guard}}
        spec:
          nodeSelector: {pool: g}
          affinity:
            podAntiAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                - {labelSelector: {matchLabels: {app: zoned}}, namespaces: [shop], topologyKey: topology.kubernetes.io/zone}
          containers: [{name: c, image: example/guard:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: noisy, namespace: shop}
    spec:
      replicas: 1
      selector: {matchLabels: {app: noisy}}
      template:
        metadata: {labels: {app: noisy}}
        spec:
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: zoned, namespace: shop}
    spec:
      replicas: 1
      selector: {matchLabels: {app: zoned}}
      template:
        metadata: {labels: {app: zoned}}
        spec:
          affinity:
            nodeAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                nodeSelectorTerms:
                  - matchExpressions: [{key: pool, operator: NotIn, values: [b]}]
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: calm, namespace: shop}
    spec:
      replicas: 4
      selector: {matchLabels: {app: calm}}
      template:
        metadata: {labels: {app: calm}}
        spec:
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
"#;

/// Priority and preemption. `.11` (4 CPU) is the only node with room for 1.5 CPU at the start:
/// `keeper` (priority 2000, 0.9 CPU) goes first and leaves `.14` with 1.1 CPU free, then `low`
/// (priority 0, 1.1 CPU, pool `b`: `.12`-`.14`) fills the emptier `.12` and `.13`.
/// - `critical` (priority 1000, 1.5 CPU) fits nowhere after the drain, so it preempts `low` on
///   `.12` (equal candidates, lowest name); `low`'s replacement goes to `.14`: placed.
/// - `never` (priority 1000, 1.5 CPU, `preemptionPolicy: Never`): Pending.
const PREEMPTION: &str = r#"
name: headroom-agreement-preemption
speed: 50
nodes:
  - {lanIp: 10.0.7.11, instanceId: ins-agree0011, cpu: 4000m, memory: 8Gi}
  - {lanIp: 10.0.7.12, instanceId: ins-agree0012, cpu: 2000m, memory: 8Gi, labels: {pool: b}}
  - {lanIp: 10.0.7.13, instanceId: ins-agree0013, cpu: 2000m, memory: 8Gi, labels: {pool: b}}
  - {lanIp: 10.0.7.14, instanceId: ins-agree0014, cpu: 2000m, memory: 8Gi, labels: {pool: b, keeper: "yes"}}
objects:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: keeper, namespace: shop}
    spec:
      replicas: 1
      selector: {matchLabels: {app: keeper}}
      template:
        metadata: {labels: {app: keeper}}
        spec:
          priority: 2000
          nodeSelector: {keeper: "yes"}
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 900m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: low, namespace: shop}
    spec:
      replicas: 2
      selector: {matchLabels: {app: low}}
      template:
        metadata: {labels: {app: low}}
        spec:
          nodeSelector: {pool: b}
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 1100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: critical, namespace: shop}
    spec:
      replicas: 1
      selector: {matchLabels: {app: critical}}
      template:
        metadata: {labels: {app: critical}}
        spec:
          priority: 1000
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 1500m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: never, namespace: shop}
    spec:
      replicas: 1
      selector: {matchLabels: {app: never}}
      template:
        metadata: {labels: {app: never}}
        spec:
          priority: 1000
          preemptionPolicy: Never
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 1500m, memory: 128Mi}}}]
"#;

/// Several features at once on eight 8-CPU nodes, 282 pods. Every workload but `filler`,
/// `guard` and `shy` has one replica per node (hostname spread, or capacity for `big`), so one
/// replica of each sits on the drained `.11`.
/// - `filler` (232 small replicas, ~29 per node) and `honor-spread` (`nodeTaintsPolicy: Honor`)
///   find room: placed.
/// - `big` (5 CPU) fits on no node that already runs a `big`: Pending.
/// - `host-spread` (hostname, maxSkew 1): the cordoned `.11` still counts as an empty domain:
///   Pending.
/// - `solo` (anti-affinity with itself, hostname): every other node runs one: Pending.
/// - `follow` (affinity to `anchor`, hostname): every other node runs an `anchor`: placed.
/// - `shy` may only run in pool `p` (`.11`, `.12`); `guard`, which stays on `.12`, refuses it
///   there (anti-affinity of a pod that stays): Pending.
const MIXED: &str = r#"
name: headroom-agreement-mixed
speed: 50
nodes:
  - {lanIp: 10.0.7.11, instanceId: ins-agree0011, cpu: 8000m, memory: 32Gi, labels: {pool: p}}
  - {lanIp: 10.0.7.12, instanceId: ins-agree0012, cpu: 8000m, memory: 32Gi, labels: {pool: p, guard: "yes"}}
  - {lanIp: 10.0.7.13, instanceId: ins-agree0013, cpu: 8000m, memory: 32Gi}
  - {lanIp: 10.0.7.14, instanceId: ins-agree0014, cpu: 8000m, memory: 32Gi}
  - {lanIp: 10.0.7.15, instanceId: ins-agree0015, cpu: 8000m, memory: 32Gi}
  - {lanIp: 10.0.7.16, instanceId: ins-agree0016, cpu: 8000m, memory: 32Gi}
  - {lanIp: 10.0.7.17, instanceId: ins-agree0017, cpu: 8000m, memory: 32Gi}
  - {lanIp: 10.0.7.18, instanceId: ins-agree0018, cpu: 8000m, memory: 32Gi}
objects:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: filler, namespace: shop}
    spec:
      replicas: 232
      selector: {matchLabels: {app: filler}}
      template:
        metadata: {labels: {app: filler}}
        spec:
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 20m, memory: 32Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: big, namespace: shop}
    spec:
      replicas: 8
      selector: {matchLabels: {app: big}}
      template:
        metadata: {labels: {app: big}}
        spec:
          containers: [{name: c, image: example/big:1, resources: {requests: {cpu: 5000m, memory: 1Gi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: host-spread, namespace: shop}
    spec:
      replicas: 8
      selector: {matchLabels: {app: host-spread}}
      template:
        metadata: {labels: {app: host-spread}}
        spec:
          topologySpreadConstraints:
            - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: host-spread}}}
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: honor-spread, namespace: shop}
    spec:
      replicas: 8
      selector: {matchLabels: {app: honor-spread}}
      template:
        metadata: {labels: {app: honor-spread}}
        spec:
          topologySpreadConstraints:
            - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Honor, labelSelector: {matchLabels: {app: honor-spread}}}
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: solo, namespace: shop}
    spec:
      replicas: 8
      selector: {matchLabels: {app: solo}}
      template:
        metadata: {labels: {app: solo}}
        spec:
          affinity:
            podAntiAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                - {labelSelector: {matchLabels: {app: solo}}, topologyKey: kubernetes.io/hostname}
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: anchor, namespace: shop}
    spec:
      replicas: 8
      selector: {matchLabels: {app: anchor}}
      template:
        metadata: {labels: {app: anchor}}
        spec:
          topologySpreadConstraints:
            - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Honor, labelSelector: {matchLabels: {app: anchor}}}
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: follow, namespace: shop}
    spec:
      replicas: 8
      selector: {matchLabels: {app: follow}}
      template:
        metadata: {labels: {app: follow}}
        spec:
          topologySpreadConstraints:
            - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Honor, labelSelector: {matchLabels: {app: follow}}}
          affinity:
            podAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                - {labelSelector: {matchLabels: {app: anchor}}, topologyKey: kubernetes.io/hostname}
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: guard, namespace: shop}
    spec:
      replicas: 1
      selector: {matchLabels: {app: guard}}
      template:
        metadata: {labels: {app: guard}}
        spec:
          nodeSelector: {guard: "yes"}
          affinity:
            podAntiAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                - {labelSelector: {matchLabels: {app: shy}}, topologyKey: kubernetes.io/hostname}
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: shy, namespace: shop}
    spec:
      replicas: 1
      selector: {matchLabels: {app: shy}}
      template:
        metadata: {labels: {app: shy}}
        spec:
          nodeSelector: {pool: p}
          containers: [{name: c, image: example/c:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
"#;

/// Jobs. Four 2-CPU nodes; the CronJob `nightly`'s Job runs four 1.5-CPU pods, one per node by
/// capacity, so the one on the drained node is re-created by the Job controller and fits
/// nowhere: Pending, under the CronJob. The bare Job `etl` has small pods: placed.
const JOBS: &str = r#"
name: headroom-agreement-jobs
speed: 50
nodes:
  - {lanIp: 10.0.7.11, instanceId: ins-agree0011, cpu: 2000m, memory: 8Gi}
  - {lanIp: 10.0.7.12, instanceId: ins-agree0012, cpu: 2000m, memory: 8Gi}
  - {lanIp: 10.0.7.13, instanceId: ins-agree0013, cpu: 2000m, memory: 8Gi}
  - {lanIp: 10.0.7.14, instanceId: ins-agree0014, cpu: 2000m, memory: 8Gi}
objects:
  - apiVersion: batch/v1
    kind: CronJob
    metadata: {name: nightly, namespace: shop, uid: 8f0c7d2e-0000-4000-8000-00000000a401}
    spec:
      schedule: "0 3 * * *"
      # No Job of the controller's own beside the given one (the test counts pods), whatever the
      # time of day: at speed 50 a test run spans a quarter of a simulated hour.
      suspend: true
      jobTemplate:
        spec:
          parallelism: 4
          template:
            metadata: {labels: {app: nightly}}
            spec:
              restartPolicy: Never
              containers: [{name: c, image: example/report:1, resources: {requests: {cpu: 1500m, memory: 128Mi}}}]
  - apiVersion: batch/v1
    kind: Job
    metadata:
      name: nightly-29000000
      namespace: shop
      uid: 8f0c7d2e-0000-4000-8000-00000000a402
      ownerReferences:
        - {apiVersion: batch/v1, kind: CronJob, name: nightly, uid: 8f0c7d2e-0000-4000-8000-00000000a401, controller: true, blockOwnerDeletion: true}
    spec:
      parallelism: 4
      template:
        metadata: {labels: {app: nightly}}
        spec:
          restartPolicy: Never
          containers: [{name: c, image: example/report:1, resources: {requests: {cpu: 1500m, memory: 128Mi}}}]
  - apiVersion: batch/v1
    kind: Job
    metadata: {name: etl, namespace: shop}
    spec:
      parallelism: 4
      template:
        metadata: {labels: {app: etl}}
        spec:
          restartPolicy: Never
          containers: [{name: c, image: example/etl:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
"#;

const TARGET: &str = "10.0.7.11";

fn snapshot(sim: &SimHandle, path: &std::path::Path) -> Value {
    let out = bin()
        .args(["snapshot", "-o"])
        .arg(path)
        .arg("--kubeconfig")
        .arg(&sim.kubeconfig)
        .run_cli()
        .expect("binary runs");
    assert!(
        out.status.success(),
        "snapshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("snapshot written"))
        .expect("snapshot JSON")
}

/// `namespace/Kind/name` of a projected pod's owner.
fn owner_of(pod: &Value) -> String {
    let kind = match &pod["owner"]["kind"] {
        Value::String(k) => k.clone(),
        // `other("CronJob")` and the like.
        Value::Object(o) => o
            .get("Other")
            .and_then(Value::as_str)
            .map_or_else(|| Value::Object(o.clone()).to_string(), str::to_owned),
        other => other.to_string(),
    };
    format!(
        "{}/{kind}/{}",
        pod["namespace"].as_str().unwrap_or(""),
        pod["owner"]["name"].as_str().unwrap_or("")
    )
}

fn count(owners: impl Iterator<Item = String>) -> BTreeMap<String, usize> {
    owners.fold(BTreeMap::new(), |mut m, o| {
        *m.entry(o).or_default() += 1;
        m
    })
}

/// One scenario of the agreement table: the practice cluster, the node drained, and the Pending
/// replacements per workload (`namespace/Kind/name`) it is built to produce.
struct Row {
    scenario: &'static str,
    target: &'static str,
    expected: &'static [(&'static str, usize)],
}

/// Headroom's prediction on a live snapshot, then a real `kubectl drain`, then the Pending pods:
/// both must equal the row's expectation, workload by workload.
async fn agree(row: &Row) {
    let scenario = Scenario::from_yaml(row.scenario).expect("scenario parses");
    let name = scenario.name.clone().unwrap_or_default();
    let sim = Sim::start(scenario, SimOptions::default())
        .await
        .expect("practice cluster starts");
    assert!(
        sim.wait_until(Duration::from_secs(30), |s| s.settled())
            .await,
        "{name}: scenario settles"
    );
    let dir = tempfile::tempdir().expect("tempdir");

    // Before: what headroom predicts.
    let before_path = dir.path().join("before.json");
    let before = snapshot(&sim, &before_path);
    let out = bin()
        .args([
            "policy",
            "check",
            "--no-bundled",
            "--policy",
            "headroom",
            "-o",
            "json",
            "--node",
            row.target,
        ])
        .arg("--snapshot")
        .arg(&before_path)
        .run_cli()
        .expect("binary runs");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let pods_before: BTreeMap<String, &Value> = before["pods"]
        .as_array()
        .expect("pods")
        .iter()
        .map(|p| {
            (
                format!(
                    "{}/{}",
                    p["namespace"].as_str().unwrap_or(""),
                    p["name"].as_str().unwrap_or("")
                ),
                p,
            )
        })
        .collect();
    let predicted = count(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["code"] == "headroom.unschedulable")
            .map(|f| {
                let key = format!(
                    "{}/{}",
                    f["subject"]["namespace"].as_str().unwrap_or(""),
                    f["subject"]["name"].as_str().unwrap_or("")
                );
                owner_of(
                    pods_before
                        .get(&key)
                        .unwrap_or_else(|| panic!("{name}: finding about unknown pod {key}")),
                )
            }),
    );
    let expected: BTreeMap<String, usize> = row
        .expected
        .iter()
        .map(|(w, n)| ((*w).to_owned(), *n))
        .collect();
    assert_eq!(
        predicted, expected,
        "{name}: the scenario is built so that exactly these fit nowhere: {report}"
    );

    // The real drain, by kubectl.
    let drained = kubectl(
        &sim,
        &[
            "drain",
            row.target,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=60s",
        ],
        Duration::from_secs(90),
    )
    .await;
    assert!(
        drained.success,
        "{name}: drain failed:\n{}\n{}",
        drained.stdout, drained.stderr
    );
    assert!(
        sim.wait_until(Duration::from_secs(30), |s| s.settled())
            .await,
        "{name}: replacements settle"
    );

    // After: the pods the scheduler could not place.
    let after = snapshot(&sim, &dir.path().join("after.json"));
    let observed = count(
        after["pods"]
            .as_array()
            .expect("pods")
            .iter()
            .filter(|p| p["phase"] == "Pending" && p["node_name"].is_null())
            .map(owner_of),
    );
    // The agreement table of the closing note: `cargo test ... headroom_agreement -- --nocapture`.
    eprintln!(
        "agreement {name}: {} pods, predicted {predicted:?}, observed {observed:?}",
        pods_before.len()
    );
    assert_eq!(
        observed, predicted,
        "{name}: headroom and the scheduler disagree"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basics_resources_and_node_selector() {
    agree(&Row {
        scenario: BASICS,
        target: TARGET,
        expected: &[("shop/Deployment/big", 1), ("shop/Deployment/pinned", 1)],
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_spread_do_not_schedule() {
    agree(&Row {
        scenario: SPREAD,
        target: TARGET,
        expected: &[
            ("shop/Deployment/host-min-domains", 1),
            ("shop/Deployment/host-spread", 1),
            ("shop/Deployment/zone-spread", 1),
        ],
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_pod_affinity() {
    agree(&Row {
        scenario: AFFINITY,
        target: TARGET,
        expected: &[("shop/Deployment/follow-agent", 1)],
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anti_affinity_of_pods_that_stay() {
    agree(&Row {
        scenario: ANTI_AFFINITY,
        target: TARGET,
        expected: &[("shop/Deployment/noisy", 1), ("shop/Deployment/zoned", 1)],
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priority_and_preemption() {
    agree(&Row {
        scenario: PREEMPTION,
        target: TARGET,
        expected: &[("shop/Deployment/never", 1)],
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_few_hundred_pods() {
    agree(&Row {
        scenario: MIXED,
        target: TARGET,
        expected: &[
            ("shop/Deployment/big", 1),
            ("shop/Deployment/host-spread", 1),
            ("shop/Deployment/shy", 1),
            ("shop/Deployment/solo", 1),
        ],
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_and_cron_jobs() {
    agree(&Row {
        scenario: JOBS,
        target: TARGET,
        expected: &[("shop/CronJob/nightly", 1)],
    })
    .await;
}

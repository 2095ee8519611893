// The read-only cluster a policy queries.
//
// `clusterView(queries)` wraps either the component's real imports
// (`import * as cluster from 'tke:recycle/cluster@0.1.0'`) or a `FakeCluster`, which answers the
// same queries with the same JavaScript shapes, so decision code is tested natively under node.
//
// How componentize-js 0.23 / jco map the WIT to JavaScript (checked against the host):
// - functions and record fields are camelCase (`pods-on-node` -> `podsOnNode`, `node-name` ->
//   `nodeName`); interfaces are imported as `tke:recycle/cluster@0.1.0`;
// - enums are their kebab-case case names as strings (`'running'`, `'no-schedule'`);
// - variants are `{tag: 'daemon-set'}` / `{tag: 'other', val: 'Rollout'}` (a CronJob's pods, whose
//   Job the host resolves to the CronJob, are `{tag: 'other', val: 'CronJob'}`);
// - `option<T>` is the value or `undefined` (the lowering also accepts `null`);
// - `u64`/`s64` are BigInt; `u32`, `s32`, `u8` are numbers;
// - `list<u32>` is a Uint32Array, `list<u8>` a Uint8Array, `list<u64>` a BigUint64Array;
// - an export returning `result<T, string>` returns T for ok; throwing a *string* makes the err.
//   Throwing anything else (an Error) cannot be lowered as the string and the component traps.

import { decodeNodeTable } from './node-table.js';
import { selectorMatches, podIsFinished } from './selectors.js';

/**
 * The cluster queries for decision code: `nodes()` decoded into node summaries, the others passed
 * through. `queries` is the imported `tke:recycle/cluster` module or a `FakeCluster`.
 */
export function clusterView(queries) {
  return {
    info: () => queries.info(),
    /** Every node summary, sorted by name (the node table decoded). */
    nodes: () => decodeNodeTable(queries.nodes()),
    /** The raw node table, for code that wants the columns. */
    nodeTable: () => queries.nodes(),
    node: (name) => queries.node(name) ?? undefined,
    podsOnNode: (node) => queries.podsOnNode(node),
    podsMatching: (namespace, selector) => queries.podsMatching(namespace, selector),
    nodesWithPodsMatching: (namespaces, selector) => queries.nodesWithPodsMatching(namespaces, selector),
    podsWithAntiAffinityMatching: (namespace, labels) => queries.podsWithAntiAffinityMatching(namespace, labels),
    pdbsCovering: (pods) => queries.pdbsCovering(pods),
    findWorkload: (namespace, kind, name) => queries.findWorkload(namespace, kind, name) ?? undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// The snapshot file (serde JSON of the WIT records) -> the shapes the component sees.

/** `NoSchedule` -> `no-schedule`; kebab-case passes through. */
function kebab(name) {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

const big = (v) => BigInt(v ?? 0);
const opt = (v, f = (x) => x) => (v == null ? undefined : f(v));

/** A serde enum-with-payload (`"Deployment"`, `{"Other": "Rollout"}`) -> `{tag, val}`. */
function variant(v, payload = {}) {
  if (typeof v === 'string') return { tag: kebab(v) };
  if (v && typeof v === 'object' && 'tag' in v) return v;
  const [[name, val]] = Object.entries(v);
  const tag = kebab(name);
  return { tag, val: payload[tag] ? payload[tag](val) : val };
}

const toLabel = (l) => ({ key: l.key, value: l.value });

function toResources(r) {
  return {
    cpuMillis: big(r.cpu_millis),
    memoryBytes: big(r.memory_bytes),
    pods: big(r.pods),
    ephemeralStorageBytes: big(r.ephemeral_storage_bytes),
    extended: (r.extended ?? []).map((e) => ({ name: e.name, amount: big(e.amount) })),
  };
}

const toRequirement = (r) => ({ key: r.key, operator: kebab(r.operator), values: [...r.values] });

function toSelector(s) {
  return {
    matchLabels: (s.match_labels ?? []).map(toLabel),
    matchExpressions: (s.match_expressions ?? []).map(toRequirement),
  };
}

const toAffinityTerm = (t) => ({
  selector: toSelector(t.selector),
  namespaces: [...(t.namespaces ?? [])],
  topologyKey: t.topology_key,
});

const toTaint = (t) => ({ key: t.key, value: t.value, effect: kebab(t.effect) });

function toNode(n) {
  return {
    name: n.name,
    instanceId: opt(n.instance_id),
    internalIp: opt(n.internal_ip),
    labels: (n.labels ?? []).map(toLabel),
    taints: (n.taints ?? []).map(toTaint),
    unschedulable: Boolean(n.unschedulable),
    ready: Boolean(n.ready),
    allocatable: toResources(n.allocatable),
  };
}

function toPod(p) {
  return {
    namespace: p.namespace,
    name: p.name,
    uid: p.uid,
    nodeName: opt(p.node_name),
    phase: kebab(p.phase),
    ready: Boolean(p.ready),
    terminating: Boolean(p.terminating),
    labels: (p.labels ?? []).map(toLabel),
    owner: opt(p.owner, (o) => ({ kind: variant(o.kind), name: o.name })),
    mirror: Boolean(p.mirror),
    priority: p.priority ?? 0,
    // Optional in the contract: absent (older snapshot files) means the default, true.
    preempts: opt(p.preempts),
    requests: toResources(p.requests),
    nodeSelector: (p.node_selector ?? []).map(toLabel),
    requiredNodeAffinity: (p.required_node_affinity ?? []).map((t) => ({
      matchExpressions: (t.match_expressions ?? []).map(toRequirement),
      matchFields: (t.match_fields ?? []).map(toRequirement),
    })),
    tolerations: (p.tolerations ?? []).map((t) => ({
      key: opt(t.key),
      operator: kebab(t.operator),
      value: opt(t.value),
      effect: opt(t.effect, kebab),
    })),
    requiredAntiAffinity: (p.required_anti_affinity ?? []).map(toAffinityTerm),
    // Optional in the contract (absent from older snapshot files).
    requiredAffinity: opt(p.required_affinity, (terms) => terms.map(toAffinityTerm)),
    topologySpread: opt(p.topology_spread, (constraints) =>
      constraints.map((c) => ({
        maxSkew: c.max_skew,
        topologyKey: c.topology_key,
        whenUnsatisfiable: kebab(c.when_unsatisfiable),
        selector: toSelector(c.selector),
        minDomains: opt(c.min_domains),
        nodeAffinityPolicy: kebab(c.node_affinity_policy ?? 'Honor'),
        nodeTaintsPolicy: kebab(c.node_taints_policy ?? 'Ignore'),
      })),
    ),
    volumes: (p.volumes ?? []).map((v) => ({
      name: v.name,
      source: variant(v.source, {
        'empty-dir': (e) => ({ inMemory: Boolean(e.in_memory), sizeLimitBytes: opt(e.size_limit_bytes, big) }),
        'persistent-volume-claim': (c) => ({
          name: c.name,
          storageClass: opt(c.storage_class),
          pinnedNode: opt(c.pinned_node),
        }),
      }),
    })),
    terminationGraceSeconds: big(p.termination_grace_seconds),
  };
}

function toPdb(p) {
  return {
    namespace: p.namespace,
    name: p.name,
    selector: toSelector(p.selector),
    minAvailable: opt(p.min_available, (v) => variant(v)),
    maxUnavailable: opt(p.max_unavailable, (v) => variant(v)),
    disruptionsAllowed: p.disruptions_allowed,
    currentHealthy: p.current_healthy,
    desiredHealthy: p.desired_healthy,
    expectedPods: p.expected_pods,
    unhealthyPodEvictionPolicy: kebab(p.unhealthy_pod_eviction_policy ?? 'IfHealthyBudget'),
  };
}

function toWorkload(w) {
  return {
    namespace: w.namespace,
    kind: variant(w.kind),
    name: w.name,
    replicas: w.replicas,
    readyReplicas: w.ready_replicas,
    selector: toSelector(w.selector),
  };
}

const sameKind = (a, b) => a.tag === b.tag && (a.tag !== 'other' || a.val === b.val);

/** Sum of the requests of the unfinished pods, with `pods` counting them (as the host does). */
function requestedOn(pods) {
  const r = { cpuMillis: 0n, memoryBytes: 0n, pods: 0n, ephemeralStorageBytes: 0n, extended: [] };
  for (const p of pods) {
    if (podIsFinished(p)) continue;
    r.cpuMillis += p.requests.cpuMillis;
    r.memoryBytes += p.requests.memoryBytes;
    r.ephemeralStorageBytes += p.requests.ephemeralStorageBytes;
    r.pods += 1n;
    for (const e of p.requests.extended) {
      const found = r.extended.find((x) => x.name === e.name);
      if (found) found.amount += e.amount;
      else r.extended.push({ name: e.name, amount: e.amount });
    }
  }
  r.extended.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return r;
}

/** Encode node summaries as a `node-table`, exactly as the host lays it out. */
export function encodeNodeTable(summaries) {
  const index = new Map([['', 0]]);
  const parts = [''];
  const ends = [0];
  let bytes = 0;
  const encoder = new TextEncoder();
  const intern = (s) => {
    let i = index.get(s);
    if (i === undefined) {
      i = ends.length;
      index.set(s, i);
      parts.push(s);
      bytes += encoder.encode(s).length;
      ends.push(bytes);
    }
    return i;
  };
  // A present empty string needs its own index (0 means absent).
  const present = (s) => {
    if (s !== '') return intern(s);
    let i = index.get('\u0000present-empty');
    if (i === undefined) {
      i = ends.length;
      index.set('\u0000present-empty', i);
      ends.push(bytes);
    }
    return i;
  };
  const cols = () => ({ cpu: [], mem: [], pods: [], eph: [], ends: [], name: [], amount: [] });
  const col = { name: [], id: [], ip: [], flags: [], lEnds: [], lKey: [], lVal: [], tEnds: [], tKey: [], tVal: [], tEff: [] };
  const res = { allocatable: cols(), requested: cols() };
  const pushResources = (c, r) => {
    c.cpu.push(r.cpuMillis);
    c.mem.push(r.memoryBytes);
    c.pods.push(r.pods);
    c.eph.push(r.ephemeralStorageBytes);
    for (const e of r.extended) {
      c.name.push(present(e.name));
      c.amount.push(e.amount);
    }
    c.ends.push(c.name.length);
  };
  for (const { node, requested } of summaries) {
    col.name.push(present(node.name));
    col.id.push(node.instanceId == null ? 0 : present(node.instanceId));
    col.ip.push(node.internalIp == null ? 0 : present(node.internalIp));
    col.flags.push((node.unschedulable ? 1 : 0) | (node.ready ? 2 : 0));
    for (const l of node.labels) {
      col.lKey.push(present(l.key));
      col.lVal.push(present(l.value));
    }
    col.lEnds.push(col.lKey.length);
    for (const t of node.taints) {
      col.tKey.push(present(t.key));
      col.tVal.push(present(t.value));
      col.tEff.push(t.effect);
    }
    col.tEnds.push(col.tKey.length);
    pushResources(res.allocatable, node.allocatable);
    pushResources(res.requested, requested);
  }
  const u32 = (a) => Uint32Array.from(a);
  const u64 = (a) => BigUint64Array.from(a);
  const resourceColumns = (c) => ({
    cpuMillis: u64(c.cpu),
    memoryBytes: u64(c.mem),
    pods: u64(c.pods),
    ephemeralStorageBytes: u64(c.eph),
    extendedEnds: u32(c.ends),
    extendedName: u32(c.name),
    extendedAmount: u64(c.amount),
  });
  return {
    text: parts.join(''),
    stringEnds: u32(ends),
    nodeName: u32(col.name),
    nodeInstanceId: u32(col.id),
    nodeInternalIp: u32(col.ip),
    nodeFlags: Uint8Array.from(col.flags),
    labelEnds: u32(col.lEnds),
    labelKey: u32(col.lKey),
    labelValue: u32(col.lVal),
    taintEnds: u32(col.tEnds),
    taintKey: u32(col.tKey),
    taintValue: u32(col.tVal),
    taintEffect: col.tEff,
    allocatable: resourceColumns(res.allocatable),
    requested: resourceColumns(res.requested),
  };
}

/**
 * An in-memory cluster with the host's query semantics, answering with the shapes the real
 * `tke:recycle/cluster` imports return. Build it from a snapshot file's JSON text or parsed object
 * (`FakeCluster.fromFile(path)` under node).
 */
export class FakeCluster {
  constructor(snapshot) {
    const s = typeof snapshot === 'string' ? JSON.parse(snapshot) : snapshot;
    this.clusterId = opt(s.cluster_id);
    this.takenAt = big(s.taken_at);
    this.nodeList = (s.nodes ?? []).map(toNode);
    this.pods = (s.pods ?? []).map(toPod);
    this.pdbs = (s.pdbs ?? []).map(toPdb);
    this.workloads = (s.workloads ?? []).map(toWorkload);
    this.summaries = this.nodeList
      .map((node) => ({ node, requested: requestedOn(this.pods.filter((p) => p.nodeName === node.name)) }))
      .sort((a, b) => (a.node.name < b.node.name ? -1 : a.node.name > b.node.name ? 1 : 0));
  }

  /** Read a snapshot file (node only). */
  static async fromFile(path) {
    const { readFile } = await import('node:fs/promises');
    return new FakeCluster(await readFile(path, 'utf8'));
  }

  info() {
    return {
      clusterId: this.clusterId,
      takenAt: this.takenAt,
      nodeCount: this.nodeList.length,
      podCount: this.pods.length,
    };
  }

  nodes() {
    return encodeNodeTable(this.summaries);
  }

  node(name) {
    return structuredClone(this.summaries.find((s) => s.node.name === name));
  }

  podsOnNode(node) {
    return structuredClone(this.pods.filter((p) => p.nodeName === node));
  }

  podsMatching(namespace, selector) {
    return structuredClone(this.pods.filter((p) => p.namespace === namespace && selectorMatches(selector, p.labels)));
  }

  /** Bound, unfinished pods with a required anti-affinity term selecting a pod of `namespace`
   * with `labels` (a term without namespaces selects in its own pod's namespace). */
  podsWithAntiAffinityMatching(namespace, labels) {
    const selects = (holder, t) =>
      (t.namespaces.length ? t.namespaces.includes(namespace) : holder.namespace === namespace) &&
      selectorMatches(t.selector, labels);
    return this.pods.filter(
      (p) => p.nodeName != null && !podIsFinished(p) && p.requiredAntiAffinity.some((t) => selects(p, t)),
    );
  }

  nodesWithPodsMatching(namespaces, selector) {
    const names = this.pods
      .filter((p) => namespaces.includes(p.namespace) && !podIsFinished(p) && selectorMatches(selector, p.labels))
      .map((p) => p.nodeName)
      .filter((n) => n != null);
    return [...new Set(names)].sort();
  }

  pdbsCovering(pods) {
    const asked = pods
      .filter((r) => r.namespace != null)
      .map((r) => this.pods.find((p) => p.namespace === r.namespace && p.name === r.name))
      .filter((p) => p !== undefined);
    const out = [];
    for (const pdb of this.pdbs) {
      const covered = asked
        .filter((p) => p.namespace === pdb.namespace && selectorMatches(pdb.selector, p.labels))
        .map((p) => p.name);
      if (covered.length > 0) out.push({ pdb: structuredClone(pdb), pods: covered });
    }
    return out;
  }

  findWorkload(namespace, kind, name) {
    const w = this.workloads.find((x) => x.namespace === namespace && sameKind(x.kind, kind) && x.name === name);
    return w === undefined ? undefined : structuredClone(w);
  }
}

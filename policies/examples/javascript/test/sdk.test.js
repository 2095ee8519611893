import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeNodeTable,
  READY,
  UNSCHEDULABLE,
  requirementMatches,
  selectorMatches,
  tolerates,
  evictedByDrain,
  parseQuantity,
  parseCpuMillis,
  formatCpu,
  formatBytes,
  addResources,
  zeroResources,
  extended,
  finding,
  nodeRef,
  unknownNode,
  parseRfc3339,
  FakeCluster,
  clusterView,
  encodeNodeTable,
} from '../sdk/index.js';

const columns = (cpu, extendedEnds, gpus) => ({
  cpuMillis: BigUint64Array.from(cpu, BigInt),
  memoryBytes: BigUint64Array.from([8n << 30n, 8n << 30n]),
  pods: BigUint64Array.from([61n, 61n]),
  ephemeralStorageBytes: BigUint64Array.from([0n, 0n]),
  extendedEnds: Uint32Array.from(extendedEnds),
  extendedName: Uint32Array.from(gpus.map(() => 4)),
  extendedAmount: BigUint64Array.from(gpus, BigInt),
});

/** The table of node_table.rs's tests: two nodes sharing the label key; the second cordoned with a tainted GPU. */
function table() {
  // Strings: 0 "", 1 "10.0.0.1", 2 "10.0.0.2", 3 "kubernetes.io/hostname",
  // 4 "nvidia.com/gpu", 5 "ins-abcd1234", 6 "" (a present empty value).
  return {
    text: '10.0.0.110.0.0.2kubernetes.io/hostnamenvidia.com/gpuins-abcd1234',
    stringEnds: Uint32Array.from([0, 8, 16, 38, 52, 64, 64]),
    nodeName: Uint32Array.from([1, 2]),
    nodeInstanceId: Uint32Array.from([0, 5]),
    nodeInternalIp: Uint32Array.from([1, 2]),
    nodeFlags: Uint8Array.from([READY, UNSCHEDULABLE | READY]),
    labelEnds: Uint32Array.from([1, 2]),
    labelKey: Uint32Array.from([3, 3]),
    labelValue: Uint32Array.from([1, 2]),
    taintEnds: Uint32Array.from([0, 1]),
    taintKey: Uint32Array.from([4]),
    taintValue: Uint32Array.from([6]),
    taintEffect: ['no-schedule'],
    allocatable: columns([4000, 8000], [0, 1], [2]),
    requested: columns([250, 0], [0, 0], []),
  };
}

test('decodes every field of the node table', () => {
  const nodes = decodeNodeTable(table());
  assert.equal(nodes.length, 2);
  const gpu = nodes[1].node;
  assert.equal(gpu.name, '10.0.0.2');
  assert.equal(gpu.instanceId, 'ins-abcd1234');
  assert.equal(gpu.internalIp, '10.0.0.2');
  assert.ok(gpu.unschedulable && gpu.ready);
  assert.deepEqual(gpu.labels, [{ key: 'kubernetes.io/hostname', value: '10.0.0.2' }]);
  assert.deepEqual(gpu.taints, [{ key: 'nvidia.com/gpu', value: '', effect: 'no-schedule' }]);
  assert.equal(gpu.allocatable.cpuMillis, 8000);
  assert.deepEqual(gpu.allocatable.extended, [{ name: 'nvidia.com/gpu', amount: 2 }]);
  assert.equal(nodes[1].requested.cpuMillis, 0);
  const first = nodes[0];
  assert.equal(first.node.instanceId, undefined, 'string 0 is absent');
  assert.ok(!first.node.unschedulable && first.node.ready);
  assert.deepEqual(first.node.taints, []);
  assert.deepEqual(first.node.allocatable.extended, []);
  assert.equal(first.requested.cpuMillis, 250);
  assert.equal(first.requested.memoryBytes, 8 * 2 ** 30);
});

test('an empty table is no nodes', () => {
  const none = () => ({
    cpuMillis: [], memoryBytes: [], pods: [], ephemeralStorageBytes: [], extendedEnds: [], extendedName: [], extendedAmount: [],
  });
  const empty = {
    text: '', stringEnds: [0], nodeName: [], nodeInstanceId: [], nodeInternalIp: [], nodeFlags: [], labelEnds: [],
    labelKey: [], labelValue: [], taintEnds: [], taintKey: [], taintValue: [], taintEffect: [],
    allocatable: none(), requested: none(),
  };
  assert.deepEqual(decodeNodeTable(empty), []);
});

// Each way a table can fail to hold together, and the words that name it (as in node_table.rs).
const broken = [
  ['string index past the strings', (t) => { t.nodeName[1] = 7; }, 'string 7 does not exist; the table has 7'],
  ['string past the text', (t) => { t.stringEnds[6] = 65; }, 'string 6 at bytes 64..65 is not a string inside the 64 bytes of text'],
  ['string ends before it starts', (t) => { t.stringEnds[2] = 4; }, 'string 2 at bytes 8..4'],
  ['string splitting a character', (t) => { t.text = 'aé'.repeat(22); }, 'is not a string inside the 66 bytes of text'],
  ['no string 0', (t) => { t.stringEnds = new Uint32Array(0); }, 'string 0 (the empty string, "absent") is missing'],
  ['short node column', (t) => { t.nodeFlags = t.nodeFlags.subarray(0, 1); }, 'column node-flags has 1 entries, node-name has 2'],
  ['run past its column', (t) => { t.taintEnds[1] = 2; }, 'the taints of row 1 are entries 0..2 of 1'],
  ['run ending before it starts', (t) => { t.labelEnds = Uint32Array.from([2, 1]); }, 'the labels of row 1 are entries 2..1 of 2'],
  ['short resource column', (t) => { t.requested.extendedAmount = BigUint64Array.from([1n]); },
    'column requested.extended-amount has 1 entries, requested.extended-name has 0'],
];
for (const [name, breakIt, expected] of broken) {
  test(`a malformed node table is refused saying where: ${name}`, () => {
    const t = table();
    breakIt(t);
    assert.throws(() => decodeNodeTable(t), (e) => {
      assert.ok(e.message.startsWith('malformed node table from the host: '), e.message);
      assert.ok(e.message.includes(expected), e.message);
      return true;
    });
  });
}

const labels = (pairs) => Object.entries(pairs).map(([key, value]) => ({ key, value }));
const req = (key, operator, values = []) => ({ key, operator, values });

const requirementCases = [
  ['not-in holds for an absent key', req('tier', 'not-in', ['db']), { app: 'web' }, true],
  ['does-not-exist holds for an absent key', req('tier', 'does-not-exist'), { app: 'web' }, true],
  ['in fails for an absent key', req('tier', 'in', ['db']), { app: 'web' }, false],
  ['not-in fails for a listed value', req('app', 'not-in', ['web']), { app: 'web' }, false],
  ['exists', req('app', 'exists'), { app: '' }, true],
  ['gt compares integers', req('gen', 'gt', ['4']), { gen: '5' }, true],
  ['lt compares integers', req('gen', 'lt', ['4']), { gen: '5' }, false],
  ['gt accepts a sign like Rust', req('gen', 'gt', ['-1']), { gen: '+5' }, true],
  ['gt fails on a non-integer', req('name', 'gt', ['1']), { name: 'x' }, false],
  ['gt fails with two values', req('gen', 'gt', ['1', '2']), { gen: '5' }, false],
  ['gt fails past i64', req('gen', 'gt', ['1']), { gen: '9223372036854775808' }, false],
];
for (const [name, r, l, expected] of requirementCases) {
  test(`requirement: ${name}`, () => assert.equal(requirementMatches(r, labels(l)), expected));
}

const selectorCases = [
  ['the empty selector matches everything', { matchLabels: [], matchExpressions: [] }, {}, true],
  ['match labels all hold', { matchLabels: labels({ app: 'web' }), matchExpressions: [] }, { app: 'web', x: 'y' }, true],
  ['a differing value fails', { matchLabels: labels({ app: 'web' }), matchExpressions: [] }, { app: 'db' }, false],
  ['labels and expressions are ANDed', { matchLabels: labels({ app: 'web' }), matchExpressions: [req('tier', 'exists')] }, { app: 'web' }, false],
];
for (const [name, s, l, expected] of selectorCases) {
  test(`selector: ${name}`, () => assert.equal(selectorMatches(s, labels(l)), expected));
}

test('toleration rules', () => {
  const taint = { key: 'dedicated', value: 'gpu', effect: 'no-schedule' };
  const equalOk = { key: 'dedicated', operator: 'equal', value: 'gpu', effect: 'no-schedule' };
  assert.ok(tolerates({ key: undefined, operator: 'exists', value: undefined, effect: undefined }, taint));
  assert.ok(tolerates(equalOk, taint));
  assert.ok(!tolerates({ ...equalOk, effect: 'no-execute' }, taint));
  assert.ok(!tolerates({ ...equalOk, value: 'cpu' }, taint));
});

test('what a drain evicts', () => {
  const pod = { phase: 'running', mirror: false, owner: { kind: { tag: 'deployment' }, name: 'web' } };
  assert.ok(evictedByDrain(pod));
  assert.ok(!evictedByDrain({ ...pod, phase: 'succeeded' }));
  assert.ok(!evictedByDrain({ ...pod, mirror: true }));
  assert.ok(!evictedByDrain({ ...pod, owner: { kind: { tag: 'daemon-set' }, name: 'x' } }));
  assert.ok(evictedByDrain({ ...pod, owner: undefined }));
});

const quantityCases = [
  ['2', 1, 2],
  ['1900m', 1000, 1900],
  ['2', 1000, 2000],
  ['0.1', 1000, 100],
  ['1.5', 1000, 1500],
  ['100m', 1, 1], // rounded up like Value()
  ['512Mi', 1, 512 * 2 ** 20],
  ['1Gi', 1, 2 ** 30],
  ['1G', 1, 1e9],
  ['1.5Gi', 1, 1.5 * 2 ** 30],
  ['128974848', 1, 128974848],
  ['129e6', 1, 129e6],
  ['1k', 1, 1000],
  ['.5', 1000, 500],
  ['-1', 1, -1],
];
for (const [text, scale, expected] of quantityCases) {
  test(`quantity ${text} x${scale} = ${expected}`, () => assert.equal(parseQuantity(text, scale), expected));
}

for (const bad of ['', '1.2.3', '10 Mi', 'Mi', '1mi', '1KiB', 12]) {
  test(`quantity ${JSON.stringify(bad)} is refused`, () => {
    assert.throws(() => parseQuantity(bad), /is not a quantity; write a number with an optional suffix/);
  });
}

test('formats like kubernetes (quantity.rs)', () => {
  assert.equal(parseCpuMillis('250m'), 250);
  assert.equal(formatCpu(1900), '1900m');
  assert.equal(formatCpu(2000), '2');
  assert.equal(formatBytes(512 * 2 ** 20), '512Mi');
  assert.equal(formatBytes(2_684_354_560), '2.5Gi');
  assert.equal(formatBytes(12), '12');
});

test('adds extended resources by name', () => {
  const a = { ...zeroResources(), cpuMillis: 1, memoryBytes: 1, pods: 1 };
  const b = { cpuMillis: 1n, memoryBytes: 1n, pods: 1n, ephemeralStorageBytes: 0n, extended: [{ name: 'nvidia.com/gpu', amount: 2n }] };
  addResources(a, b);
  addResources(a, b);
  assert.equal(a.cpuMillis, 3);
  assert.equal(extended(a, 'nvidia.com/gpu'), 4);
});

test('findings are built with the WIT record shape', () => {
  assert.deepEqual(finding('x.y', 'warn', nodeRef('n1')).message('m').remedy('r').build(), {
    policy: '', code: 'x.y', severity: 'warn', message: 'm', subject: { kind: 'Node', namespace: undefined, name: 'n1' }, remedy: 'r',
  });
  assert.equal(unknownNode('x.unknown-node', 'n9').message, 'node n9 is not in the snapshot');
  assert.throws(() => finding('x.y', 'fatal', nodeRef('n1')), /"fatal" is not a severity/);
});

const timeCases = [
  ['2026-12-24T00:00:00Z', Date.UTC(2026, 11, 24)],
  ['2026-12-24T08:00:00+08:00', Date.UTC(2026, 11, 24)],
  ['2026-12-23T19:00:00-05:00', Date.UTC(2026, 11, 24)],
  ['2026-12-24t00:00:00.250z', Date.UTC(2026, 11, 24) + 250],
  ['2028-02-29T00:00:00Z', Date.UTC(2028, 1, 29)],
  ['2026-12-24', undefined],
  ['2026-12-24T00:00:00', undefined],
  ['2026-02-29T00:00:00Z', undefined],
  ['2026-12-24T24:00:00Z', undefined],
  ['2026-13-01T00:00:00Z', undefined],
  ['2026-12-24 00:00:00Z', undefined],
];
for (const [text, expected] of timeCases) {
  test(`RFC 3339 ${text}`, () => assert.equal(parseRfc3339(text), expected));
}

test('FakeCluster answers like the host imports', async () => {
  const fake = await FakeCluster.fromFile(new URL('../../../../host/snapshots/small-cluster.json', import.meta.url));
  const raw = fake.nodes();
  assert.ok(raw.stringEnds instanceof Uint32Array && raw.nodeFlags instanceof Uint8Array);
  assert.ok(raw.allocatable.cpuMillis instanceof BigUint64Array);
  const view = clusterView(fake);
  const nodes = view.nodes();
  assert.deepEqual(nodes.map((n) => n.node.name), ['10.0.1.11', '10.0.1.12', '10.0.1.13', '10.0.1.14']);
  assert.deepEqual(nodes.map((n) => n.requested.cpuMillis), [250, 750, 250, 350]);
  assert.deepEqual(nodes.map((n) => n.requested.pods), [2, 3, 2, 2]);
  assert.deepEqual(nodes[3].node.labels.at(-1), { key: 'tke-recycle.io/protected', value: 'licence-bound' });
  const pods = view.podsOnNode('10.0.1.11');
  assert.deepEqual(pods.map((p) => [p.name, p.phase, p.owner.kind.tag]), [
    ['web-7d9c-0', 'running', 'deployment'],
    ['node-exporter-0', 'running', 'daemon-set'],
  ]);
  assert.equal(pods[0].requests.cpuMillis, 200n);
  assert.deepEqual(pods[1].volumes[0].source, { tag: 'host-path', val: '/proc' });
  assert.equal(view.node('10.0.1.99'), undefined);
  assert.equal(view.node('10.0.1.12').requested.cpuMillis, 750n);
  const web = { matchLabels: [{ key: 'app', value: 'web' }], matchExpressions: [] };
  assert.equal(view.podsMatching('shop', web).length, 3);
  assert.deepEqual(view.nodesWithPodsMatching(['shop'], web), ['10.0.1.11', '10.0.1.12', '10.0.1.13']);
  const covering = view.pdbsCovering([{ kind: 'Pod', namespace: 'shop', name: 'web-7d9c-0' }]);
  assert.deepEqual(covering.map((c) => [c.pdb.name, c.pdb.minAvailable, c.pods]), [['web', { tag: 'count', val: 2 }, ['web-7d9c-0']]]);
  assert.equal(view.findWorkload('shop', { tag: 'stateful-set' }, 'db').readyReplicas, 1);
  assert.equal(view.findWorkload('shop', { tag: 'deployment' }, 'db'), undefined);
  assert.deepEqual(view.info(), { clusterId: 'cls-7ph3twqe', takenAt: 1795910400n, nodeCount: 4, podCount: 9 });
});

test('the fake node table round-trips non-ASCII text and present empty strings', () => {
  const node = {
    name: 'nœud-1', instanceId: undefined, internalIp: '', labels: [{ key: 'zone', value: '上海' }], taints: [],
    unschedulable: true, ready: false,
    allocatable: { cpuMillis: 1000n, memoryBytes: 1n, pods: 1n, ephemeralStorageBytes: 0n, extended: [] },
  };
  const requested = { cpuMillis: 0n, memoryBytes: 0n, pods: 0n, ephemeralStorageBytes: 0n, extended: [] };
  const [decoded] = decodeNodeTable(encodeNodeTable([{ node, requested }]));
  assert.equal(decoded.node.name, 'nœud-1');
  assert.equal(decoded.node.instanceId, undefined);
  assert.equal(decoded.node.internalIp, '');
  assert.deepEqual(decoded.node.labels, [{ key: 'zone', value: '上海' }]);
  assert.ok(decoded.node.unschedulable && !decoded.node.ready);
});

test('guarded: a thrown string stays a refusal; an Error is reported on stderr, then rethrown', async () => {
  const { guarded } = await import('../sdk/exports.js');
  const lines = [];
  const original = console.error;
  console.error = (line) => lines.push(String(line));
  try {
    assert.throws(() => guarded(() => { throw 'settings: bad'; })(), (e) => e === 'settings: bad');
    assert.deepEqual(lines, []);
    assert.throws(() => guarded(() => { throw new TypeError('x is undefined'); })(), TypeError);
    assert.equal(lines.at(-1), 'Uncaught TypeError: x is undefined');
    assert.match(lines[0], /exports\.test|sdk\.test|TypeError/);
    assert.equal(guarded((a, b) => a + b)(1, 2), 3);
  } finally {
    console.error = original;
  }
});

test('FakeCluster finds the pods whose anti-affinity refuses given labels, like the host', async () => {
  const fake = await FakeCluster.fromFile(
    new URL('../../../../tests/fixtures/snapshots/refused-by-staying-pod.deny.json', import.meta.url),
  );
  const view = clusterView(fake);
  const ingest = [{ key: 'app', value: 'ingest' }];
  // Own namespace by default (the two ingest pods), named namespaces when listed (the driver).
  assert.deepEqual(
    view.podsWithAntiAffinityMatching('default', ingest).map((p) => p.name).sort(),
    ['ingest-5c8d7f9b4-k2x1', 'ingest-5c8d7f9b4-m7q4', 'spark-driver-0'],
  );
  assert.deepEqual(view.podsWithAntiAffinityMatching('analytics', ingest), []);
  assert.deepEqual(view.podsWithAntiAffinityMatching('default', [{ key: 'app', value: 'db' }]), []);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeCluster, clusterView } from '../sdk/index.js';
import { evaluate, parseSettings, NAME, VERSION, CODES } from '../src/policy.js';

const SNAPSHOT = new URL('../../../../host/snapshots/small-cluster.json', import.meta.url);
const cluster = clusterView(await FakeCluster.fromFile(SNAPSHOT));

const FREEZE = { from: '2026-12-24T00:00:00+08:00', to: '2026-12-27T00:00:00+08:00', reason: 'year-end sales' };
/** Unix seconds, as the host puts them in check-request.now (a BigInt, like the real import). */
const at = (rfc3339) => BigInt(Date.parse(rfc3339) / 1000);

function check(settings, now, targets = ['10.0.1.11']) {
  return evaluate({ targets, phase: 'pre', settings: JSON.stringify(settings), now, affected: [] }, cluster);
}

const codes = (findings) => findings.map((f) => `${f.severity} ${f.code}`);

test('describes itself', () => {
  assert.equal(NAME, 'capacity-freeze-guard');
  assert.equal(VERSION, '0.1.0');
});

const freezeCases = [
  ['deny just inside the start', '2026-12-24T00:00:00+08:00', ['deny capacity-freeze-guard.frozen']],
  ['deny in the middle', '2026-12-25T10:00:00+08:00', ['deny capacity-freeze-guard.frozen']],
  ['allow one second before', '2026-12-23T23:59:59+08:00', []],
  ['allow at the end (exclusive)', '2026-12-27T00:00:00+08:00', []],
  ['allow long after', '2027-03-01T00:00:00Z', []],
];
for (const [name, now, expected] of freezeCases) {
  test(`freeze: ${name}`, () => {
    assert.deepEqual(codes(check({ freezes: [FREEZE] }, at(now))), expected);
  });
}

test('the frozen finding names the window, the reason and the way out', () => {
  const [f] = check({ freezes: [FREEZE] }, at('2026-12-25T10:00:00+08:00'));
  assert.deepEqual(f, {
    policy: '',
    code: 'capacity-freeze-guard.frozen',
    severity: 'deny',
    message: 'recycling is frozen from 2026-12-24T00:00:00+08:00 to 2026-12-27T00:00:00+08:00: year-end sales',
    subject: { kind: 'Node', namespace: undefined, name: '10.0.1.11' },
    remedy: "wait until 2026-12-27T00:00:00+08:00, or remove the window from this policy's freezes if the freeze no longer applies",
  });
});

test('every window that holds now is reported; now may be a number too', () => {
  const other = { from: '2026-12-25T00:00:00Z', to: '2026-12-26T00:00:00Z', reason: 'audit' };
  const findings = check({ freezes: [FREEZE, other] }, Number(at('2026-12-25T12:00:00Z')));
  assert.deepEqual(findings.map((f) => f.message.split(': ')[1]), ['year-end sales', 'audit']);
});

// small-cluster: 4 nodes of 1900m / 2670178304 bytes. Draining 10.0.1.11 moves web-7d9c-0
// (200m, 256Mi; node-exporter-0 is a DaemonSet pod and stays) onto 10.0.1.12-14, which then
// request 1550m of 5700m (27.2%) and 2617245696 of 8010534912 bytes (32.7%).
const reserveCases = [
  ['quiet at the default 85%', {}, ['10.0.1.11'], []],
  ['warn memory only at 30%', { max_allocated_percent: 30 }, ['10.0.1.11'], ['warn capacity-freeze-guard.reserve']],
  ['warn cpu and memory at 25%', { max_allocated_percent: 25 }, ['10.0.1.11'], ['warn capacity-freeze-guard.reserve']],
  ['quiet at 33%', { max_allocated_percent: 33 }, ['10.0.1.11'], []],
  ['two targets leave less room', { max_allocated_percent: 45 }, ['10.0.1.11', '10.0.1.12'], ['warn capacity-freeze-guard.reserve']],
  ['an unknown target is denied', {}, ['10.0.9.9'], ['deny capacity-freeze-guard.unknown-node']],
  ['severity overrides apply', { max_allocated_percent: 30, severity_overrides: { 'capacity-freeze-guard.reserve': 'deny' } },
    ['10.0.1.11'], ['deny capacity-freeze-guard.reserve']],
];
for (const [name, settings, targets, expected] of reserveCases) {
  test(`reserve: ${name}`, () => {
    assert.deepEqual(codes(check(settings, at('2026-01-01T00:00:00Z'), targets)), expected);
  });
}

test('the reserve warning has the percentages', () => {
  const [f] = check({ max_allocated_percent: 25 }, at('2026-01-01T00:00:00Z'));
  assert.equal(
    f.message,
    'after 1 pod(s) move off 10.0.1.11, the 3 remaining Ready, uncordoned nodes would have 27.2% of their CPU (1550m of 5700m) ' +
      'and 32.7% of their memory (2.4Gi of 7.5Gi) requested: CPU and memory above the 25% limit',
  );
  assert.deepEqual(f.subject, { kind: 'Node', namespace: undefined, name: '10.0.1.11' });
  assert.match(f.remedy, /raise max_allocated_percent knowingly/);
});

test('two targets: both move, the first target is the subject', () => {
  const [f] = check({ max_allocated_percent: 45 }, at('2026-01-01T00:00:00Z'), ['10.0.1.11', '10.0.1.12']);
  // web-7d9c-0, web-7d9c-1, db-0 move to 10.0.1.13 and 10.0.1.14: 1500m of 3800m, 2.4Gi of 5Gi (47.8%).
  assert.match(f.message, /^after 3 pod\(s\) move off 10\.0\.1\.11, 10\.0\.1\.12, the 2 remaining/);
  assert.match(f.message, /39\.5% of their CPU \(1500m of 3800m\) and 47\.8% of their memory \(2\.4Gi of 5\.0Gi\) requested: memory above the 45% limit$/);
  assert.equal(f.subject.name, '10.0.1.11');
});

test('an empty settings text means the defaults', () => {
  assert.deepEqual(parseSettings(''), { freezes: [], maxAllocatedPercent: 85, severityOverrides: {} });
  assert.deepEqual(CODES.length, 3);
});

// Settings validation: the exact messages (each names the field, the bad value and the fix).
const settingsCases = [
  ['not JSON', '{"freezes": [', null],
  ['not an object', '[1]', 'invalid settings: [1] is not a JSON object; write the fields by name, e.g. {}'],
  ['unknown field', '{"max_allocated_percnt": 80}',
    'invalid settings: unknown field "max_allocated_percnt"; the known fields are freezes, max_allocated_percent, severity_overrides: fix the name or remove it'],
  ['freezes not a list', '{"freezes": {"from": "x"}}',
    'freezes: {"from":"x"} is not a list; write a list of windows, e.g. [{"from": "2026-12-24T00:00:00+08:00", "to": "2026-12-27T00:00:00+08:00", "reason": "year-end sales"}]'],
  ['window not an object', '{"freezes": ["2026-12-24"]}',
    'freezes[0]: "2026-12-24" is not a window; write an object, e.g. {"from": "2026-12-24T00:00:00+08:00", "to": "2026-12-27T00:00:00+08:00", "reason": "year-end sales"}'],
  ['unknown window field', '{"freezes": [{"from": "2026-12-24T00:00:00Z", "until": "2026-12-25T00:00:00Z", "reason": "x"}]}',
    'freezes[0]: unknown field "until"; a window has from, to and reason: fix the name or remove it'],
  ['bad time', '{"freezes": [{"from": "2026-12-24", "to": "2026-12-25T00:00:00Z", "reason": "x"}]}',
    'freezes[0].from: "2026-12-24" is not an RFC 3339 time; write a date, a time and an offset, e.g. "2026-12-24T00:00:00+08:00"'],
  ['time without offset', '{"freezes": [{"from": "2026-12-24T00:00:00Z", "to": "2026-12-25T00:00:00", "reason": "x"}]}',
    'freezes[0].to: "2026-12-25T00:00:00" is not an RFC 3339 time; write a date, a time and an offset, e.g. "2026-12-24T00:00:00+08:00"'],
  ['time of the wrong type', '{"freezes": [{"from": 1798000000, "to": "2026-12-25T00:00:00Z", "reason": "x"}]}',
    'freezes[0].from: 1798000000 is not an RFC 3339 time; write a date, a time and an offset, e.g. "2026-12-24T00:00:00+08:00"'],
  ['missing to', '{"freezes": [{"from": "2026-12-24T00:00:00Z", "reason": "x"}]}',
    'freezes[0].to: missing; write an RFC 3339 time, e.g. "2026-12-24T00:00:00+08:00"'],
  ['from equal to to', '{"freezes": [{"from": "2026-12-24T08:00:00+08:00", "to": "2026-12-24T00:00:00Z", "reason": "x"}]}',
    'freezes[0].to: "2026-12-24T00:00:00Z" is not after from "2026-12-24T08:00:00+08:00", an empty window; make to later than from'],
  ['from after to', '{"freezes": [{"from": "2026-12-27T00:00:00Z", "to": "2026-12-24T00:00:00Z", "reason": "x"}]}',
    'freezes[0].to: "2026-12-24T00:00:00Z" is not after from "2026-12-27T00:00:00Z", an empty window; make to later than from'],
  ['missing reason', '{"freezes": [{"from": "2026-12-24T00:00:00Z", "to": "2026-12-25T00:00:00Z"}]}',
    'freezes[0].reason: missing; say why the freeze exists, e.g. "year-end sales"'],
  ['empty reason', '{"freezes": [{"from": "2026-12-24T00:00:00Z", "to": "2026-12-25T00:00:00Z", "reason": " "}]}',
    'freezes[0].reason: " " is not a reason; say why the freeze exists, e.g. "year-end sales"'],
  ['percent zero', '{"max_allocated_percent": 0}', 'max_allocated_percent: 0 is not an integer from 1 to 100; write e.g. 85'],
  ['percent above 100', '{"max_allocated_percent": 101}', 'max_allocated_percent: 101 is not an integer from 1 to 100; write e.g. 85'],
  ['percent fractional', '{"max_allocated_percent": 85.5}', 'max_allocated_percent: 85.5 is not an integer from 1 to 100; write e.g. 85'],
  ['percent as text', '{"max_allocated_percent": "85%"}', 'max_allocated_percent: "85%" is not an integer from 1 to 100; write e.g. 85'],
  ['unknown override code', '{"severity_overrides": {"capacity-freeze-guard.froze": "warn"}}',
    'severity_overrides: unknown finding code "capacity-freeze-guard.froze"; known codes: capacity-freeze-guard.frozen, capacity-freeze-guard.reserve, capacity-freeze-guard.unknown-node'],
  ['unknown override severity', '{"severity_overrides": {"capacity-freeze-guard.frozen": "error"}}',
    'severity_overrides.capacity-freeze-guard.frozen: "error" is not a severity; use "info", "warn" or "deny"'],
];
for (const [name, text, expected] of settingsCases) {
  test(`settings rejected: ${name}`, () => {
    assert.throws(
      () => parseSettings(text),
      (e) => {
        if (expected === null) {
          assert.match(e.message, /^invalid settings: .*; settings must be one JSON object, e.g. \{\}$/);
        } else {
          assert.equal(e.message, expected);
        }
        return true;
      },
    );
  });
}

test('valid settings are accepted', () => {
  const s = parseSettings(JSON.stringify({ freezes: [FREEZE], max_allocated_percent: 100 }));
  assert.equal(s.maxAllocatedPercent, 100);
  assert.equal(s.freezes[0].fromMs, Date.UTC(2026, 11, 23, 16));
});

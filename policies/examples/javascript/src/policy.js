// capacity-freeze-guard: pure decision logic, runnable under plain node (tests) and inside the
// component (component.js). It never reads a clock: the time is `request.now`.

import {
  finding,
  nodeRef,
  unknownNode,
  applySeverityOverrides,
  evictedByDrain,
  formatCpu,
  formatBytes,
  parseRfc3339,
  settingsObject,
  validateSeverityOverrides,
} from '../sdk/index.js';

export const NAME = 'capacity-freeze-guard';
export const VERSION = '0.1.0';
export const DESCRIPTION =
  'deny recycles inside a capacity freeze window; warn when the remaining nodes would be too full';

/** The codes this policy emits. */
export const CODES = [
  'capacity-freeze-guard.frozen',
  'capacity-freeze-guard.reserve',
  'capacity-freeze-guard.unknown-node',
];

const FIELDS = ['freezes', 'max_allocated_percent', 'severity_overrides'];
const WINDOW_FIELDS = ['from', 'to', 'reason'];
const EXAMPLE_WINDOW = '{"from": "2026-12-24T00:00:00+08:00", "to": "2026-12-27T00:00:00+08:00", "reason": "year-end sales"}';

const show = (v) => JSON.stringify(v);

function time(field, value) {
  if (value === undefined) {
    throw new Error(`${field}: missing; write an RFC 3339 time, e.g. "2026-12-24T00:00:00+08:00"`);
  }
  const ms = parseRfc3339(value);
  if (ms === undefined) {
    throw new Error(
      `${field}: ${show(value)} is not an RFC 3339 time; write a date, a time and an offset, e.g. "2026-12-24T00:00:00+08:00"`,
    );
  }
  return ms;
}

/**
 * Parse and validate the settings JSON. Returns
 * `{freezes: [{from, to, fromMs, toMs, reason}], maxAllocatedPercent, severityOverrides}`;
 * throws an Error whose message names the field, the bad value and the fix.
 */
export function parseSettings(text) {
  const raw = settingsObject(text, FIELDS);
  const freezes = [];
  if (raw.freezes !== undefined) {
    if (!Array.isArray(raw.freezes)) {
      throw new Error(`freezes: ${show(raw.freezes)} is not a list; write a list of windows, e.g. [${EXAMPLE_WINDOW}]`);
    }
    raw.freezes.forEach((w, i) => {
      const field = `freezes[${i}]`;
      if (w === null || typeof w !== 'object' || Array.isArray(w)) {
        throw new Error(`${field}: ${show(w)} is not a window; write an object, e.g. ${EXAMPLE_WINDOW}`);
      }
      for (const key of Object.keys(w)) {
        if (!WINDOW_FIELDS.includes(key)) {
          throw new Error(`${field}: unknown field ${show(key)}; a window has from, to and reason: fix the name or remove it`);
        }
      }
      const fromMs = time(`${field}.from`, w.from);
      const toMs = time(`${field}.to`, w.to);
      if (fromMs >= toMs) {
        throw new Error(
          `${field}.to: ${show(w.to)} is not after from ${show(w.from)}, an empty window; make to later than from`,
        );
      }
      if (typeof w.reason !== 'string' || w.reason.trim() === '') {
        throw new Error(
          `${field}.reason: ${w.reason === undefined ? 'missing' : `${show(w.reason)} is not a reason`}; say why the freeze exists, e.g. "year-end sales"`,
        );
      }
      freezes.push({ from: w.from, to: w.to, fromMs, toMs, reason: w.reason });
    });
  }
  let maxAllocatedPercent = 85;
  if (raw.max_allocated_percent !== undefined) {
    const p = raw.max_allocated_percent;
    if (!Number.isInteger(p) || p < 1 || p > 100) {
      throw new Error(`max_allocated_percent: ${show(p)} is not an integer from 1 to 100; write e.g. 85`);
    }
    maxAllocatedPercent = p;
  }
  const severityOverrides = validateSeverityOverrides(raw.severity_overrides, CODES);
  return { freezes, maxAllocatedPercent, severityOverrides };
}

/** The windows `nowSeconds` falls inside (`from` inclusive, `to` exclusive). */
export function activeFreezes(freezes, nowSeconds) {
  const nowMs = Number(nowSeconds) * 1000;
  return freezes.filter((w) => w.fromMs <= nowMs && nowMs < w.toMs);
}

/** `capacity-freeze-guard.frozen` for one active window. */
export function frozenFinding(window, subject) {
  return finding('capacity-freeze-guard.frozen', 'deny', subject)
    .message(`recycling is frozen from ${window.from} to ${window.to}: ${window.reason}`)
    .remedy(`wait until ${window.to}, or remove the window from this policy's freezes if the freeze no longer applies`)
    .build();
}

const percent = (part, whole) => (whole === 0 ? Infinity : (part * 100) / whole);
const fmtPercent = (p) => (p === Infinity ? 'all (no capacity left)' : `${p.toFixed(1)}%`);

/**
 * The capacity left after the drain: `summaries` (decoded node summaries), the target names and
 * the pods that move (already filtered). Pure.
 */
export function reserveAfterDrain(summaries, targets, movedPods) {
  const remaining = summaries.filter((s) => !targets.includes(s.node.name) && s.node.ready && !s.node.unschedulable);
  const sum = { allocCpu: 0, allocMem: 0, reqCpu: 0, reqMem: 0, movedCpu: 0, movedMem: 0 };
  for (const s of remaining) {
    sum.allocCpu += s.node.allocatable.cpuMillis;
    sum.allocMem += s.node.allocatable.memoryBytes;
    sum.reqCpu += s.requested.cpuMillis;
    sum.reqMem += s.requested.memoryBytes;
  }
  for (const p of movedPods) {
    sum.movedCpu += Number(p.requests.cpuMillis);
    sum.movedMem += Number(p.requests.memoryBytes);
  }
  const cpu = sum.reqCpu + sum.movedCpu;
  const mem = sum.reqMem + sum.movedMem;
  return {
    nodes: remaining.length,
    pods: movedPods.length,
    cpuRequested: cpu,
    cpuAllocatable: sum.allocCpu,
    memoryRequested: mem,
    memoryAllocatable: sum.allocMem,
    cpuPercent: percent(cpu, sum.allocCpu),
    memoryPercent: percent(mem, sum.allocMem),
  };
}

/** `capacity-freeze-guard.reserve` when CPU or memory would be above the limit, else undefined. */
export function reserveFinding(reserve, maxPercent, targets, subject) {
  // Exact comparison (integers): requested * 100 > max * allocatable.
  const over = (req, alloc) => (alloc === 0 ? req > 0 : req * 100 > maxPercent * alloc);
  const cpuOver = over(reserve.cpuRequested, reserve.cpuAllocatable);
  const memOver = over(reserve.memoryRequested, reserve.memoryAllocatable);
  if (!cpuOver && !memOver) return undefined;
  const which = [cpuOver && 'CPU', memOver && 'memory'].filter(Boolean).join(' and ');
  const nodes = reserve.nodes === 1 ? '1 remaining Ready, uncordoned node' : `${reserve.nodes} remaining Ready, uncordoned nodes`;
  return finding('capacity-freeze-guard.reserve', 'warn', subject)
    .message(
      `after ${reserve.pods} pod(s) move off ${targets.join(', ')}, the ${nodes} would have ` +
        `${fmtPercent(reserve.cpuPercent)} of their CPU (${formatCpu(reserve.cpuRequested)} of ${formatCpu(reserve.cpuAllocatable)}) ` +
        `and ${fmtPercent(reserve.memoryPercent)} of their memory (${formatBytes(reserve.memoryRequested)} of ${formatBytes(reserve.memoryAllocatable)}) requested: ` +
        `${which} above the ${maxPercent}% limit`,
    )
    .remedy(
      'add capacity first (scale up the node pool or uncordon a node), recycle fewer nodes at once, or raise max_allocated_percent knowingly',
    )
    .build();
}

/**
 * Decide. `request` is the WIT `check-request` (camelCase; `now` a BigInt or number of Unix
 * seconds), `cluster` a `clusterView` of the real imports or of a `FakeCluster`.
 */
export function evaluate(request, cluster) {
  const settings = parseSettings(request.settings);
  const targets = Array.from(request.targets);
  if (targets.length === 0) return [];
  const subject = nodeRef(targets[0]);
  const findings = activeFreezes(settings.freezes, request.now).map((w) => frozenFinding(w, subject));

  const summaries = cluster.nodes();
  const known = new Set(summaries.map((s) => s.node.name));
  const unknown = targets.filter((t) => !known.has(t));
  for (const name of unknown) findings.push(unknownNode('capacity-freeze-guard.unknown-node', name));

  const moved = targets.filter((t) => known.has(t)).flatMap((t) => cluster.podsOnNode(t).filter(evictedByDrain));
  const reserve = reserveFinding(reserveAfterDrain(summaries, targets, moved), settings.maxAllocatedPercent, targets, subject);
  if (reserve) findings.push(reserve);
  return applySeverityOverrides(settings.severityOverrides, findings);
}

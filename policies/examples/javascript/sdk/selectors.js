// Kubernetes matching rules, mirroring policies/sdk/src/selectors.rs. Records are in the shape
// componentize-js hands them over: camelCase fields, enums as kebab-case strings
// ('not-in', 'does-not-exist', 'no-schedule', 'succeeded'), options as undefined (null accepted).

function label(labels, key) {
  const found = labels.find((l) => l.key === key);
  return found === undefined ? undefined : found.value;
}

const INTEGER = /^[+-]?\d+$/;

/** Like Rust's `str::parse::<i64>()`: an optional sign and decimal digits, within i64. */
function parseI64(text) {
  if (!INTEGER.test(text)) return undefined;
  const v = BigInt(text);
  return v >= -(2n ** 63n) && v < 2n ** 63n ? v : undefined;
}

/**
 * One requirement against labels: `not-in` and `does-not-exist` hold for an absent key; `gt`/`lt`
 * compare integers and fail on anything else (and on anything but exactly one value).
 */
export function requirementMatches(req, labels) {
  const value = label(labels, req.key);
  const values = Array.from(req.values);
  switch (req.operator) {
    case 'in':
      return value !== undefined && values.includes(value);
    case 'not-in':
      return value === undefined || !values.includes(value);
    case 'exists':
      return value !== undefined;
    case 'does-not-exist':
      return value === undefined;
    case 'gt':
    case 'lt': {
      if (value === undefined || values.length !== 1) return false;
      const v = parseI64(value);
      const b = parseI64(values[0]);
      if (v === undefined || b === undefined) return false;
      return req.operator === 'gt' ? v > b : v < b;
    }
    default:
      throw new Error(`unknown selector operator ${JSON.stringify(req.operator)}`);
  }
}

/** A label selector against labels. An empty selector matches everything. */
export function selectorMatches(selector, labels) {
  return (
    selector.matchLabels.every((m) => label(labels, m.key) === m.value) &&
    selector.matchExpressions.every((r) => requirementMatches(r, labels))
  );
}

/** Whether a node satisfies one node-selector term. */
export function nodeSelectorTermMatches(term, node) {
  const fields = [{ key: 'metadata.name', value: node.name }];
  return (
    term.matchExpressions.every((r) => requirementMatches(r, node.labels)) &&
    term.matchFields.every((r) => requirementMatches(r, fields))
  );
}

/** Whether one toleration tolerates one taint. */
export function tolerates(toleration, taint) {
  if (toleration.effect != null && toleration.effect !== taint.effect) return false;
  if (toleration.operator === 'exists') {
    return toleration.key == null || toleration.key === taint.key;
  }
  return toleration.key === taint.key && (toleration.value ?? '') === taint.value;
}

/** Succeeded and Failed pods hold no resources and are not evicted. */
export function podIsFinished(pod) {
  return pod.phase === 'succeeded' || pod.phase === 'failed';
}

/** The pod belongs to a DaemonSet. */
export function isDaemonSetPod(pod) {
  return pod.owner != null && pod.owner.kind.tag === 'daemon-set';
}

/** A drain would evict this pod: not finished, not a mirror pod, not a DaemonSet pod. */
export function evictedByDrain(pod) {
  return !podIsFinished(pod) && !pod.mirror && !isDaemonSetPod(pod);
}

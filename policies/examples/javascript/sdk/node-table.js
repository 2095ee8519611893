// Turning the host's `node-table` (the answer of `cluster.nodes`) back into node summaries.
// Mirrors policies/sdk/src/node_table.rs: same checks, same messages.
//
// The table arrives as componentize-js/jco hand it to JavaScript: `text` is a JS string, the
// `list<u32>` columns are Uint32Array, `node-flags` a Uint8Array, the `list<u64>` columns
// BigUint64Array, `taint-effect` an array of strings ('no-schedule', ...). Plain arrays of numbers
// or bigints work too. String offsets are UTF-8 byte offsets, as in the WIT.
//
// Decoded amounts are JS numbers (exact up to 2^53: 8 PiB of memory, far beyond any node).

/** Bit of `node-flags`: `spec.unschedulable`. */
export const UNSCHEDULABLE = 1;
/** Bit of `node-flags`: the Ready condition is True. */
export const READY = 2;

/** A `node-table` that does not hold together: the host broke the contract. */
export class MalformedNodeTable extends Error {
  constructor(what) {
    super(`malformed node table from the host: ${what}`);
    this.name = 'MalformedNodeTable';
  }
}

function sameLength(column, len, reference, expected) {
  if (len !== expected) {
    throw new MalformedNodeTable(`column ${column} has ${len} entries, ${reference} has ${expected}`);
  }
}

/** Entry `i`'s run `ends[i - 1] .. ends[i]` of a column with `len` entries. */
function run(what, ends, i, len) {
  const start = i === 0 ? 0 : Number(ends[i - 1]);
  const end = Number(ends[i]);
  if (start <= end && end <= len) return [start, end];
  throw new MalformedNodeTable(`the ${what} of row ${i} are entries ${start}..${end} of ${len}`);
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The table's strings by index, each checked once. */
function strings(table) {
  const ends = table.stringEnds;
  if (ends.length === 0 || Number(ends[0]) !== 0) {
    throw new MalformedNodeTable('string 0 (the empty string, "absent") is missing');
  }
  const bytes = new TextEncoder().encode(table.text);
  const all = new Array(ends.length);
  let start = 0;
  for (let s = 0; s < ends.length; s++) {
    const end = Number(ends[s]);
    let text;
    if (start <= end && end <= bytes.length) {
      try {
        text = decoder.decode(bytes.subarray(start, end));
      } catch {
        text = undefined; // splits a character
      }
    }
    if (text === undefined) {
      throw new MalformedNodeTable(
        `string ${s} at bytes ${start}..${end} is not a string inside the ${bytes.length} bytes of text`,
      );
    }
    all[s] = text;
    start = end;
  }
  const get = (s) => {
    const text = all[Number(s)];
    if (text === undefined) {
      throw new MalformedNodeTable(`string ${s} does not exist; the table has ${all.length}`);
    }
    return text;
  };
  return { get, optional: (s) => (Number(s) === 0 ? undefined : get(s)) };
}

function columns(what, c, nodes) {
  for (const [column, len] of [
    ['cpu-millis', c.cpuMillis.length],
    ['memory-bytes', c.memoryBytes.length],
    ['pods', c.pods.length],
    ['ephemeral-storage-bytes', c.ephemeralStorageBytes.length],
    ['extended-ends', c.extendedEnds.length],
  ]) {
    sameLength(`${what}.${column}`, len, 'node-name', nodes);
  }
  sameLength(`${what}.extended-amount`, c.extendedAmount.length, `${what}.extended-name`, c.extendedName.length);
  return (i, str) => {
    const [from, to] = run(what, c.extendedEnds, i, c.extendedName.length);
    const extended = [];
    for (let e = from; e < to; e++) {
      extended.push({ name: str.get(c.extendedName[e]), amount: Number(c.extendedAmount[e]) });
    }
    return {
      cpuMillis: Number(c.cpuMillis[i]),
      memoryBytes: Number(c.memoryBytes[i]),
      pods: Number(c.pods[i]),
      ephemeralStorageBytes: Number(c.ephemeralStorageBytes[i]),
      extended,
    };
  };
}

/**
 * Decode every node of `table`, in its order, into node summaries
 * `{node: {name, instanceId, internalIp, labels, taints, unschedulable, ready, allocatable}, requested}`
 * (absent optional strings are `undefined`). Throws `MalformedNodeTable` saying where.
 */
export function decodeNodeTable(table) {
  const str = strings(table);
  const nodes = table.nodeName.length;
  for (const [column, len] of [
    ['node-instance-id', table.nodeInstanceId.length],
    ['node-internal-ip', table.nodeInternalIp.length],
    ['node-flags', table.nodeFlags.length],
    ['label-ends', table.labelEnds.length],
    ['taint-ends', table.taintEnds.length],
  ]) {
    sameLength(column, len, 'node-name', nodes);
  }
  sameLength('label-value', table.labelValue.length, 'label-key', table.labelKey.length);
  sameLength('taint-value', table.taintValue.length, 'taint-key', table.taintKey.length);
  sameLength('taint-effect', table.taintEffect.length, 'taint-key', table.taintKey.length);
  const allocatable = columns('allocatable', table.allocatable, nodes);
  const requested = columns('requested', table.requested, nodes);

  const out = [];
  for (let i = 0; i < nodes; i++) {
    const labels = [];
    const [lFrom, lTo] = run('labels', table.labelEnds, i, table.labelKey.length);
    for (let l = lFrom; l < lTo; l++) {
      labels.push({ key: str.get(table.labelKey[l]), value: str.get(table.labelValue[l]) });
    }
    const taints = [];
    const [tFrom, tTo] = run('taints', table.taintEnds, i, table.taintKey.length);
    for (let t = tFrom; t < tTo; t++) {
      taints.push({ key: str.get(table.taintKey[t]), value: str.get(table.taintValue[t]), effect: table.taintEffect[t] });
    }
    const flags = Number(table.nodeFlags[i]);
    out.push({
      node: {
        name: str.get(table.nodeName[i]),
        instanceId: str.optional(table.nodeInstanceId[i]),
        internalIp: str.optional(table.nodeInternalIp[i]),
        labels,
        taints,
        unschedulable: (flags & UNSCHEDULABLE) !== 0,
        ready: (flags & READY) !== 0,
        allocatable: allocatable(i, str),
      },
      requested: requested(i, str),
    });
  }
  return out;
}

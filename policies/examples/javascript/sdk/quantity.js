// Resource quantities: parsing Kubernetes quantity strings, arithmetic and human formatting
// (mirrors policies/sdk/src/quantity.rs; the Rust SDK has no parser because the host hands
// guests numbers, but settings written by people carry quantities like "500m" or "2Gi").

const SUFFIXES = {
  '': [1n, 1n],
  m: [1n, 1000n],
  k: [1000n, 1n],
  M: [1000n ** 2n, 1n],
  G: [1000n ** 3n, 1n],
  T: [1000n ** 4n, 1n],
  P: [1000n ** 5n, 1n],
  E: [1000n ** 6n, 1n],
  Ki: [1024n, 1n],
  Mi: [1024n ** 2n, 1n],
  Gi: [1024n ** 3n, 1n],
  Ti: [1024n ** 4n, 1n],
  Pi: [1024n ** 5n, 1n],
  Ei: [1024n ** 6n, 1n],
};

const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?)$/;

function ceilDiv(a, b) {
  return a >= 0n ? (a + b - 1n) / b : -((-a) / b);
}

/**
 * A Kubernetes quantity (`"1900m"`, `"2"`, `"512Mi"`, `"1.5G"`, `"1e3"`) as an exact fraction of
 * base units, scaled by `scale` (1 for bytes and counts, 1000 for CPU millicores) and rounded up
 * like `resource.Quantity`'s `Value()` / `MilliValue()`. Returns a JS number; throws on bad syntax.
 */
export function parseQuantity(text, scale = 1) {
  const m = typeof text === 'string' ? QUANTITY.exec(text) : null;
  if (m === null) {
    throw new Error(
      `${JSON.stringify(text)} is not a quantity; write a number with an optional suffix, e.g. "500m", "2", "512Mi" or "1G"`,
    );
  }
  const [, sign, number, exponent, suffix = ''] = m;
  const [int, frac = ''] = number.split('.');
  let num = BigInt((int || '0') + frac) * BigInt(scale);
  let den = 10n ** BigInt(frac.length);
  if (exponent !== undefined) {
    const e = BigInt(exponent.slice(1));
    if (e > 30n || e < -30n) throw new Error(`${JSON.stringify(text)}: exponent out of range`);
    if (e >= 0n) num *= 10n ** e;
    else den *= 10n ** -e;
  } else {
    const [mul, div] = SUFFIXES[suffix];
    num *= mul;
    den *= div;
  }
  const value = ceilDiv(sign === '-' ? -num : num, den);
  return Number(value);
}

/** CPU in millicores: `parseCpuMillis("1900m") === 1900`, `parseCpuMillis("2") === 2000`. */
export function parseCpuMillis(text) {
  return parseQuantity(text, 1000);
}

/** Add `b` into `a`, merging extended resources by name (numbers). Returns `a`. */
export function addResources(a, b) {
  a.cpuMillis += Number(b.cpuMillis);
  a.memoryBytes += Number(b.memoryBytes);
  a.pods += Number(b.pods);
  a.ephemeralStorageBytes += Number(b.ephemeralStorageBytes);
  for (const ext of b.extended) {
    const found = a.extended.find((e) => e.name === ext.name);
    if (found) found.amount += Number(ext.amount);
    else a.extended.push({ name: ext.name, amount: Number(ext.amount) });
  }
  return a;
}

/** Empty resources. */
export function zeroResources() {
  return { cpuMillis: 0, memoryBytes: 0, pods: 0, ephemeralStorageBytes: 0, extended: [] };
}

/** The amount of an extended resource, 0 when absent. */
export function extended(resources, name) {
  const found = resources.extended.find((e) => e.name === name);
  return found === undefined ? 0 : Number(found.amount);
}

/** CPU as Kubernetes writes it: `1900m`, `2`. */
export function formatCpu(millis) {
  const m = Number(millis);
  return m % 1000 === 0 ? `${m / 1000}` : `${m}m`;
}

const UNITS = [
  ['Ti', 2 ** 40],
  ['Gi', 2 ** 30],
  ['Mi', 2 ** 20],
  ['Ki', 2 ** 10],
];

/** Bytes in binary units with one decimal: `2.5Gi`, `512Mi`, `100Ki`, `12`. */
export function formatBytes(bytes) {
  const b = Number(bytes);
  for (const [unit, size] of UNITS) {
    if (b >= size) {
      return b % size === 0 ? `${b / size}${unit}` : `${(b / size).toFixed(1)}${unit}`;
    }
  }
  return `${b}`;
}

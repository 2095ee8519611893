// js-hostile: a `policy`-world component (wit/worlds.wit) that misbehaves on purpose, for the
// host's fail-closed tests. Built by policies/examples/javascript/build.sh with componentize-js.
//
// Settings: {"mode": "throw" | "loop" | "alloc" | "ok"}.
// - throw: an Error escapes `check`, which is exported through the SDK's `guarded` like every
//   policy: the error is printed to stderr and the component traps (the host reports
//   policy.trapped quoting the message).
// - loop: spins forever (the host's time limit stops it).
// - alloc: keeps 1 MiB ArrayBuffers alive forever (the host's memory cap stops it).
// - ok: no findings.

import { guarded } from '../../../policies/examples/javascript/sdk/exports.js';

const MODES = ['throw', 'loop', 'alloc', 'ok'];

export const moduleInfo = {
  describe() {
    return { name: 'js-hostile', version: '0.1.0', description: 'test only: throws, loops or allocates forever on demand' };
  },
};

function mode(settings) {
  let value;
  try {
    value = JSON.parse(settings.trim() === '' ? '{}' : settings);
  } catch (e) {
    throw `invalid settings: ${e.message}; write e.g. {"mode": "ok"}`;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw `invalid settings: ${JSON.stringify(value)} is not a JSON object; write e.g. {"mode": "ok"}`;
  }
  for (const key of Object.keys(value)) {
    if (key !== 'mode') throw `invalid settings: unknown field ${JSON.stringify(key)}; the only field is mode`;
  }
  if (!MODES.includes(value.mode)) {
    throw `mode: ${JSON.stringify(value.mode)} is not a mode; write one of "throw", "loop", "alloc", "ok"`;
  }
  return value.mode;
}

export function validateSettings(settings) {
  mode(settings);
}

const kept = [];

export const check = guarded((request) => {
  switch (mode(request.settings)) {
    case 'throw':
      throw new Error('boom from javascript: the policy could not decide');
    case 'loop':
      for (;;) {
        // spin
      }
    case 'alloc':
      for (;;) {
        kept.push(new ArrayBuffer(1 << 20));
      }
    default:
      return [];
  }
});

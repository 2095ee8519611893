// The component entry of capacity-freeze-guard: binds the pure logic of policy.js to the `policy`
// world (wit/worlds.wit). Only this file imports the host's interfaces.
//
// Refusals (bad settings) are thrown as strings: the host reports them with their message. Any
// other throw is a bug: `guarded` prints it to stderr and the component traps, which the host
// reports as `policy.trapped` quoting the error (fail closed).

import * as cluster from 'tke:recycle/cluster@0.1.0';
import { write } from 'tke:recycle/log@0.1.0';
import { clusterView, guarded } from '../sdk/index.js';
import { NAME, VERSION, DESCRIPTION, parseSettings, evaluate } from './policy.js';

export const moduleInfo = {
  describe() {
    return { name: NAME, version: VERSION, description: DESCRIPTION };
  },
};

// Settings problems are refusals: their message, thrown as a string.
function settingsOrRefuse(settings) {
  try {
    return parseSettings(settings);
  } catch (e) {
    throw e instanceof Error ? e.message : String(e);
  }
}

export const validateSettings = guarded((settings) => {
  settingsOrRefuse(settings);
});

export const check = guarded((request) => {
  settingsOrRefuse(request.settings);
  const findings = evaluate(request, clusterView(cluster));
  write('debug', `${findings.length} finding(s) for ${Array.from(request.targets).join(', ')}`);
  return findings;
});

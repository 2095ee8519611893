// The JavaScript policy SDK for tke-recycle: pure ES modules, runnable under plain node and inside
// a componentize-js component.
export { decodeNodeTable, MalformedNodeTable, READY, UNSCHEDULABLE } from './node-table.js';
export {
  requirementMatches,
  selectorMatches,
  nodeSelectorTermMatches,
  tolerates,
  podIsFinished,
  isDaemonSetPod,
  evictedByDrain,
} from './selectors.js';
export {
  parseQuantity,
  parseCpuMillis,
  addResources,
  zeroResources,
  extended,
  formatCpu,
  formatBytes,
} from './quantity.js';
export { finding, objectRef, nodeRef, podRef, unknownNode, applySeverityOverrides, SEVERITIES } from './findings.js';
export { clusterView, FakeCluster, encodeNodeTable } from './cluster.js';
export { parseRfc3339, settingsObject, validateSeverityOverrides } from './settings.js';
export { guarded } from './exports.js';

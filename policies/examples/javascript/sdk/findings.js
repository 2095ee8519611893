// Building findings (mirrors policies/sdk/src/findings.rs). A finding is the WIT record
// `finding` as componentize-js lowers it: camelCase fields, severity 'info' | 'warn' | 'deny',
// absent options as undefined. The host fills in `policy`.

export const SEVERITIES = ['info', 'warn', 'deny'];

/** A reference to any object. */
export function objectRef(kind, namespace, name) {
  return { kind, namespace: namespace ?? undefined, name };
}

/** A reference to a node (a node record or a node name). */
export function nodeRef(node) {
  return objectRef('Node', undefined, typeof node === 'string' ? node : node.name);
}

/** A reference to a pod. */
export function podRef(pod) {
  return objectRef('Pod', pod.namespace, pod.name);
}

/** `finding(code, 'deny', subject).message(..).remedy(..).build()`. */
export function finding(code, severity, subject) {
  if (!SEVERITIES.includes(severity)) {
    throw new Error(`${JSON.stringify(severity)} is not a severity; use "info", "warn" or "deny"`);
  }
  const f = { policy: '', code, severity, message: '', subject, remedy: undefined };
  const builder = {
    message(text) {
      f.message = text;
      return builder;
    },
    remedy(text) {
      f.remedy = text;
      return builder;
    },
    build() {
      return f;
    },
  };
  return builder;
}

/** The deny every pre-check returns for a target the snapshot does not know. */
export function unknownNode(code, name) {
  return finding(code, 'deny', nodeRef(name))
    .message(`node ${name} is not in the snapshot`)
    .remedy('check the node name with `kubectl get nodes` (TKE names nodes by their LAN IP)')
    .build();
}

/** Apply `severity_overrides` (code -> severity) to findings, in place. */
export function applySeverityOverrides(overrides, findings) {
  for (const f of findings) {
    const s = overrides[f.code];
    if (SEVERITIES.includes(s)) f.severity = s;
  }
  return findings;
}

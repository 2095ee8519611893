//! The pod this process runs in, when it runs as a Kubernetes Job, so that a recycle never
//! drains the ground it stands on.
//!
//! A pod knows itself only if its manifest says so: the downward API puts its name and namespace
//! in `POD_NAME` and `POD_NAMESPACE` (`deploy/job.yaml` does). With both set, the runner refuses
//! to start on a node that runs this pod (its drain could never finish, and evicting the pod
//! would kill the run half-way), and the host refuses to evict or delete this pod whatever a
//! runbook asks. Without them (a laptop), there is nothing to protect.
//!
//! Deciding only; the runner and the runbook operations act on the answers.

use std::fmt;

/// The variable holding this pod's name (downward API `metadata.name`).
pub const POD_NAME_ENV: &str = "POD_NAME";
/// The variable holding this pod's namespace (downward API `metadata.namespace`).
pub const POD_NAMESPACE_ENV: &str = "POD_NAMESPACE";

/// This process's pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnPod {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl fmt::Display for OwnPod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl OwnPod {
    /// From `POD_NAME` and `POD_NAMESPACE`; `None` unless both are set and non-empty.
    pub fn from_env() -> Option<Self> {
        Self::from_values(
            std::env::var(POD_NAMESPACE_ENV).ok().as_deref(),
            std::env::var(POD_NAME_ENV).ok().as_deref(),
        )
    }

    /// From the two values (the testable half of [`from_env`](Self::from_env)).
    pub fn from_values(namespace: Option<&str>, name: Option<&str>) -> Option<Self> {
        let (namespace, name) = (namespace?.trim(), name?.trim());
        // One without the other cannot name a pod; guessing the namespace could protect the
        // wrong one.
        (!namespace.is_empty() && !name.is_empty()).then(|| Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }

    /// Whether `namespace/name` is this pod.
    pub fn is(&self, namespace: &str, name: &str) -> bool {
        self.namespace == namespace && self.name == name
    }

    /// Why touching this pod is refused: the message a refused eviction or delete carries.
    pub fn refusal(&self) -> String {
        format!(
            "pod {self} is the one this tke-recycle runs in; evicting it would stop the run half-way"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_values_are_needed() {
        let cases = [
            ("both", Some("tke-recycle"), Some("job-x"), true),
            ("no_name", Some("tke-recycle"), None, false),
            ("no_namespace", None, Some("job-x"), false),
            ("empty_name", Some("tke-recycle"), Some(" "), false),
        ];
        for (case, ns, name, want) in cases {
            assert_eq!(OwnPod::from_values(ns, name).is_some(), want, "{case}");
        }
        let own = OwnPod::from_values(Some("tke-recycle"), Some("job-x")).expect("both set");
        assert!(own.is("tke-recycle", "job-x"));
        assert!(!own.is("other", "job-x"));
        assert!(own.refusal().contains("tke-recycle/job-x"));
    }
}

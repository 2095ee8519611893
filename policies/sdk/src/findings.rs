//! Building findings without repeating the record's every field.

use crate::{Finding, Node, ObjectRef, Pod, Severity};

/// A reference to a node.
pub fn node_ref(node: &Node) -> ObjectRef {
    object_ref("Node", None, &node.name)
}

/// A reference to a pod.
pub fn pod_ref(pod: &Pod) -> ObjectRef {
    object_ref("Pod", Some(&pod.namespace), &pod.name)
}

/// A reference to any object.
pub fn object_ref(kind: &str, namespace: Option<&str>, name: &str) -> ObjectRef {
    ObjectRef {
        kind: kind.to_owned(),
        namespace: namespace.map(str::to_owned),
        name: name.to_owned(),
    }
}

/// Start a finding: `finding("pdb.zero-budget", Severity::Deny, subject).message(..).remedy(..)`.
pub fn finding(code: &str, severity: Severity, subject: ObjectRef) -> FindingBuilder {
    FindingBuilder(Finding {
        policy: String::new(),
        code: code.to_owned(),
        severity,
        message: String::new(),
        subject,
        remedy: None,
    })
}

/// A finding under construction. The host fills in `policy`.
#[must_use]
pub struct FindingBuilder(Finding);

impl FindingBuilder {
    /// What is wrong, with the numbers.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.0.message = message.into();
        self
    }

    /// What to do about it.
    pub fn remedy(mut self, remedy: impl Into<String>) -> Self {
        self.0.remedy = Some(remedy.into());
        self
    }

    /// The finished record.
    pub fn build(self) -> Finding {
        self.0
    }
}

/// The deny every pre-check returns for a target the snapshot does not know: a typo in a node name
/// must never read as "nothing to worry about".
pub fn unknown_node(code: &str, name: &str) -> Finding {
    finding(code, Severity::Deny, object_ref("Node", None, name))
        .message(format!("node {name} is not in the snapshot"))
        .remedy("check the node name with `kubectl get nodes` (TKE names nodes by their LAN IP)")
        .build()
}

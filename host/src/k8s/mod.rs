//! Kubernetes access with kube-rs: the client as kubectl resolves it, the snapshot reader, and the
//! mutating steps of a recycle (cordon, evict, waits, the lease lock, node events).
//!
//! [`project`] and [`quantity`] are pure and hold the Kubernetes semantics (owner resolution,
//! effective requests, quantities); everything else talks to an API server. Draining policy
//! (which pods, in which order, how long to back off) is the runbook's business, not this
//! module's: here each operation does one thing and reports exactly what the server answered.
//!
//! - [`snapshot`]: one read of the cluster (paged lists) and the projection it shares with
//!   [`live`].
//! - [`live`]: the run's live view, kept current by watches; a refresh costs what changed.
//! - [`drain`]: which pods a drain must evict, as kubectl decides it (pure).
//! - [`node_ops`]: cordon, uncordon, labels and taints.
//! - [`own_pod`]: the pod this process runs in (as a Job), which a run must never drain.
//! - [`served`]: which PDB and eviction versions the cluster serves (Kubernetes 1.20 to 1.32).
//! - [`wire`]: the lean wire form pods are read in, in bulk.

pub mod api_error;
pub mod client;
pub mod drain;
pub mod events;
pub mod evict;
pub mod lease;
pub mod live;
pub mod node_ops;
pub mod own_pod;
pub mod project;
pub mod quantity;
pub mod served;
pub mod snapshot;
pub mod wait;
pub mod wire;

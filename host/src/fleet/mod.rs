//! Recycling many clusters: the pieces of `tke-recycle fleet` that are not command-line
//! plumbing. A fleet keeps no state of its own anywhere but in the clusters: each cluster's run
//! journal and Lease (the same as a single `run --journal-in-cluster`), plus the fleet's
//! [`record`] in one cluster's ConfigMap (or rebuilt from the journals). The CLI
//! (`cli::fleet`) strings these together batch by batch.

pub mod gate;
pub mod record;
pub mod select;

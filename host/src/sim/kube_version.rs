//! The Kubernetes version a practice cluster plays, and what its API server serves because of
//! it: the APIs tke-recycle uses that changed version between 1.20 and 1.32 (see
//! [`crate::k8s::served`] for the client's side of the same table).

use std::fmt;

use crate::sim::resource::Res;

/// Oldest minor version the practice cluster plays (TKE still runs 1.20 clusters).
pub const OLDEST_MINOR: u32 = 20;
/// Newest minor version the practice cluster plays.
pub const NEWEST_MINOR: u32 = 34;

/// A `1.x[.y]` Kubernetes version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KubeVersion {
    /// Minor version: 20 for 1.20.
    pub minor: u32,
    /// Patch version (0 when the scenario names only `1.x`).
    pub patch: u32,
}

/// A version the practice cluster cannot play.
#[derive(Debug, thiserror::Error)]
#[error(
    "Kubernetes version {given:?} is not one the practice cluster plays: give 1.{OLDEST_MINOR} to 1.{NEWEST_MINOR}, as \"1.20\" or \"1.20.2\""
)]
pub struct VersionError {
    given: String,
}

impl KubeVersion {
    /// Parse `1.20`, `1.20.2` or `v1.20.2`.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let err = || VersionError {
            given: text.to_owned(),
        };
        let mut parts = text.trim().trim_start_matches('v').split('.');
        let (Some("1"), Some(minor)) = (parts.next(), parts.next()) else {
            return Err(err());
        };
        let minor: u32 = minor.parse().map_err(|_| err())?;
        let patch: u32 = match parts.next() {
            Some(p) => p.parse().map_err(|_| err())?,
            None => 0,
        };
        if parts.next().is_some() || !(OLDEST_MINOR..=NEWEST_MINOR).contains(&minor) {
            return Err(err());
        }
        Ok(Self { minor, patch })
    }

    /// The versions of `policy` PodDisruptionBudgets served, preferred first: v1beta1 only up to
    /// 1.20, both from 1.21 to 1.24, v1 only from 1.25 (v1beta1 was removed).
    pub fn pdb_versions(self) -> &'static [&'static str] {
        match self.minor {
            ..=20 => &["v1beta1"],
            21..=24 => &["v1", "v1beta1"],
            _ => &["v1"],
        }
    }

    /// The versions `res` is served at, preferred first: PDBs as [`pdb_versions`](Self::pdb_versions)
    /// says, CronJobs at batch/v1beta1 before 1.21, everything else at the one version it is stored at.
    pub fn versions(self, res: Res) -> &'static [&'static str] {
        match res {
            Res::PodDisruptionBudgets => self.pdb_versions(),
            // batch/v1 CronJobs are GA from 1.21; before, only batch/v1beta1 (same fields).
            Res::CronJobs => match self.minor {
                ..=20 => &["v1beta1"],
                21..=24 => &["v1", "v1beta1"],
                _ => &["v1"],
            },
            other => std::slice::from_ref(&other.def().version),
        }
    }

    /// The version `/api/v1` names for `pods/eviction`: policy/v1 from 1.22.
    pub fn eviction_version(self) -> &'static str {
        if self.minor >= 22 { "v1" } else { "v1beta1" }
    }

    /// Whether an Eviction body of `policy/{version}` is accepted: v1beta1 until its removal in
    /// 1.25, v1 from 1.22.
    pub fn accepts_eviction(self, version: &str) -> bool {
        match version {
            "v1" => self.minor >= 22,
            "v1beta1" => self.minor <= 24,
            _ => false,
        }
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v1.{}.{}", self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_out_of_range_ones_are_refused_by_name() {
        assert_eq!(
            KubeVersion::parse("1.20").expect("1.20"),
            KubeVersion {
                minor: 20,
                patch: 0
            }
        );
        assert_eq!(
            KubeVersion::parse("v1.24.17")
                .expect("v1.24.17")
                .to_string(),
            "v1.24.17"
        );
        for bad in ["1.19", "1.35", "2.1", "1", "1.x", "1.20.2.1", ""] {
            let e = KubeVersion::parse(bad).expect_err(bad);
            assert!(e.to_string().contains("give 1.20 to 1.34"), "{e}");
        }
    }

    #[test]
    fn cron_jobs_are_batch_v1beta1_before_1_21() {
        let v = |m| KubeVersion { minor: m, patch: 0 };
        assert_eq!(v(20).versions(Res::CronJobs), ["v1beta1"]);
        assert_eq!(v(22).versions(Res::CronJobs), ["v1", "v1beta1"]);
        assert_eq!(v(32).versions(Res::CronJobs), ["v1"]);
        assert_eq!(v(20).versions(Res::Jobs), ["v1"]);
    }

    #[test]
    fn served_apis_follow_the_kubernetes_release_history() {
        let v = |m| KubeVersion { minor: m, patch: 0 };
        // (minor, PDB versions, eviction named in /api/v1, v1 body, v1beta1 body)
        let table = [
            (20, &["v1beta1"][..], "v1beta1", false, true),
            (21, &["v1", "v1beta1"][..], "v1beta1", false, true),
            (22, &["v1", "v1beta1"][..], "v1", true, true),
            (24, &["v1", "v1beta1"][..], "v1", true, true),
            (25, &["v1"][..], "v1", true, false),
            (32, &["v1"][..], "v1", true, false),
        ];
        for (minor, pdbs, eviction, v1, beta) in table {
            assert_eq!(v(minor).pdb_versions(), pdbs, "1.{minor}");
            assert_eq!(v(minor).eviction_version(), eviction, "1.{minor}");
            assert_eq!(v(minor).accepts_eviction("v1"), v1, "1.{minor}");
            assert_eq!(v(minor).accepts_eviction("v1beta1"), beta, "1.{minor}");
        }
    }
}

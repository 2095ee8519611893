//! Every bundled module has a test module here named after its crate: `foreach_bundled!` (generated
//! by host/build.rs) refers to each, so adding a bundled policy without a test fails to compile.

use std::sync::Arc;

use tke_recycle::bindings::types::{CheckRequest, Finding, Phase};
use tke_recycle::checks::{OutputLimits, PolicySpec, run_policy};
use tke_recycle::snapshot::{ClusterView, Snapshot};

use crate::support::runtime;

macro_rules! require_test_module {
    ($module:ident) => {
        #[allow(unused_imports, reason = "the reference itself is the check")]
        use self::$module as _;
    };
}
tke_recycle::foreach_bundled!(require_test_module);

/// Run one bundled policy with `settings` on `snapshot` for `targets`.
async fn run_bundled(
    name: &str,
    snapshot: Snapshot,
    targets: &[&str],
    settings: &str,
) -> Vec<Finding> {
    run_bundled_in(name, Phase::Pre, snapshot, targets, settings).await
}

/// As [`run_bundled`], for a given phase.
async fn run_bundled_in(
    name: &str,
    phase: Phase,
    snapshot: Snapshot,
    targets: &[&str],
    settings: &str,
) -> Vec<Finding> {
    let module = tke_recycle::bundled::find(name).expect("bundled");
    let spec = PolicySpec {
        settings: settings.to_owned(),
        ..PolicySpec::bundled(module)
    };
    let request = CheckRequest {
        targets: targets.iter().map(|t| (*t).to_owned()).collect(),
        phase,
        settings: String::new(),
        now: 0,
        affected: Vec::new(),
    };
    let runtime = runtime(std::time::Duration::from_secs(5));
    run_policy(
        &runtime,
        &spec,
        Arc::new(ClusterView::new(snapshot)),
        &request,
        &OutputLimits::default(),
    )
    .await
    .findings
}

mod protected_nodes {
    use tke_recycle::snapshot::Snapshot;

    use crate::support::example_snapshot;

    #[tokio::test]
    async fn denies_the_labelled_node_of_the_example_and_passes_the_others() {
        let snapshot = || Snapshot::load(&example_snapshot()).expect("loads");
        let denied = super::run_bundled("protected-nodes", snapshot(), &["10.0.1.14"], "{}").await;
        assert_eq!(denied.len(), 1);
        assert_eq!(denied[0].code, "protected-nodes.labelled");
        let passed = super::run_bundled(
            "protected-nodes",
            snapshot(),
            &["10.0.1.11", "10.0.1.12"],
            "{}",
        )
        .await;
        assert!(passed.is_empty(), "{passed:?}");
    }
}

/// The fixture tests in `fixtures.rs` cover each bundled pre-check against the snapshots named for
/// their outcomes; these modules name each bundled module so that a new one cannot go untested.
mod headroom {
    #[tokio::test]
    async fn denies_a_pod_that_fits_nowhere() {
        let f = super::run_bundled(
            "headroom",
            crate::support::fixture("no-room-for-memory.deny.json"),
            &["10.0.1.11"],
            "{}",
        )
        .await;
        assert!(
            f.iter()
                .any(|f| f.code == "headroom.unschedulable" && f.message.contains("0/4 nodes")),
            "{f:?}"
        );
    }
}

mod pdb {
    #[tokio::test]
    async fn denies_a_budget_that_can_never_allow_the_drain() {
        let f = super::run_bundled(
            "pdb",
            crate::support::fixture("pdb-zero-budget.deny.json"),
            &["10.0.1.11"],
            "{}",
        )
        .await;
        assert_eq!(
            f.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
            ["pdb.zero-budget"]
        );
    }
}

mod spread {
    #[tokio::test]
    async fn denies_when_every_ready_replica_is_on_the_target() {
        let f = super::run_bundled(
            "spread",
            crate::support::fixture("all-replicas-on-node.deny.json"),
            &["10.0.1.11"],
            "{}",
        )
        .await;
        assert_eq!(
            f.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
            ["spread.all-replicas-on-targets"]
        );
    }
}

mod local_data {
    #[tokio::test]
    async fn denies_a_pod_pinned_by_a_local_pv() {
        let f = super::run_bundled(
            "local-data",
            crate::support::fixture("local-pv-pinned.deny.json"),
            &["10.0.1.11"],
            "{}",
        )
        .await;
        assert_eq!(
            f.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
            ["local-data.pinned-volume"]
        );
    }
}

mod workloads_healthy {
    #[tokio::test]
    async fn says_so_when_the_runbook_recorded_nothing() {
        let snapshot = tke_recycle::snapshot::Snapshot::default();
        let phase = tke_recycle::bindings::types::Phase::Post;
        let f =
            super::run_bundled_in("workloads-healthy", phase, snapshot, &["10.0.1.11"], "{}").await;
        assert_eq!(
            f.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
            ["workloads-healthy.nothing-recorded"]
        );
    }
}

mod runbook {
    use tke_recycle::engine::Limits;
    use tke_recycle::runbook::RunbookModule;

    use crate::support::runtime;

    /// The runbook itself is exercised end to end in `recycle*.rs`; here: it is bundled, it fits
    /// the runbook world, and it links against this host's imports.
    #[test]
    fn loads_and_links_as_the_runbook_world() {
        let module = tke_recycle::bundled::find("runbook").expect("the runbook is bundled");
        assert_eq!(module.world, tke_recycle::engine::World::Runbook);
        let runtime = runtime(std::time::Duration::from_secs(5));
        RunbookModule::load(&runtime, "runbook", module.wasm, Limits::runbook())
            .expect("the bundled runbook loads");
        // A runbook is never a policy.
        assert!(runtime.load_policy("runbook", module.wasm).is_err());
    }
}

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
async fn run_bundled(name: &str, snapshot: Snapshot, targets: &[&str], settings: &str) -> Vec<Finding> {
    let module = tke_recycle::bundled::find(name).expect("bundled");
    let spec = PolicySpec { settings: settings.to_owned(), ..PolicySpec::bundled(module) };
    let request = CheckRequest {
        targets: targets.iter().map(|t| (*t).to_owned()).collect(),
        phase: Phase::Pre,
        settings: String::new(),
        now: 0,
        affected: Vec::new(),
    };
    let runtime = runtime(std::time::Duration::from_secs(5));
    run_policy(&runtime, &spec, Arc::new(ClusterView::new(snapshot)), &request, &OutputLimits::default())
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
        let passed = super::run_bundled("protected-nodes", snapshot(), &["10.0.1.11", "10.0.1.12"], "{}").await;
        assert!(passed.is_empty(), "{passed:?}");
    }
}

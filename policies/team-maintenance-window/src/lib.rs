//! `team-maintenance-window`: an example of a policy a platform team writes for itself.
//!
//! "No recycling of nodes labelled `tier=critical` outside 01:00-05:00 in the cluster's time
//! zone." It is deliberately small and lives outside the bundled set (its `Cargo.toml` has no
//! `[package.metadata.tke-recycle]` table): copy the crate, rename it, change [`decide`].
//!
//! The time comes from `check-request.now`, never from a WASI clock: the host decides what "now"
//! is, so a check is reproducible from a snapshot and testable with any time.

mod settings;

use settings::{Settings, Window};
use tke_recycle_policy_sdk::{
    CheckRequest, Cluster, Finding, ModuleInfo, Node, Policy, Severity, finding, node_ref,
    unknown_node,
};

pub use settings::CODES;

/// The policy.
pub struct MaintenanceWindow;

impl Policy for MaintenanceWindow {
    fn info() -> ModuleInfo {
        ModuleInfo {
            name: "team-maintenance-window".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "no recycling of critical nodes outside their maintenance window".into(),
        }
    }

    fn validate_settings(settings: &str) -> Result<(), String> {
        Settings::parse(settings).map(|_| ())
    }

    fn check(request: &CheckRequest, cluster: &dyn Cluster) -> Result<Vec<Finding>, String> {
        evaluate(request, cluster)
    }
}

/// The whole check: one `node` query per target.
pub fn evaluate(request: &CheckRequest, cluster: &dyn Cluster) -> Result<Vec<Finding>, String> {
    let settings = Settings::parse(&request.settings)?;
    let window = settings.window()?;
    let mut findings = Vec::new();
    for target in &request.targets {
        match cluster.node(target) {
            Some(summary) => findings.extend(decide(&summary.node, &settings, window, request.now)),
            None => findings.push(unknown_node("team-maintenance-window.unknown-node", target)),
        }
    }
    settings.severity_overrides.apply(&mut findings);
    Ok(findings)
}

/// Minutes after local midnight at Unix time `now`.
pub fn local_minute(now: u64, offset_minutes: i32) -> u32 {
    let local = i64::try_from(now / 60).unwrap_or(i64::MAX) + i64::from(offset_minutes);
    u32::try_from(local.rem_euclid(24 * 60)).unwrap_or(0)
}

/// Whether `minute` lies in `[start, end)`, across midnight when `end < start`.
pub fn in_window(minute: u32, window: Window) -> bool {
    if window.start < window.end {
        (window.start..window.end).contains(&minute)
    } else {
        minute >= window.start || minute < window.end
    }
}

fn hh_mm(minute: u32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// The decision for one node.
pub fn decide(node: &Node, settings: &Settings, window: Window, now: u64) -> Option<Finding> {
    let matches = settings
        .match_labels
        .iter()
        .all(|(k, v)| node.labels.iter().any(|l| l.key == *k && l.value == *v));
    if !matches {
        return None;
    }
    let minute = local_minute(now, window.offset_minutes);
    if in_window(minute, window) {
        return None;
    }
    let wait = (window.start + 24 * 60 - minute) % (24 * 60);
    let labels = settings
        .match_labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    Some(
        finding(
            "team-maintenance-window.outside-window",
            Severity::Deny,
            node_ref(node),
        )
        .message(format!(
            "node {} is labelled {labels} and may only be recycled between {} and {} ({}); it is {} there now",
            node.name,
            hh_mm(window.start),
            hh_mm(window.end),
            settings.time_zone.as_deref().unwrap_or("UTC"),
            hh_mm(minute)
        ))
        .remedy(format!(
            "start the recycle inside the window (it opens in {}h{:02}m)",
            wait / 60,
            wait % 60
        ))
        .build(),
    )
}

tke_recycle_policy_sdk::export_policy!(MaintenanceWindow);

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use tke_recycle_policy_sdk::testkit;
    use tke_recycle_policy_sdk::{MemoryCluster, SnapshotFile};

    use super::*;

    /// 2026-11-27T00:00:00Z.
    const MIDNIGHT_UTC: u64 = 1_795_737_600;

    fn at(hh: u64, mm: u64) -> u64 {
        MIDNIGHT_UTC + hh * 3600 + mm * 60
    }

    fn critical(name: &str) -> Node {
        let mut n = testkit::node(name);
        n.labels.extend(testkit::labels(&[("tier", "critical")]));
        n
    }

    fn run(nodes: Vec<Node>, now: u64, settings: &str) -> Vec<Finding> {
        let cluster = MemoryCluster::new(SnapshotFile {
            nodes,
            ..Default::default()
        });
        let mut request = testkit::request(&["10.0.1.11"], settings);
        request.now = now;
        evaluate(&request, &cluster).expect("decides")
    }

    const SHANGHAI: &str = r#"{"time_zone": "Asia/Shanghai"}"#;

    #[rstest]
    #[case::deny_critical_node_in_the_afternoon(critical("10.0.1.11"), at(6, 30), SHANGHAI, true)]
    #[case::pass_critical_node_at_window_start(critical("10.0.1.11"), at(17, 0), SHANGHAI, false)]
    #[case::pass_critical_node_inside_window(critical("10.0.1.11"), at(19, 59), SHANGHAI, false)]
    #[case::deny_critical_node_at_window_end(critical("10.0.1.11"), at(21, 0), SHANGHAI, true)]
    #[case::pass_node_without_the_label_any_time(
        testkit::node("10.0.1.11"),
        at(6, 30),
        SHANGHAI,
        false
    )]
    #[case::pass_inside_window_across_midnight(
        critical("10.0.1.11"),
        at(23, 30),
        r#"{"time_zone": "UTC", "window_start": "22:00", "window_end": "02:00"}"#,
        false
    )]
    #[case::deny_outside_window_across_midnight(
        critical("10.0.1.11"),
        at(12, 0),
        r#"{"time_zone": "UTC", "window_start": "22:00", "window_end": "02:00"}"#,
        true
    )]
    #[case::negative_offset_wraps_to_previous_day(
        critical("10.0.1.11"),
        at(3, 0),
        r#"{"time_zone": "-05:00", "window_start": "21:00", "window_end": "23:00"}"#,
        false
    )]
    fn window_rules(
        #[case] node: Node,
        #[case] now: u64,
        #[case] settings: &str,
        #[case] deny: bool,
    ) {
        let f = run(vec![node], now, settings);
        assert_eq!(!f.is_empty(), deny, "{f:#?}");
    }

    #[test]
    fn message_says_local_time_and_when_the_window_opens() {
        let f = run(vec![critical("10.0.1.11")], at(6, 30), SHANGHAI);
        assert_eq!(
            f[0].message,
            "node 10.0.1.11 is labelled tier=critical and may only be recycled between 01:00 and 05:00 (Asia/Shanghai); it is 14:30 there now"
        );
        assert_eq!(
            f[0].remedy.as_deref(),
            Some("start the recycle inside the window (it opens in 10h30m)")
        );
    }

    #[test]
    fn codes_list_and_readme_match_what_the_code_emits() {
        let found = testkit::codes_in_source(
            "team-maintenance-window",
            &[include_str!("lib.rs"), include_str!("settings.rs")],
        );
        assert_eq!(
            found,
            CODES
                .iter()
                .copied()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
        );
        let readme = include_str!("../../README.md");
        for code in CODES {
            assert!(
                readme.contains(&format!("`{code}`")),
                "{code} is not documented in policies/README.md"
            );
        }
    }

    #[test]
    fn deny_unknown_node() {
        let f = run(vec![], 0, SHANGHAI);
        assert_eq!(f[0].code, "team-maintenance-window.unknown-node");
    }
}

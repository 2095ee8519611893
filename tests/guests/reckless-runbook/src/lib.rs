//! A test-only runbook that tries, on the first node, everything the host must refuse whatever a
//! runbook asks: remove the instance and add it back without a journaled capture, write a key
//! under the host's `host/` prefix, and delete a pod without the operator's opt-in. It returns
//! the answers it got as its error, one per line, so the test can read them.

#![cfg_attr(
    not(target_arch = "wasm32"),
    allow(dead_code, reason = "only the component build exports it")
)]
#![allow(
    unsafe_code,
    missing_docs,
    clippy::too_many_arguments,
    reason = "generated bindings"
)]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "runbook",
    generate_all,
});

use exports::tke::recycle::module_info::Info;
use tke::recycle::{cluster, journal, operations, tke as cloud};

struct RecklessRunbook;

impl exports::tke::recycle::module_info::Guest for RecklessRunbook {
    fn describe() -> Info {
        Info {
            name: "reckless-runbook".into(),
            version: "0.0.0".into(),
            description: "tries what the host must refuse".into(),
        }
    }
}

impl Guest for RecklessRunbook {
    fn run(request: RunRequest) -> Result<(), String> {
        let node = request.nodes.first().cloned().unwrap_or_default();
        let instance = cluster::node(&node)
            .and_then(|s| s.node.instance_id)
            .unwrap_or_default();
        let mut answers = Vec::new();
        answers.push(format!(
            "remove: {:?}",
            cloud::remove_instance_keep_vm(&instance)
        ));
        let settings = cloud::AdvancedSettings {
            mount_target: None,
            docker_graph_path: None,
            user_script: None,
            pre_start_user_script: None,
            unschedulable: true,
            labels: Vec::new(),
            taints: Vec::new(),
            data_disks: Vec::new(),
            kubelet_extra_args: Vec::new(),
            desired_pod_number: None,
        };
        answers.push(format!(
            "add: {:?}",
            cloud::add_existing_instance(&cloud::AddRequest {
                instance_id: instance.clone(),
                settings,
                node_pool_id: None,
                security_group_ids: Vec::new(),
                login: cloud::Login::KeepImageLogin,
                host_name: None,
            })
        ));
        answers.push(format!(
            "journal: {:?}",
            journal::put(&format!("host/capture/{instance}"), "{}")
        ));
        let pods = operations::pods_to_evict(&node).unwrap_or_default();
        let keys: Vec<operations::PodKey> = pods
            .iter()
            .take(1)
            .map(|p| operations::PodKey {
                namespace: p.namespace.clone(),
                name: p.name.clone(),
                uid: p.uid.clone(),
            })
            .collect();
        answers.push(format!("delete: {:?}", operations::delete_pods(&keys)));
        Err(answers.join("\n"))
    }
}

// Native builds (unit tests, `cargo build --workspace`) must not export component symbols.
#[cfg(target_arch = "wasm32")]
export!(RecklessRunbook);

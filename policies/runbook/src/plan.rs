//! Mode `plan`: what a recycle of each node would do, reported, with nothing changed.
//!
//! Per node: the pre-check findings (never a confirmation question), the instance capture, the
//! pods a drain would evict, the workloads and PDBs the post-check would gate on and the exact
//! add request, as one `plan` report whose `data` is the machine-readable plan. A node that would
//! be denied or is invalid is reported as such too, and the plan goes on with the next node. The
//! host refuses every mutating call in a dry run; this module makes none and writes no journal.

use serde_json::{Value, json};

use crate::capture::{self, add_request_json, pod_refs, ref_json, ref_text};
use crate::drain::{key_text, names, pod_key};
use crate::driver::Runbook;
use crate::error::{self, Stop};
use crate::findings::{Verdict, codes, findings_json, listing};
use crate::host::TkeError;

/// The code of headroom's finding that says where the evicted pods are expected to land.
const PLACEMENT_CODE: &str = "headroom.placement";

/// Plan every node; `Ok` unless the host fails (or the run is cancelled).
pub fn run(rb: &mut Runbook<'_>) -> Result<(), Stop> {
    let mut denied = Vec::new();
    let mut invalid = Vec::new();
    for index in 0..rb.nodes.len() {
        let name = rb.nodes[index].clone();
        match plan_node(rb, index)? {
            Verdicts::Fine => {}
            Verdicts::Denied => denied.push(name),
            Verdicts::Invalid => invalid.push(name),
            Verdicts::Both => {
                denied.push(name.clone());
                invalid.push(name);
            }
        }
    }
    let mut message = format!("plan for {} nodes", rb.nodes.len());
    if denied.is_empty() && invalid.is_empty() {
        message.push_str(": every node can be recycled");
    }
    if !denied.is_empty() {
        message.push_str(&format!("; would be denied: {}", denied.join(", ")));
    }
    if !invalid.is_empty() {
        message.push_str(&format!(
            "; cannot be recycled as they are: {}",
            invalid.join(", ")
        ));
    }
    rb.report(
        "",
        "plan",
        message,
        Some(json!({"nodes": rb.nodes, "denied": denied, "invalid": invalid})),
    );
    Ok(())
}

enum Verdicts {
    Fine,
    Denied,
    Invalid,
    Both,
}

fn plan_node(rb: &mut Runbook<'_>, index: usize) -> Result<Verdicts, Stop> {
    let name = rb.nodes[index].clone();
    let Some(summary) = rb.read_node(&name)? else {
        let message = Runbook::missing_node_message(&name);
        rb.report(
            &name,
            "invalid",
            message.clone(),
            Some(json!({"node": name, "problems": [message]})),
        );
        return Ok(Verdicts::Invalid);
    };
    let verdict = Verdict::of(rb.pre_findings(index)?, &rb.settings);
    let mut problems: Vec<String> = Vec::new();

    let instance_id = summary.node.instance_id.clone();
    let captured = match &instance_id {
        None => {
            problems.push(Runbook::no_instance_message(&name));
            None
        }
        Some(id) => match rb.host.capture_instance(id) {
            Ok(c) => Some(c),
            Err(TkeError::NotFound(_)) => {
                problems.push(format!(
                    "node {name}'s instance {id} is not in TKE cluster {}; check the node's providerID and the cluster ID (`tke-recycle nodes` lists nodes with their instances)",
                    rb.cluster_id
                ));
                None
            }
            Err(e) => {
                return Err(error::tke(format_args!(
                    "node {name}: capturing instance {id}"
                ))(e));
            }
        },
    };
    let pods = rb
        .host
        .pods_to_evict(&name)
        .map_err(error::ops(format_args!(
            "node {name}: listing the pods to evict"
        )))?;
    let pdbs = if pods.is_empty() {
        Vec::new()
    } else {
        rb.host.pdbs_covering(&pod_refs(&pods))
    };
    let affected = capture::affected(&pods, &pdbs);
    let record = match &captured {
        Some(c) => match capture::build(&summary.node, c, &pods, &pdbs, &rb.settings) {
            Ok(r) => Some(r),
            Err(problem) => {
                problems.push(problem);
                None
            }
        },
        None => None,
    };
    let keep = rb.settings.keep_data_disk.clone();
    let add_request: Value = record.as_ref().map_or(Value::Null, |r| {
        add_request_json(&r.add_request, keep.as_ref())
    });
    let pod_names: Vec<String> = pods.iter().map(|p| key_text(&pod_key(p))).collect();
    let blocked_by = codes(&verdict.denied);
    let data = json!({
        "node": name,
        "instance_id": instance_id,
        "node_pool_id": captured.as_ref().and_then(|c| c.instance.node_pool_id.clone()),
        "pods": pod_names,
        "affected": affected.iter().map(ref_json).collect::<Vec<_>>(),
        "labels_to_restore": record.as_ref().map(|r| r.labels.iter().map(capture::label_text).collect::<Vec<_>>()),
        "taints_to_restore": record.as_ref().map(|r| r.taints.iter().map(capture::taint_text).collect::<Vec<_>>()),
        "add_request": add_request,
        "findings": findings_json(&verdict.all),
        "accepted": codes(&verdict.accepted),
        "warnings": codes(&verdict.warnings),
        "blocked_by": blocked_by,
        "problems": problems,
    });

    let mut message = format!(
        "node {name}: would evict {} pods ({}), gate on {} workloads and PDBs",
        pods.len(),
        if pod_names.is_empty() {
            "none".to_owned()
        } else {
            names(&pod_names)
        },
        affected.len()
    );
    if let (Some(id), Some(r)) = (&instance_id, &record) {
        message.push_str(&format!(
            ", remove instance {id} keeping the VM and add it back to node pool {} cordoned",
            r.node_pool_id.as_deref().unwrap_or("(none)")
        ));
        if let Some(k) = &keep {
            message.push_str(&format!(
                " with {} kept at {} by a user script",
                k.device, k.mount_target
            ));
        }
        if !r.labels.is_empty() || !r.taints.is_empty() {
            message.push_str(&format!(
                ", then restore {} labels and {} taints",
                r.labels.len(),
                r.taints.len()
            ));
        }
    }
    if !affected.is_empty() {
        let shown: Vec<String> = affected.iter().map(ref_text).collect();
        message.push_str(&format!(" ({})", names(&shown)));
    }
    // Where headroom expects the evicted pods (its `headroom.placement` info finding, which the
    // host asks for in a plan).
    if let Some(p) = verdict.all.iter().find(|f| f.code == PLACEMENT_CODE) {
        message.push_str(&format!("; headroom: {}", p.message));
    }
    if !verdict.warnings.is_empty() {
        message.push_str(&format!(
            "; warnings to confirm: {}",
            listing(&verdict.warnings)
        ));
    }
    rb.report(&name, "plan", message, Some(data));

    if !verdict.denied.is_empty() {
        rb.report(
            &name,
            "denied",
            format!(
                "node {name} would be denied: {} (accept a code for the run with --accept CODE)",
                listing(&verdict.denied)
            ),
            Some(json!({"findings": findings_json(&verdict.denied), "denied": codes(&verdict.denied)})),
        );
    }
    if !problems.is_empty() {
        rb.report(
            &name,
            "invalid",
            problems.join("; "),
            Some(json!({"problems": problems})),
        );
    }
    Ok(match (verdict.denied.is_empty(), problems.is_empty()) {
        (true, true) => Verdicts::Fine,
        (false, true) => Verdicts::Denied,
        (true, false) => Verdicts::Invalid,
        (false, false) => Verdicts::Both,
    })
}

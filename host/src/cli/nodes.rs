//! `tke-recycle nodes --cluster cls-...`: each node with its instance ID, LAN IP, node pool, TKE
//! state and charge type, and whether TKE confirms the pairing.

use std::collections::HashMap;

use anyhow::Context as _;
use clap::Args;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};

use super::EXIT_OK;
use super::access::{CloudArgs, KubeArgs};
use super::args::Format;
use crate::k8s::api_error;
use crate::k8s::project;
use crate::tke::actions::DescribeInstances;
use crate::tke::client::TcClient;
use crate::tke::mapping::{NodeInstance, map_nodes};

/// List the cluster's nodes with their Tencent Cloud instances.
#[derive(Debug, Args)]
pub struct NodesArgs {
    /// TKE cluster ID (cls-...).
    #[arg(long, value_name = "CLUSTER_ID")]
    pub cluster: String,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub kube: KubeArgs,
    #[command(flatten)]
    pub cloud: CloudArgs,
}

/// Charge types from CVM, 100 instances per call. Informational: a failure is logged and the
/// column left empty rather than hiding the rest of the table.
async fn charge_types(tc: &TcClient, ids: Vec<String>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(100) {
        let req = DescribeInstances {
            instance_ids: chunk.to_vec(),
            limit: Some(100),
            ..Default::default()
        };
        match tc.call(&req).await {
            Ok(resp) => out.extend(
                resp.instance_set
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i.instance_charge_type.map(|c| (i.instance_id, c))),
            ),
            Err(e) => {
                tracing::warn!(error = %api_error::render(&e), "cannot read charge types from CVM");
                break;
            }
        }
    }
    out
}

fn dash(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

fn table(rows: &[NodeInstance]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "NODE",
            "INSTANCE",
            "LAN IP",
            "NODE POOL",
            "TKE STATE",
            "CHARGE",
            "MAPPING",
        ]);
    for r in rows {
        t.add_row([
            dash(&r.node),
            dash(&r.instance_id),
            dash(&r.lan_ip),
            dash(&r.node_pool),
            dash(&r.tke_state),
            dash(&r.charge_type),
            &r.confirmation.label(),
        ]);
    }
    format!("{t}\n")
}

impl NodesArgs {
    /// Run it.
    pub async fn execute(self) -> anyhow::Result<u8> {
        let tc = self.cloud.client()?;
        let clients = self.kube.clients().await?;
        let mut nodes = Vec::new();
        let api = Api::<Node>::all(clients.reads.clone());
        let mut params = ListParams::default().limit(crate::k8s::snapshot::PAGE_SIZE);
        loop {
            let page = api.list(&params).await.context("cannot list nodes")?;
            for n in &page.items {
                nodes.push(project::node(n).context("cannot read nodes")?);
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => break,
            }
        }
        let instances = tc
            .cluster_instances(&self.cluster, &[])
            .await
            .with_context(|| format!("cannot list the instances of cluster {}", self.cluster))?;
        let ids = instances.iter().map(|i| i.instance_id.clone()).collect();
        let charges = charge_types(&tc, ids).await;
        let rows = map_nodes(&nodes, &instances, &charges);
        match self.format {
            Format::Table => print!("{}", table(&rows)),
            Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        }
        Ok(EXIT_OK)
    }
}

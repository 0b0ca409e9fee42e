//! `kind: Environment`: a place releases are promoted to (staging, production).

use serde::Serialize;

use crate::decode::Ctx;
use crate::yaml::Node;

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Promotions into this environment wait for an approval.
    pub requires_approval: bool,
}

pub fn decode(ctx: &mut Ctx, node: &Node, path: &str) -> Option<EnvironmentSpec> {
    let before = ctx.diags.len();
    let o = ctx.object(node, path, &["description", "requiresApproval"])?;
    let description = o.opt("description").and_then(|n| ctx.string(n, &o.path_of("description")));
    let requires_approval = o
        .opt("requiresApproval")
        .and_then(|n| ctx.bool(n, &o.path_of("requiresApproval")))
        .unwrap_or(false);
    (ctx.diags.len() == before).then_some(EnvironmentSpec { description, requires_approval })
}

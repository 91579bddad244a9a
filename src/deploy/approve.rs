//! `migrate approve`: release sign-off of one plan hash.
//!
//! `migrate approve --env E --plan-hash H --reason TEXT` records an `approval` event bound to
//! the plan hash ([`super::plan::hash`]) after checking that `H` is the plan `E` has now and
//! that nothing but approvals refuses it. The approvals gate that counts those events is
//! [`super::approvals::gate`].

use std::collections::BTreeSet;

use serde::Serialize;

use super::LocalMigration;
use super::approvals::KIND;
use super::gates;
use super::plan::Gate;
use crate::config::Environment;
use crate::db::state::StateStore;
use crate::exit;

/// What `migrate approve` is asked.
pub(crate) struct ApprovalRequest<'a> {
    pub plan_hash: &'a str,
    pub reason: &'a str,
    pub inputs: gates::Inputs<'a>,
    /// The migrations directory, whose git commit is recorded.
    pub migrations_dir: &'a std::path::Path,
}

/// What `migrate approve` recorded.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Approved {
    pub environment: String,
    pub plan_hash: String,
    pub approver: String,
    /// Distinct approvers of this plan hash now (this one included), not counting anybody
    /// `approvers` leaves out; the one who applies will not count either.
    pub approvers: Vec<String>,
    pub needed: u32,
    /// The approver had approved this plan before (recorded again, counted once).
    pub again: bool,
    /// The event's hash: the log's new head.
    pub event_hash: String,
}

/// `migrate approve`: checks that `request.plan_hash` is `env`'s plan now and that nothing
/// but approvals refuses it, then records the approval.
pub(crate) async fn approve(
    env: &Environment,
    local: &[LocalMigration],
    request: &ApprovalRequest<'_>,
) -> anyhow::Result<Approved> {
    let refuse = |message: String| {
        exit::refused(anyhow::anyhow!(
            "refusing to approve the plan of `{}`: {message}; nothing was recorded",
            env.name
        ))
    };
    // The reason is checked as apply's is (visible characters).
    super::confirm::check_flags(
        env,
        &super::confirm::ConfirmRequest {
            flag: None,
            reason: Some(request.reason.to_string()),
            terminal: None,
        },
        "approve",
    )?;
    if env.approvals == 0 {
        anyhow::bail!(
            "environment `{0}` asks for no approvals: add `approvals = N` to \
             [environments.{0}] to require them",
            env.name
        );
    }
    let approver = crate::who::identity().ok_or_else(|| {
        refuse("cannot tell who approves (no CI actor, no operating-system user)".into())
    })?;
    if let Some(list) = &env.approvers
        && !list.contains(&approver)
    {
        return Err(refuse(format!(
            "`{}` is not one of its approvers ({})",
            crate::visible::line(&approver),
            list.iter()
                .map(|n| format!("`{}`", crate::visible::line(n)))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut store = StateStore::connect(&env.url)
        .await
        .map_err(exit::execution)?;
    let result = async {
        let evaluation = gates::evaluate(env, &mut store, local, &request.inputs).await?;
        let plan = &evaluation.plan;
        let to = request
            .inputs
            .to
            .map_or_else(String::new, |to| format!(" --to {to}"));
        if request.plan_hash.trim() != plan.hash {
            return Err(refuse(format!(
                "plan hash {} is not its plan now ({}): the plan changed since it was reviewed \
                 (a file edited, a migration added, a gate's verdict changed) or the hash \
                 was mistyped; review `stagegate migrate plan --env {}{to}` again and approve \
                 the hash it shows",
                crate::visible::line(request.plan_hash.trim()),
                plan.hash,
                env.name
            )));
        }
        if plan.migrations.is_empty() {
            return Err(refuse(
                "there is nothing to apply, so nothing to approve".into(),
            ));
        }
        let others: Vec<Gate> = plan
            .gates
            .iter()
            .filter(|g| g.name != "approvals")
            .cloned()
            .collect();
        if let Some(message) =
            gates::refusal_message(&env.name, "apply to", &plan.refusals, &others)
        {
            return Err(refuse(format!(
                "apply would refuse this plan for other reasons than approvals, so an \
                 approval could never be used:\n{message}"
            )));
        }
        let again = plan.approvals.iter().any(|a| a.approver == approver);
        let who = {
            let dir = request.migrations_dir.to_path_buf();
            tokio::task::spawn_blocking(move || crate::who::Who::here(&dir))
                .await
                .unwrap_or_default()
        };
        let detail = serde_json::json!({
            "environment": env.name,
            "plan_hash": plan.hash,
            "approver": approver,
            "reason": request.reason.trim(),
            "migrations": plan.migrations.iter().map(|m| serde_json::json!({
                "version": m.version,
                "checksum": m.checksum,
            })).collect::<Vec<_>>(),
            "who": who,
        });
        store.ensure_schema().await.map_err(exit::execution)?;
        let os_user = crate::db::state::os_user();
        let event_hash = store
            .record_run_event(KIND, None, None, os_user.as_deref(), &detail.to_string())
            .await
            .map_err(exit::execution)?;
        let mut approvers: BTreeSet<String> = plan
            .approvals
            .iter()
            .filter(|a| {
                env.approvers
                    .as_ref()
                    .is_none_or(|list| list.contains(&a.approver))
            })
            .map(|a| a.approver.clone())
            .collect();
        approvers.insert(approver.clone());
        Ok(Approved {
            environment: env.name.clone(),
            plan_hash: plan.hash.clone(),
            approver: approver.clone(),
            approvers: approvers.into_iter().collect(),
            needed: env.approvals,
            again,
            event_hash,
        })
    }
    .await;
    store.close().await;
    result
}

//! The approvals gate: `approvals = N` approvers of one plan hash, other than the one
//! applying.
//!
//! `migrate approve` ([`super::approve`]) records an `approval` event bound to the plan hash
//! ([`super::plan::hash`]). The approvals gate of the pipeline ([`gate`]) counts the approvals
//! of the current hash in the verified log: each approver once, not the one applying, only
//! those in `approvers` when that list is configured. A plan that hashes otherwise (a file
//! edited, a migration added, a gate's verdict changed) has no approvals yet. Approvals are
//! read from the log the state gate verified, so a row written into `stagegate.events` by
//! hand refuses (the state gate) instead of counting.

use std::collections::BTreeSet;

use serde::Serialize;

use super::plan::{Approval, ApprovalCount, Gate, Plan};
use crate::config::Environment;
use crate::db::events::Event;

/// The event kind of an approval.
pub(crate) const KIND: &str = "approval";

/// What an `approval` event's detail says.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct Detail {
    environment: String,
    plan_hash: String,
    approver: String,
    reason: String,
}

/// The approvals gate of `env` for `plan` (whose hash is final), from the events of a
/// snapshot (`trusted`: the state gate passed, so the log verified), with `applier` the one
/// running plan or apply. Returns the gate and the approvals of this hash.
pub(crate) fn gate(
    env: &Environment,
    plan: &Plan,
    events: &[Event],
    trusted: bool,
    applier: Option<&str>,
) -> (Gate, Vec<Approval>) {
    let needed = env.approvals;
    if needed == 0 {
        return (
            Gate {
                name: "approvals",
                status: "not-configured",
                detail: String::new(),
            },
            Vec::new(),
        );
    }
    if !trusted {
        return (
            Gate {
                name: "approvals",
                status: "refuse",
                detail: format!(
                    "approvals = {needed}: not counted, the event log does not verify (the \
                     state gate): no approval in it can be trusted"
                ),
            },
            Vec::new(),
        );
    }
    let mut approvals = Vec::new();
    let mut stale = 0usize;
    let mut counted: BTreeSet<String> = BTreeSet::new();
    for (event, detail) in approval_events(events, &env.name) {
        if detail.plan_hash != plan.hash {
            stale += 1;
            continue;
        }
        let counts = if applier == Some(detail.approver.as_str()) {
            ApprovalCount::SelfApproval
        } else if env
            .approvers
            .as_ref()
            .is_some_and(|list| !list.contains(&detail.approver))
        {
            ApprovalCount::NotAnApprover
        } else if !counted.insert(detail.approver.clone()) {
            ApprovalCount::Duplicate
        } else {
            ApprovalCount::Counted
        };
        approvals.push(Approval {
            approver: detail.approver,
            at: event.at,
            reason: detail.reason,
            event: event.id,
            counts,
        });
    }
    if plan.migrations.is_empty() {
        return (
            Gate {
                name: "approvals",
                status: "pass",
                detail: format!("approvals = {needed}: nothing to apply"),
            },
            approvals,
        );
    }
    let gathered = counted.len();
    let names = |set: &BTreeSet<String>| {
        set.iter()
            .map(|n| format!("`{}`", crate::visible::line(n)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if gathered >= needed as usize {
        return (
            Gate {
                name: "approvals",
                status: "pass",
                detail: format!(
                    "approvals = {needed}: this plan was approved by {}",
                    names(&counted)
                ),
            },
            approvals,
        );
    }
    let missing = needed as usize - gathered;
    let applier_text = applier.map_or_else(
        || "the one applying".to_string(),
        |a| format!("`{}` (who applies)", crate::visible::line(a)),
    );
    let mut detail = format!(
        "approvals = {needed}: {gathered} of {needed} gathered for this plan{}; {missing} more \
         needed from someone other than {applier_text}",
        if gathered > 0 {
            format!(" ({})", names(&counted))
        } else {
            String::new()
        }
    );
    if let Some(list) = &env.approvers {
        let open: BTreeSet<String> = list
            .iter()
            .filter(|n| !counted.contains(*n) && Some(n.as_str()) != applier)
            .cloned()
            .collect();
        detail.push_str(&format!(", among {}", names(&open)));
    }
    let own = approvals
        .iter()
        .filter(|a| a.counts == ApprovalCount::SelfApproval)
        .count();
    if own > 0 {
        detail.push_str(&format!(
            "; the approval of `{}` does not count for their own apply",
            crate::visible::line(applier.unwrap_or_default())
        ));
    }
    let outsiders: BTreeSet<String> = approvals
        .iter()
        .filter(|a| a.counts == ApprovalCount::NotAnApprover)
        .map(|a| a.approver.clone())
        .collect();
    if !outsiders.is_empty() {
        detail.push_str(&format!(
            "; not in `approvers`, so not counted: {}",
            names(&outsiders)
        ));
    }
    if stale > 0 {
        detail.push_str(&format!(
            "; {stale} approval(s) of an earlier plan no longer count (the plan changed since)"
        ));
    }
    detail.push_str(&format!(
        "; approve with `stagegate migrate approve --env {} --plan-hash {} --reason \"...\"`",
        env.name, plan.hash
    ));
    (
        Gate {
            name: "approvals",
            status: "refuse",
            detail,
        },
        approvals,
    )
}

/// The `approval` events of `environment`, oldest first, with their detail read.
fn approval_events<'a>(
    events: &'a [Event],
    environment: &'a str,
) -> impl Iterator<Item = (&'a Event, Detail)> + 'a {
    events
        .iter()
        .filter(|e| e.kind == KIND)
        .filter_map(|e| {
            let detail: Detail = serde_json::from_str(e.detail.as_deref()?).ok()?;
            Some((e, detail))
        })
        .filter(move |(_, d)| d.environment == environment)
}

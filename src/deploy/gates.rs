//! The gates as one pipeline: `migrate plan`, `migrate apply` (and its dry run) and `migrate
//! down` judge an environment with the same function, on the same facts, so `plan` exits 3
//! exactly when `apply` would refuse, and a refusal lists every gate that refuses.
//!
//! Facts, in order: the state read in one snapshot and verified against its event log (the
//! `state` gate: a row written, deleted or changed by hand refuses, with audit's finding), the
//! database's binding (the `environment` gate: a database bound to another environment name
//! refuses), the refusals of the rows ([`super::refusals`]), the lint gate with the catalog's
//! facts, the promotion gate on the source's verified state, then the plan hash over all
//! of that ([`plan::hash`]) and the approvals gate, which counts the approvals of that hash
//! in the verified log ([`super::approvals::gate`]). Confirmation and backup are `required`
//! here and done by apply itself, after every gate above passed.

use std::sync::Arc;

use super::plan::{self, Gate, Plan};
use super::{Entry, LocalMigration};
use crate::config::{Environment, LintGate};
use crate::db::events::Mismatch;
use crate::db::state::{Binding, Snapshot, StateStore};
use crate::db::trust;
use crate::exit;
use crate::source::Version;

/// What the pipeline needs besides the environment and its database.
pub(crate) struct Inputs<'a> {
    pub to: Option<&'a Version>,
    /// Lint settings; the catalog's facts are added here.
    pub lint: &'a crate::lint::Options,
    /// The environment named by `promote_from`, whose state the promotion gate reads.
    pub promote_source: Option<&'a Environment>,
}

/// The gates' verdict and the facts it rests on.
pub(crate) struct Evaluation {
    pub plan: Plan,
    /// Where each migration stands, from rows that verified (or, when the state gate refuses,
    /// from rows that did not: nothing may act on them).
    pub entries: Vec<Entry>,
    /// The database's binding, and this server's identity.
    pub binding: Option<Binding>,
    pub identity: String,
}

/// What the gates read from the database, and the state gate's verdict on it: everything
/// that needs no migration file, so that a run reads it (under its lock) while the files are
/// still being read ([`read`], then [`judge`]).
pub(crate) struct Facts {
    snapshot: Snapshot,
    identity: String,
    invalid: Result<Vec<super::concurrent::InvalidIndex>, String>,
    /// The `state` gate: the trust check of the whole chain against every row.
    trusted: Gate,
}

/// Reads the state in one snapshot, this server's identity and the invalid indexes on
/// `store`'s connection, and verifies the state against its event log (the `state` gate).
pub(crate) async fn read(env: &Environment, store: &mut StateStore) -> anyhow::Result<Facts> {
    // The state, then the invalid indexes on the same connection (a connection of their
    // own cost more than the query). A state schema newer than this binary refuses (its own
    // exit outcome), so no wrapping.
    let snapshot = store.snapshot().await?;
    let identity = store.server_identity().await?;
    let invalid = super::concurrent::read_invalid_on(store).await;
    let trusted = state_gate(&env.name, &snapshot);
    Ok(Facts {
        snapshot,
        identity,
        invalid,
        trusted,
    })
}

/// Judges every gate of `env` on its database (through `store`).
pub(crate) async fn evaluate(
    env: &Environment,
    store: &mut StateStore,
    local: &[LocalMigration],
    inputs: &Inputs<'_>,
) -> anyhow::Result<Evaluation> {
    let facts = read(env, store).await?;
    judge(env, facts, local, inputs).await
}

/// Judges every gate of `env` on `facts` ([`read`] from its database) and the local files.
pub(crate) async fn judge(
    env: &Environment,
    facts: Facts,
    local: &[LocalMigration],
    inputs: &Inputs<'_>,
) -> anyhow::Result<Evaluation> {
    let Facts {
        mut snapshot,
        identity,
        invalid,
        trusted,
    } = facts;
    let trusted_status = trusted.status;
    let bound = environment_gate(env, snapshot.binding.as_ref(), &identity);
    let entries = super::compare(local, std::mem::take(&mut snapshot.rows));
    let refusals = super::refusals(&env.name, &entries);
    // Facts no migration shows (sizes, column types, the server's TimeZone) make the lint
    // gate's findings the ones `lint --env` gives; only pending migrations are linted, so
    // with none the catalog is not read.
    let lint = match env.lint {
        LintGate::Warn | LintGate::Deny if !plan::pending(&entries, inputs.to).is_empty() => {
            let catalog = crate::lint::catalog::Catalog::load(
                &env.url,
                crate::lint::catalog::Source::Env(env.name.clone()),
            )
            .await
            .map_err(exit::execution)?;
            crate::lint::Options {
                catalog: Some(Arc::new(catalog)),
                ..inputs.lint.clone()
            }
        }
        _ => inputs.lint.clone(),
    };
    let mut plan = plan::build(env, &entries, inputs.to, refusals, &lint);
    plan.gates.splice(0..0, [bound, trusted]);
    plan.invalid_indexes = invalid.map_err(|e| exit::execution(anyhow::anyhow!(e)))?;
    if let Some(source) = inputs.promote_source {
        let pending = plan::pending(&entries, inputs.to);
        plan.set_gate(if pending.is_empty() {
            Gate {
                name: "promotion",
                status: "pass",
                detail: format!("promote_from = \"{}\": nothing to promote", source.name),
            }
        } else {
            super::promote::gate(env, source, &pending).await
        });
    }
    // Every verdict but the approvals' is in: the hash, then the approvals of that hash.
    plan.hash = plan::hash(&plan);
    let applier = crate::who::identity();
    let (approvals, gathered) = super::approvals::gate(
        env,
        &plan,
        &snapshot.events,
        trusted_status == "pass",
        applier.as_deref(),
    );
    plan.set_gate(approvals);
    plan.approvals = gathered;
    Ok(Evaluation {
        plan,
        entries,
        binding: snapshot.binding,
        identity,
    })
}

/// The `state` gate: the rows verify against the event log, or nothing acts on them.
pub(crate) fn state_gate(env: &str, snapshot: &Snapshot) -> Gate {
    state_gate_settling(env, snapshot, None)
}

/// The `state` gate of `migrate resolve` of `settling`: as [`state_gate`], except that the
/// migration's row need not be vouched for by the log where `migrate resolve` settles it (a
/// `running` or `reverting` row no start event vouches for: the human resolving it says what
/// ran; a stopped attempt whose count the log does not hold: put back at the log's count;
/// see `events::attempt_row`).
fn state_gate_settling(env: &str, snapshot: &Snapshot, settling: Option<&Version>) -> Gate {
    let mut verdict = trust::verify(snapshot, None);
    if let Some(version) = settling {
        verdict.problems.retain(|m| !settles(m, version));
    }
    if verdict.verified() {
        return Gate {
            name: "state",
            status: "pass",
            detail: format!(
                "{} row(s) match their latest events in a chain of {} event(s) that verifies",
                snapshot.rows.len(),
                snapshot.events.len()
            ),
        };
    }
    Gate {
        name: "state",
        status: "refuse",
        detail: format!(
            "the state of `{env}` does not match its event log (`stagegate audit --env {env} \
             --verify` says the same); nothing acts on rows the log does not vouch for: {}",
            verdict.findings().join("; ")
        ),
    }
}

/// Whether `migrate resolve` of `version` settles `finding` (a row of it the log does not
/// vouch for, which a human may settle; see `events::attempt_row`).
fn settles(finding: &Mismatch, version: &Version) -> bool {
    finding.resolvable
        && finding
            .version
            .as_deref()
            .is_some_and(|v| version.matches(v))
}

/// Whether `snapshot` holds a row of `version` the log does not vouch for and `migrate
/// resolve` settles: it then records the count anew (the log's, or the human's word).
pub(crate) fn unvouched(snapshot: &Snapshot, version: &Version) -> bool {
    trust::verify(snapshot, None)
        .problems
        .iter()
        .any(|m| settles(m, version))
}

/// The `environment` gate: the database is bound to this environment, on this server (or
/// not bound yet: the apply binds it).
pub(crate) fn environment_gate(
    env: &Environment,
    binding: Option<&Binding>,
    identity: &str,
) -> Gate {
    let name = &env.name;
    match binding {
        None => Gate {
            name: "environment",
            status: "pass",
            detail: format!(
                "not bound to an environment yet: the first apply binds it to `{name}` \
                 (server {identity})"
            ),
        },
        Some(b) if b.environment == *name && b.identity == identity => Gate {
            name: "environment",
            status: "pass",
            detail: format!("bound to `{name}` (server {identity})"),
        },
        Some(b) if b.environment == *name => Gate {
            name: "environment",
            status: "refuse",
            detail: format!(
                "this database was bound to `{name}` on server {}, but this is server \
                 {identity} (a copy, a restore or an upgraded cluster?); if it is `{name}` now, \
                 run `stagegate migrate rebind --env {name} --reason \"...\"`",
                b.identity
            ),
        },
        Some(b) => Gate {
            name: "environment",
            status: "refuse",
            detail: format!(
                "this database belongs to `{}` (bound {}), not to `{name}`: another name for \
                 the same database skips `{}`'s gates; if it really moved, run `stagegate \
                 migrate rebind --env {name} --reason \"...\"`",
                b.environment,
                b.bound_at.date(),
                b.environment
            ),
        },
    }
}

/// The gates that must pass before anything reads rows to change them (`migrate down`,
/// `migrate resolve`): the state verifies and the database is this environment's. Returns
/// the verified snapshot; refuses (exit 3) with every finding otherwise.
pub(crate) async fn trusted_snapshot(
    env: &Environment,
    store: &mut StateStore,
    action: &str,
) -> anyhow::Result<Snapshot> {
    settling_snapshot(env, store, action, None).await
}

/// [`trusted_snapshot`] for `migrate resolve` of `settling`, whose interrupted attempt no
/// start event vouches for (a hand-written row, or one an older stagegate left): the human
/// resolving it settles it.
pub(crate) async fn settling_snapshot(
    env: &Environment,
    store: &mut StateStore,
    action: &str,
    settling: Option<&Version>,
) -> anyhow::Result<Snapshot> {
    let snapshot = store.snapshot().await?;
    let identity = store.server_identity().await?;
    let gates = [
        environment_gate(env, snapshot.binding.as_ref(), &identity),
        state_gate_settling(&env.name, &snapshot, settling),
    ];
    if let Some(message) = refusal_message(&env.name, action, &[], &gates) {
        return Err(exit::refused(anyhow::anyhow!(message)));
    }
    Ok(snapshot)
}

/// Binds the database to `env` when the evaluation found it unbound (the first apply, once
/// every gate passed and before the first statement).
pub(crate) async fn bind_if_unbound(
    env: &Environment,
    evaluation: &Evaluation,
    store: &mut StateStore,
    os_user: Option<&str>,
) -> anyhow::Result<()> {
    bind_unbound(
        env,
        evaluation.binding.as_ref(),
        &evaluation.identity,
        "first apply",
        store,
        os_user,
    )
    .await
}

/// Binds the database to `env` (on the server `identity`) when `binding`, read with the
/// gates that passed, says it is bound to nothing yet: the first apply or baseline, once
/// every gate passed and before anything is recorded. `reason` says which.
pub(crate) async fn bind_unbound(
    env: &Environment,
    binding: Option<&Binding>,
    identity: &str,
    reason: &str,
    store: &mut StateStore,
    os_user: Option<&str>,
) -> anyhow::Result<()> {
    if binding.is_some() {
        return Ok(());
    }
    let detail = serde_json::json!({
        "environment": env.name,
        "identity": identity,
        "previous": null,
        "reason": reason,
    });
    store
        .bind(&env.name, os_user, &detail.to_string())
        .await
        .map_err(exit::execution)?;
    Ok(())
}

/// Every refusal and every refusing gate as one message; `None` when nothing refuses.
/// `action` is `apply`, `roll back`, ...
pub(crate) fn refusal_message(
    env: &str,
    action: &str,
    refusals: &[super::Refusal],
    gates: &[Gate],
) -> Option<String> {
    let refusing: Vec<&Gate> = gates.iter().filter(|g| g.status == "refuse").collect();
    let count = refusals.len() + refusing.len();
    if count == 0 {
        return None;
    }
    let mut message = format!("refusing to {action} `{env}`: {count} problem(s), nothing was run");
    for refusal in refusals {
        message.push_str(&format!("\n  - {}", refusal.message));
    }
    for gate in refusing {
        message.push_str(&format!("\n  - {} gate: {}", gate.name, gate.detail));
    }
    Some(message)
}

/// The plan's refusal, as apply gives it and `plan` exits 3 for.
pub(crate) fn plan_refusal(plan: &Plan) -> Option<String> {
    refusal_message(&plan.environment, "apply to", &plan.refusals, &plan.gates)
}

/// `migrate rebind`: binds the database `env` names to `env`, recorded as a `bind` event
/// naming the previous binding and the reason. Taking a database from an environment needs
/// that environment's confirmation as well as `env`'s: `owner` finds the previously bound
/// environment's settings (one not configured here counts as gated, its phrase its name).
/// `flags` are the `--confirm` values given. Returns the previous binding and this server's
/// identity.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn rebind(
    env: &Environment,
    owner: impl Fn(&str) -> Option<Environment>,
    reason: &str,
    flags: &[String],
    terminal: Option<Arc<dyn super::confirm::Terminal>>,
    migrations_dir: &std::path::Path,
    lock_wait: std::time::Duration,
    progress: &crate::progress::Sink,
) -> anyhow::Result<(Option<Binding>, String)> {
    if crate::visible::is_blank(reason) {
        anyhow::bail!(
            "--reason must say why the database now belongs to `{}`",
            env.name
        );
    }
    let request = |of: &Environment| super::confirm::ConfirmRequest {
        flag: flags.iter().find(|f| **f == of.name).cloned(),
        reason: Some(reason.to_string()),
        terminal: terminal.clone(),
    };
    super::confirm::check_flags(env, &request(env), "rebind")?;
    let lock = super::runner::lock_alone(env, lock_wait, progress).await?;
    let result = async {
        let mut store = StateStore::connect(&env.url)
            .await
            .map_err(exit::execution)?;
        let result = async {
            store.ensure_schema().await.map_err(exit::execution)?;
            let previous = store.binding().await.map_err(exit::execution)?;
            let identity = store.server_identity().await.map_err(exit::execution)?;
            let os_user = crate::db::state::os_user();
            let what = format!("bind this database to `{}`", env.name);
            let summary = format!(
                "About to {what} (server {identity}); it is bound to {}\n",
                previous.as_ref().map_or_else(
                    || "no environment".to_string(),
                    |b| format!("`{}` (server {})", b.environment, b.identity)
                )
            );
            // The environment it is taken from, then the one it is given to.
            let mut gated: Vec<Environment> = Vec::new();
            if let Some(previous) = previous.as_ref().filter(|b| b.environment != env.name) {
                gated.push(owner(&previous.environment).unwrap_or_else(|| Environment {
                    name: previous.environment.clone(),
                    confirm: Some(previous.environment.clone()),
                    ..env.clone()
                }));
            }
            gated.push(env.clone());
            for of in &gated {
                let request = request(of);
                super::confirm::check_flags(of, &request, "rebind")?;
                super::confirm::gate(
                    of,
                    super::confirm::ConfirmedStep {
                        action: "rebind",
                        summary: summary.clone(),
                        what: what.clone(),
                        migrations: Vec::new(),
                        plan_hash: None,
                        request: &request,
                        migrations_dir,
                        os_user: os_user.as_deref(),
                    },
                    &mut store,
                )
                .await?;
            }
            let detail = serde_json::json!({
                "environment": env.name,
                "identity": identity,
                "previous": previous.as_ref().map(|b| serde_json::json!({
                    "environment": b.environment,
                    "identity": b.identity,
                })),
                "reason": reason,
            });
            store
                .bind(&env.name, os_user.as_deref(), &detail.to_string())
                .await
                .map_err(exit::execution)?;
            Ok::<_, anyhow::Error>((previous, identity))
        }
        .await;
        store.close().await;
        result
    }
    .await;
    lock.release().await;
    result
}

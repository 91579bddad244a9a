//! What the rules know besides the change itself: the run so far (tables created, columns
//! seen, NOT NULL proofs) and the file so far (lock_timeout, locks held in the transaction).

use std::collections::{HashMap, HashSet};

use crate::analyze::{
    Analyzed, Change, ColumnSpec, ColumnType, ConstraintKind, LockMode, Name, TxnControl, locks,
};

/// What a column is known to be, from statements earlier in the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownColumn {
    pub ty: ColumnType,
    pub not_null: bool,
}

/// Facts gathered over a whole lint run (all scripts, in order). Grows with the number of
/// tables, not with the amount of text.
#[derive(Debug, Default)]
pub struct RunState {
    /// Tables (and materialized views) created in this run: they have no rows and no readers.
    pub new_tables: HashSet<Name>,
    pub new_types: HashSet<Name>,
    pub columns: HashMap<(Name, Name), KnownColumn>,
    pub domains_with_check: HashSet<Name>,
    /// `CHECK (c IS NOT NULL) NOT VALID` constraints waiting for VALIDATE: (table, name) -> c.
    pending_not_null_checks: HashMap<(Name, Name), Name>,
    /// (table, column) with a validated `CHECK (c IS NOT NULL)`.
    pub proven_not_null: HashSet<(Name, Name)>,
    pub policies: HashSet<Name>,
}

impl RunState {
    pub fn is_new(&self, table: &str) -> bool {
        self.new_tables.contains(table)
    }

    pub fn column(&self, table: &str, column: &str) -> Option<&KnownColumn> {
        self.columns.get(&(table.to_string(), column.to_string()))
    }
}

/// Facts about the current file.
#[derive(Debug)]
pub struct FileState {
    /// Index of the statement being checked.
    pub index: usize,
    /// Top-level statements in the file (DO-body statements not counted).
    pub statement_count: usize,
    /// How many of them are CONCURRENTLY commands.
    pub concurrent_count: usize,
    /// A lock_timeout is in force (directive, environment, or an earlier SET).
    pub lock_timeout_set: bool,
    /// A traffic-blocking lock on an existing table was taken earlier in the file.
    pub blocking_lock_taken: bool,
    /// Inside an explicit or implicit transaction.
    pub in_txn_now: bool,
    /// The file as a whole runs in a transaction.
    base_in_txn: bool,
    /// Existing tables locked ACCESS EXCLUSIVE earlier in the current transaction.
    pub access_exclusive_held: Vec<Name>,
    /// Existing tables changed by DDL earlier in the current transaction.
    pub ddl_tables: Vec<Name>,
    /// Index of the first CONCURRENTLY statement.
    pub first_concurrent: Option<usize>,
    /// Tables that get a policy anywhere in the file.
    pub policy_tables: HashSet<Name>,
}

impl FileState {
    pub fn new(statements: &[Analyzed], in_transaction: bool) -> FileState {
        let top: Vec<&Analyzed> = statements.iter().filter(|s| !s.in_do_block).collect();
        FileState {
            index: 0,
            statement_count: top
                .iter()
                .filter(|s| {
                    !s.changes.iter().all(|c| {
                        matches!(
                            c,
                            Change::Harmless
                                | Change::SetLockTimeout { .. }
                                | Change::SetStatementTimeout
                        )
                    })
                })
                .count(),
            concurrent_count: top
                .iter()
                .filter(|s| s.changes.iter().any(super::is_concurrent))
                .count(),
            lock_timeout_set: false,
            blocking_lock_taken: false,
            in_txn_now: in_transaction,
            base_in_txn: in_transaction,
            access_exclusive_held: Vec::new(),
            ddl_tables: Vec::new(),
            first_concurrent: statements
                .iter()
                .position(|s| s.changes.iter().any(super::is_concurrent)),
            policy_tables: statements
                .iter()
                .flat_map(|s| &s.changes)
                .filter_map(|c| match c {
                    Change::CreatePolicy { table } => Some(table.clone()),
                    _ => None,
                })
                .collect(),
        }
    }
}

/// Everything a rule may look at.
pub struct Ctx<'a> {
    /// PostgreSQL major version.
    pub pg: u32,
    /// The file runs inside one transaction.
    pub in_transaction: bool,
    pub run: &'a RunState,
    pub file: &'a FileState,
    pub statement: &'a Analyzed,
    /// The statement's original text.
    pub text: &'a str,
}

impl Ctx<'_> {
    /// The table has no rows and no readers yet: created earlier in this run.
    pub fn is_new(&self, table: &str) -> bool {
        self.run.is_new(table)
    }
}

/// Updates the file and run state after `change` was checked.
pub fn after_change(change: &Change, pg: u32, file: &mut FileState, run: &mut RunState) {
    for lock in locks(change, pg) {
        if run.is_new(&lock.table) {
            continue;
        }
        if lock.mode.blocks_traffic() {
            file.blocking_lock_taken = true;
        }
        if file.in_txn_now
            && lock.mode == LockMode::AccessExclusive
            && !file.access_exclusive_held.contains(&lock.table)
        {
            file.access_exclusive_held.push(lock.table.clone());
        }
    }
    if file.in_txn_now
        && let Some(table) = change.table()
        && !run.is_new(table)
        && !matches!(
            change,
            Change::Update { .. } | Change::Delete { .. } | Change::Insert { .. }
        )
    {
        file.ddl_tables.push(table.to_string());
    }
    // Column facts are kept only for tables that existed before the run: rules exempt new
    // tables anyway, and this keeps the run state small on long migration histories.
    let remember = |run: &mut RunState, table: &str, column: &ColumnSpec| {
        if run.is_new(table) {
            return;
        }
        run.columns.insert(
            (table.to_string(), column.name.clone()),
            KnownColumn {
                ty: column.ty.clone(),
                not_null: column.not_null,
            },
        );
    };
    if let Change::CreateDomain {
        name,
        has_check: true,
    } = change
    {
        run.domains_with_check.insert(name.clone());
    }
    match change {
        Change::Transaction(TxnControl::Begin) => {
            file.in_txn_now = true;
            file.access_exclusive_held.clear();
            file.ddl_tables.clear();
        }
        Change::Transaction(TxnControl::Commit | TxnControl::Rollback) => {
            file.in_txn_now = file.base_in_txn;
            file.access_exclusive_held.clear();
            file.ddl_tables.clear();
        }
        Change::SetLockTimeout { enabled } => file.lock_timeout_set = *enabled,
        Change::CreateTable { table, .. } => {
            run.new_tables.insert(table.clone());
        }
        Change::CreateView {
            name,
            materialized: true,
        } => {
            run.new_tables.insert(name.clone());
        }
        Change::RenameTable { table, to } if run.is_new(table) => {
            run.new_tables.insert(to.clone());
        }
        Change::AddColumn { table, column, .. } => remember(run, table, column),
        Change::AlterColumnType {
            table, column, to, ..
        } => {
            if let Some(known) = run.columns.get_mut(&(table.clone(), column.clone())) {
                known.ty = to.clone();
            }
        }
        Change::SetNotNull { table, column } | Change::DropNotNull { table, column } => {
            if let Some(known) = run.columns.get_mut(&(table.clone(), column.clone())) {
                known.not_null = matches!(change, Change::SetNotNull { .. });
            }
        }
        Change::AddConstraint { table, constraint } => {
            if let ConstraintKind::Check {
                not_null_of: Some(column),
            } = &constraint.kind
            {
                if constraint.not_valid {
                    if let Some(name) = &constraint.name {
                        run.pending_not_null_checks
                            .insert((table.clone(), name.clone()), column.clone());
                    }
                } else {
                    run.proven_not_null.insert((table.clone(), column.clone()));
                }
            }
        }
        Change::ValidateConstraint { table, name } => {
            if let Some(column) = run
                .pending_not_null_checks
                .remove(&(table.clone(), name.clone()))
            {
                run.proven_not_null.insert((table.clone(), column));
            }
        }
        Change::CreateEnum { name } | Change::CreateDomain { name, .. } => {
            run.new_types.insert(name.clone());
        }
        Change::CreateSequence { name, .. } => {
            // A new sequence is locked like a table: nobody waits on it yet.
            run.new_types.insert(name.clone());
            run.new_tables.insert(name.clone());
        }
        Change::CreatePolicy { table } => {
            run.policies.insert(table.clone());
        }
        _ => {}
    }
}

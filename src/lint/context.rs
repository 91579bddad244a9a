//! What the rules know besides the change itself: the run so far (tables created, columns
//! seen, NOT NULL proofs) and the file so far (lock_timeout, locks held in the transaction).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use crate::analyze::{
    Analyzed, Change, ColumnSpec, ColumnType, ConstraintKind, LockMode, Name, TxnControl,
    TypeChange, locks, type_change,
};

/// What a column is known to be, from statements earlier in the run: a small `Copy` fact
/// (16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownColumn {
    pub ty: KnownType,
    pub not_null: bool,
}

/// A [`ColumnType`] as the run state remembers it: the same variants, with a type outside the
/// built-in list (an enum, a domain) kept as the hash of its name instead of the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnownType {
    /// Any built-in type (`ColumnType` without its `Other` variant).
    Builtin(BuiltinType),
    /// `ColumnType::Other(name)`, by [`name_hash`] of the name (as two halves, so that a
    /// fact is 16 bytes with 4-byte alignment).
    Other([u32; 2]),
}

/// `ColumnType`'s variants that carry no name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinType(Builtin);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builtin {
    SmallInt,
    Int,
    BigInt,
    SmallSerial,
    Serial,
    BigSerial,
    Varchar(Option<u32>),
    Char(Option<u32>),
    Text,
    Citext,
    Numeric(Option<(u32, u32)>),
    Real,
    Double,
    Timestamp,
    Timestamptz,
    Date,
    Json,
    Jsonb,
    Uuid,
    Boolean,
    Inet,
    Cidr,
}

impl KnownType {
    pub fn of(ty: &ColumnType) -> KnownType {
        use Builtin as B;
        use ColumnType as T;
        let builtin = match ty {
            T::SmallInt => B::SmallInt,
            T::Int => B::Int,
            T::BigInt => B::BigInt,
            T::SmallSerial => B::SmallSerial,
            T::Serial => B::Serial,
            T::BigSerial => B::BigSerial,
            T::Varchar(n) => B::Varchar(*n),
            T::Char(n) => B::Char(*n),
            T::Text => B::Text,
            T::Citext => B::Citext,
            T::Numeric(p) => B::Numeric(*p),
            T::Real => B::Real,
            T::Double => B::Double,
            T::Timestamp => B::Timestamp,
            T::Timestamptz => B::Timestamptz,
            T::Date => B::Date,
            T::Json => B::Json,
            T::Jsonb => B::Jsonb,
            T::Uuid => B::Uuid,
            T::Boolean => B::Boolean,
            T::Inet => B::Inet,
            T::Cidr => B::Cidr,
            T::Other(name) => {
                let hash = name_hash(name);
                return KnownType::Other([hash as u32, (hash >> 32) as u32]);
            }
        };
        KnownType::Builtin(BuiltinType(builtin))
    }

    /// What changing a column of this type to `to` costs (as [`type_change`]).
    pub fn change_to(self, to: &ColumnType, using: bool) -> TypeChange {
        use Builtin as B;
        use ColumnType as T;
        let from = match self {
            // `type_change` compares two `Other` types only for equality, which the hash
            // answers; for anything else an unnamed `Other` behaves the same.
            KnownType::Other(hash) => {
                if !using && KnownType::of(to) == KnownType::Other(hash) {
                    return TypeChange::Free;
                }
                T::Other(String::new())
            }
            KnownType::Builtin(BuiltinType(builtin)) => match builtin {
                B::SmallInt => T::SmallInt,
                B::Int => T::Int,
                B::BigInt => T::BigInt,
                B::SmallSerial => T::SmallSerial,
                B::Serial => T::Serial,
                B::BigSerial => T::BigSerial,
                B::Varchar(n) => T::Varchar(n),
                B::Char(n) => T::Char(n),
                B::Text => T::Text,
                B::Citext => T::Citext,
                B::Numeric(p) => T::Numeric(p),
                B::Real => T::Real,
                B::Double => T::Double,
                B::Timestamp => T::Timestamp,
                B::Timestamptz => T::Timestamptz,
                B::Date => T::Date,
                B::Json => T::Json,
                B::Jsonb => T::Jsonb,
                B::Uuid => T::Uuid,
                B::Boolean => T::Boolean,
                B::Inet => T::Inet,
                B::Cidr => T::Cidr,
            },
        };
        type_change(&from, to, using)
    }
}

/// The 64-bit identity of a normalised (qualified) object name. A collision would need two
/// of the run's names to share one of 2^64 values: about 10^-10 for 100,000 names.
pub fn name_hash(name: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    name.hash(&mut hasher);
    hasher.finish()
}

/// The identity of a (table, name) pair: a column, or a constraint of a table.
pub fn pair_hash(table: &str, name: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    table.hash(&mut hasher);
    name.hash(&mut hasher);
    hasher.finish()
}

/// Keys that are already hashes need no hashing again.
#[derive(Default)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type IdSet = HashSet<u64, BuildHasherDefault<IdentityHasher>>;
type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

/// Facts gathered over a whole lint run (all scripts, in order). Grows with the number of
/// objects the run creates or changes, never with the amount of text: every object is kept
/// as the 64-bit hash of its normalised name ([`name_hash`], [`pair_hash`]) with, for
/// columns, a small `Copy` fact.
#[derive(Debug, Default)]
pub struct RunState {
    /// Tables (and materialized views, sequences) created in this run: they have no rows and
    /// no readers.
    new_tables: IdSet,
    /// Types, domains and sequences created in this run.
    new_types: IdSet,
    /// Columns of tables that existed before the run: (table, column) -> what is known.
    columns: IdMap<KnownColumn>,
    domains_with_check: IdSet,
    /// `CHECK (c IS NOT NULL) NOT VALID` constraints waiting for VALIDATE:
    /// (table, constraint) -> (table, c).
    pending_not_null_checks: IdMap<u64>,
    /// (table, column) with a validated `CHECK (c IS NOT NULL)`.
    proven_not_null: IdSet,
    /// Tables with a policy.
    policies: IdSet,
}

impl RunState {
    /// The table (or materialized view, or sequence) was created earlier in the run.
    pub fn is_new(&self, table: &str) -> bool {
        self.new_tables.contains(&name_hash(table))
    }

    /// The type, domain or sequence was created earlier in the run.
    pub fn is_new_type(&self, name: &str) -> bool {
        self.new_types.contains(&name_hash(name))
    }

    /// A domain created earlier in the run has a CHECK constraint.
    pub fn domain_has_check(&self, name: &str) -> bool {
        self.domains_with_check.contains(&name_hash(name))
    }

    /// A validated `CHECK (column IS NOT NULL)` exists on the table's column.
    pub fn is_proven_not_null(&self, table: &str, column: &str) -> bool {
        self.proven_not_null.contains(&pair_hash(table, column))
    }

    /// The table got a policy earlier in the run.
    pub fn has_policy(&self, table: &str) -> bool {
        self.policies.contains(&name_hash(table))
    }

    pub fn column(&self, table: &str, column: &str) -> Option<KnownColumn> {
        self.columns.get(&pair_hash(table, column)).copied()
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
            pair_hash(table, &column.name),
            KnownColumn {
                ty: KnownType::of(&column.ty),
                not_null: column.not_null,
            },
        );
    };
    if let Change::CreateDomain {
        name,
        has_check: true,
    } = change
    {
        run.domains_with_check.insert(name_hash(name));
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
            run.new_tables.insert(name_hash(table));
        }
        Change::CreateView {
            name,
            materialized: true,
        } => {
            run.new_tables.insert(name_hash(name));
        }
        Change::RenameTable { table, to } if run.is_new(table) => {
            run.new_tables.insert(name_hash(to));
        }
        Change::AddColumn { table, column, .. } => remember(run, table, column),
        Change::AlterColumnType {
            table, column, to, ..
        } => {
            if let Some(known) = run.columns.get_mut(&pair_hash(table, column)) {
                known.ty = KnownType::of(to);
            }
        }
        Change::SetNotNull { table, column } | Change::DropNotNull { table, column } => {
            if let Some(known) = run.columns.get_mut(&pair_hash(table, column)) {
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
                            .insert(pair_hash(table, name), pair_hash(table, column));
                    }
                } else {
                    run.proven_not_null.insert(pair_hash(table, column));
                }
            }
        }
        Change::ValidateConstraint { table, name } => {
            if let Some(column) = run.pending_not_null_checks.remove(&pair_hash(table, name)) {
                run.proven_not_null.insert(column);
            }
        }
        Change::CreateEnum { name } | Change::CreateDomain { name, .. } => {
            run.new_types.insert(name_hash(name));
        }
        Change::CreateSequence { name, .. } => {
            // A new sequence is locked like a table: nobody waits on it yet.
            let hash = name_hash(name);
            run.new_types.insert(hash);
            run.new_tables.insert(hash);
        }
        Change::CreatePolicy { table } => {
            run.policies.insert(name_hash(table));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_facts_stay_small() {
        assert_eq!(std::mem::size_of::<KnownColumn>(), 16);
    }

    #[test]
    fn known_types_change_like_column_types() {
        let p = ColumnType::parse;
        for (from, to, using) in [
            ("varchar(10)", "varchar(20)", false),
            ("varchar(20)", "varchar(5)", false),
            ("mood", "mood", false),
            ("mood", "mood", true),
            ("mood", "feeling", false),
            ("mood", "text", false),
            ("text", "mood", false),
            ("numeric(10,2)", "numeric(12,2)", false),
            ("bigint", "int", false),
        ] {
            assert_eq!(
                KnownType::of(&p(from)).change_to(&p(to), using),
                type_change(&p(from), &p(to), using),
                "{from} -> {to} (using: {using})"
            );
        }
    }
}

//! Our own model of what a statement changes. Rules match on these types only; nothing here
//! depends on sqlparser.

use std::ops::Range;

use serde::Serialize;

use super::types::ColumnType;

/// A table, index, type or other object name: lower-cased unless quoted, `public.` dropped.
pub(crate) type Name = String;

/// How a column default behaves when a column is added with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultKind {
    /// A constant or an immutable expression: stored once as the "missing value" (PG >= 11).
    Constant,
    /// A stable expression such as `now()`: evaluated once for all existing rows.
    Stable,
    /// A volatile expression (`random()`, `gen_random_uuid()`, `nextval()`): every row differs.
    Volatile,
}

/// What a column definition says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: Name,
    pub ty: ColumnType,
    pub not_null: bool,
    pub default: Option<DefaultKind>,
    pub primary_key: bool,
    pub unique: bool,
    /// The table an inline `REFERENCES` points to.
    pub references: Option<Name>,
    /// An inline `CHECK (...)`.
    pub check: bool,
    /// `GENERATED ALWAYS AS (...) STORED`.
    pub generated_stored: bool,
    /// `GENERATED ... AS IDENTITY`.
    pub identity: bool,
    /// The functions the default calls, by name (a user function may make it volatile).
    pub default_calls: Vec<Name>,
}

impl ColumnSpec {
    pub fn new(name: Name, ty: ColumnType) -> ColumnSpec {
        ColumnSpec {
            name,
            ty,
            not_null: false,
            default: None,
            primary_key: false,
            unique: false,
            references: None,
            check: false,
            generated_stored: false,
            identity: false,
            default_calls: Vec::new(),
        }
    }

    /// True when rows get a value without the INSERT naming the column.
    pub fn fills_itself(&self) -> bool {
        self.default.is_some() || self.identity || self.generated_stored || self.ty.is_serial()
    }
}

/// The kind of a table constraint being added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConstraintKind {
    /// `CHECK (...)`; `not_null_of` names the column when the check is `c IS NOT NULL`.
    Check {
        not_null_of: Option<Name>,
    },
    ForeignKey {
        references: Name,
    },
    Unique {
        using_index: bool,
    },
    PrimaryKey {
        /// `PRIMARY KEY USING INDEX i`: the index promoted.
        using_index: Option<Name>,
    },
    Exclude,
}

/// One constraint added by `ALTER TABLE ... ADD` or `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConstraintSpec {
    pub name: Option<Name>,
    pub kind: ConstraintKind,
    pub not_valid: bool,
}

/// Which kind of object a `DROP` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    Table,
    View,
    MaterializedView,
    Schema,
    Type,
    Domain,
    Sequence,
    Function,
    Extension,
    Other,
}

impl ObjectKind {
    pub fn noun(self) -> &'static str {
        match self {
            ObjectKind::Table => "table",
            ObjectKind::View => "view",
            ObjectKind::MaterializedView => "materialized view",
            ObjectKind::Schema => "schema",
            ObjectKind::Type => "type",
            ObjectKind::Domain => "domain",
            ObjectKind::Sequence => "sequence",
            ObjectKind::Function => "function",
            ObjectKind::Extension => "extension",
            ObjectKind::Other => "object",
        }
    }
}

/// Table maintenance and storage commands that rewrite the whole table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewriteCommand {
    VacuumFull,
    Cluster,
    SetTablespace,
    SetLogged,
    SetUnlogged,
    /// `ALTER INDEX i SET TABLESPACE`: copies the index (named as the "table").
    IndexSetTablespace,
}

impl RewriteCommand {
    pub fn label(self) -> &'static str {
        match self {
            RewriteCommand::VacuumFull => "VACUUM FULL",
            RewriteCommand::Cluster => "CLUSTER",
            RewriteCommand::SetTablespace => "SET TABLESPACE",
            RewriteCommand::SetLogged => "SET LOGGED",
            RewriteCommand::SetUnlogged => "SET UNLOGGED",
            RewriteCommand::IndexSetTablespace => "ALTER INDEX ... SET TABLESPACE",
        }
    }
}

/// Which rows an UPDATE or DELETE touches, judged from its WHERE clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Every row: no WHERE, or one that is always true (`WHERE true`, `WHERE 1 = 1`).
    All,
    /// The whole table is read and (nearly) every row may change: a join without a
    /// selective predicate (`UPDATE ... FROM`), `NOT IN (...)`, `IS NOT NULL`, or a batch
    /// statement repeated in a loop of one transaction.
    WholeTable,
    /// Only `WHERE c IS NULL`: every row when `c` was just added.
    NullIn(Name),
    /// A WHERE that picks some rows (a key, a range, a literal comparison).
    Selective,
}

/// The commands a policy covers (`FOR ALL` is all four).
pub(crate) const POLICY_SELECT: u8 = 1;
pub(crate) const POLICY_INSERT: u8 = 2;
pub(crate) const POLICY_UPDATE: u8 = 4;
pub(crate) const POLICY_DELETE: u8 = 8;
pub(crate) const POLICY_ALL: u8 = 15;

/// Transaction control written into a migration: the statement classifier's.
pub(crate) use crate::sql::TxnControl;

/// One change a statement makes. A statement may make several (`ALTER TABLE t ADD a, ADD b`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    CreateTable {
        table: Name,
        columns: Vec<ColumnSpec>,
        constraints: Vec<ConstraintSpec>,
        /// `PARTITION OF parent`.
        partition_of: Option<Name>,
        /// `PARTITION OF parent DEFAULT`.
        default_partition: bool,
        /// `PARTITION BY ...`: a partitioned table.
        partitioned: bool,
    },
    AddColumn {
        table: Name,
        column: ColumnSpec,
        if_not_exists: bool,
    },
    DropColumn {
        table: Name,
        column: Name,
        cascade: bool,
    },
    /// `ALTER COLUMN c TYPE t [COLLATE x] [USING ...]`.
    AlterColumnType {
        table: Name,
        column: Name,
        to: ColumnType,
        /// A `USING` expression that may change the value (`USING c::t` and `USING CAST(c
        /// AS t)` of the column itself to the new type are the same as no USING).
        using: bool,
        /// `COLLATE x`: the column's indexes are rebuilt.
        collate: bool,
    },
    /// `ALTER COLUMN c DROP IDENTITY`.
    DropIdentity {
        table: Name,
        column: Name,
    },
    SetNotNull {
        table: Name,
        column: Name,
    },
    DropNotNull {
        table: Name,
        column: Name,
    },
    SetDefault {
        table: Name,
        column: Name,
    },
    DropDefault {
        table: Name,
        column: Name,
    },
    AddConstraint {
        table: Name,
        constraint: ConstraintSpec,
    },
    ValidateConstraint {
        table: Name,
        name: Name,
    },
    DropConstraint {
        table: Name,
        name: Name,
        cascade: bool,
    },
    RenameColumn {
        table: Name,
        from: Name,
        to: Name,
    },
    RenameTable {
        table: Name,
        to: Name,
    },
    RenameConstraint {
        table: Name,
    },
    /// `ALTER TABLE t SET SCHEMA s`.
    SetSchema {
        table: Name,
    },
    RenameSchema {
        schema: Name,
    },
    AttachPartition {
        parent: Name,
        partition: Name,
    },
    DetachPartition {
        parent: Name,
        partition: Name,
        concurrently: bool,
    },
    /// A table-rewriting maintenance or storage command.
    Rewrite {
        table: Option<Name>,
        command: RewriteCommand,
    },
    /// `ENABLE / FORCE ROW LEVEL SECURITY`.
    EnableRowLevelSecurity {
        table: Name,
    },
    CreatePolicy {
        table: Name,
        /// The commands it lets through: [`POLICY_SELECT`] | ... ; 0 for a RESTRICTIVE one.
        commands: u8,
    },
    /// Any other `ALTER TABLE` sub-command, with the lock it takes.
    AlterTableOther {
        table: Name,
        what: &'static str,
        access_exclusive: bool,
    },
    CreateIndex {
        name: Option<Name>,
        table: Name,
        unique: bool,
        concurrently: bool,
        if_not_exists: bool,
        /// `ON ONLY parent`.
        only: bool,
        /// The key columns that are plain column names, in order.
        columns: Vec<Name>,
    },
    /// `ALTER INDEX parent ATTACH PARTITION child`.
    AttachIndex {
        index: Name,
    },
    DropIndex {
        names: Vec<Name>,
        concurrently: bool,
        if_exists: bool,
        cascade: bool,
    },
    Reindex {
        target: Option<Name>,
        concurrently: bool,
        /// `REINDEX SCHEMA/DATABASE/SYSTEM`, which can not run in a transaction.
        many: bool,
    },
    /// Plain `VACUUM` (without FULL): no rewrite, but never inside a transaction.
    Vacuum,
    Drop {
        kind: ObjectKind,
        names: Vec<Name>,
        if_exists: bool,
        cascade: bool,
    },
    Truncate {
        tables: Vec<Name>,
        cascade: bool,
    },
    /// `UPDATE` (and `MERGE`, which updates the rows its join matches).
    Update {
        table: Name,
        reach: Reach,
    },
    Delete {
        table: Name,
        reach: Reach,
    },
    Insert {
        table: Name,
        /// `INSERT ... SELECT ... FROM source` without a selective WHERE: the whole source
        /// table is read.
        reads_all_of: Option<Name>,
    },
    AlterSequence {
        name: Name,
        /// `AS type`: the sequence's new data type.
        as_type: Option<ColumnType>,
    },
    CreateSequence {
        name: Name,
        if_not_exists: bool,
    },
    CreateTrigger {
        table: Name,
    },
    DropTrigger {
        table: Option<Name>,
        if_exists: bool,
    },
    EnumAddValue {
        type_name: Name,
        /// The new label, as written between the quotes.
        value: String,
        if_not_exists: bool,
    },
    EnumRenameValue {
        type_name: Name,
    },
    CreateEnum {
        name: Name,
        /// Its labels, in order, when read (`None` from the token classifier).
        labels: Option<Vec<String>>,
    },
    CreateDomain {
        name: Name,
        has_check: bool,
    },
    AlterDomainAddCheck {
        name: Name,
        not_valid: bool,
    },
    RefreshMaterializedView {
        name: Name,
        concurrently: bool,
    },
    CreateView {
        name: Name,
        materialized: bool,
        /// Its output columns, when they are all known (no `*`).
        columns: Option<Vec<Name>>,
        /// `WITH (security_invoker = true)`.
        security_invoker: bool,
    },
    Grant,
    Revoke {
        tables: Vec<Name>,
        /// `REVOKE ... ON FUNCTION/PROCEDURE/ROUTINE f(...)`.
        functions: Vec<Name>,
    },
    Comment,
    CreateStatistics,
    CreateSchema {
        name: Name,
        if_not_exists: bool,
    },
    CreateExtension,
    CreateFunction {
        name: Name,
        /// Calling it in a column default makes the default volatile: a PL/pgSQL (or other
        /// non-SQL) function not declared IMMUTABLE or STABLE, or a SQL function whose body
        /// calls a volatile one (SQL functions are inlined).
        volatile: bool,
    },
    /// `ALTER FUNCTION/PROCEDURE f RENAME TO g` or `SET SCHEMA s`.
    RenameFunction {
        name: Name,
    },
    /// `CREATE RULE ... AS ON event TO table DO INSTEAD ...`.
    CreateRule {
        table: Name,
        instead: bool,
    },
    /// `ALTER VIEW v SET (security_invoker = true)`.
    ViewSecurityInvoker {
        view: Name,
    },
    /// `CREATE PUBLICATION ... FOR TABLE a, b` / `ALTER PUBLICATION ... ADD TABLE a`.
    Publish {
        tables: Vec<Name>,
        /// The publication publishes updates or deletes (the default).
        updates: bool,
    },
    /// `ALTER TABLE t REPLICA IDENTITY NOTHING` (or DEFAULT).
    ReplicaIdentity {
        table: Name,
        /// NOTHING, or DEFAULT (the primary key).
        nothing: bool,
    },
    LockTable {
        tables: Vec<Name>,
        mode: LockMode,
    },
    Transaction(TxnControl),
    /// `SET [LOCAL] lock_timeout = ...`.
    SetLockTimeout {
        /// False for `SET lock_timeout = 0` (no timeout).
        enabled: bool,
    },
    SetStatementTimeout,
    /// `SET [LOCAL] TimeZone = ...` / `SET TIME ZONE ...`.
    SetTimeZone {
        /// The zone is UTC (offset 0, no daylight saving), which PostgreSQL >= 12 needs to
        /// change timestamp to timestamptz without a rewrite.
        utc: bool,
        /// `SET LOCAL`: ends with the transaction.
        local: bool,
    },
    /// Other `SET` / `RESET` / `SHOW`, SELECT, and other statements with no schema effect.
    Harmless,
    /// A `DO` block (its SQL statements are analysed on their own).
    DoBlock,
    /// Text PostgreSQL rejects with a syntax error: a statement run into the one before it
    /// (a missing `;`), or a misspelled object keyword (`CREATE INDX`).
    SyntaxError {
        /// What is wrong, for the message.
        message: String,
        /// How to fix it, for the help.
        help: &'static str,
    },
    /// `EXECUTE` of SQL built at run time inside a `DO` body: the statement it runs is not
    /// known, so it was not checked.
    DynamicSql {
        /// The first words, for the message.
        head: String,
    },
    /// Neither sqlparser nor the token classifier understood the statement.
    Unrecognised {
        /// The first words, for the message.
        head: String,
    },
}

impl Change {
    /// The table a change is about, when it is about one.
    pub fn table(&self) -> Option<&str> {
        match self {
            Change::CreateTable { table, .. }
            | Change::AddColumn { table, .. }
            | Change::DropColumn { table, .. }
            | Change::AlterColumnType { table, .. }
            | Change::SetNotNull { table, .. }
            | Change::DropNotNull { table, .. }
            | Change::SetDefault { table, .. }
            | Change::DropDefault { table, .. }
            | Change::AddConstraint { table, .. }
            | Change::ValidateConstraint { table, .. }
            | Change::DropConstraint { table, .. }
            | Change::RenameColumn { table, .. }
            | Change::RenameTable { table, .. }
            | Change::RenameConstraint { table }
            | Change::SetSchema { table }
            | Change::EnableRowLevelSecurity { table }
            | Change::CreatePolicy { table, .. }
            | Change::DropIdentity { table, .. }
            | Change::ReplicaIdentity { table, .. }
            | Change::AlterTableOther { table, .. }
            | Change::CreateIndex { table, .. }
            | Change::Update { table, .. }
            | Change::Delete { table, .. }
            | Change::Insert { table, .. }
            | Change::CreateTrigger { table } => Some(table),
            Change::AttachPartition { parent, .. } | Change::DetachPartition { parent, .. } => {
                Some(parent)
            }
            Change::Rewrite { table, .. } | Change::DropTrigger { table, .. } => table.as_deref(),
            _ => None,
        }
    }
}

/// One analysed statement: where it is in the script and what it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analyzed {
    /// Byte range in the script text.
    pub span: Range<usize>,
    pub changes: Vec<Change>,
    /// True when this statement sits inside a `DO` block body.
    pub in_do_block: bool,
    /// The tokens of the statement's text when sqlparser read it (for
    /// [`Ctx::tokens`](crate::lint::Ctx::tokens)); none otherwise.
    pub tokens: crate::sql::Kept,
}

/// Table-level lock modes, weakest to strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LockMode {
    AccessShare,
    RowShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
}

impl LockMode {
    pub fn label(self) -> &'static str {
        match self {
            LockMode::AccessShare => "ACCESS SHARE",
            LockMode::RowShare => "ROW SHARE",
            LockMode::RowExclusive => "ROW EXCLUSIVE",
            LockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockMode::Share => "SHARE",
            LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockMode::Exclusive => "EXCLUSIVE",
            LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    /// What the application notices while the lock is held.
    pub fn blocks(self) -> &'static str {
        match self {
            LockMode::AccessShare
            | LockMode::RowShare
            | LockMode::RowExclusive
            | LockMode::ShareUpdateExclusive => "only other DDL",
            LockMode::Share | LockMode::ShareRowExclusive => "writes",
            LockMode::Exclusive => "writes and SELECT FOR UPDATE",
            LockMode::AccessExclusive => "reads and writes",
        }
    }

    /// Whether ordinary reads or writes wait for it (and queue behind it while it waits).
    pub fn blocks_traffic(self) -> bool {
        self >= LockMode::Share
    }
}

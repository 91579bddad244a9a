//! What the rules know besides the change itself: the run so far (tables created, columns
//! seen, NOT NULL proofs) and the file so far (lock_timeout, locks held in the transaction).

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use super::catalog::{Catalog, TableFacts};
use super::facts::{Facts, IdentityHasher};

use crate::analyze::{
    Analyzed, Change, ColumnSpec, ColumnType, ConstraintKind, LockMode, Name, ObjectKind, Reach,
    TxnControl, TypeChange, locks, type_change,
};

/// What a column is known to be, from statements earlier in the run: a small `Copy` fact
/// that the run state stores packed into 64 bits.
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
    /// `ColumnType::Other(name)`, by the top 55 bits of [`name_hash`] of the name (so that a
    /// whole fact packs into 64 bits; see [`KnownColumn::pack`]).
    Other(u64),
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
            T::Other(name) => return KnownType::Other(name_hash(name) >> 9),
        };
        KnownType::Builtin(BuiltinType(builtin))
    }

    /// What changing a column of this type to `to` costs (as [`type_change`]).
    pub fn change_to(self, to: &ColumnType, using: bool) -> TypeChange {
        match self.builtin() {
            Some(from) => type_change(&from, to, using),
            // `type_change` compares two `Other` types only for equality, which the hash
            // answers; for anything else an unnamed `Other` behaves the same.
            None if !using && KnownType::of(to) == self => TypeChange::Free,
            None => type_change(&ColumnType::Other(String::new()), to, using),
        }
    }

    /// The type, when it is a built-in one (an `Other` type is only known by its hash).
    pub fn builtin(self) -> Option<ColumnType> {
        use Builtin as B;
        use ColumnType as T;
        Some(match self {
            KnownType::Other(_) => return None,
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
        })
    }
}

impl KnownColumn {
    /// The fact as a non-zero `u64`: bits 0-7 the type's tag (1-based), bit 8 NOT NULL, bits
    /// 9-63 the type's parameters (a length, a precision and scale, or a name's hash).
    pub fn pack(self) -> u64 {
        use Builtin as B;
        /// Largest precision or scale kept exactly (PostgreSQL allows 1000).
        const MAX: u32 = (1 << 27) - 1;
        let length = |n: Option<u32>| n.map_or(0, |n| u64::from(n) + 1);
        let (tag, payload): (u64, u64) = match self.ty {
            KnownType::Other(hash) => (255, hash),
            KnownType::Builtin(BuiltinType(builtin)) => match builtin {
                B::SmallInt => (1, 0),
                B::Int => (2, 0),
                B::BigInt => (3, 0),
                B::SmallSerial => (4, 0),
                B::Serial => (5, 0),
                B::BigSerial => (6, 0),
                B::Varchar(n) => (7, length(n)),
                B::Char(n) => (8, length(n)),
                B::Text => (9, 0),
                B::Citext => (10, 0),
                B::Numeric(p) => (
                    11,
                    p.map_or(0, |(precision, scale)| {
                        1 | u64::from(precision.min(MAX)) << 1 | u64::from(scale.min(MAX)) << 28
                    }),
                ),
                B::Real => (12, 0),
                B::Double => (13, 0),
                B::Timestamp => (14, 0),
                B::Timestamptz => (15, 0),
                B::Date => (16, 0),
                B::Json => (17, 0),
                B::Jsonb => (18, 0),
                B::Uuid => (19, 0),
                B::Boolean => (20, 0),
                B::Inet => (21, 0),
                B::Cidr => (22, 0),
            },
        };
        tag | u64::from(self.not_null) << 8 | payload << 9
    }

    /// The fact [`KnownColumn::pack`] packed.
    pub fn unpack(packed: u64) -> KnownColumn {
        use Builtin as B;
        let payload = packed >> 9;
        let length = || (payload != 0).then(|| (payload - 1) as u32);
        let builtin = match packed & 0xFF {
            255 => {
                return KnownColumn {
                    ty: KnownType::Other(payload),
                    not_null: packed & 1 << 8 != 0,
                };
            }
            1 => B::SmallInt,
            2 => B::Int,
            3 => B::BigInt,
            4 => B::SmallSerial,
            5 => B::Serial,
            6 => B::BigSerial,
            7 => B::Varchar(length()),
            8 => B::Char(length()),
            9 => B::Text,
            10 => B::Citext,
            11 => B::Numeric((payload != 0).then_some((
                (payload >> 1 & ((1 << 27) - 1)) as u32,
                (payload >> 28 & ((1 << 27) - 1)) as u32,
            ))),
            12 => B::Real,
            13 => B::Double,
            14 => B::Timestamp,
            15 => B::Timestamptz,
            16 => B::Date,
            17 => B::Json,
            18 => B::Jsonb,
            19 => B::Uuid,
            20 => B::Boolean,
            21 => B::Inet,
            _ => B::Cidr,
        };
        KnownColumn {
            ty: KnownType::Builtin(BuiltinType(builtin)),
            not_null: packed & 1 << 8 != 0,
        }
    }
}

/// The 64-bit identity of a normalised (qualified) object name. A collision would need two
/// of the run's names to share one of 2^64 values: about 10^-10 for 100,000 names.
pub(super) fn name_hash(name: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    name.hash(&mut hasher);
    hasher.finish()
}

/// The identity of a (table, name) pair: a column, or a constraint of a table.
pub(super) fn pair_hash(table: &str, name: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    table.hash(&mut hasher);
    name.hash(&mut hasher);
    hasher.finish()
}

/// What the run state remembers about a name: the kind is mixed into the key, so one map
/// holds them all.
#[derive(Debug, Clone, Copy)]
enum Fact {
    /// Tables (and materialized views, sequences) created in this run: they have no rows and
    /// no readers.
    NewTable,
    /// Types, domains and sequences created in this run.
    NewType,
    /// Columns of tables that existed before the run: (table, column) -> [`KnownColumn`].
    Column,
    DomainWithCheck,
    /// `CHECK (c IS NOT NULL) NOT VALID` constraints waiting for VALIDATE:
    /// (table, constraint) -> (table, c).
    PendingNotNullCheck,
    /// (table, column) with a validated `CHECK (c IS NOT NULL)`.
    ProvenNotNull,
    /// Tables with a policy.
    Policy,
    /// Types and domains created in the run (with a CHECK or not).
    TypeSeen,
    /// Columns added by an unreleased script: (table, column).
    NewColumn,
    /// Tables created in the run (released or not): what later changed them is in the run
    /// too, so a fact the run does not show is known to be absent.
    TableSeen,
    /// Partitioned tables (`PARTITION BY`) created in the run.
    Partitioned,
    /// Partitioned tables that got a DEFAULT partition in the run.
    DefaultPartition,
    /// Tables with a validated CHECK constraint.
    ValidatedCheck,
    /// CHECK constraints added NOT VALID, waiting for VALIDATE: (table, constraint) -> table.
    PendingCheck,
    /// (table, column) that an index created in the run keys on.
    IndexedColumn,
    /// Tables with an index on an expression: which columns it uses is not known.
    ExpressionIndex,
    /// Unique indexes (and UNIQUE / PRIMARY KEY constraints, by constraint name: (table,
    /// name)) created in the run.
    UniqueIndex,
    /// Functions created in the run whose call makes a column default volatile.
    VolatileFunction,
    /// Tables with a primary key.
    PrimaryKey,
    /// Tables added to a publication that publishes updates or deletes.
    Published,
    /// The key columns of an index created in the run: (index) -> their count, (index, `#i`)
    /// -> the (table, column) hash of the i-th.
    IndexColumn,
    /// The output columns of a view created in the run, when all are known: (view) -> their
    /// count, (view, `#i`) -> the (view, column) hash of the i-th.
    ViewColumn,
    /// The labels of an enum created in the run (kept up to date by ADD VALUE), by the
    /// [`KnownType::Other`] hash of its name (what a column of the type remembers): (type)
    /// -> their count + 1, ([`enum_label_slot`]) -> the [`name_hash`] of the i-th label.
    EnumLabel,
}

/// The store's key suffix of an enum's i-th label.
fn enum_label_slot(type_hash: u64, i: u64) -> u64 {
    pair_hash(&format!("{type_hash:x}"), &format!("#{i}"))
}

impl Fact {
    /// The store's key for this kind of fact about the object whose hash is `hash`. The
    /// hashes are uniform, so XOR with a distinct constant keeps kinds apart.
    fn key(self, hash: u64) -> u64 {
        const SALTS: [u64; 23] = [
            0x243F_6A88_85A3_08D3,
            0x1319_8A2E_0370_7344,
            0xA409_3822_299F_31D0,
            0x082E_FA98_EC4E_6C89,
            0x4528_21E6_38D0_1377,
            0xBE54_66CF_34E9_0C6C,
            0xC0AC_29B7_C97C_50DD,
            0x3F84_D5B5_B547_0917,
            0x9216_D5D9_8979_FB1B,
            0xD131_0BA6_98DF_B5AC,
            0x2FFD_72DB_D01A_DFB7,
            0xB8E1_AFED_6A26_7E96,
            0xBA7C_9045_F12C_7F99,
            0x24A1_9947_B391_6CF7,
            0x0801_F2E2_858E_FC16,
            0x6369_20D8_7157_1C9C,
            0x3D3B_4C4B_56D7_1E55,
            0x4B6A_4E07_2A4F_0AC2,
            0x2A5F_2B80_8E9D_6E31,
            0x7A3E_5DB0_9C5B_E1D3,
            0xE65E_D3A1_4C27_9B08,
            0x5C95_1F2D_A6E8_3B47,
            0x8E3C_7A12_F0B9_64D5,
        ];
        hash ^ SALTS[self as usize]
    }
}

/// Facts gathered over a whole lint run (all scripts, in order). Every object is kept as the
/// 64-bit hash of its normalised name ([`name_hash`], [`pair_hash`]) with, for columns, a
/// packed [`KnownColumn`], in a [`Facts`] store whose memory stays bounded however long the
/// run: older facts are spilled to temporary files and still answered exactly.
///
/// A table (or type) is new when it was created earlier in the current script, or in an
/// earlier script of the run that is known to be unreleased ([`RunState::begin_script`]).
/// What a released script created exists with rows and readers by the time a later one runs:
/// it is old. The current script's creations are kept apart, in memory (one file's worth).
#[derive(Debug, Default)]
pub struct RunState {
    facts: Facts,
    /// The current script is known to be unreleased: what it creates stays new for later ones.
    unreleased: bool,
    /// Tables and types created in the current script.
    script_tables: HashSet<u64, std::hash::BuildHasherDefault<IdentityHasher>>,
    script_types: HashSet<u64, std::hash::BuildHasherDefault<IdentityHasher>>,
}

impl RunState {
    /// Starts the next script of the run. `unreleased`: the script is known not to have run
    /// anywhere that matters yet (added since the `--changed-since` ref, not applied on the
    /// `--env`, newer than `[lint] released`), so the tables it creates are still new in the
    /// scripts after it. Otherwise they are new only within the script itself.
    pub fn begin_script(&mut self, unreleased: bool) {
        self.unreleased = unreleased;
        self.script_tables.clear();
        self.script_types.clear();
    }

    fn has(&self, fact: Fact, hash: u64) -> bool {
        self.facts.get(fact.key(hash)).is_some()
    }

    fn note(&mut self, fact: Fact, hash: u64) {
        self.facts.insert(fact.key(hash), 1);
    }

    /// A table (or materialized view, or sequence) was created: new in this script, and in
    /// the later ones when this one is unreleased.
    fn note_new_table(&mut self, hash: u64) {
        self.script_tables.insert(hash);
        if self.unreleased {
            self.note(Fact::NewTable, hash);
        }
    }

    fn note_new_type(&mut self, hash: u64) {
        self.script_types.insert(hash);
        if self.unreleased {
            self.note(Fact::NewType, hash);
        }
    }

    /// The table (or materialized view, or sequence) has no rows and no readers yet: it was
    /// created earlier in this script, or in an unreleased script earlier in the run.
    pub fn is_new(&self, table: &str) -> bool {
        let hash = name_hash(table);
        self.script_tables.contains(&hash) || self.has(Fact::NewTable, hash)
    }

    /// The table stays new after this script: created by an unreleased script. Column facts
    /// are kept for the other tables, which later scripts see as old.
    fn is_new_after_script(&self, table: &str) -> bool {
        self.has(Fact::NewTable, name_hash(table))
    }

    /// The type, domain or sequence was created earlier in this script, or in an unreleased
    /// script earlier in the run.
    pub fn is_new_type(&self, name: &str) -> bool {
        let hash = name_hash(name);
        self.script_types.contains(&hash) || self.has(Fact::NewType, hash)
    }

    /// A domain created earlier in the run has a CHECK constraint.
    pub fn domain_has_check(&self, name: &str) -> bool {
        self.has(Fact::DomainWithCheck, name_hash(name))
    }

    /// A type or domain of this name was created earlier in the run.
    pub fn type_seen(&self, name: &str) -> bool {
        self.has(Fact::TypeSeen, name_hash(name))
    }

    /// A validated `CHECK (column IS NOT NULL)` exists on the table's column.
    pub fn is_proven_not_null(&self, table: &str, column: &str) -> bool {
        self.has(Fact::ProvenNotNull, pair_hash(table, column))
    }

    /// The table was created in the run.
    pub fn table_seen(&self, table: &str) -> bool {
        self.has(Fact::TableSeen, name_hash(table))
    }

    /// A unique index (or UNIQUE / PRIMARY KEY constraint, `table` given) of this name was
    /// created in the run.
    pub fn is_unique_index(&self, table: Option<&str>, name: &str) -> bool {
        let hash = match table {
            Some(table) => pair_hash(table, name),
            None => name_hash(name),
        };
        self.facts.get(Fact::UniqueIndex.key(hash)) == Some(1)
    }

    /// An index of this name was created in the run: whether it is unique.
    pub fn index_unique(&self, name: &str) -> Option<bool> {
        self.facts
            .get(Fact::UniqueIndex.key(name_hash(name)))
            .map(|v| v == 1)
    }

    /// A function of this name created in the run makes a default that calls it volatile.
    pub fn is_volatile_function(&self, name: &str) -> bool {
        self.has(Fact::VolatileFunction, pair_hash("()", name))
    }

    /// A function of this name was created earlier in this script or in an unreleased one.
    pub fn is_new_function(&self, name: &str) -> bool {
        self.is_new_type(&format!("{name}()"))
    }

    /// The commands (`POLICY_*` bits) that policies created earlier in the run on the
    /// table let through; `None` when the run created none.
    pub fn policy_commands(&self, table: &str) -> Option<u8> {
        self.facts
            .get(Fact::Policy.key(name_hash(table)))
            .map(|bits| (bits & 15) as u8)
    }

    pub fn column(&self, table: &str, column: &str) -> Option<KnownColumn> {
        self.column_by_hash(pair_hash(table, column))
    }

    fn column_by_hash(&self, hash: u64) -> Option<KnownColumn> {
        self.facts
            .get(Fact::Column.key(hash))
            .map(KnownColumn::unpack)
    }

    fn set_column(&mut self, hash: u64, column: KnownColumn) {
        self.facts.insert(Fact::Column.key(hash), column.pack());
    }

    /// An I/O error of the store's temporary files (met once, then cleared): the facts it
    /// could not read were treated as unknown.
    pub fn take_error(&mut self) -> Option<std::io::Error> {
        self.facts.take_error()
    }
}

/// Facts about the current file.
#[derive(Debug)]
pub(crate) struct FileState {
    /// Index of the statement being checked.
    pub index: usize,
    /// Top-level statements in the file (DO-body statements not counted).
    pub statement_count: usize,
    /// A lock_timeout is in force (directive, environment, or an earlier SET).
    pub lock_timeout_set: bool,
    /// A traffic-blocking lock on an existing table was taken earlier in the file.
    pub blocking_lock_taken: bool,
    /// Inside an explicit or implicit transaction.
    pub in_txn_now: bool,
    /// The file as a whole runs in a transaction.
    base_in_txn: bool,
    /// Transaction control that stagegate refuses to run, by statement index: the
    /// statement classifier's verdict on the file, as apply gives it.
    pub txn_refusals: HashMap<usize, crate::sql::classify::StatementRefusal>,
    /// Existing tables locked ACCESS EXCLUSIVE earlier in the current transaction.
    pub access_exclusive_held: Tables,
    /// Existing tables an earlier statement of the current transaction locked in a mode
    /// that blocks reads or writes (DDL, `LOCK TABLE`, `DISABLE TRIGGER`), with the
    /// strongest such mode: held until the transaction ends.
    pub held: HeldLocks,
    /// Columns added by this file: (table, column) pair hashes.
    added_columns: HashSet<u64, std::hash::BuildHasherDefault<IdentityHasher>>,
    /// Index of the first CONCURRENTLY statement.
    pub first_concurrent: Option<usize>,
    /// Every top-level statement but the last can run again after it succeeded (`IF [NOT]
    /// EXISTS`, settings, `ALTER INDEX ... ATTACH PARTITION`, ...): a no-transaction
    /// migration that fails part-way is simply run again.
    pub rerunnable: bool,
    /// Indexes that an `ALTER INDEX ... ATTACH PARTITION` of the file attaches into.
    pub attached_into: HashSet<Name>,
    /// The file creates a unique index somewhere (a replacement for one it drops).
    pub unique_index_created: bool,
    /// Tables whose replica identity the file sets to FULL or an index.
    replica_identity: HashSet<Name>,
    /// Enum labels added earlier in the current transaction, quoted (`'team'`).
    new_enum_values: Vec<String>,
    /// Columns that a `SET DEFAULT` of the file gives a default: (table, column) hashes.
    set_defaults: HashSet<u64, std::hash::BuildHasherDefault<IdentityHasher>>,
    /// Tables that get a policy anywhere in the file, with the commands the policies let
    /// through (`POLICY_*` bits).
    pub policy_tables: HashMap<Name, u8>,
    /// Indexes dropped earlier in the file.
    pub dropped_indexes: HashSet<Name>,
    /// Views dropped earlier in the file.
    pub dropped_views: HashSet<Name>,
    /// The session's TimeZone is UTC: set by an earlier `SET TimeZone` of the file (a
    /// `SET LOCAL` only until its transaction ends).
    pub utc_time_zone: bool,
    /// `utc_time_zone` came from a `SET LOCAL`.
    utc_time_zone_local: bool,
    /// An earlier `SET TimeZone` of the file is in force: it, not the server's, decides.
    pub time_zone_set: bool,
    /// Views, types, domains, sequences, tables and schemas the file creates: (kind, name) ->
    /// indexes of the first and the last statement creating it.
    created: HashMap<(ObjectKind, Name), (usize, usize)>,
}

/// The classifier's refusals of the file's transaction control, by index into `statements`
/// (statements inside `DO` bodies are not the file's).
fn txn_refusals(
    statements: &[Analyzed],
    in_transaction: bool,
) -> HashMap<usize, crate::sql::classify::StatementRefusal> {
    use crate::sql::Class;
    let top: Vec<usize> = (0..statements.len())
        .filter(|&i| !statements[i].in_do_block)
        .collect();
    let classes: Vec<Class> = top
        .iter()
        .map(|&i| {
            statements[i]
                .changes
                .iter()
                .find_map(|c| match c {
                    Change::Transaction(control) => Some(Class::Transaction(*control)),
                    _ => None,
                })
                .unwrap_or(Class::Other)
        })
        .collect();
    match crate::sql::classify::units(&classes, in_transaction) {
        Ok(_) => HashMap::new(),
        Err(problems) => problems
            .into_iter()
            .map(|p| (top[p.index], p.refusal))
            .collect(),
    }
}

impl FileState {
    pub(crate) fn new(statements: &[Analyzed], in_transaction: bool) -> FileState {
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
                                | Change::SetTimeZone { .. }
                        )
                    })
                })
                .count(),
            lock_timeout_set: false,
            blocking_lock_taken: false,
            in_txn_now: in_transaction,
            base_in_txn: in_transaction,
            txn_refusals: txn_refusals(statements, in_transaction),
            access_exclusive_held: Tables::default(),
            held: HeldLocks::default(),
            added_columns: HashSet::default(),
            first_concurrent: statements
                .iter()
                .position(|s| s.changes.iter().any(super::is_concurrent)),
            policy_tables: statements
                .iter()
                .flat_map(|s| &s.changes)
                .filter_map(|c| match c {
                    Change::CreatePolicy { table, commands } => Some((table, *commands)),
                    _ => None,
                })
                .fold(HashMap::new(), |mut tables, (table, commands)| {
                    *tables.entry(table.clone()).or_insert(0) |= commands;
                    tables
                }),
            dropped_indexes: HashSet::new(),
            dropped_views: HashSet::new(),
            rerunnable: {
                let changed: Vec<&Analyzed> = top
                    .iter()
                    .copied()
                    .filter(|s| !s.changes.iter().all(is_setting))
                    .collect();
                changed
                    .iter()
                    .take(changed.len().saturating_sub(1))
                    .all(|s| s.changes.iter().all(runs_again))
            },
            unique_index_created: statements
                .iter()
                .flat_map(|s| &s.changes)
                .any(|c| matches!(c, Change::CreateIndex { unique: true, .. })),
            replica_identity: statements
                .iter()
                .flat_map(|s| &s.changes)
                .filter_map(|c| match c {
                    Change::AlterTableOther {
                        table,
                        what: "REPLICA IDENTITY",
                        ..
                    } => Some(table.clone()),
                    _ => None,
                })
                .collect(),
            new_enum_values: Vec::new(),
            set_defaults: statements
                .iter()
                .flat_map(|s| &s.changes)
                .filter_map(|c| match c {
                    Change::SetDefault { table, column } => Some(pair_hash(table, column)),
                    _ => None,
                })
                .collect(),
            attached_into: statements
                .iter()
                .flat_map(|s| &s.changes)
                .filter_map(|c| match c {
                    Change::AttachIndex { index } => Some(index.clone()),
                    _ => None,
                })
                .collect(),
            utc_time_zone: false,
            utc_time_zone_local: false,
            time_zone_set: false,
            created: statements
                .iter()
                .enumerate()
                .flat_map(|(index, s)| s.changes.iter().map(move |c| (index, c)))
                .filter_map(|(index, change)| {
                    let (kind, name) = match change {
                        Change::CreateView {
                            name,
                            materialized: false,
                            ..
                        } => (ObjectKind::View, name),
                        Change::CreateView {
                            name,
                            materialized: true,
                            ..
                        } => (ObjectKind::MaterializedView, name),
                        Change::CreateEnum { name, .. } => (ObjectKind::Type, name),
                        Change::CreateDomain { name, .. } => (ObjectKind::Domain, name),
                        Change::CreateSequence { name, .. } => (ObjectKind::Sequence, name),
                        Change::CreateTable { table, .. } => (ObjectKind::Table, table),
                        Change::CreateSchema { name, .. } => (ObjectKind::Schema, name),
                        _ => return None,
                    };
                    Some(((kind, name.clone()), index))
                })
                .fold(HashMap::new(), |mut created, (key, index)| {
                    created
                        .entry(key)
                        .and_modify(|(_, last): &mut (usize, usize)| *last = index)
                        .or_insert((index, index));
                    created
                }),
        }
    }

    /// The file sets the table's replica identity to FULL or an index.
    pub(crate) fn replica_identity_set(&self, table: &str) -> bool {
        self.replica_identity.contains(table)
    }

    /// The enum labels added earlier in this transaction, quoted (`'team'`).
    pub(crate) fn new_enum_values(&self) -> &[String] {
        &self.new_enum_values
    }

    /// A `SET DEFAULT` of the file gives the column a default.
    pub(crate) fn sets_default(&self, table: &str, column: &str) -> bool {
        self.set_defaults.contains(&pair_hash(table, column))
    }

    /// A statement after the current one creates an object of this kind and name again: a
    /// drop of it now is a replacement.
    pub(crate) fn recreated_later(&self, kind: ObjectKind, name: &str) -> bool {
        self.created
            .get(&(kind, name.to_string()))
            .is_some_and(|&(_, last)| last > self.index)
    }

    /// A statement before the current one created an object of this kind and name: dropping
    /// it drops nothing that readers or rows depend on.
    pub(crate) fn created_earlier(&self, kind: ObjectKind, name: &str) -> bool {
        self.created
            .get(&(kind, name.to_string()))
            .is_some_and(|&(first, _)| first < self.index)
    }
}

/// A statement that only sets session state.
fn is_setting(change: &Change) -> bool {
    matches!(
        change,
        Change::Harmless
            | Change::SetLockTimeout { .. }
            | Change::SetStatementTimeout
            | Change::SetTimeZone { .. }
    )
}

/// A change that succeeds again when run a second time.
fn runs_again(change: &Change) -> bool {
    is_setting(change)
        || matches!(
            change,
            Change::CreateIndex {
                if_not_exists: true,
                ..
            } | Change::DropIndex {
                if_exists: true,
                ..
            } | Change::Drop {
                if_exists: true,
                ..
            } | Change::AttachIndex { .. }
                | Change::Reindex { .. }
                | Change::Vacuum
                | Change::Comment
                | Change::Grant
                | Change::Revoke { .. }
                | Change::CreateStatistics
        )
}

/// Tables locked by earlier statements of a transaction, with the strongest mode of each.
#[derive(Debug, Default)]
pub(crate) struct HeldLocks {
    tables: Tables,
    modes: Vec<LockMode>,
}

impl HeldLocks {
    fn insert(&mut self, table: &str, mode: LockMode) {
        if let Some(at) = self.tables.names.iter().position(|n| n == table) {
            self.modes[at] = self.modes[at].max(mode);
        } else {
            self.tables.insert(table);
            self.modes.push(mode);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    fn clear(&mut self) {
        self.tables.clear();
        self.modes.clear();
    }

    /// "`orders` (ACCESS EXCLUSIVE), `users` (SHARE ROW EXCLUSIVE)", a few of them.
    pub(crate) fn describe(&self) -> String {
        let mut out = self
            .tables
            .names
            .iter()
            .zip(&self.modes)
            .take(super::LISTED)
            .map(|(name, mode)| format!("`{name}` ({})", mode.label()))
            .collect::<Vec<_>>()
            .join(", ");
        let more = self.tables.names.len().saturating_sub(super::LISTED);
        if more > 0 {
            out.push_str(&format!(" and {more} more"));
        }
        out
    }

    /// What the application waits for while these are held: "reads and writes" if any is
    /// ACCESS EXCLUSIVE, else "writes".
    pub(crate) fn blocks(&self) -> &'static str {
        self.modes
            .iter()
            .max()
            .map_or("writes", |mode| mode.blocks())
    }
}

/// A key column of an index: named (from the catalog) or known by its (table, column) hash
/// (an index the run created).
#[derive(Debug, Clone)]
pub(crate) enum KeyColumn {
    Named(Name),
    Hashed(u64),
}

/// Table names, each once, in the order first seen: a transaction of many statements
/// looks a table up without going through the list.
#[derive(Debug, Default)]
pub(crate) struct Tables {
    names: Vec<Name>,
    seen: HashSet<Name>,
}

impl Tables {
    pub(crate) fn insert(&mut self, table: &str) {
        if !self.seen.contains(table) {
            self.seen.insert(table.to_string());
            self.names.push(table.to_string());
        }
    }

    pub(crate) fn contains(&self, table: &str) -> bool {
        self.seen.contains(table)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.names.clear();
        self.seen.clear();
    }

    /// In the order first seen.
    pub(crate) fn names(&self) -> &[Name] {
        &self.names
    }
}

/// Everything a rule may look at.
pub(crate) struct Ctx<'a> {
    /// PostgreSQL major version.
    pub pg: u32,
    /// Facts read from a database (`--env`, `--scratch`), which the files' facts override.
    pub catalog: Option<&'a Catalog>,
    /// `[lint] small_table_rows`.
    pub small_table_rows: u64,
    /// The file runs inside one transaction.
    pub in_transaction: bool,
    pub run: &'a RunState,
    pub file: &'a FileState,
    pub statement: &'a Analyzed,
    /// The statement's original text.
    pub text: &'a str,
    /// The statement's tokens, read the first time a rule asks where a clause is
    /// ([`Ctx::tokens`]) and kept for the statement's other changes and findings.
    pub tokens: &'a std::cell::OnceCell<Option<Vec<crate::sql::Tok>>>,
}

impl Ctx<'_> {
    /// The tokens of [`Ctx::text`] (`None` when the tokenizer rejects it), made once per
    /// statement: from the tokens kept when sqlparser read it, else by tokenizing the text.
    pub(crate) fn tokens(&self) -> Option<&[crate::sql::Tok]> {
        self.tokens
            .get_or_init(|| {
                self.statement
                    .tokens
                    .toks(self.text)
                    .or_else(|| crate::sql::tokenize(self.text))
            })
            .as_deref()
    }

    /// The table has no rows and no readers yet: created earlier in this run.
    pub(crate) fn is_new(&self, table: &str) -> bool {
        self.run.is_new(table)
    }

    /// The column was added by this file, or by an unreleased script earlier in the run
    /// (or its table is new): it holds no value yet in any row.
    pub(crate) fn column_is_new(&self, table: &str, column: &str) -> bool {
        let hash = pair_hash(table, column);
        self.file.added_columns.contains(&hash)
            || self.run.has(Fact::NewColumn, hash)
            || self.is_new(table)
    }

    /// The statement reads every row of `table`: `reach` is broad, or an `IS NULL` on a
    /// column that is still empty.
    pub(crate) fn reaches_every_row(&self, table: &str, reach: &Reach) -> bool {
        match reach {
            Reach::All | Reach::WholeTable => true,
            Reach::NullIn(column) => self.column_is_new(table, column),
            Reach::Selective => false,
        }
    }

    /// The column's type and nullability: from the run, else from the catalog.
    pub(crate) fn column(&self, table: &str, column: &str) -> Option<KnownColumn> {
        self.run.column(table, column).or_else(|| {
            self.catalog?.column(table, column).map(|c| KnownColumn {
                ty: KnownType::of(&c.ty),
                not_null: c.not_null,
            })
        })
    }

    /// Some index uses the column: from the run (an index created in it keys on the column,
    /// or the run created the table and no index on it), else from the catalog.
    pub(crate) fn column_indexed(&self, table: &str, column: &str) -> Option<bool> {
        if self.run.has(Fact::IndexedColumn, pair_hash(table, column)) {
            return Some(true);
        }
        let hash = name_hash(table);
        if self.run.has(Fact::TableSeen, hash) && !self.run.has(Fact::ExpressionIndex, hash) {
            return Some(false);
        }
        Some(self.catalog?.column(table, column)?.indexed)
    }

    /// The table as the catalog has it.
    pub(crate) fn table_facts(&self, table: &str) -> Option<&TableFacts> {
        self.catalog?.table(table)
    }

    /// A fact about a table: `Some(true)` when the run shows it, `Some(false)` when the run
    /// created the table and does not show it, else the catalog's answer.
    fn table_fact(
        &self,
        table: &str,
        fact: Fact,
        from_catalog: impl Fn(&TableFacts) -> bool,
    ) -> Option<bool> {
        let hash = name_hash(table);
        if self.run.has(fact, hash) {
            return Some(true);
        }
        if self.run.has(Fact::TableSeen, hash) {
            return Some(false);
        }
        self.table_facts(table).map(from_catalog)
    }

    /// The table is partitioned (`PARTITION BY`).
    pub(crate) fn partitioned(&self, table: &str) -> Option<bool> {
        self.table_fact(table, Fact::Partitioned, |t| t.partitioned)
    }

    /// The partitioned table has a DEFAULT partition.
    pub(crate) fn has_default_partition(&self, table: &str) -> Option<bool> {
        self.table_fact(table, Fact::DefaultPartition, |t| t.has_default_partition)
    }

    /// The table has a validated CHECK constraint.
    pub(crate) fn has_validated_check(&self, table: &str) -> Option<bool> {
        self.table_fact(table, Fact::ValidatedCheck, |t| t.validated_check)
    }

    /// The table has a primary key.
    pub(crate) fn has_primary_key(&self, table: &str) -> Option<bool> {
        self.table_fact(table, Fact::PrimaryKey, |t| t.primary_key)
    }

    /// The table is in a publication that publishes updates or deletes.
    pub(crate) fn is_published(&self, table: &str) -> Option<bool> {
        self.table_fact(table, Fact::Published, |t| t.published)
    }

    /// The key columns of index `index`, from the catalog (named) or from the run
    /// (an index it created: known by their hashes only); `None` when neither shows them.
    pub(crate) fn index_key_columns(&self, index: &str) -> Option<Vec<KeyColumn>> {
        if let Some(facts) = self.catalog.and_then(|c| c.index(index)) {
            return Some(
                facts
                    .columns
                    .iter()
                    .map(|name| KeyColumn::Named(name.clone()))
                    .collect(),
            );
        }
        let count = self
            .run
            .facts
            .get(Fact::IndexColumn.key(name_hash(index)))?;
        (0..count)
            .map(|i| {
                self.run
                    .facts
                    .get(Fact::IndexColumn.key(pair_hash(index, &format!("#{i}"))))
                    .map(KeyColumn::Hashed)
            })
            .collect()
    }

    /// The output columns a view had before this statement: from the run (a view it created:
    /// known by their (view, column) hashes) or, for a view the run did not create, from the
    /// catalog (named); `None` when neither shows them.
    pub(crate) fn view_columns(&self, view: &str) -> Option<Vec<KeyColumn>> {
        let hash = name_hash(view);
        if let Some(count) = self.run.facts.get(Fact::ViewColumn.key(hash)) {
            return (0..count)
                .map(|i| {
                    self.run
                        .facts
                        .get(Fact::ViewColumn.key(pair_hash(view, &format!("#{i}"))))
                        .map(KeyColumn::Hashed)
                })
                .collect();
        }
        if self.run.has(Fact::TableSeen, hash) {
            return None;
        }
        let catalog = self.catalog?;
        if !catalog.table(view)?.view {
            return None;
        }
        Some(
            catalog
                .columns_of(view)?
                .cloned()
                .map(KeyColumn::Named)
                .collect(),
        )
    }

    /// The labels (their [`name_hash`]es) of the enum whose name has this [`KnownType::Other`]
    /// hash, as the run created it and added values to it; `None` when the run does not show
    /// them.
    pub(crate) fn enum_labels(&self, type_hash: u64) -> Option<Vec<u64>> {
        let count = self
            .run
            .facts
            .get(Fact::EnumLabel.key(type_hash))?
            .checked_sub(1)?;
        (0..count)
            .map(|i| {
                self.run
                    .facts
                    .get(Fact::EnumLabel.key(enum_label_slot(type_hash, i)))
            })
            .collect()
    }

    /// A key column's NOT NULL and validated `CHECK (column IS NOT NULL)`, as far as known.
    pub(crate) fn key_column_nulls(
        &self,
        table: &str,
        column: &KeyColumn,
    ) -> (Option<bool>, Option<bool>) {
        match column {
            KeyColumn::Named(name) => (
                self.column(table, name).map(|known| known.not_null),
                self.not_null_check(table, name),
            ),
            KeyColumn::Hashed(hash) => (
                self.run.column_by_hash(*hash).map(|known| known.not_null),
                if self.run.has(Fact::ProvenNotNull, *hash) {
                    Some(true)
                } else if self.run.table_seen(table) {
                    Some(false)
                } else {
                    None
                },
            ),
        }
    }

    /// A validated `CHECK (column IS NOT NULL)` exists: from the run, else the catalog.
    pub(crate) fn not_null_check(&self, table: &str, column: &str) -> Option<bool> {
        if self.run.is_proven_not_null(table, column) {
            return Some(true);
        }
        if self.run.table_seen(table) {
            return Some(false);
        }
        self.table_facts(table)
            .map(|t| t.not_null_checks.iter().any(|c| c == column))
    }

    /// The type is a domain with a CHECK: known when the run created it, or from the catalog.
    pub(crate) fn domain_has_check(&self, name: &str) -> Option<bool> {
        if self.run.domain_has_check(name) {
            return Some(true);
        }
        if self.run.type_seen(name) {
            return Some(false);
        }
        self.catalog?.type_has_check(name)
    }

    /// The session's TimeZone is UTC: from a `SET` earlier in the file, else the server's.
    pub(crate) fn utc_time_zone(&self) -> Option<bool> {
        if self.file.time_zone_set {
            return Some(self.file.utc_time_zone);
        }
        self.catalog?.utc_time_zone()
    }

    /// The end of a message about a fact the linter could not know: how to know it.
    pub(crate) fn unknown(&self, fact: &str) -> String {
        match self.catalog.and_then(|c| c.source.as_ref()) {
            Some(source) => format!(
                "{fact} is not known: the migrations linted do not show it and the catalog of {} does not have it",
                source.label()
            ),
            None => format!("{fact} is not known: run with --env E or --scratch to decide"),
        }
    }

    /// What the catalog says of a table's size, for a lock-on-size verdict: `Some(message)`
    /// when the table is small (the finding is downgraded to info), else `None`; with a
    /// catalog but no estimate, `note` says why there is no downgrade.
    pub(crate) fn size_verdict(&self, table: &str) -> SizeVerdict {
        let Some(catalog) = self.catalog else {
            return SizeVerdict::NoCatalog;
        };
        let Some(facts) = catalog.table(table) else {
            return SizeVerdict::Unknown(format!(
                "`{table}` is not in the catalog, so its size is not known"
            ));
        };
        match facts.rows_estimate {
            None => SizeVerdict::Unknown(format!(
                "`{table}` was never analyzed (no row estimate), so it counts as large"
            )),
            Some(rows) if rows < self.small_table_rows as f64 => SizeVerdict::Small(format!(
                "`{table}` has ~{} rows (below [lint] small_table_rows = {}): the lock is brief",
                rows.round() as u64,
                self.small_table_rows
            )),
            Some(rows) => SizeVerdict::Large(format!(
                "`{table}` has ~{} rows (at least [lint] small_table_rows = {})",
                rows.round() as u64,
                self.small_table_rows
            )),
        }
    }
}

/// A lock-on-size verdict from the catalog ([`Ctx::size_verdict`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SizeVerdict {
    /// No catalog: the rule's verdict stands.
    NoCatalog,
    /// Fewer rows than the threshold: the finding is info, with this message.
    Small(String),
    /// As many rows as the threshold or more: the verdict stands; this says so.
    Large(String),
    /// No estimate: the verdict stands; this says why.
    Unknown(String),
}

/// Indexes, keys, unique constraints, functions and publications a change creates.
fn note_keys(change: &Change, run: &mut RunState) {
    let index = |run: &mut RunState, table: &str, columns: &[&str], unique: Option<u64>| {
        for column in columns {
            run.note(Fact::IndexedColumn, pair_hash(table, column));
        }
        if let Some(hash) = unique {
            run.note(Fact::UniqueIndex, hash);
        }
    };
    match change {
        Change::CreateIndex {
            name,
            table,
            unique,
            columns,
            ..
        } => {
            let plain: Vec<&str> = columns.iter().map(String::as_str).collect();
            if plain.is_empty() {
                run.note(Fact::ExpressionIndex, name_hash(table));
            }
            if let Some(name) = name
                && !plain.is_empty()
            {
                run.facts
                    .insert(Fact::IndexColumn.key(name_hash(name)), plain.len() as u64);
                for (i, column) in plain.iter().enumerate() {
                    run.facts.insert(
                        Fact::IndexColumn.key(pair_hash(name, &format!("#{i}"))),
                        pair_hash(table, column),
                    );
                }
            }
            index(
                run,
                table,
                &plain,
                name.as_deref().filter(|_| *unique).map(name_hash),
            );
            if let Some(name) = name
                && !*unique
            {
                run.facts.insert(Fact::UniqueIndex.key(name_hash(name)), 2);
            }
            if let Some(name) = name
                && run.is_new(table)
            {
                run.note_new_table(name_hash(name));
            }
        }
        Change::CreateTable {
            table,
            columns,
            constraints,
            ..
        } => {
            for column in columns.iter().filter(|c| c.unique || c.primary_key) {
                let default = if column.primary_key {
                    format!("{table}_pkey")
                } else {
                    format!("{table}_{}_key", column.name)
                };
                index(
                    run,
                    table,
                    &[&column.name],
                    Some(pair_hash(table, &default)),
                );
                run.note(Fact::UniqueIndex, name_hash(&default));
                if column.primary_key {
                    run.note(Fact::PrimaryKey, name_hash(table));
                }
            }
            for constraint in constraints {
                note_constraint(run, table, constraint);
            }
        }
        Change::AddConstraint { table, constraint } => note_constraint(run, table, constraint),
        Change::AddColumn { table, column, .. } if column.primary_key => {
            run.note(Fact::PrimaryKey, name_hash(table));
        }
        Change::CreateFunction { name, volatile } => {
            let hash = pair_hash("()", name);
            if *volatile {
                run.note(Fact::VolatileFunction, hash);
            } else {
                run.facts.remove(Fact::VolatileFunction.key(hash));
            }
            run.note_new_type(name_hash(&format!("{name}()")));
        }
        Change::Publish {
            tables,
            updates: true,
        } => {
            for table in tables {
                run.note(Fact::Published, name_hash(table));
            }
        }
        _ => {}
    }
}

/// The labels of enums: written when one is created, one more for each ADD VALUE, forgotten
/// when a value is renamed or the labels are not known.
fn note_enum_labels(change: &Change, run: &mut RunState) {
    let type_hash = |name: &str| match KnownType::of(&ColumnType::Other(name.to_string())) {
        KnownType::Other(hash) => hash,
        KnownType::Builtin(_) => unreachable!("an Other type is not built in"),
    };
    match change {
        Change::CreateEnum { name, labels } => {
            let hash = type_hash(name);
            match labels {
                Some(labels) => {
                    run.facts
                        .insert(Fact::EnumLabel.key(hash), labels.len() as u64 + 1);
                    for (i, label) in labels.iter().enumerate() {
                        run.facts.insert(
                            Fact::EnumLabel.key(enum_label_slot(hash, i as u64)),
                            name_hash(label),
                        );
                    }
                }
                None => run.facts.remove(Fact::EnumLabel.key(hash)),
            }
        }
        Change::EnumAddValue {
            type_name, value, ..
        } => {
            let hash = type_hash(type_name);
            let key = Fact::EnumLabel.key(hash);
            if let Some(count) = run.facts.get(key).and_then(|c| c.checked_sub(1)) {
                let slot = Fact::EnumLabel.key(enum_label_slot(hash, count));
                let known = (0..count).any(|i| {
                    run.facts.get(Fact::EnumLabel.key(enum_label_slot(hash, i)))
                        == Some(name_hash(value))
                });
                if !known {
                    run.facts.insert(slot, name_hash(value));
                    run.facts.insert(key, count + 2);
                }
            }
        }
        Change::EnumRenameValue { type_name } => {
            run.facts.remove(Fact::EnumLabel.key(type_hash(type_name)));
        }
        _ => {}
    }
}

/// The output columns of views: written when a view is created, renamed with its columns,
/// forgotten when it is renamed or dropped for good (a drop the file follows with a new
/// definition keeps them until that definition is checked against them).
fn note_view_columns(change: &Change, file: &mut FileState, run: &mut RunState) {
    let forget = |run: &mut RunState, view: &str| {
        run.facts.remove(Fact::ViewColumn.key(name_hash(view)));
    };
    match change {
        Change::CreateView {
            name,
            materialized: false,
            columns,
            ..
        } => match columns {
            Some(columns) => {
                run.facts
                    .insert(Fact::ViewColumn.key(name_hash(name)), columns.len() as u64);
                for (i, column) in columns.iter().enumerate() {
                    run.facts.insert(
                        Fact::ViewColumn.key(pair_hash(name, &format!("#{i}"))),
                        pair_hash(name, column),
                    );
                }
            }
            None => forget(run, name),
        },
        Change::RenameColumn { table, from, to } => {
            let count = run
                .facts
                .get(Fact::ViewColumn.key(name_hash(table)))
                .unwrap_or(0);
            let (old, new) = (pair_hash(table, from), pair_hash(table, to));
            for i in 0..count {
                let key = Fact::ViewColumn.key(pair_hash(table, &format!("#{i}")));
                if run.facts.get(key) == Some(old) {
                    run.facts.insert(key, new);
                }
            }
        }
        Change::RenameTable { table, .. } => forget(run, table),
        Change::Drop {
            kind: ObjectKind::View,
            names,
            ..
        } => {
            for name in names {
                file.dropped_views.insert(name.clone());
                if !file.recreated_later(ObjectKind::View, name) {
                    forget(run, name);
                }
            }
        }
        _ => {}
    }
}

/// A UNIQUE or PRIMARY KEY constraint: a unique index, by the constraint's name.
fn note_constraint(run: &mut RunState, table: &str, constraint: &crate::analyze::ConstraintSpec) {
    let primary = matches!(constraint.kind, ConstraintKind::PrimaryKey { .. });
    if !primary && !matches!(constraint.kind, ConstraintKind::Unique { .. }) {
        return;
    }
    if primary {
        run.note(Fact::PrimaryKey, name_hash(table));
    }
    if let Some(name) = &constraint.name {
        run.note(Fact::UniqueIndex, pair_hash(table, name));
        run.note(Fact::UniqueIndex, name_hash(name));
    }
}

/// Updates the file and run state after `change` was checked. A column the run does not know
/// yet starts from the catalog's facts (if any) before the change applies to it.
pub(super) fn after_change(
    change: &Change,
    pg: u32,
    catalog: Option<&Catalog>,
    file: &mut FileState,
    run: &mut RunState,
) {
    if let (
        Some(catalog),
        Change::AlterColumnType { table, column, .. }
        | Change::SetNotNull { table, column }
        | Change::DropNotNull { table, column },
    ) = (catalog, change)
        && !run.is_new_after_script(table)
        && run.column(table, column).is_none()
        && let Some(facts) = catalog.column(table, column)
    {
        run.set_column(
            pair_hash(table, column),
            KnownColumn {
                ty: KnownType::of(&facts.ty),
                not_null: facts.not_null,
            },
        );
    }
    if let Change::DropIndex { names, .. } = change {
        file.dropped_indexes.extend(names.iter().cloned());
    }
    note_view_columns(change, file, run);
    note_enum_labels(change, run);

    for lock in locks(change, pg) {
        if run.is_new(&lock.table) {
            continue;
        }
        if lock.mode.blocks_traffic() {
            file.blocking_lock_taken = true;
        }
        if file.in_txn_now && lock.mode == LockMode::AccessExclusive {
            file.access_exclusive_held.insert(&lock.table);
        }
        if file.in_txn_now && lock.mode.blocks_traffic() {
            file.held.insert(&lock.table, lock.mode);
        }
    }
    note_keys(change, run);
    if let Change::AddColumn { table, column, .. } = change {
        let hash = pair_hash(table, &column.name);
        file.added_columns.insert(hash);
        if run.unreleased {
            run.note(Fact::NewColumn, hash);
        }
    }
    // Column facts are kept only for tables that are old for later scripts: rules exempt new
    // tables anyway, and this keeps the run state small on long migration histories.
    let remember = |run: &mut RunState, table: &str, column: &ColumnSpec| {
        if run.is_new_after_script(table) {
            return;
        }
        run.set_column(
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
        run.note(Fact::DomainWithCheck, name_hash(name));
    }
    match change {
        Change::EnumAddValue {
            type_name, value, ..
        } if file.in_txn_now && !run.is_new_type(type_name) && !value.is_empty() => {
            file.new_enum_values.push(crate::sql::quote_literal(value));
        }
        Change::CreateView {
            name,
            materialized: false,
            ..
        } => run.note(Fact::TableSeen, name_hash(name)),
        Change::Transaction(TxnControl::Begin) => {
            file.new_enum_values.clear();
            file.in_txn_now = true;
            file.access_exclusive_held.clear();
            file.held.clear();
        }
        Change::Transaction(control) if control.ends_block() => {
            file.new_enum_values.clear();
            file.in_txn_now = file.base_in_txn;
            file.access_exclusive_held.clear();
            file.held.clear();
            if file.utc_time_zone_local {
                file.utc_time_zone = false;
                file.utc_time_zone_local = false;
                file.time_zone_set = false;
            }
        }
        // SET LOCAL outside a transaction block does nothing (PostgreSQL warns).
        Change::SetTimeZone { utc, local } if !*local || file.in_txn_now => {
            file.utc_time_zone = *utc;
            file.utc_time_zone_local = *local;
            file.time_zone_set = true;
        }
        Change::SetLockTimeout { enabled } => file.lock_timeout_set = *enabled,
        Change::CreateTable {
            table,
            columns,
            constraints,
            partition_of,
            default_partition,
            partitioned,
        } => {
            let hash = name_hash(table);
            run.note_new_table(hash);
            run.note(Fact::TableSeen, hash);
            if *partitioned {
                run.note(Fact::Partitioned, hash);
            }
            if *default_partition && let Some(parent) = partition_of {
                run.note(Fact::DefaultPartition, name_hash(parent));
            }
            if columns.iter().any(|c| c.check)
                || constraints
                    .iter()
                    .any(|c| matches!(c.kind, ConstraintKind::Check { .. }))
            {
                run.note(Fact::ValidatedCheck, hash);
            }
            // A table created by a released script is old for the later ones, which may
            // change its columns: remember what they are.
            for column in columns {
                remember(run, table, column);
            }
        }
        Change::CreateView {
            name,
            materialized: true,
            ..
        } => run.note_new_table(name_hash(name)),
        Change::RenameTable { table, to } if run.is_new(table) => {
            run.note_new_table(name_hash(to));
        }
        Change::AddColumn { table, column, .. } => remember(run, table, column),
        Change::AlterColumnType {
            table, column, to, ..
        } => {
            let hash = pair_hash(table, column);
            if let Some(mut known) = run.column_by_hash(hash) {
                known.ty = KnownType::of(to);
                run.set_column(hash, known);
            }
        }
        Change::SetNotNull { table, column } | Change::DropNotNull { table, column } => {
            let hash = pair_hash(table, column);
            if let Some(mut known) = run.column_by_hash(hash) {
                known.not_null = matches!(change, Change::SetNotNull { .. });
                run.set_column(hash, known);
            }
        }
        Change::AddConstraint { table, constraint } => {
            if matches!(constraint.kind, ConstraintKind::Check { .. }) {
                match (&constraint.name, constraint.not_valid) {
                    (_, false) => run.note(Fact::ValidatedCheck, name_hash(table)),
                    (Some(name), true) => run.facts.insert(
                        Fact::PendingCheck.key(pair_hash(table, name)),
                        name_hash(table),
                    ),
                    (None, true) => {}
                }
            }
            if let ConstraintKind::Check {
                not_null_of: Some(column),
            } = &constraint.kind
            {
                if constraint.not_valid {
                    if let Some(name) = &constraint.name {
                        run.facts.insert(
                            Fact::PendingNotNullCheck.key(pair_hash(table, name)),
                            pair_hash(table, column),
                        );
                    }
                } else {
                    run.note(Fact::ProvenNotNull, pair_hash(table, column));
                }
            }
        }
        Change::ValidateConstraint { table, name } => {
            let key = Fact::PendingCheck.key(pair_hash(table, name));
            if let Some(table) = run.facts.get(key) {
                run.facts.remove(key);
                run.note(Fact::ValidatedCheck, table);
            }
            let key = Fact::PendingNotNullCheck.key(pair_hash(table, name));
            if let Some(column) = run.facts.get(key) {
                run.facts.remove(key);
                run.note(Fact::ProvenNotNull, column);
            }
        }
        Change::CreateEnum { name, .. } | Change::CreateDomain { name, .. } => {
            run.note_new_type(name_hash(name));
            run.note(Fact::TypeSeen, name_hash(name));
        }
        Change::CreateSequence { name, .. } => {
            // A new sequence is locked like a table: nobody waits on it yet.
            let hash = name_hash(name);
            run.note_new_type(hash);
            run.note_new_table(hash);
        }
        Change::CreatePolicy { table, commands } => {
            // Bit 4 marks a policy of no command (a restrictive one): the value is never 0.
            let key = Fact::Policy.key(name_hash(table));
            let before = run.facts.get(key).unwrap_or(0);
            run.facts.insert(key, before | u64::from(*commands) | 16);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_facts_pack_into_64_bits_and_back() {
        let p = ColumnType::parse;
        for ty in [
            "smallint",
            "int",
            "bigint",
            "smallserial",
            "serial",
            "bigserial",
            "varchar",
            "varchar(1)",
            "varchar(10485760)",
            "char",
            "char(3)",
            "text",
            "citext",
            "numeric",
            "numeric(12, 2)",
            "numeric(1000, 1000)",
            "real",
            "double precision",
            "timestamp",
            "timestamptz",
            "date",
            "json",
            "jsonb",
            "uuid",
            "boolean",
            "inet",
            "cidr",
            "mood",
            "public.mood",
        ] {
            for not_null in [false, true] {
                let fact = KnownColumn {
                    ty: KnownType::of(&p(ty)),
                    not_null,
                };
                assert_ne!(fact.pack(), 0, "{ty}");
                assert_eq!(KnownColumn::unpack(fact.pack()), fact, "{ty} {not_null}");
            }
        }
    }

    #[test]
    fn the_run_remembers_beyond_what_it_keeps_in_memory() {
        let mut run = RunState::default();
        run.begin_script(true);
        let pg = 15;
        let mut file = FileState::new(&[], true);
        let table = |n: usize| format!("public.t_{n}");
        for n in 0..3 * crate::lint::facts::MEMORY_ENTRIES {
            after_change(
                &Change::CreateTable {
                    table: table(n),
                    columns: Vec::new(),
                    constraints: Vec::new(),
                    partition_of: None,
                    default_partition: false,
                    partitioned: false,
                },
                pg,
                None,
                &mut file,
                &mut run,
            );
        }
        assert!(run.facts.runs() > 0, "spilled");
        // Asked from the next script: an unreleased script's tables stay new.
        run.begin_script(false);
        assert!((0..3 * crate::lint::facts::MEMORY_ENTRIES).all(|n| run.is_new(&table(n))));
        assert!(!run.is_new("public.orders"));
        assert!(run.take_error().is_none());
    }

    fn create(run: &mut RunState, table: &str, column: &str) {
        let mut file = FileState::new(&[], true);
        after_change(
            &Change::CreateTable {
                table: table.into(),
                columns: vec![ColumnSpec::new(
                    column.into(),
                    ColumnType::parse("varchar(10)"),
                )],
                constraints: Vec::new(),
                partition_of: None,
                default_partition: false,
                partitioned: false,
            },
            15,
            None,
            &mut file,
            run,
        );
    }

    /// A released script's tables are new within it and old after it, with their columns
    /// known; an unreleased script's tables stay new.
    #[test]
    fn only_unreleased_scripts_make_tables_new_for_later_ones() {
        let mut run = RunState::default();
        run.begin_script(false);
        create(&mut run, "public.released", "a");
        assert!(run.is_new("public.released"));
        run.begin_script(true);
        assert!(!run.is_new("public.released"));
        assert!(
            run.column("public.released", "a")
                .is_some_and(|c| !c.not_null),
            "the old table's columns are known"
        );
        create(&mut run, "public.fresh", "a");
        run.begin_script(false);
        assert!(run.is_new("public.fresh"));
        assert!(run.column("public.fresh", "a").is_none());
        assert!(!run.is_new("public.released"));
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

//! sqlparser's AST -> [`Change`]s. The only module that reads sqlparser's statement types.

use sqlparser::ast::{
    AlterColumnOperation, AlterSchemaOperation, AlterTableOperation, AlterTypeOperation, ColumnDef,
    ColumnOption, ContextModifier, DropBehavior, Expr, FromTable, GeneratedExpressionMode,
    GrantObjects, Ident, LockTableMode, ObjectName, ObjectType, RenameTableNameKind, Set,
    Statement, TableConstraint, TableFactor, TableObject, TableWithJoins,
    UserDefinedTypeRepresentation, Value,
};

use super::model::LockMode;
use super::model::{
    Change, ColumnSpec, ConstraintKind, ConstraintSpec, Name, ObjectKind, POLICY_ALL,
    POLICY_DELETE, POLICY_INSERT, POLICY_SELECT, POLICY_UPDATE, Reach, RewriteCommand,
};
use super::names::{default_kind, normalize_ident, normalize_name};
use super::types::ColumnType;

/// The changes one parsed statement makes.
pub(super) fn changes(statement: &Statement) -> Vec<Change> {
    match statement {
        Statement::CreateTable(create) => {
            let table = name(&create.name);
            let mut columns: Vec<ColumnSpec> = create.columns.iter().map(column).collect();
            let constraints: Vec<ConstraintSpec> = create
                .constraints
                .iter()
                .filter_map(|c| constraint(c, false))
                .collect();
            for c in &create.constraints {
                if let TableConstraint::PrimaryKey(pk) = c {
                    for col in &pk.columns {
                        let key = normalize_ident(&col.column.expr.to_string());
                        if let Some(spec) = columns.iter_mut().find(|s| s.name == key) {
                            spec.primary_key = true;
                            spec.not_null = true;
                        }
                    }
                }
            }
            vec![Change::CreateTable {
                table,
                columns,
                constraints,
                partition_of: create.partition_of.as_ref().map(name),
                default_partition: matches!(
                    create.for_values,
                    Some(sqlparser::ast::ForValues::Default)
                ),
                partitioned: create.partition_by.is_some(),
            }]
        }
        Statement::AlterTable(alter) => {
            let table = name(&alter.name);
            alter
                .operations
                .iter()
                .flat_map(|op| alter_table_op(&table, op))
                .collect()
        }
        Statement::CreateIndex(index) => vec![Change::CreateIndex {
            name: index.name.as_ref().map(name),
            table: name(&index.table_name),
            unique: index.unique,
            concurrently: index.concurrently,
            if_not_exists: index.if_not_exists,
            only: false,
            columns: index
                .columns
                .iter()
                .filter_map(|c| column_ref(&c.column.expr))
                .collect(),
        }],
        Statement::Drop {
            object_type,
            if_exists,
            names,
            cascade,
            ..
        } => {
            let names: Vec<Name> = names.iter().map(name).collect();
            let kind = match object_type {
                ObjectType::Index => {
                    return vec![Change::DropIndex {
                        names,
                        concurrently: false,
                        if_exists: *if_exists,
                        cascade: *cascade,
                    }];
                }
                ObjectType::Table => ObjectKind::Table,
                ObjectType::View => ObjectKind::View,
                ObjectType::MaterializedView => ObjectKind::MaterializedView,
                ObjectType::Schema => ObjectKind::Schema,
                ObjectType::Type => ObjectKind::Type,
                ObjectType::Sequence => ObjectKind::Sequence,
                _ => ObjectKind::Other,
            };
            vec![Change::Drop {
                kind,
                names,
                if_exists: *if_exists,
                cascade: *cascade,
            }]
        }
        Statement::DropFunction(drop) => vec![Change::Drop {
            kind: ObjectKind::Function,
            names: drop.func_desc.iter().map(|f| name(&f.name)).collect(),
            if_exists: drop.if_exists,
            cascade: matches!(drop.drop_behavior, Some(DropBehavior::Cascade)),
        }],
        Statement::DropDomain(drop) => vec![Change::Drop {
            kind: ObjectKind::Domain,
            names: vec![name(&drop.name)],
            if_exists: drop.if_exists,
            cascade: matches!(drop.drop_behavior, Some(DropBehavior::Cascade)),
        }],
        Statement::DropExtension(drop) => vec![Change::Drop {
            kind: ObjectKind::Extension,
            names: drop
                .names
                .iter()
                .map(|n| normalize_ident(&n.to_string()))
                .collect(),
            if_exists: drop.if_exists,
            cascade: matches!(
                drop.cascade_or_restrict,
                Some(sqlparser::ast::ReferentialAction::Cascade)
            ),
        }],
        Statement::DropTrigger(drop) => vec![Change::DropTrigger {
            table: drop.table_name.as_ref().map(name),
            if_exists: drop.if_exists,
        }],
        Statement::Truncate(truncate) => vec![Change::Truncate {
            tables: truncate.table_names.iter().map(|t| name(&t.name)).collect(),
            cascade: matches!(
                truncate.cascade,
                Some(sqlparser::ast::CascadeOption::Cascade)
            ),
        }],
        Statement::Update(update) => vec![Change::Update {
            table: relation(&update.table).unwrap_or_default(),
            reach: reach(
                update.selection.as_ref(),
                update.from.is_some() || !update.table.joins.is_empty(),
            ),
        }],
        Statement::Delete(delete) => {
            let from = match &delete.from {
                FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
            };
            vec![Change::Delete {
                table: from.first().and_then(relation).unwrap_or_default(),
                reach: reach(delete.selection.as_ref(), delete.using.is_some()),
            }]
        }
        // MERGE updates (or deletes) the rows its join matches: the whole target is read.
        Statement::Merge(merge) => vec![Change::Update {
            table: match &merge.table {
                TableFactor::Table { name: n, .. } => name(n),
                _ => String::new(),
            },
            reach: Reach::WholeTable,
        }],
        Statement::Insert(insert) => vec![Change::Insert {
            table: match &insert.table {
                TableObject::TableName(n) => name(n),
                other => normalize_ident(&other.to_string()),
            },
            reads_all_of: insert.source.as_deref().and_then(select_source),
        }],
        Statement::Set(Set::SingleAssignment {
            variable,
            values,
            scope,
            ..
        }) => vec![setting(
            &name(variable),
            values,
            matches!(scope, Some(ContextModifier::Local)),
        )],
        Statement::Set(Set::SetTimeZone { local, value }) => vec![Change::SetTimeZone {
            utc: is_utc(value),
            local: *local,
        }],
        Statement::AlterType(alter) => {
            let type_name = name(&alter.name);
            vec![match &alter.operation {
                AlterTypeOperation::AddValue(add) => Change::EnumAddValue {
                    type_name,
                    value: add.value.value.clone(),
                    if_not_exists: add.if_not_exists,
                },
                AlterTypeOperation::RenameValue(_) => Change::EnumRenameValue { type_name },
                AlterTypeOperation::Rename(_) => Change::Harmless,
            }]
        }
        Statement::CreateType {
            name: type_name,
            representation: Some(UserDefinedTypeRepresentation::Enum { labels }),
        } => vec![Change::CreateEnum {
            name: name(type_name),
            labels: Some(labels.iter().map(|label| label.value.clone()).collect()),
        }],
        Statement::CreateDomain(domain) => vec![Change::CreateDomain {
            name: name(&domain.name),
            has_check: domain
                .constraints
                .iter()
                .any(|c| matches!(c, TableConstraint::Check(_))),
        }],
        Statement::AlterSchema(alter) => {
            let schema = name(&alter.name);
            alter
                .operations
                .iter()
                .map(|op| match op {
                    AlterSchemaOperation::Rename { .. } => Change::RenameSchema {
                        schema: schema.clone(),
                    },
                    _ => Change::Harmless,
                })
                .collect()
        }
        Statement::CreateView(view) => vec![Change::CreateView {
            name: name(&view.name),
            materialized: view.materialized,
            columns: if view.columns.is_empty() {
                output_columns(&view.query)
            } else {
                Some(view.columns.iter().map(|c| ident(&c.name)).collect())
            },
            security_invoker: security_invoker(&view.options.to_string()),
        }],
        Statement::Grant(_) => vec![Change::Grant],
        Statement::Revoke(revoke) => vec![Change::Revoke {
            tables: match &revoke.objects {
                Some(GrantObjects::Tables(tables)) => tables.iter().map(name).collect(),
                _ => Vec::new(),
            },
            functions: Vec::new(),
        }],
        Statement::Comment { .. } => vec![Change::Comment],
        Statement::CreateSchema {
            schema_name,
            if_not_exists,
            ..
        } => vec![Change::CreateSchema {
            name: normalize_name(&schema_name.to_string()),
            if_not_exists: *if_not_exists,
        }],
        Statement::CreateExtension(_) => vec![Change::CreateExtension],
        // Whether it is volatile is read from the statement's text (`analyze`).
        Statement::CreateFunction(function) => vec![Change::CreateFunction {
            name: name(&function.name),
            volatile: true,
        }],
        Statement::CreateProcedure { name: n, .. } => vec![Change::CreateFunction {
            name: name(n),
            volatile: true,
        }],
        Statement::CreateSequence {
            name: seq,
            if_not_exists,
            ..
        } => vec![Change::CreateSequence {
            name: name(seq),
            if_not_exists: *if_not_exists,
        }],
        Statement::CreateTrigger(trigger) => vec![Change::CreateTrigger {
            table: name(&trigger.table_name),
        }],
        Statement::CreatePolicy(policy) => vec![Change::CreatePolicy {
            table: name(&policy.table_name),
            commands: if matches!(
                policy.policy_type,
                Some(sqlparser::ast::CreatePolicyType::Restrictive)
            ) {
                0
            } else {
                use sqlparser::ast::CreatePolicyCommand as C;
                match policy.command {
                    None | Some(C::All) => POLICY_ALL,
                    Some(C::Select) => POLICY_SELECT,
                    Some(C::Insert) => POLICY_INSERT,
                    Some(C::Update) => POLICY_UPDATE,
                    Some(C::Delete) => POLICY_DELETE,
                }
            },
        }],
        Statement::Lock(lock) => vec![Change::LockTable {
            tables: lock.tables.iter().map(|t| name(&t.name)).collect(),
            mode: match lock.lock_mode {
                None | Some(LockTableMode::AccessExclusive) => LockMode::AccessExclusive,
                Some(LockTableMode::AccessShare) => LockMode::AccessShare,
                Some(LockTableMode::RowShare) => LockMode::RowShare,
                Some(LockTableMode::RowExclusive) => LockMode::RowExclusive,
                Some(LockTableMode::ShareUpdateExclusive) => LockMode::ShareUpdateExclusive,
                Some(LockTableMode::Share) => LockMode::Share,
                Some(LockTableMode::ShareRowExclusive) => LockMode::ShareRowExclusive,
                Some(LockTableMode::Exclusive) => LockMode::Exclusive,
            },
        }],
        _ => vec![Change::Harmless],
    }
}

fn setting(variable: &str, values: &[Expr], local: bool) -> Change {
    match variable {
        "timezone" => Change::SetTimeZone {
            utc: values.len() == 1 && is_utc(&values[0]),
            local,
        },
        "lock_timeout" => Change::SetLockTimeout {
            enabled: !values.first().is_some_and(is_zero),
        },
        "statement_timeout" => Change::SetStatementTimeout,
        _ => Change::Harmless,
    }
}

/// A zone value PostgreSQL reads as UTC: a name from [`super::names::is_utc_zone`], or 0.
fn is_utc(expr: &Expr) -> bool {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => super::names::is_utc_zone(s),
            Value::Number(n, _) => n == "0",
            _ => false,
        },
        Expr::Identifier(ident) => super::names::is_utc_zone(&ident.value),
        _ => false,
    }
}

fn is_zero(expr: &Expr) -> bool {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n == "0",
            Value::SingleQuotedString(s) => s.trim() == "0",
            _ => false,
        },
        _ => false,
    }
}

fn alter_table_op(table: &Name, op: &AlterTableOperation) -> Vec<Change> {
    let table = table.clone();
    let other = |what: &'static str, access_exclusive: bool| Change::AlterTableOther {
        table: table.clone(),
        what,
        access_exclusive,
    };
    let change = match op {
        AlterTableOperation::AddColumn {
            if_not_exists,
            column_def,
            ..
        } => Change::AddColumn {
            table,
            column: column(column_def),
            if_not_exists: *if_not_exists,
        },
        AlterTableOperation::AddConstraint {
            constraint: c,
            not_valid,
        } => match constraint(c, *not_valid) {
            Some(constraint) => Change::AddConstraint { table, constraint },
            None => other("ADD CONSTRAINT", true),
        },
        AlterTableOperation::DropColumn {
            column_names,
            drop_behavior,
            ..
        } => {
            return column_names
                .iter()
                .map(|c| Change::DropColumn {
                    table: table.clone(),
                    column: ident(c),
                    cascade: matches!(drop_behavior, Some(DropBehavior::Cascade)),
                })
                .collect();
        }
        AlterTableOperation::DropConstraint {
            name: constraint,
            drop_behavior,
            ..
        }
        | AlterTableOperation::DropForeignKey {
            name: constraint,
            drop_behavior,
        } => Change::DropConstraint {
            table,
            name: ident(constraint),
            cascade: matches!(drop_behavior, Some(DropBehavior::Cascade)),
        },
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => Change::RenameColumn {
            table,
            from: ident(old_column_name),
            to: ident(new_column_name),
        },
        AlterTableOperation::RenameTable { table_name } => Change::RenameTable {
            table,
            to: match table_name {
                RenameTableNameKind::As(n) | RenameTableNameKind::To(n) => name(n),
            },
        },
        AlterTableOperation::RenameConstraint { .. } => Change::RenameConstraint { table },
        AlterTableOperation::ValidateConstraint { name: constraint } => {
            Change::ValidateConstraint {
                table,
                name: ident(constraint),
            }
        }
        AlterTableOperation::AlterColumn { column_name, op } => {
            let column = ident(column_name);
            match op {
                AlterColumnOperation::SetNotNull => Change::SetNotNull { table, column },
                AlterColumnOperation::DropNotNull => Change::DropNotNull { table, column },
                AlterColumnOperation::SetDefault { .. } => Change::SetDefault { table, column },
                AlterColumnOperation::DropDefault => Change::DropDefault { table, column },
                AlterColumnOperation::SetDataType {
                    data_type, using, ..
                } => {
                    let to = ColumnType::parse(&data_type.to_string());
                    // `USING c::t` of the column itself to the new type changes nothing.
                    let same = |expr: &Expr| match expr {
                        Expr::Cast {
                            expr, data_type, ..
                        } => {
                            column_ref(expr).as_deref() == Some(column.as_str())
                                && ColumnType::parse(&data_type.to_string()) == to
                        }
                        other => column_ref(other).as_deref() == Some(column.as_str()),
                    };
                    Change::AlterColumnType {
                        table,
                        using: using.as_ref().is_some_and(|u| !same(u)),
                        collate: data_type
                            .to_string()
                            .to_ascii_uppercase()
                            .contains("COLLATE"),
                        column,
                        to,
                    }
                }
                AlterColumnOperation::AddGenerated { .. } => other("ADD GENERATED", true),
            }
        }
        AlterTableOperation::SetLogged => Change::Rewrite {
            table: Some(table),
            command: RewriteCommand::SetLogged,
        },
        AlterTableOperation::SetUnlogged => Change::Rewrite {
            table: Some(table),
            command: RewriteCommand::SetUnlogged,
        },
        AlterTableOperation::EnableRowLevelSecurity
        | AlterTableOperation::ForceRowLevelSecurity => Change::EnableRowLevelSecurity { table },
        AlterTableOperation::DisableTrigger { .. }
        | AlterTableOperation::EnableTrigger { .. }
        | AlterTableOperation::EnableAlwaysTrigger { .. }
        | AlterTableOperation::EnableReplicaTrigger { .. } => {
            other("ENABLE/DISABLE TRIGGER", false)
        }
        AlterTableOperation::OwnerTo { .. } => other("OWNER TO", true),
        AlterTableOperation::ReplicaIdentity { identity } => match identity {
            sqlparser::ast::ReplicaIdentity::Nothing => Change::ReplicaIdentity {
                table,
                nothing: true,
            },
            sqlparser::ast::ReplicaIdentity::Default => Change::ReplicaIdentity {
                table,
                nothing: false,
            },
            _ => other("REPLICA IDENTITY", true),
        },
        AlterTableOperation::SetOptionsParens { .. } => other("SET (storage parameters)", false),
        _ => other("ALTER TABLE", true),
    };
    vec![change]
}

/// A column definition as our model sees it.
pub(super) fn column(def: &ColumnDef) -> ColumnSpec {
    let mut spec = ColumnSpec::new(
        ident(&def.name),
        ColumnType::parse(&def.data_type.to_string()),
    );
    for option in &def.options {
        match &option.option {
            ColumnOption::NotNull => spec.not_null = true,
            ColumnOption::Null => spec.not_null = false,
            ColumnOption::Default(expr) => {
                let text = expr.to_string();
                spec.default = Some(default_kind(&text));
                spec.default_calls = super::names::called_functions(&text);
            }
            ColumnOption::PrimaryKey(_) => {
                spec.primary_key = true;
                spec.not_null = true;
            }
            ColumnOption::Unique(_) => spec.unique = true,
            ColumnOption::ForeignKey(fk) => spec.references = Some(name(&fk.foreign_table)),
            ColumnOption::Check(_) => spec.check = true,
            ColumnOption::Generated {
                generation_expr,
                generation_expr_mode,
                ..
            } => {
                if generation_expr.is_some() {
                    spec.generated_stored =
                        !matches!(generation_expr_mode, Some(GeneratedExpressionMode::Virtual));
                } else {
                    spec.identity = true;
                }
            }
            ColumnOption::Identity(_) => spec.identity = true,
            _ => {}
        }
    }
    spec
}

fn constraint(c: &TableConstraint, not_valid: bool) -> Option<ConstraintSpec> {
    let (name, kind) = match c {
        TableConstraint::Check(check) => (
            check.name.as_ref(),
            ConstraintKind::Check {
                not_null_of: match check.expr.as_ref() {
                    Expr::IsNotNull(inner) => match inner.as_ref() {
                        Expr::Identifier(id) => Some(ident(id)),
                        Expr::Nested(n) => match n.as_ref() {
                            Expr::Identifier(id) => Some(ident(id)),
                            _ => None,
                        },
                        _ => None,
                    },
                    _ => None,
                },
            },
        ),
        TableConstraint::ForeignKey(fk) => (
            fk.name.as_ref(),
            ConstraintKind::ForeignKey {
                references: name(&fk.foreign_table),
            },
        ),
        TableConstraint::Unique(u) => (
            u.name.as_ref(),
            ConstraintKind::Unique { using_index: false },
        ),
        TableConstraint::PrimaryKey(p) => (
            p.name.as_ref(),
            ConstraintKind::PrimaryKey { using_index: None },
        ),
        TableConstraint::UniqueUsingIndex(u) => (
            u.name.as_ref(),
            ConstraintKind::Unique { using_index: true },
        ),
        TableConstraint::PrimaryKeyUsingIndex(u) => (
            u.name.as_ref(),
            ConstraintKind::PrimaryKey {
                using_index: Some(ident(&u.index_name)),
            },
        ),
        TableConstraint::Exclude(e) => (e.name.as_ref(), ConstraintKind::Exclude),
        _ => return None,
    };
    Some(ConstraintSpec {
        name: name.map(ident),
        kind,
        not_valid,
    })
}

/// The output column names of a view's query, when every one is known.
fn output_columns(query: &sqlparser::ast::Query) -> Option<Vec<Name>> {
    use sqlparser::ast::SelectItem;
    let sqlparser::ast::SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(ident(alias)),
            SelectItem::UnnamedExpr(expr) => column_ref(expr),
            _ => None,
        })
        .collect()
}

/// `WITH (security_invoker = true)` (or `on`, `1`, or the option alone).
pub(super) fn security_invoker(options: &str) -> bool {
    let options = options.to_ascii_lowercase();
    let Some(at) = options.find("security_invoker") else {
        return false;
    };
    let rest = options[at + "security_invoker".len()..].trim_start();
    let value = rest
        .strip_prefix('=')
        .unwrap_or("true")
        .trim_start()
        .trim_start_matches('\'');
    !(value.starts_with("false") || value.starts_with("off") || value.starts_with('0'))
}

/// The rows a WHERE clause reaches; `joined`: the statement joins another table (`UPDATE
/// ... FROM`, `DELETE ... USING`), whose join condition alone picks no rows of its own.
fn reach(selection: Option<&Expr>, joined: bool) -> Reach {
    match selection.map(condition) {
        None if joined => Reach::WholeTable,
        None | Some(Condition::Always) => Reach::All,
        Some(Condition::Join | Condition::Broad) => Reach::WholeTable,
        Some(Condition::NullIn(column)) => Reach::NullIn(column),
        Some(Condition::Picks) => Reach::Selective,
    }
}

/// What a WHERE condition says about the rows it keeps.
enum Condition {
    /// Always true.
    Always,
    /// Compares two columns: a join condition.
    Join,
    /// Keeps most rows: `IS NOT NULL`, `NOT IN (...)`, `<>`.
    Broad,
    /// `c IS NULL`.
    NullIn(Name),
    /// Anything else: a key, a range, a literal, a subquery with a limit.
    Picks,
}

fn condition(expr: &Expr) -> Condition {
    use sqlparser::ast::BinaryOperator as Op;
    match expr {
        Expr::Nested(inner) => condition(inner),
        Expr::Value(v) if matches!(v.value, Value::Boolean(true)) => Condition::Always,
        Expr::BinaryOp { left, op, right } => match op {
            Op::And => match (condition(left), condition(right)) {
                (Condition::Picks, _) | (_, Condition::Picks) => Condition::Picks,
                (Condition::NullIn(c), _) | (_, Condition::NullIn(c)) => Condition::NullIn(c),
                (Condition::Always, other) | (other, Condition::Always) => other,
                (Condition::Join, _) | (_, Condition::Join) => Condition::Join,
                _ => Condition::Broad,
            },
            Op::Or => match (condition(left), condition(right)) {
                (Condition::Always, _) | (_, Condition::Always) => Condition::Always,
                (Condition::Picks, Condition::Picks) => Condition::Picks,
                _ => Condition::Broad,
            },
            Op::Eq => match (left.as_ref(), right.as_ref()) {
                (Expr::Value(a), Expr::Value(b)) if a.value == b.value => Condition::Always,
                (a, b) if column_ref(a).is_some() && column_ref(b).is_some() => {
                    if column_ref(a) == column_ref(b) {
                        Condition::Always
                    } else {
                        Condition::Join
                    }
                }
                _ => Condition::Picks,
            },
            Op::NotEq => Condition::Broad,
            _ => Condition::Picks,
        },
        Expr::IsNull(inner) => match column_ref(inner) {
            Some(c) => Condition::NullIn(c),
            None => Condition::Picks,
        },
        Expr::IsNotNull(_) | Expr::IsTrue(_) | Expr::IsNotFalse(_) => Condition::Broad,
        Expr::InSubquery { negated: true, .. } | Expr::InList { negated: true, .. } => {
            Condition::Broad
        }
        Expr::Exists { negated: true, .. } => Condition::Broad,
        _ => Condition::Picks,
    }
}

/// The column an expression names (`c`, `t.c`), by its last part.
fn column_ref(expr: &Expr) -> Option<Name> {
    match expr {
        Expr::Identifier(id) => Some(ident(id)),
        Expr::CompoundIdentifier(parts) => parts.last().map(ident),
        Expr::Nested(inner) => column_ref(inner),
        _ => None,
    }
}

/// The table an `INSERT ... SELECT` reads whole: a single source table with no WHERE, or one
/// that keeps most rows.
fn select_source(query: &sqlparser::ast::Query) -> Option<Name> {
    let sqlparser::ast::SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let [from] = select.from.as_slice() else {
        return None;
    };
    let table = relation(from)?;
    match select.selection.as_ref().map(condition) {
        None | Some(Condition::Always | Condition::Broad | Condition::Join) => Some(table),
        Some(_) => None,
    }
}

fn relation(table: &TableWithJoins) -> Option<Name> {
    match &table.relation {
        TableFactor::Table { name: n, .. } => Some(name(n)),
        _ => None,
    }
}

fn name(object: &ObjectName) -> Name {
    let parts: Vec<String> = object
        .0
        .iter()
        .map(|part| match part.as_ident() {
            Some(id) => ident(id),
            None => part.to_string(),
        })
        .collect();
    super::names::join(parts)
}

fn ident(id: &Ident) -> Name {
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_ascii_lowercase()
    }
}

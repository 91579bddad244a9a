//! Every rule in one table: code, kebab-case name, default severity, one-line summary, its
//! documentation (the rule file's leading `//!` comment) and its check. Codes are never reused.

use super::rules;
use super::{Ctx, Hit, Severity};
use crate::analyze::Change;

/// One lint rule.
pub struct Rule {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    /// The folder of `src/lint/rules/` the rule's file is in, one per hundred of codes.
    #[cfg(test)]
    family: &'static str,
    /// The rule file's source; its leading `//!` lines are the documentation.
    source: &'static str,
    pub(crate) check: fn(&Ctx, &Change, &mut Vec<Hit>),
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.name)
    }
}

impl Rule {
    /// The rule's documentation, from its doc comment.
    pub fn doc(&self) -> String {
        let mut out = String::new();
        for line in self.source.lines() {
            let Some(rest) = line.strip_prefix("//!") else {
                break;
            };
            out.push_str(rest.strip_prefix(' ').unwrap_or(rest));
            out.push('\n');
        }
        out
    }
}

use Severity::{Error, Info, Warning};

/// `rule!(code, name, severity, family::module, summary)`: `module` is the rule's file in the
/// folder of its family, `src/lint/rules/<family>/<module>.rs`.
macro_rules! rule {
    ($code:expr, $name:expr, $severity:expr, $family:ident :: $module:ident, $summary:expr) => {
        Rule {
            code: $code,
            name: $name,
            severity: $severity,
            summary: $summary,
            #[cfg(test)]
            family: stringify!($family),
            source: include_str!(concat!(
                "rules/",
                stringify!($family),
                "/",
                stringify!($module),
                ".rs"
            )),
            check: rules::$family::$module::check,
        }
    };
}

/// All rules, by code.
pub static RULES: &[Rule] = &[
    rule!(
        "SG101",
        "require-concurrent-index-creation",
        Error,
        blocking::require_concurrent_index_creation,
        "CREATE INDEX without CONCURRENTLY on an existing table"
    ),
    rule!(
        "SG102",
        "require-concurrent-index-drop",
        Error,
        blocking::require_concurrent_index_drop,
        "DROP INDEX without CONCURRENTLY"
    ),
    rule!(
        "SG103",
        "require-concurrent-reindex",
        Error,
        blocking::require_concurrent_reindex,
        "REINDEX without CONCURRENTLY"
    ),
    rule!(
        "SG104",
        "add-column-volatile-default",
        Error,
        blocking::add_column_volatile_default,
        "ADD COLUMN with a volatile default rewrites the table"
    ),
    rule!(
        "SG105",
        "add-column-default-before-pg11",
        Error,
        blocking::add_column_default_before_pg11,
        "ADD COLUMN with a default rewrites the table before PostgreSQL 11"
    ),
    rule!(
        "SG106",
        "add-column-serial-or-identity",
        Error,
        blocking::add_column_serial_or_identity,
        "ADD COLUMN serial or identity rewrites the table"
    ),
    rule!(
        "SG107",
        "add-column-generated-stored",
        Error,
        blocking::add_column_generated_stored,
        "ADD COLUMN ... GENERATED ALWAYS AS (...) STORED rewrites the table"
    ),
    rule!(
        "SG108",
        "add-column-constrained-domain",
        Error,
        blocking::add_column_constrained_domain,
        "ADD COLUMN of a domain with a CHECK rewrites the table"
    ),
    rule!(
        "SG109",
        "column-type-change-rewrite",
        Error,
        blocking::column_type_change_rewrite,
        "ALTER COLUMN ... TYPE that rewrites the table"
    ),
    rule!(
        "SG110",
        "set-not-null-scan",
        Error,
        blocking::set_not_null_scan,
        "SET NOT NULL scans the table without a validated CHECK"
    ),
    rule!(
        "SG111",
        "check-constraint-missing-not-valid",
        Error,
        blocking::check_constraint_missing_not_valid,
        "ADD CHECK without NOT VALID scans the table under ACCESS EXCLUSIVE"
    ),
    rule!(
        "SG112",
        "foreign-key-missing-not-valid",
        Error,
        blocking::foreign_key_missing_not_valid,
        "ADD FOREIGN KEY without NOT VALID, or ADD COLUMN ... REFERENCES, blocks writes on both tables"
    ),
    rule!(
        "SG113",
        "unique-constraint-without-index",
        Error,
        blocking::unique_constraint_without_index,
        "ADD UNIQUE / PRIMARY KEY builds an index under ACCESS EXCLUSIVE"
    ),
    rule!(
        "SG114",
        "exclusion-constraint",
        Error,
        blocking::exclusion_constraint,
        "ADD EXCLUDE constraint on an existing table"
    ),
    rule!(
        "SG115",
        "table-rewrite-command",
        Error,
        blocking::table_rewrite_command,
        "VACUUM FULL, CLUSTER, SET TABLESPACE, SET LOGGED/UNLOGGED rewrite the table"
    ),
    rule!(
        "SG116",
        "require-lock-timeout",
        Error,
        blocking::require_lock_timeout,
        "A traffic-blocking lock is taken without lock_timeout"
    ),
    rule!(
        "SG117",
        "statement-after-access-exclusive",
        Warning,
        blocking::statement_after_access_exclusive,
        "More work after an ACCESS EXCLUSIVE lock in the same transaction"
    ),
    rule!(
        "SG118",
        "backfill-in-ddl-transaction",
        Error,
        blocking::backfill_in_ddl_transaction,
        "UPDATE/DELETE of every row in the same transaction as DDL"
    ),
    rule!(
        "SG119",
        "create-partition-locks-parent",
        Warning,
        blocking::create_partition_locks_parent,
        "CREATE TABLE ... PARTITION OF locks the whole partitioned table"
    ),
    rule!(
        "SG120",
        "detach-partition-not-concurrent",
        Error,
        blocking::detach_partition_not_concurrent,
        "DETACH PARTITION without CONCURRENTLY"
    ),
    rule!(
        "SG121",
        "refresh-materialized-view-not-concurrent",
        Error,
        blocking::refresh_materialized_view_not_concurrent,
        "REFRESH MATERIALIZED VIEW without CONCURRENTLY"
    ),
    rule!(
        "SG122",
        "alter-domain-add-check",
        Error,
        blocking::alter_domain_add_check,
        "ALTER DOMAIN ... ADD CHECK without NOT VALID"
    ),
    rule!(
        "SG123",
        "alter-sequence-blocks-inserts",
        Info,
        blocking::alter_sequence_blocks_inserts,
        "ALTER SEQUENCE blocks nextval() until commit"
    ),
    rule!(
        "SG124",
        "attach-partition-before-pg12",
        Error,
        blocking::attach_partition_before_pg12,
        "ATTACH PARTITION locks the parent before PostgreSQL 12"
    ),
    rule!(
        "SG125",
        "update-without-where",
        Error,
        blocking::update_without_where,
        "UPDATE without WHERE locks every row for the whole backfill"
    ),
    rule!(
        "SG126",
        "index-on-only-parent",
        Warning,
        blocking::index_on_only_parent,
        "CREATE INDEX ON ONLY leaves the index invalid until each partition's index is attached"
    ),
    rule!(
        "SG127",
        "scan-under-held-lock",
        Error,
        blocking::scan_under_held_lock,
        "A scan (VALIDATE CONSTRAINT) while an earlier statement's blocking lock is held"
    ),
    rule!(
        "SG128",
        "attach-partition-scan",
        Error,
        blocking::attach_partition_scan,
        "ATTACH PARTITION scans a live table or the DEFAULT partition under ACCESS EXCLUSIVE"
    ),
    rule!(
        "SG129",
        "primary-key-using-index-scan",
        Error,
        blocking::primary_key_using_index_scan,
        "ADD PRIMARY KEY USING INDEX sets nullable columns NOT NULL with a scan under ACCESS EXCLUSIVE"
    ),
    rule!(
        "SG201",
        "drop-column",
        Error,
        breaking::drop_column,
        "DROP COLUMN breaks code that still uses the column"
    ),
    rule!(
        "SG202",
        "rename-column",
        Error,
        breaking::rename_column,
        "RENAME COLUMN breaks code that uses the old name"
    ),
    rule!(
        "SG203",
        "rename-table",
        Error,
        breaking::rename_table,
        "RENAME TABLE breaks code that uses the old name"
    ),
    rule!(
        "SG204",
        "rename-schema",
        Error,
        breaking::rename_schema,
        "ALTER SCHEMA ... RENAME breaks every query that names it"
    ),
    rule!(
        "SG205",
        "set-schema",
        Error,
        breaking::set_schema,
        "ALTER TABLE ... SET SCHEMA moves a table away from running code"
    ),
    rule!(
        "SG206",
        "add-not-null-column-without-default",
        Error,
        breaking::add_not_null_column_without_default,
        "ADD COLUMN ... NOT NULL without a default"
    ),
    rule!(
        "SG207",
        "drop-default-on-not-null",
        Error,
        breaking::drop_default_on_not_null,
        "DROP DEFAULT breaks inserts that rely on it"
    ),
    rule!(
        "SG208",
        "rename-enum-value",
        Error,
        breaking::rename_enum_value,
        "ALTER TYPE ... RENAME VALUE breaks code that uses the old label"
    ),
    rule!(
        "SG209",
        "revoke-privileges",
        Error,
        breaking::revoke_privileges,
        "REVOKE breaks running code that needs the privilege"
    ),
    rule!(
        "SG210",
        "enable-rls-without-policy",
        Error,
        breaking::enable_rls_without_policy,
        "ENABLE ROW LEVEL SECURITY without a policy"
    ),
    rule!(
        "SG211",
        "drop-not-null",
        Info,
        breaking::drop_not_null,
        "DROP NOT NULL lets NULLs reach code that does not expect them"
    ),
    rule!(
        "SG212",
        "rename-constraint",
        Warning,
        breaking::rename_constraint,
        "RENAME CONSTRAINT breaks code that names the constraint"
    ),
    rule!(
        "SG213",
        "rename-function",
        Error,
        breaking::rename_function,
        "ALTER FUNCTION ... RENAME TO breaks code that calls it by name"
    ),
    rule!(
        "SG214",
        "instead-rule",
        Error,
        breaking::instead_rule,
        "CREATE RULE ... DO INSTEAD on an existing table"
    ),
    rule!(
        "SG215",
        "view-security-invoker",
        Error,
        breaking::view_security_invoker,
        "security_invoker on an existing view changes who may read through it"
    ),
    rule!(
        "SG216",
        "publication-without-replica-identity",
        Error,
        breaking::publication_without_replica_identity,
        "A published table without a replica identity rejects UPDATE and DELETE"
    ),
    rule!(
        "SG217",
        "drop-unique-index",
        Error,
        breaking::drop_unique_index,
        "A unique index or constraint dropped breaks ON CONFLICT and lets duplicates in"
    ),
    rule!(
        "SG218",
        "enum-value-removed",
        Error,
        breaking::enum_value_removed,
        "An enum replaced by one without a label that running code writes"
    ),
    rule!(
        "SG301",
        "drop-table",
        Error,
        data_loss::drop_table,
        "DROP TABLE deletes data and breaks running code"
    ),
    rule!(
        "SG302",
        "drop-schema",
        Error,
        data_loss::drop_schema,
        "DROP SCHEMA deletes everything in it"
    ),
    rule!(
        "SG303",
        "drop-type",
        Error,
        data_loss::drop_type,
        "DROP TYPE / DROP DOMAIN breaks code and, with CASCADE, drops columns"
    ),
    rule!(
        "SG304",
        "drop-sequence",
        Error,
        data_loss::drop_sequence,
        "DROP SEQUENCE loses its value and breaks defaults"
    ),
    rule!(
        "SG305",
        "truncate",
        Error,
        data_loss::truncate,
        "TRUNCATE deletes every row"
    ),
    rule!(
        "SG306",
        "truncate-cascade",
        Error,
        data_loss::truncate_cascade,
        "TRUNCATE ... CASCADE empties tables you did not name"
    ),
    rule!(
        "SG307",
        "drop-cascade",
        Error,
        data_loss::drop_cascade,
        "DROP ... CASCADE silently drops dependent objects"
    ),
    rule!(
        "SG308",
        "delete-without-where",
        Error,
        data_loss::delete_without_where,
        "DELETE without WHERE removes every row"
    ),
    rule!(
        "SG309",
        "drop-view",
        Error,
        data_loss::drop_view,
        "DROP VIEW / MATERIALIZED VIEW breaks code that queries it"
    ),
    rule!(
        "SG401",
        "prefer-bigint-keys",
        Warning,
        design::prefer_bigint_keys,
        "int/smallint/serial primary keys overflow"
    ),
    rule!(
        "SG402",
        "prefer-identity",
        Info,
        design::prefer_identity,
        "serial columns: prefer identity columns"
    ),
    rule!(
        "SG403",
        "prefer-text-over-varchar",
        Warning,
        design::prefer_text_over_varchar,
        "varchar(n): prefer text with a CHECK"
    ),
    rule!(
        "SG404",
        "ban-char",
        Warning,
        design::ban_char,
        "char(n) pads with blanks"
    ),
    rule!(
        "SG405",
        "prefer-timestamptz",
        Warning,
        design::prefer_timestamptz,
        "timestamp without time zone discards the offset"
    ),
    rule!(
        "SG406",
        "prefer-jsonb",
        Warning,
        design::prefer_jsonb,
        "json has no equality operator"
    ),
    rule!(
        "SG407",
        "identifier-too-long",
        Warning,
        design::identifier_too_long,
        "Identifiers longer than 63 bytes are truncated"
    ),
    rule!(
        "SG408",
        "domain-with-check",
        Warning,
        design::domain_with_check,
        "CREATE DOMAIN with a CHECK constraint"
    ),
    rule!(
        "SG501",
        "concurrent-in-transaction",
        Error,
        structure::concurrent_in_transaction,
        "CONCURRENTLY or VACUUM inside a transaction fails"
    ),
    rule!(
        "SG502",
        "transaction-control-in-migration",
        Error,
        structure::transaction_control_in_migration,
        "BEGIN/COMMIT/ROLLBACK inside a transactional migration"
    ),
    rule!(
        "SG503",
        "non-idempotent-no-transaction",
        Warning,
        structure::non_idempotent_no_transaction,
        "Non-idempotent statement in a no-transaction migration"
    ),
    rule!(
        "SG504",
        "concurrently-mixed-with-other-statements",
        Warning,
        structure::concurrently_mixed_with_other_statements,
        "CONCURRENTLY mixed with other statements in one migration"
    ),
    rule!(
        "SG505",
        "unrecognised-statement",
        Info,
        structure::unrecognised_statement,
        "A statement stagegate could not read"
    ),
    rule!(
        "SG506",
        "unused-allow-directive",
        Warning,
        structure::unused_allow_directive,
        "An allow directive that suppressed nothing"
    ),
    rule!(
        "SG507",
        "enum-add-value-in-transaction",
        Error,
        structure::enum_add_value_in_transaction,
        "ALTER TYPE ... ADD VALUE in a transaction before PostgreSQL 12"
    ),
    rule!(
        "SG508",
        "unknown-rule-in-allow",
        Warning,
        structure::unknown_rule_in_allow,
        "An allow directive names a rule that does not exist"
    ),
    rule!(
        "SG509",
        "concurrent-index-if-not-exists",
        Info,
        structure::concurrent_index_if_not_exists,
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS skips an invalid leftover"
    ),
    rule!(
        "SG510",
        "edited-released-migration",
        Error,
        structure::edited_released_migration,
        "A migration that existed at the --changed-since ref was edited"
    ),
    rule!(
        "SG511",
        "unknown-command",
        Error,
        structure::unknown_command,
        "Text PostgreSQL rejects: an unknown command or object, or a missing `;`"
    ),
    rule!(
        "SG512",
        "dynamic-sql",
        Warning,
        structure::dynamic_sql,
        "EXECUTE of SQL built at run time in a DO block, which lint cannot see"
    ),
    rule!(
        "SG513",
        "lock-table-outside-transaction",
        Error,
        structure::lock_table_outside_transaction,
        "LOCK TABLE outside a transaction block fails"
    ),
    rule!(
        "SG514",
        "enum-value-used-in-transaction",
        Error,
        structure::enum_value_used_in_transaction,
        "An enum value added and used in the same transaction fails"
    ),
    rule!(
        "SG515",
        "concurrent-index-on-partitioned-table",
        Error,
        structure::concurrent_index_on_partitioned_table,
        "CREATE INDEX CONCURRENTLY on a partitioned table fails"
    ),
];

/// A rule by code (`SG101`, any case) or name (`require-concurrent-index-creation`).
pub fn find(code_or_name: &str) -> Option<&'static Rule> {
    let wanted = code_or_name.trim();
    RULES
        .iter()
        .find(|r| r.code.eq_ignore_ascii_case(wanted) || r.name.eq_ignore_ascii_case(wanted))
}

/// The codes a `--select` or `--ignore` entry names: one rule by code or name, or every code
/// that starts with a prefix such as `SG1` or `SG10`. `None` when nothing matches.
pub(crate) fn matching(code_or_name: &str) -> Option<Vec<&'static str>> {
    if let Some(rule) = find(code_or_name) {
        return Some(vec![rule.code]);
    }
    let prefix = code_or_name.trim().to_ascii_uppercase();
    if prefix.len() < 3 || !prefix.starts_with("SG") {
        return None;
    }
    let codes: Vec<&'static str> = RULES
        .iter()
        .map(|rule| rule.code)
        .filter(|code| code.starts_with(&prefix))
        .collect();
    (!codes.is_empty()).then_some(codes)
}

/// A rule by its exact code; the engine only asks for codes of this table.
pub fn get(code: &str) -> &'static Rule {
    RULES
        .iter()
        .find(|r| r.code == code)
        .unwrap_or_else(|| panic!("rule {code} is not registered"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique_and_documented() {
        let mut codes = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for rule in RULES {
            assert!(codes.insert(rule.code), "duplicate code {}", rule.code);
            assert!(names.insert(rule.name), "duplicate name {}", rule.name);
            let doc = rule.doc();
            for section in [
                "## What it does",
                "## Why is this bad?",
                "## Example",
                "## Use instead",
            ] {
                assert!(doc.contains(section), "{} lacks {section}", rule.code);
            }
            assert!(!rule.summary.ends_with('.'));
        }
        assert!(RULES.len() >= 35, "{} rules", RULES.len());
    }

    #[test]
    fn each_rule_is_in_the_folder_of_its_codes_hundred() {
        for rule in RULES {
            let family = match &rule.code[..3] {
                "SG1" => "blocking",
                "SG2" => "breaking",
                "SG3" => "data_loss",
                "SG4" => "design",
                "SG5" => "structure",
                other => panic!("{}: no folder in src/lint/rules/ for {other}xx", rule.code),
            };
            assert_eq!(
                rule.family, family,
                "{} {} is in src/lint/rules/{}/, its codes' folder is src/lint/rules/{family}/",
                rule.code, rule.name, rule.family
            );
        }
    }

    #[test]
    fn rules_are_found_by_code_or_name() {
        assert_eq!(find("sg101").unwrap().code, "SG101");
        assert_eq!(find("drop-column").unwrap().code, "SG201");
        assert!(find("SG999").is_none());
    }

    #[test]
    fn selections_match_codes_names_and_prefixes() {
        assert_eq!(matching("drop-column").unwrap(), vec!["SG201"]);
        let sg1 = matching("sg1").unwrap();
        assert!(sg1.contains(&"SG101") && sg1.iter().all(|c| c.starts_with("SG1")));
        assert!(matching("SG").is_none());
        assert!(matching("SG9").is_none());
        assert!(matching("nonsense").is_none());
    }
}

//! # SG218 enum-value-removed
//!
//! ## What it does
//! Flags the steps that take a label away from an enum the running code writes, which
//! PostgreSQL can only do by replacing the type:
//!
//! - `ALTER TABLE ... ALTER COLUMN c TYPE e2` where `c` is of an enum the migrations created
//!   and `e2` is an enum without one of its labels (`CREATE TYPE e2 AS ENUM (...)`, move the
//!   columns, `DROP TYPE e`, `ALTER TYPE e2 RENAME TO e`);
//! - `CREATE TYPE e AS ENUM (...)` without one of the labels that the enum called `e` had
//!   (`ALTER TYPE e RENAME TO e_old`, `CREATE TYPE e ...`, move the columns, drop `e_old`).
//!
//! The labels are known from the run (`CREATE TYPE ... AS ENUM` and each `ADD VALUE` of the
//! migrations); an enum whose labels the run does not show is not judged here (the type change
//! itself is `column-type-change-rewrite`'s finding).
//!
//! ## Why is this bad?
//! Measured on PostgreSQL 15: after the change, the old code's `INSERT ... VALUES (..., 'blue')`
//! fails with `invalid input value for enum color: "blue"`; and while a row still holds the
//! label, the `USING c::text::e2` cast fails with the same error, and the migration with it.
//!
//! ## Example
//! ```sql
//! CREATE TYPE color_new AS ENUM ('red', 'green');
//! ALTER TABLE paints ALTER COLUMN color TYPE color_new USING color::text::color_new;
//! DROP TYPE color;
//! ALTER TYPE color_new RENAME TO color;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- release 1: code stops writing 'blue'; a batched UPDATE moves the rows off it
//! -- release 2: replace the type (or keep the label: an unused label costs nothing)
//! ```

use crate::lint::context::{KnownType, name_hash};
use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    let help =
        "stop writing the label and move the rows off it in an earlier release; or keep the label";
    match change {
        Change::CreateEnum {
            name,
            labels: Some(labels),
        } if !ctx.file.created_earlier(ObjectKind::Type, name) => {
            let Some(old) = ctx.enum_labels(type_hash(name)) else {
                return;
            };
            let lost = lost(&old, labels);
            if lost > 0 {
                out.push(Hit::new(
                    format!(
                        "enum `{name}` is created again without {} of the {} labels it had: code that writes {} fails with \"invalid input value for enum\"",
                        lost,
                        old.len(),
                        if lost == 1 { "it" } else { "them" }
                    ),
                    help,
                ));
            }
        }
        Change::AlterColumnType {
            table,
            column,
            to: ColumnType::Other(to),
            ..
        } if !ctx.is_new(table) => {
            let Some(KnownType::Other(from)) = ctx.column(table, column).map(|c| c.ty) else {
                return;
            };
            let to_hash = type_hash(to);
            if from == to_hash {
                return;
            }
            let (Some(old), Some(new)) = (ctx.enum_labels(from), ctx.enum_labels(to_hash)) else {
                return;
            };
            let lost = old.iter().filter(|label| !new.contains(label)).count();
            if lost > 0 {
                out.push(Hit::new(
                    format!(
                        "`{table}`.`{column}` moves to enum `{to}`, which lacks {lost} of the {} labels of its enum: code that writes {} fails with \"invalid input value for enum\", and so does this cast while a row holds {}",
                        old.len(),
                        if lost == 1 { "it" } else { "them" },
                        if lost == 1 { "it" } else { "one" }
                    ),
                    help,
                ));
            }
        }
        _ => {}
    }
}

/// The [`KnownType::Other`] hash of a type name.
fn type_hash(name: &str) -> u64 {
    match KnownType::of(&ColumnType::Other(name.to_string())) {
        KnownType::Other(hash) => hash,
        KnownType::Builtin(_) => 0,
    }
}

/// How many of the `old` label hashes are not among `new`.
fn lost(old: &[u64], new: &[String]) -> usize {
    let new: Vec<u64> = new.iter().map(|label| name_hash(label)).collect();
    old.iter().filter(|label| !new.contains(label)).count()
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::lint_history;

    const SETUP: &str = "CREATE TYPE color AS ENUM ('red', 'green', 'blue');\nCREATE TABLE paints (id bigint PRIMARY KEY, color color);";

    #[test]
    fn fires() {
        let found = lint_history(
            "SG218",
            &[
                SETUP,
                "CREATE TYPE color_new AS ENUM ('red', 'green');\nALTER TABLE paints ALTER COLUMN color TYPE color_new USING color::text::color_new;\nDROP TYPE color;\nALTER TYPE color_new RENAME TO color;",
            ],
            15,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        insta::assert_snapshot!(found[0].message);
        let found = lint_history(
            "SG218",
            &[
                SETUP,
                "ALTER TYPE color RENAME TO color_old;\nCREATE TYPE color AS ENUM ('red', 'green');\nALTER TABLE paints ALTER COLUMN color TYPE color USING color::text::color;\nDROP TYPE color_old;",
            ],
            15,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("without 1 of the 3 labels"));
        // A value added in a later migration counts.
        let found = lint_history(
            "SG218",
            &[
                SETUP,
                "ALTER TYPE color ADD VALUE 'black';",
                "CREATE TYPE color_v2 AS ENUM ('red', 'green', 'blue');\nALTER TABLE paints ALTER COLUMN color TYPE color_v2 USING color::text::color_v2;",
            ],
            15,
        );
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn quiet() {
        for sql in [
            // Every label kept (one added, one reordered).
            "CREATE TYPE color_new AS ENUM ('blue', 'red', 'green', 'black');\nALTER TABLE paints ALTER COLUMN color TYPE color_new USING color::text::color_new;\nDROP TYPE color;\nALTER TYPE color_new RENAME TO color;",
            "ALTER TYPE color RENAME TO color_old;\nCREATE TYPE color AS ENUM ('red', 'green', 'blue', 'black');\nALTER TABLE paints ALTER COLUMN color TYPE color USING color::text::color;",
            // A column moved to text keeps every value.
            "ALTER TABLE paints ALTER COLUMN color TYPE text;",
            // A new enum of another name.
            "CREATE TYPE shade AS ENUM ('light');",
        ] {
            assert!(lint_history("SG218", &[SETUP, sql], 15).is_empty(), "{sql}");
        }
        // A new table's column has no writers yet.
        assert!(
            lint_history(
                "SG218",
                &[
                    "CREATE TYPE color AS ENUM ('red', 'green', 'blue');",
                    "CREATE TABLE p (c color);\nCREATE TYPE c2 AS ENUM ('red');\nALTER TABLE p ALTER COLUMN c TYPE c2 USING c::text::c2;"
                ],
                15
            )
            .is_empty()
        );
    }
}

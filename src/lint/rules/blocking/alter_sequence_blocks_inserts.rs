//! # SG123 alter-sequence-blocks-inserts
//!
//! ## What it does
//! Reports `ALTER SEQUENCE` on a sequence that existed before the run.
//!
//!
//! `AS smallint` or `AS integer` fails when the sequence's current value does not fit the
//! new type: with facts from a database (`--env`, `--scratch`) such a statement is an error
//! naming the value, and the usual info when the value fits; without them it is a warning
//! saying the value is not known.
//!
//! ## Why is this bad?
//! ALTER SEQUENCE locks the sequence until the transaction ends: `nextval()`, and so every
//! INSERT that relies on the column default, waits. `RESTART` below the current maximum also
//! causes duplicate-key errors, and `AS bigint` does not widen the column.
//!
//! ## Example
//! ```sql
//! ALTER SEQUENCE orders_id_seq RESTART WITH 1000;
//! ```
//!
//! ## Use instead
//! ```sql
//! -- keep ALTER SEQUENCE in a short transaction of its own, with a lock_timeout
//! ```

use crate::lint::Severity;
use crate::lint::rules::prelude::*;

pub(crate) fn check(ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    if let Change::AlterSequence { name, as_type } = change
        && !ctx.run.is_new_type(name)
    {
        let mut message = format!(
            "ALTER SEQUENCE locks `{name}` until the transaction commits: nextval() and INSERTs that use it wait"
        );
        let mut help = "keep it in a short transaction of its own with a lock_timeout".to_string();
        let max = match as_type {
            Some(ColumnType::SmallInt) => Some(i64::from(i16::MAX)),
            Some(ColumnType::Int) => Some(i64::from(i32::MAX)),
            _ => None,
        };
        let mut severity = None;
        if let (Some(max), Some(ty)) = (max, as_type) {
            let sequence = ctx.catalog.and_then(|c| c.sequence(name));
            match sequence {
                Some(s) if s.readable => match s.last_value {
                    Some(value) if value > max => {
                        severity = Some(Severity::Error);
                        message = format!(
                            "ALTER SEQUENCE `{name}` AS {} fails: its current value {value} exceeds {max}",
                            ty.label()
                        );
                        help = "keep the sequence's type, or widen the column and the sequence to bigint".to_string();
                    }
                    _ => {}
                },
                _ => {
                    severity = Some(Severity::Warning);
                    message.push_str(&format!(
                        "; AS {} fails if its current value exceeds {max}, and {}",
                        ty.label(),
                        ctx.unknown(&format!("the current value of `{name}`"))
                    ));
                }
            }
        }
        let hit = Hit::new(message, help);
        out.push(match severity {
            Some(severity) => hit.at(severity),
            None => hit,
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::{lint_errors_pg, lint_ok_pg};

    #[test]
    fn fires() {
        insta::assert_snapshot!(lint_errors_pg(
            "SG123",
            "ALTER SEQUENCE orders_id_seq RESTART WITH 1000;",
            15
        ));
    }

    #[test]
    fn quiet() {
        lint_ok_pg(
            "SG123",
            "CREATE SEQUENCE invoice_numbers;\nALTER SEQUENCE invoice_numbers RESTART WITH 1000;",
            15,
        );
    }
}

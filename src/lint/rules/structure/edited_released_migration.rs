//! # SG510 edited-released-migration
//!
//! ## What it does
//! With `stagegate lint --changed-since REF`, reports a migration that already existed at
//! `REF` and whose text has changed since (a change of line endings alone does not count).
//!
//! ## Why is this bad?
//! A migration that existed at the ref has usually run somewhere already. Editing it changes
//! nothing on those databases (the runner skips it, or refuses it: its checksum no longer
//! matches what was recorded), while a fresh database gets the new text, so environments
//! drift apart. Applied history is immutable.
//!
//! ## Example
//! ```sql
//! -- 20240101000000_create_orders.up.sql, already in main, edited on a branch
//! CREATE TABLE orders (id bigint PRIMARY KEY, note text);
//! ```
//!
//! ## Use instead
//! ```sql
//! -- leave the released file as it was, and add a new migration:
//! -- 20240301000000_add_orders_note.up.sql
//! ALTER TABLE orders ADD COLUMN note text;
//! ```

use crate::lint::rules::prelude::*;

/// The finding for a script edited since `reference`.
pub(crate) fn hit(reference: &str) -> Hit {
    Hit::new(
        format!(
            "this migration existed at `{reference}` and has been edited since; databases that already ran it keep the old version"
        ),
        "restore the file as it was at the ref and put the change in a new migration",
    )
}

pub(crate) fn check(_ctx: &Ctx, change: &Change, out: &mut Vec<Hit>) {
    // Reported by the engine, which is told which scripts were edited since the ref.
    let _ = (change, out);
}

#[cfg(test)]
mod tests {
    use crate::lint::{Input, Options, RunState, lint_script, report};
    use crate::source::directives;

    fn lint(sql: &str, edited_since: Option<&str>) -> Vec<crate::lint::Finding> {
        let (directives, settings) = directives::parse(sql, 1).unwrap();
        let input = Input {
            text: sql,
            first_line: 1,
            directives: &directives,
            settings: &settings,
            unreleased: false,
            edited_since,
        };
        lint_script(input, &Options::default(), &mut RunState::default())
            .findings
            .into_iter()
            .filter(|f| f.code == "SG510")
            .collect()
    }

    const SQL: &str = "CREATE TABLE orders (id bigint PRIMARY KEY, note text);\n";

    #[test]
    fn fires() {
        let findings = lint(SQL, Some("origin/main"));
        assert_eq!(findings.len(), 1);
        insta::assert_snapshot!(report::render_text("migration.sql", SQL, &findings, false));
    }

    #[test]
    fn quiet() {
        assert!(lint(SQL, None).is_empty());
    }
}

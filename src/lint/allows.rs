//! Which findings the `allow` and `allow-file` directives of a script suppress. A finding
//! is matched against the directives of the statement it is on and the file-wide ones, not
//! against every directive of the file, so suppressing stays linear in the script.

use std::collections::HashMap;
use std::ops::Range;

use super::registry;
use crate::analyze::Analyzed;
use crate::source::{Directive, DirectiveKind};

/// The allow directives of one script, in file order, and which of them suppressed something.
pub(super) struct Allows<'a> {
    entries: Vec<AllowEntry<'a>>,
    /// `allow` directives by the statement they cover: (its span, entry index), sorted by
    /// the span's start (top-level statements do not overlap).
    by_statement: Vec<(Range<usize>, usize)>,
    /// For each rule, the first `allow-file` directive that names it.
    file_wide: HashMap<&'static str, usize>,
    /// Directives looked at by [`Allows::suppress`], for tests of the work it does.
    #[cfg(test)]
    examined: usize,
}

/// One allow directive.
pub(super) struct AllowEntry<'a> {
    /// The codes or names as written.
    pub codes: &'a [String],
    pub directive: &'a Directive,
    /// It suppressed a finding.
    pub used: bool,
    /// The rules its codes name (unknown ones left out).
    rules: Vec<&'static str>,
}

impl<'a> Allows<'a> {
    /// An `allow` covers the next top-level statement after it (one that does not exist: no
    /// statement); an `allow-file` the whole script.
    pub(super) fn new(directives: &'a [Directive], statements: &[Analyzed]) -> Allows<'a> {
        let tops: Vec<&Range<usize>> = statements
            .iter()
            .filter(|s| !s.in_do_block)
            .map(|s| &s.span)
            .collect();
        let mut allows = Allows {
            entries: Vec::new(),
            by_statement: Vec::new(),
            file_wide: HashMap::new(),
            #[cfg(test)]
            examined: 0,
        };
        for directive in directives {
            let (codes, file_wide) = match &directive.kind {
                DirectiveKind::Allow { codes, .. } => (codes, false),
                DirectiveKind::AllowFile { codes, .. } => (codes, true),
                _ => continue,
            };
            let index = allows.entries.len();
            let rules: Vec<&'static str> = codes
                .iter()
                .filter_map(|c| registry::find(c))
                .map(|r| r.code)
                .collect();
            if file_wide {
                for &rule in &rules {
                    allows.file_wide.entry(rule).or_insert(index);
                }
            } else {
                let next = tops.partition_point(|s| s.start <= directive.offset);
                if let Some(&span) = tops.get(next) {
                    allows.by_statement.push((span.clone(), index));
                }
            }
            allows.entries.push(AllowEntry {
                codes,
                directive,
                used: false,
                rules,
            });
        }
        allows.by_statement.sort_by_key(|(span, _)| span.start);
        allows
    }

    /// Whether a directive allows rule `code` on `span`; the first such directive in file
    /// order is marked used.
    #[cfg(test)]
    pub(crate) fn suppress(&mut self, code: &'static str, span: &Range<usize>) -> bool {
        self.allowing(code, span).is_some()
    }

    /// The reason of the directive that allows rule `code` on `span` (the first such in
    /// file order, marked used), if one does.
    pub(crate) fn allowing(&mut self, code: &'static str, span: &Range<usize>) -> Option<&'a str> {
        let names = |entry: &AllowEntry| entry.rules.contains(&code);
        // The directives of the one top-level statement that can hold `span`.
        let after = self
            .by_statement
            .partition_point(|(target, _)| target.start <= span.start);
        let group = after
            .checked_sub(1)
            .map(|last| self.by_statement[last].0.start);
        let candidates = group.map_or(&[][..], |start| {
            let first = self.by_statement[..after]
                .iter()
                .rposition(|(target, _)| target.start != start)
                .map_or(0, |i| i + 1);
            &self.by_statement[first..after]
        });
        #[cfg(test)]
        {
            self.examined += candidates.len();
        }
        let of_statement = candidates
            .iter()
            .filter(|(target, index)| span.end <= target.end && names(&self.entries[*index]))
            .map(|&(_, index)| index)
            .min();
        let file_wide = self.file_wide.get(code).copied();
        let index = of_statement.into_iter().chain(file_wide).min()?;
        self.entries[index].used = true;
        Some(match &self.entries[index].directive.kind {
            DirectiveKind::Allow { reason, .. } | DirectiveKind::AllowFile { reason, .. } => {
                reason.as_str()
            }
            _ => "",
        })
    }

    /// The directives in file order.
    pub(super) fn entries(&self) -> &[AllowEntry<'a>] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::analyze;
    use crate::source::directives;

    fn allows_of(sql: &str) -> (Vec<Directive>, Vec<Analyzed>) {
        let (directives, _) = directives::parse(sql, 1).expect("directives parse");
        (directives, analyze(sql))
    }

    #[test]
    fn the_first_directive_in_file_order_is_used() {
        let sql = "-- stagegate:allow drop-column -- a\n\
                   -- stagegate:allow SG201 -- b\n\
                   ALTER TABLE t DROP COLUMN c;\n\
                   -- stagegate:allow-file SG301 -- c\n\
                   DO $$ BEGIN DROP TABLE t; END $$;\n\
                   -- stagegate:allow SG301 -- d\n\
                   DROP TABLE u;\n\
                   -- stagegate:allow SG201 -- nothing after it\n";
        let (directives, statements) = allows_of(sql);
        let mut allows = Allows::new(&directives, &statements);
        let span = |text: &str| {
            let start = sql.find(text).unwrap();
            start..start + text.len()
        };
        assert!(allows.suppress("SG201", &span("ALTER TABLE t DROP COLUMN c;")));
        // An `allow-file` covers statements above it too.
        assert!(allows.suppress("SG301", &span("ALTER TABLE t DROP COLUMN c;")));
        // Inside a DO body: the DO statement's directives and the file-wide one.
        assert!(allows.suppress("SG301", &span("DROP TABLE t;")));
        assert!(!allows.suppress("SG201", &span("DROP TABLE t;")));
        assert!(allows.suppress("SG301", &span("DROP TABLE u;")));
        let used: Vec<bool> = allows.entries().iter().map(|e| e.used).collect();
        // The file-wide directive comes before `d`, so it is the one used for `u`.
        assert_eq!(used, [true, false, true, false, false]);
    }

    /// The guard on linear work: each finding looks only at the directives of its own
    /// statement, however many the file has.
    #[test]
    fn a_finding_looks_at_the_directives_of_its_statement_only() {
        let sql: String = (0..5_000)
            .map(|n| format!("-- stagegate:allow SG201 -- unused since v{n}\nALTER TABLE t DROP COLUMN c_{n};\n"))
            .collect();
        let (directives, statements) = allows_of(&sql);
        let mut allows = Allows::new(&directives, &statements);
        for statement in &statements {
            assert!(allows.suppress("SG201", &statement.span));
        }
        assert!(allows.entries().iter().all(|e| e.used));
        assert_eq!(allows.examined, statements.len());
    }
}

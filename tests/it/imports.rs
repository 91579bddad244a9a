//! No import circles between the modules of `src/` (docs/architecture.md, "No import
//! circles"): read as text, every file's `use` declarations and `crate::`/`super::`/`self::`
//! paths, in code only (comments and literals are blanked), give edges between modules.
//!
//! - A module is a top-level module of the crate (`db`, `exit`) or one of its children
//!   (`db::script`, `source::layout`); what lies deeper counts as that child
//!   (`source/layout/dbmate.rs` is `source::layout`), and inline modules (`mod tests`) as
//!   their file.
//! - An edge `A -> B` is a path in A's files that names B or something in it.
//! - Any set of modules that reach each other along those edges (a strongly connected
//!   component of two or more) is a circle. A module and its own parent or child never make
//!   one: a parent uses its children and a child its parent's items.
//! - Test code (`#[cfg(test)] mod tests { .. }`) is left out: a module's tests may use the
//!   test helpers that use the module.
//! - A call (`crate::sql::parse(text)`) names a function, even where a module has its name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type ModPath = Vec<String>;

#[test]
fn no_import_circles_between_the_modules_of_src() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let circles = circles(&src);
    assert!(
        circles.is_empty(),
        "import circles in src/ (move what both use into the lower module or a new small \
         one, see docs/architecture.md):\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_checker_finds_circles_and_spares_parents_and_children() {
    let dir = tempfile::tempdir().unwrap();
    let files: &[(&str, &str)] = &[
        ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\npub mod p;\n"),
        // a <-> b through a use and a path in code.
        (
            "a.rs",
            "use crate::b::{self, Thing};\n// crate::c::nothing: a comment is not an edge\n\
             #[cfg(test)]\nmod tests {\n    use crate::c::Helper;\n}\n",
        ),
        (
            "b.rs",
            "fn f() { super::a::g(\"crate::c::x\"); let _ = '\"'; }\n",
        ),
        // c uses a, only a's tests use c: no circle.
        ("c.rs", "pub use crate::a::Item;\n"),
        // A parent and its child use each other: allowed.
        (
            "p/mod.rs",
            "mod kid;\npub use kid::Kid;\npub struct Own;\nfn uses() { let _ = self::kid::Other; }\n",
        ),
        (
            "p/kid.rs",
            "use super::Own;\npub struct Kid;\npub struct Other;\n",
        ),
        // Three in a ring, deeper files counting as their second-level module.
        ("p/x/mod.rs", "mod deep;\nuse crate::p::y::Y;\n"),
        ("p/y.rs", "use super::z::Z;\npub struct Y;\n"),
        (
            "p/z.rs",
            "pub struct Z;\nfn f() {\n    let _ = crate::p::x::deep::D;\n}\n",
        ),
        ("p/x/deep.rs", "pub struct D;\n"),
    ];
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let found = circles(dir.path());
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].starts_with("a <-> b:"), "{found:#?}");
    assert!(
        found[0].contains("a -> b: a.rs:1 (crate::b) and 1 more"),
        "{found:#?}"
    );
    assert!(found[0].contains("b -> a: b.rs:1 (super::a)"), "{found:#?}");
    assert!(
        found[1].starts_with("p::x <-> p::y <-> p::z:"),
        "{found:#?}"
    );
}

/// One path found in a file.
#[derive(Debug, Clone)]
struct Edge {
    from: ModPath,
    to: ModPath,
    /// The path as written (resolved against the file's module).
    text: String,
    file: PathBuf,
    line: usize,
}

/// Every circle, one line each, with the edges that make it.
fn circles(src: &Path) -> Vec<String> {
    let modules = modules(src);
    let mut edges = Vec::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).unwrap();
        let tokens = tokens(&blank(&text));
        edges.extend(edges_of(file, module, &tokens, &modules));
    }
    let family = |a: &ModPath, b: &ModPath| a.starts_with(b) || b.starts_with(a);
    let mut graph: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for edge in edges.iter().filter(|e| !family(&e.from, &e.to)) {
        graph
            .entry(edge.from.clone())
            .or_default()
            .insert(edge.to.clone());
    }
    let mut found = Vec::new();
    for component in components(&graph) {
        let names: Vec<String> = component.iter().map(|m| m.join("::")).collect();
        let mut line = format!("{}:", names.join(" <-> "));
        // Each edge of the circle once, where it is first written, and how often it is.
        let mut places: BTreeMap<(&ModPath, &ModPath), Vec<&Edge>> = BTreeMap::new();
        for edge in &edges {
            if component.contains(&edge.from)
                && component.contains(&edge.to)
                && graph[&edge.from].contains(&edge.to)
            {
                places.entry((&edge.from, &edge.to)).or_default().push(edge);
            }
        }
        for ((from, to), uses) in places {
            let first = uses[0];
            let file = first.file.strip_prefix(src).unwrap_or(&first.file);
            line.push_str(&format!(
                "\n    {} -> {}: {}:{} ({}){}",
                from.join("::"),
                to.join("::"),
                file.display(),
                first.line,
                first.text,
                match uses.len() {
                    1 => String::new(),
                    n => format!(" and {} more", n - 1),
                }
            ));
        }
        found.push(line);
    }
    found
}

/// The crate's modules by their files: `a.rs` and `a/mod.rs` are `a`, `a/b.rs` is `a::b`.
fn modules(src: &Path) -> BTreeMap<ModPath, PathBuf> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut module: ModPath = relative
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|last| last == "mod") {
                module.pop();
            }
            // The crate root (lib.rs, and main.rs, which uses the library by its name).
            if module == ["lib"] || module == ["main"] || module.is_empty() {
                continue;
            }
            found.insert(module, path);
        }
    }
    found
}

/// The module a path lands in, at the depth the check compares (two).
fn node(module: &[String]) -> ModPath {
    module.iter().take(2).cloned().collect()
}

/// The edges of one file: its `use` trees and its `crate::`, `super::` and `self::` paths.
fn edges_of(
    file: &Path,
    module: &ModPath,
    tokens: &[(Tok, usize)],
    modules: &BTreeMap<ModPath, PathBuf>,
) -> Vec<Edge> {
    let mut edges = Vec::new();
    // Inline modules (`mod tests { ... }`): their name and the brace depth inside them.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut add = |path: &[String], scope: &ModPath, line: usize| {
        let Some(resolved) = resolve(path, scope, modules) else {
            return;
        };
        // The longest prefix that is a module of a file.
        let Some(known) = (1..=resolved.len())
            .rev()
            .find(|&n| modules.contains_key(&resolved[..n]))
        else {
            return;
        };
        let (from, to) = (node(module), node(&resolved[..known]));
        if from == to {
            return;
        }
        edges.push(Edge {
            from,
            to,
            text: path.join("::"),
            file: file.to_path_buf(),
            line,
        });
    };
    let mut i = 0;
    while i < tokens.len() {
        let scope: ModPath = module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(name, _)| name.clone()))
            .collect();
        match &tokens[i].0 {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            // `#[cfg(test)] mod tests { .. }`: left out, to its closing brace.
            Tok::Punct('#') if is_cfg_test(&tokens[i..]) => {
                let mut j = i + 7;
                while j < tokens.len() && tokens[j].0 != Tok::Punct('{') {
                    if tokens[j].0 == Tok::Punct(';') {
                        break;
                    }
                    j += 1;
                }
                if tokens.get(j).is_some_and(|(t, _)| *t == Tok::Punct('{')) {
                    let mut level = 0usize;
                    while j < tokens.len() {
                        match tokens[j].0 {
                            Tok::Punct('{') => level += 1,
                            Tok::Punct('}') => {
                                level -= 1;
                                if level == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                        j += 1;
                    }
                }
                i = j + 1;
                continue;
            }
            Tok::Ident(word) if word == "mod" => {
                if let (Some((Tok::Ident(name), _)), Some((Tok::Punct('{'), _))) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    depth += 1;
                    inline.push((name.clone(), depth));
                    i += 3;
                    continue;
                }
            }
            Tok::Ident(word) if word == "use" => {
                let end = tokens[i..]
                    .iter()
                    .position(|(t, _)| *t == Tok::Punct(';'))
                    .map_or(tokens.len(), |n| i + n);
                for path in use_paths(&tokens[i + 1..end]) {
                    add(&path, &scope, tokens[i].1);
                }
                i = end + 1;
                continue;
            }
            // A path in code: from `crate`, `super`, `self` or a child module's name.
            Tok::Ident(word)
                if tokens.get(i + 1).is_some_and(|(t, _)| *t == Tok::Sep)
                    && (i == 0 || tokens[i - 1].0 != Tok::Sep)
                    // `pub(in crate::source)` is a visibility, not a use.
                    && (i == 0 || tokens[i - 1].0 != Tok::Ident("in".into()))
                    && (["crate", "super", "self"].contains(&word.as_str())
                        || modules.contains_key(&[scope.as_slice(), std::slice::from_ref(word)].concat())) =>
            {
                let mut path = vec![word.clone()];
                let mut j = i + 1;
                while let (Some((Tok::Sep, _)), Some((Tok::Ident(next), _))) =
                    (tokens.get(j), tokens.get(j + 1))
                {
                    path.push(next.clone());
                    j += 2;
                }
                // A function or macro called: its module is the one before it.
                if tokens
                    .get(j)
                    .is_some_and(|(t, _)| matches!(t, Tok::Punct('(' | '!')))
                {
                    path.pop();
                }
                add(&path, &scope, tokens[i].1);
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    edges
}

/// Whether `tokens` start with `#[cfg(test)]`.
fn is_cfg_test(tokens: &[(Tok, usize)]) -> bool {
    let want = [
        Tok::Punct('#'),
        Tok::Punct('['),
        Tok::Ident("cfg".into()),
        Tok::Punct('('),
        Tok::Ident("test".into()),
        Tok::Punct(')'),
        Tok::Punct(']'),
    ];
    tokens.len() >= want.len() && tokens.iter().zip(&want).all(|((t, _), w)| t == w)
}

/// `path` (as written in `scope`) from the crate root; `None` for another crate's.
fn resolve(
    path: &[String],
    scope: &ModPath,
    modules: &BTreeMap<ModPath, PathBuf>,
) -> Option<ModPath> {
    let mut resolved = scope.clone();
    let mut rest = path;
    match path.first()?.as_str() {
        "crate" => {
            resolved.clear();
            rest = &path[1..];
        }
        "self" => rest = &path[1..],
        "super" => {
            while rest.first().is_some_and(|s| s == "super") {
                resolved.pop()?;
                rest = &rest[1..];
            }
        }
        // A child module named from its parent (`use listing::File` in `source`).
        first => {
            let mut child = scope.clone();
            child.push(first.to_string());
            if !modules.contains_key(&child) {
                return None;
            }
        }
    }
    resolved.extend(rest.iter().cloned());
    Some(resolved)
}

/// The paths of a use tree (`a::{b, c::{self, d}}` is `a::b`, `a::c`, `a::c::d`).
fn use_paths(tokens: &[(Tok, usize)]) -> Vec<Vec<String>> {
    fn at(tokens: &[(Tok, usize)], i: usize) -> Option<&Tok> {
        tokens.get(i).map(|(t, _)| t)
    }
    fn tree(
        tokens: &[(Tok, usize)],
        i: &mut usize,
        mut path: Vec<String>,
        out: &mut Vec<Vec<String>>,
    ) {
        loop {
            match at(tokens, *i) {
                // `{self, ..}` names the prefix itself.
                Some(Tok::Ident(word)) if word == "self" && !path.is_empty() => *i += 1,
                Some(Tok::Ident(word)) => {
                    path.push(word.clone());
                    *i += 1;
                }
                Some(Tok::Punct('{')) => {
                    *i += 1;
                    while !matches!(at(tokens, *i), None | Some(Tok::Punct('}'))) {
                        let before = *i;
                        tree(tokens, i, path.clone(), out);
                        if at(tokens, *i) == Some(&Tok::Punct(',')) || *i == before {
                            *i += 1;
                        }
                    }
                    *i += 1;
                    return;
                }
                Some(Tok::Punct('*')) => *i += 1,
                _ => break,
            }
            match at(tokens, *i) {
                Some(Tok::Sep) => *i += 1,
                Some(Tok::Ident(word)) if word == "as" => {
                    *i += 2;
                    break;
                }
                _ => break,
            }
        }
        if !path.is_empty() {
            out.push(path);
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    tree(tokens, &mut i, Vec::new(), &mut out);
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`
    Sep,
    Punct(char),
}

/// Identifiers, `::` and single punctuation, each with its line.
fn tokens(code: &str) -> Vec<(Tok, usize)> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            c if c.is_alphanumeric() || c == '_' => {
                let mut word = c.to_string();
                while let Some(&next) = chars.peek() {
                    if next.is_alphanumeric() || next == '_' {
                        word.push(next);
                        chars.next();
                    } else {
                        break;
                    }
                }
                // A raw identifier (`r#type`) is its name.
                out.push((Tok::Ident(word), line));
            }
            ':' if chars.peek() == Some(&':') => {
                chars.next();
                out.push((Tok::Sep, line));
            }
            c => out.push((Tok::Punct(c), line)),
        }
    }
    out
}

/// The text with comments, string and character literals replaced by spaces (lines kept).
fn blank(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    // Pushes `chars[from..to]` as spaces, newlines kept.
    let blank_run = |out: &mut String, from: usize, to: usize| {
        for &c in &chars[from..to.min(chars.len())] {
            out.push(if c == '\n' { '\n' } else { ' ' });
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            let end = chars[i..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(chars.len(), |n| i + n);
            blank_run(&mut out, i, end);
            i = end;
        } else if c == '/' && next == Some('*') {
            // Block comments nest.
            let (mut j, mut level) = (i + 2, 1);
            while j < chars.len() && level > 0 {
                if chars[j] == '/' && chars.get(j + 1) == Some(&'*') {
                    level += 1;
                    j += 2;
                } else if chars[j] == '*' && chars.get(j + 1) == Some(&'/') {
                    level -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank_run(&mut out, i, j);
            i = j;
        } else if c == '"' || (c == 'b' && next == Some('"')) {
            let start = if c == 'b' { i + 1 } else { i };
            let mut j = start + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            blank_run(&mut out, i, j + 1);
            i = j + 1;
        } else if (c == 'r' || (c == 'b' && next == Some('r')))
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'))
            && {
                let k = if c == 'b' { i + 2 } else { i + 1 };
                let hashes = chars[k..].iter().take_while(|&&h| h == '#').count();
                chars.get(k + hashes) == Some(&'"')
            }
        {
            let k = if c == 'b' { i + 2 } else { i + 1 };
            let hashes = chars[k..].iter().take_while(|&&h| h == '#').count();
            let close: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let body = k + hashes + 1;
            let rest: String = chars[body..].iter().collect();
            let end = rest.find(&close).map_or(chars.len(), |n| {
                body + rest[..n].chars().count() + close.len()
            });
            blank_run(&mut out, i, end);
            i = end;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            let literal_end = if next == Some('\\') {
                chars[i + 2..]
                    .iter()
                    .position(|&c| c == '\'')
                    .map(|n| i + 2 + n + 1)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 3)
            } else {
                None
            };
            match literal_end {
                Some(end) => {
                    blank_run(&mut out, i, end);
                    i = end;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The strongly connected components of two or more modules (Tarjan), each sorted, in order.
fn components(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    struct State<'a> {
        graph: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        on_stack: BTreeSet<&'a ModPath>,
        found: Vec<Vec<ModPath>>,
    }
    fn visit<'a>(state: &mut State<'a>, node: &'a ModPath) {
        let n = state.index.len();
        state.index.insert(node, n);
        state.low.insert(node, n);
        state.stack.push(node);
        state.on_stack.insert(node);
        let graph = state.graph;
        for next in graph.get(node).into_iter().flatten() {
            if !state.index.contains_key(next) {
                visit(state, next);
                let low = state.low[next].min(state.low[node]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(next) {
                let low = state.index[next].min(state.low[node]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            while let Some(top) = state.stack.pop() {
                state.on_stack.remove(top);
                component.push(top.clone());
                if top == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node) {
            visit(&mut state, node);
        }
    }
    state.found.sort();
    state.found
}

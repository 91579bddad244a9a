//! Every JSON output of the real binary, against the real PostgreSQL, checked against the
//! schema documented for it in docs/json/ (docs/json.md describes them). The check is a small
//! validator for the part of JSON Schema those files use; a keyword it does not know fails the
//! test, so a schema can never say more than is checked.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::support::harness::TestDb;
use crate::support::project::{Output, Project, assert_exit};

fn schema(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/json")
        .join(format!("{name}.schema.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses `out.stdout` and checks it against `docs/json/<name>.schema.json`.
#[track_caller]
pub(crate) fn assert_matches(name: &str, out: &Output) -> Value {
    let value: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{name}: not JSON ({e}):\n{}\n{}", out.stdout, out.stderr));
    let schema = schema(name);
    let mut errors = Vec::new();
    validate(&schema, &schema, &value, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "{name}: output does not match docs/json/{name}.schema.json:\n  {}\n{}",
        errors.join("\n  "),
        out.stdout
    );
    assert_eq!(value["version"], 1, "{name}: schema version");
    value
}

fn validate(root: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        errors.push(format!("{at}: schema is not an object"));
        return;
    };
    for (keyword, rule) in schema {
        match keyword.as_str() {
            "$schema" | "title" | "description" | "$defs" => {}
            "$ref" => {
                let name = rule
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .expect("only #/$defs/ references");
                validate(root, &root["$defs"][name], value, at, errors);
            }
            "type" => {
                let types: Vec<&str> = match rule {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                    _ => panic!("{at}: bad type keyword"),
                };
                if !types.iter().any(|t| is_type(value, t)) {
                    errors.push(format!("{at}: {value} is not of type {types:?}"));
                }
            }
            "const" => {
                if value != rule {
                    errors.push(format!("{at}: {value} is not {rule}"));
                }
            }
            "enum" => {
                if !rule.as_array().unwrap().contains(value) {
                    errors.push(format!("{at}: {value} is not one of {rule}"));
                }
            }
            "minimum" => {
                if let Some(n) = value.as_f64()
                    && n < rule.as_f64().unwrap()
                {
                    errors.push(format!("{at}: {n} is below {rule}"));
                }
            }
            "pattern" => {
                if let Some(text) = value.as_str()
                    && !matches_pattern(rule.as_str().unwrap(), text)
                {
                    errors.push(format!("{at}: {text:?} does not match {rule}"));
                }
            }
            "format" => {
                assert_eq!(
                    rule, "date-time",
                    "{at}: only the date-time format is checked"
                );
                if let Some(text) = value.as_str()
                    && !is_utc_rfc3339(text)
                {
                    errors.push(format!("{at}: {text:?} is not RFC 3339 in UTC"));
                }
            }
            "required" => {
                if let Some(object) = value.as_object() {
                    for key in rule.as_array().unwrap() {
                        let key = key.as_str().unwrap();
                        if !object.contains_key(key) {
                            errors.push(format!("{at}: `{key}` is missing"));
                        }
                    }
                }
            }
            "properties" => {
                if let Some(object) = value.as_object() {
                    for (key, sub) in rule.as_object().unwrap() {
                        if let Some(item) = object.get(key) {
                            validate(root, sub, item, &format!("{at}.{key}"), errors);
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(object) = value.as_object() {
                    let known = schema.get("properties").and_then(Value::as_object);
                    let extra = object.iter().filter(|(key, _)| {
                        known.is_none_or(|k: &Map<String, Value>| !k.contains_key(*key))
                    });
                    for (key, item) in extra {
                        match rule {
                            Value::Bool(false) => {
                                errors.push(format!("{at}: `{key}` is not documented"))
                            }
                            Value::Bool(true) => {}
                            sub => validate(root, sub, item, &format!("{at}.{key}"), errors),
                        }
                    }
                }
            }
            "items" => {
                if let Some(items) = value.as_array() {
                    for (index, item) in items.iter().enumerate() {
                        validate(root, rule, item, &format!("{at}[{index}]"), errors);
                    }
                }
            }
            other => panic!("{at}: the schema uses `{other}`, which this check does not know"),
        }
    }
}

fn is_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        other => panic!("unknown type {other}"),
    }
}

fn is_utc_rfc3339(text: &str) -> bool {
    text.ends_with('Z')
        && time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_ok()
}

/// An anchored pattern of literal characters and `[...]` classes (with ranges), each
/// optionally repeated `{n}` times: what the schemas use.
fn matches_pattern(pattern: &str, text: &str) -> bool {
    let body = pattern
        .strip_prefix('^')
        .and_then(|p| p.strip_suffix('$'))
        .unwrap_or_else(|| panic!("pattern {pattern} is not anchored"));
    let mut atoms: Vec<(Vec<(char, char)>, usize)> = Vec::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        let class = match c {
            '[' => {
                let mut ranges = Vec::new();
                loop {
                    let start = chars.next().expect("unclosed class");
                    if start == ']' {
                        break;
                    }
                    if chars.peek() == Some(&'-') {
                        chars.next();
                        ranges.push((start, chars.next().expect("range end")));
                    } else {
                        ranges.push((start, start));
                    }
                }
                ranges
            }
            '{' | '}' | '(' | ')' | '*' | '+' | '?' | '.' | '|' | '\\' => {
                panic!("pattern {pattern}: `{c}` is not supported here")
            }
            literal => vec![(literal, literal)],
        };
        let mut count = 1;
        if chars.peek() == Some(&'{') {
            chars.next();
            let digits: String = chars.by_ref().take_while(|c| *c != '}').collect();
            count = digits.parse().expect("repeat count");
        }
        atoms.push((class, count));
    }
    let mut text = text.chars();
    for (class, count) in atoms {
        for _ in 0..count {
            match text.next() {
                Some(c) if class.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) => {}
                _ => return false,
            }
        }
    }
    text.next().is_none()
}

#[test]
fn json_schema_check_catches_what_it_must() {
    let schema = serde_json::json!({
        "type": "object",
        "required": ["version", "at"],
        "additionalProperties": false,
        "properties": {
            "version": { "const": 1 },
            "at": { "type": "string", "format": "date-time" },
            "hash": { "type": "string", "pattern": "^sha256:[0-9a-f]{4}$" }
        }
    });
    let check = |value: Value| {
        let mut errors = Vec::new();
        validate(&schema, &schema, &value, "$", &mut errors);
        errors
    };
    assert!(
        check(
            serde_json::json!({"version": 1, "at": "2026-01-02T03:04:05Z", "hash": "sha256:00af"})
        )
        .is_empty()
    );
    assert_eq!(
        check(serde_json::json!({"version": 2, "at": "2026-01-02T03:04:05Z"})).len(),
        1
    );
    assert_eq!(
        check(serde_json::json!({"version": 1, "at": "2026-01-02 03:04"})).len(),
        1
    );
    assert_eq!(
        check(serde_json::json!({"version": 1, "at": "2026-01-02T03:04:05+01:00"})).len(),
        1
    );
    assert_eq!(check(serde_json::json!({"version": 1})).len(), 1);
    assert_eq!(
        check(serde_json::json!({"version": 1, "at": "2026-01-02T03:04:05Z", "new": 0})).len(),
        1
    );
    assert_eq!(
        check(
            serde_json::json!({"version": 1, "at": "2026-01-02T03:04:05Z", "hash": "sha256:00AF"})
        )
        .len(),
        1
    );
}

/// Every schema file is described in docs/json.md, and every one is used by a test below.
#[test]
fn json_md_documents_every_schema() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let text = std::fs::read_to_string(docs.join("json.md")).unwrap();
    let mut names: Vec<PathBuf> = std::fs::read_dir(docs.join("json"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert!(names.len() >= 8, "{names:?}");
    for path in names {
        let file = path.file_name().unwrap().to_str().unwrap();
        assert!(
            text.contains(&format!("json/{file}")),
            "docs/json.md does not name {file}"
        );
    }
}

const MIGRATIONS: [(&str, &str); 3] = [
    (
        "1_users.up.sql",
        "CREATE TABLE users (id int PRIMARY KEY, email text);\n",
    ),
    ("1_users.down.sql", "DROP TABLE users;\n"),
    (
        "2_email_index.up.sql",
        "CREATE INDEX users_email ON users (email);\n",
    ),
];

/// A project with two migrations, the first applied, and a backup taken.
fn project() -> Project {
    let p = Project::new("backup = { dir = \"backups\", keep = 2 }");
    p.write(MIGRATIONS[0].0, MIGRATIONS[0].1);
    p.write(MIGRATIONS[1].0, MIGRATIONS[1].1);
    assert_exit(
        &p.run(&["migrate", "apply", "--env", "staging", "--to", "1"]),
        0,
    );
    p.write(MIGRATIONS[2].0, MIGRATIONS[2].1);
    p
}

#[test]
fn lint_and_rule_json_match_their_schemas() {
    let p = project();
    let lint = p.run(&["lint", "--format", "json"]);
    assert_exit(&lint, 1);
    let value = assert_matches("lint", &lint);
    assert!(
        !value["findings"].as_array().unwrap().is_empty(),
        "a finding to check"
    );
    let rules = p.run(&["rule", "--format", "json"]);
    assert_exit(&rules, 0);
    let value = assert_matches("rule", &rules);
    assert!(value["rules"].as_array().unwrap().len() > 10);
}

#[test]
fn status_plan_audit_and_backup_json_match_their_schemas() {
    let p = project();
    assert_exit(&p.run(&["backup", "create", "--env", "staging"]), 0);

    let status = p.run(&["migrate", "status", "--format", "json"]);
    assert_exit(&status, 0);
    let value = assert_matches("status", &status);
    let cell = &value["migrations"][0]["environments"]["staging"];
    assert_eq!(cell["state"], "applied");
    assert!(cell["applied_at"].is_string(), "{value}");
    assert_eq!(value["environments"][0]["summary"]["pending"], 1);
    assert!(value["environments"][0]["last_backup"]["at"].is_string());

    let plan = p.run(&["migrate", "plan", "--env", "staging", "--format", "json"]);
    assert_exit(&plan, 0);
    let value = assert_matches("plan", &plan);
    assert_eq!(value["migrations"].as_array().unwrap().len(), 1);
    assert!(
        !value["locks"].as_array().unwrap().is_empty(),
        "a lock to check"
    );

    let audit = p.run(&["audit", "--env", "staging", "--verify", "--format", "json"]);
    assert_exit(&audit, 0);
    let value = assert_matches("audit", &audit);
    assert!(value["events"].as_array().unwrap().len() >= 2, "{value}");
    assert_eq!(value["verified"], true);

    let list = p.run(&["backup", "list", "--env", "staging", "--format", "json"]);
    assert_exit(&list, 0);
    let value = assert_matches("backup-list", &list);
    // apply's backup before its first statement, then backup create's.
    assert_eq!(value["backups"].as_array().unwrap().len(), 2);

    let verify = p.run(&["backup", "verify", "--env", "staging", "--format", "json"]);
    assert_exit(&verify, 0);
    let value = assert_matches("backup-verify", &verify);
    assert_eq!(value["ok"], true);
}

#[test]
fn check_reversible_json_matches_its_schema() {
    let p = project();
    let shadow = TestDb::create();
    let url = shadow.database_url();
    let out = p.run(&[
        "check-reversible",
        "--shadow",
        url.expose(),
        "--format",
        "json",
    ]);
    // The index migration has no down script: not reversible, exit 1.
    assert_exit(&out, 1);
    let value = assert_matches("check-reversible", &out);
    let statuses: Vec<&str> = value["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "no-down"]);
}

#[test]
fn trace_json_matches_its_schema() {
    let p = project();
    let shadow = TestDb::create();
    let url = shadow.database_url();
    let out = p.run(&["trace", "--shadow", url.expose(), "--format", "json"]);
    assert_exit(&out, 0);
    let value = assert_matches("trace", &out);
    let index = &value["migrations"][1]["statements"][0];
    assert_eq!(index["observed"], "held");
    assert!(
        index["locks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["relation"] == "users" && l["mode"] == "SHARE"),
        "{index}"
    );
}

#[test]
fn report_json_matches_its_schema() {
    let p = project();
    let shadow = TestDb::create();
    let url = shadow.database_url();
    let out = p.run(&[
        "report",
        "--env",
        "staging",
        "--shadow",
        url.expose(),
        "--format",
        "json",
    ]);
    assert_exit(&out, 0);
    let value = assert_matches("report", &out);
    let pending = &value["migrations"][0];
    assert_eq!(pending["version"], "2");
    assert_eq!(pending["statuses"]["staging"]["state"], "pending");
    assert_eq!(pending["tables"][0]["exists"], true);
    assert!(
        pending["diff"]
            .as_str()
            .unwrap()
            .contains("+CREATE INDEX users_email")
    );
    // Without a scratch database the diff and trace are null; all migrations, no sizes.
    let out = p.run(&["report", "--format", "json"]);
    assert_exit(&out, 0);
    let value = assert_matches("report", &out);
    assert_eq!(value["selection"]["kind"], "all");
    assert_eq!(
        value["migrations"][0]["statuses"]["staging"]["state"],
        "applied"
    );
    assert!(value["migrations"][0]["diff"].is_null());
    assert!(value["migrations"][0]["tables"].is_null());
}

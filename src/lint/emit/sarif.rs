//! `--format sarif`: SARIF 2.1.0, for code scanning (GitHub's `upload-sarif`, and other
//! tools). One run; every rule of the registry in `tool.driver.rules` with its documentation
//! as help; one result per finding with its file, start and end (1-based lines, columns
//! counted in Unicode code points, end column exclusive). Results are written as they come.

use std::io::{self, Write};

use serde::Serialize;

use super::{Emitter, FileReport, LintSummary, path_uri};
use crate::lint::{RULES, Severity};

/// The SARIF emitter.
#[derive(Debug, Default)]
pub(crate) struct Sarif {
    wrote: bool,
}

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

#[derive(Serialize)]
struct SarifText<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct Help<'a> {
    text: &'a str,
    markdown: &'a str,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportingDescriptor<'a> {
    id: &'a str,
    name: &'a str,
    short_description: SarifText<'a>,
    help: Help<'a>,
    default_configuration: Configuration,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'a str,
    version: &'a str,
    rules: Vec<ReportingDescriptor<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    level: &'static str,
    message: SarifText<'a>,
    locations: [SarifLocation; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation {
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    start_column: usize,
    end_line: usize,
    end_column: usize,
}

impl Emitter for Sarif {
    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let docs: Vec<String> = RULES.iter().map(|rule| rule.doc()).collect();
        let rules = RULES
            .iter()
            .zip(&docs)
            .map(|(rule, doc)| ReportingDescriptor {
                id: rule.code,
                name: rule.name,
                short_description: SarifText { text: rule.summary },
                help: Help {
                    text: doc,
                    markdown: doc,
                },
                default_configuration: Configuration {
                    level: level(rule.severity),
                },
            })
            .collect();
        let driver = Driver {
            name: "stagegate",
            version: env!("CARGO_PKG_VERSION"),
            rules,
        };
        write!(
            out,
            "{{\"$schema\":\"{SCHEMA}\",\"version\":\"2.1.0\",\"runs\":[{{\"tool\":{{\"driver\":"
        )?;
        serde_json::to_writer(&mut *out, &driver)?;
        write!(out, "}},\"columnKind\":\"unicodeCodePoints\",\"results\":[")
    }

    fn file(&mut self, out: &mut dyn Write, file: &FileReport) -> io::Result<()> {
        let uri = path_uri(file.path);
        for finding in file.findings {
            let message = format!("{}\nhelp: {}", finding.message, finding.help);
            let result = SarifResult {
                rule_id: finding.code,
                rule_index: RULES
                    .iter()
                    .position(|rule| rule.code == finding.code)
                    .unwrap_or(0),
                level: level(finding.severity),
                message: SarifText { text: &message },
                locations: [SarifLocation {
                    physical_location: PhysicalLocation {
                        artifact_location: ArtifactLocation { uri: uri.clone() },
                        region: Region {
                            start_line: finding.line,
                            start_column: finding.column,
                            end_line: finding.end_line,
                            end_column: finding.end_column,
                        },
                    },
                }],
            };
            out.write_all(if self.wrote { b",\n" } else { b"\n" })?;
            serde_json::to_writer(&mut *out, &result)?;
            self.wrote = true;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write, _summary: &LintSummary) -> io::Result<()> {
        out.write_all(b"]}]}\n")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::lint::emit::test_support::render;

    /// Checks what the SARIF 2.1.0 schema requires of the parts written here: `version` and
    /// `runs` at the top; `tool.driver.name` in a run; `id` in each reporting descriptor and
    /// `text` in each of its messages; `message.text` in each result (`ruleId` pointing at a
    /// rule of the driver, `ruleIndex` at the same one); a `uri` and a region whose lines and
    /// columns are integers of at least 1, ending no earlier than it starts. Also that
    /// `level`, `columnKind` and `defaultConfiguration.level` take the schema's values.
    fn validate(sarif: &Value) {
        assert_eq!(sarif["version"], "2.1.0");
        assert_eq!(sarif["$schema"], SCHEMA);
        let runs = sarif["runs"].as_array().expect("runs is an array");
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        assert!(
            ["utf16CodeUnits", "unicodeCodePoints"].contains(&run["columnKind"].as_str().unwrap())
        );
        let driver = &run["tool"]["driver"];
        assert!(driver["name"].is_string());
        let rules = driver["rules"].as_array().expect("rules");
        let levels = ["none", "note", "warning", "error"];
        for rule in rules {
            assert!(rule["id"].is_string());
            assert!(rule["shortDescription"]["text"].is_string());
            assert!(
                rule["help"]["text"]
                    .as_str()
                    .unwrap()
                    .contains("## What it does")
            );
            assert!(rule["help"]["markdown"].is_string());
            assert!(levels.contains(&rule["defaultConfiguration"]["level"].as_str().unwrap()));
        }
        for result in run["results"].as_array().expect("results") {
            assert!(result["message"]["text"].is_string());
            let index = result["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], result["ruleId"]);
            assert!(levels.contains(&result["level"].as_str().unwrap()));
            let locations = result["locations"].as_array().unwrap();
            assert!(!locations.is_empty());
            for location in locations {
                let physical = &location["physicalLocation"];
                let uri = physical["artifactLocation"]["uri"].as_str().unwrap();
                assert!(!uri.contains(' ') && !uri.contains('\\'), "{uri}");
                let region = &physical["region"];
                let get = |key: &str| region[key].as_u64().unwrap_or_else(|| panic!("{key}"));
                for key in ["startLine", "startColumn", "endLine", "endColumn"] {
                    assert!(get(key) >= 1, "{key}");
                }
                assert!(
                    (get("endLine"), get("endColumn")) >= (get("startLine"), get("startColumn"))
                );
            }
        }
    }

    #[test]
    fn has_the_shape_the_schema_requires() {
        let rendered = render(&mut Sarif::default());
        let sarif: Value = serde_json::from_str(&rendered).unwrap();
        validate(&sarif);
        let results = sarif["runs"][0]["results"].as_array().unwrap();
        assert!(
            results
                .iter()
                .any(|r| r["ruleId"] == "SG101" && r["level"] == "error")
        );
        assert_eq!(
            sarif["runs"][0]["tool"]["driver"]["rules"]
                .as_array()
                .unwrap()
                .len(),
            RULES.len()
        );

        let mut empty = Sarif::default();
        let mut out = Vec::new();
        empty.begin(&mut out).unwrap();
        empty.finish(&mut out, &LintSummary::default()).unwrap();
        validate(&serde_json::from_slice(&out).unwrap());
    }

    #[test]
    fn snapshot() {
        // The rules' help is the registry's documentation; the snapshot keeps the results.
        let rendered = render(&mut Sarif::default());
        let sarif: Value = serde_json::from_str(&rendered).unwrap();
        insta::assert_snapshot!(
            serde_json::to_string_pretty(&sarif["runs"][0]["results"]).unwrap()
        );
    }
}

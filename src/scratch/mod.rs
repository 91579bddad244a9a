//! The scratch server and the scratch database on it.
//!
//! A scratch server means one thing in every command (`lint --scratch`, `trace`,
//! `report --scratch`, `check-reversible`, `backup verify --scratch`): a server where
//! stagegate creates a database of its own, works in it and drops it ([`ScratchDb`]). It is,
//! in this order: the URL given to `--scratch`, `STAGEGATE_SCRATCH_URL`, `[scratch] url`, else
//! a throwaway cluster started from the local server programs ([`Cluster`]). The URL's own
//! database is only where stagegate connects to create its own; nothing runs in it.

mod cluster;
mod database;

use std::path::PathBuf;

pub use cluster::Cluster;
pub(crate) use database::{ScratchDb, ScratchDbError};

use crate::config::{Config, DatabaseUrl};
use crate::env_vars;
use crate::printer::Printer;
use crate::programs::{self, ServerPrograms, ServerProgramsError};

/// How the throwaway cluster is made.
#[derive(Debug, Clone, Default)]
pub struct ScratchOptions {
    /// The directory holding initdb, pg_ctl and postgres (`[scratch] bin_dir`); when set, the
    /// only place looked at.
    pub bin_dir: Option<PathBuf>,
    /// The major version to prefer among the binaries found (`[lint] postgres_version`);
    /// without it, or when it is not installed, the newest.
    pub prefer_major: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Programs(#[from] ServerProgramsError),
    #[error("scratch cluster: {action}: {source}")]
    Io {
        action: String,
        source: std::io::Error,
    },
    #[error("scratch cluster: {program} failed ({status}){}", indent(output))]
    Failed {
        program: String,
        status: String,
        output: String,
    },
    #[error("a throwaway scratch cluster needs a Unix system; give --scratch URL")]
    Unsupported,
}

fn indent(output: &str) -> String {
    let output = output.trim_end();
    if output.is_empty() {
        String::new()
    } else {
        format!(":\n  {}", output.replace('\n', "\n  "))
    }
}

/// The server programs a throwaway cluster is started from (see [`ScratchOptions`]).
pub fn find_binaries(options: &ScratchOptions) -> Result<ServerPrograms, ClusterError> {
    Ok(programs::server_programs(
        options.bin_dir.as_deref(),
        options.prefer_major,
    )?)
}

/// `STAGEGATE_SCRATCH_URL`, or `STAGEGATE_SHADOW_URL` (its former name); an empty one counts as
/// unset, both set to different URLs is an error. Read only here.
fn url_from_env() -> anyhow::Result<Option<String>> {
    let read = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    match (
        read(env_vars::STAGEGATE_SCRATCH_URL),
        read(env_vars::STAGEGATE_SHADOW_URL),
    ) {
        (Some(scratch), Some(shadow)) if scratch != shadow => Err(anyhow::anyhow!(
            "{} and {} are both set and differ: {} is the former name of {}; unset one of them",
            env_vars::STAGEGATE_SCRATCH_URL,
            env_vars::STAGEGATE_SHADOW_URL,
            env_vars::STAGEGATE_SHADOW_URL,
            env_vars::STAGEGATE_SCRATCH_URL
        )),
        (Some(url), _) | (None, Some(url)) => Ok(Some(url)),
        (None, None) => Ok(None),
    }
}

/// The scratch server a command uses: a URL, or a throwaway cluster that lives as long as
/// this value.
#[derive(Debug)]
pub enum ScratchServer {
    Url(DatabaseUrl),
    Cluster(Cluster),
}

impl ScratchServer {
    /// `flag` is the `--scratch` value (`Some("")` for `--scratch` without one: the same as
    /// none); then `STAGEGATE_SCRATCH_URL`, then `[scratch] url`; without any, a throwaway
    /// cluster is started (announced on stderr).
    pub fn resolve(
        config: &Config,
        flag: Option<&str>,
        printer: &Printer,
    ) -> anyhow::Result<ScratchServer> {
        let from_env = url_from_env()?;
        if let Some(text) = flag.filter(|url| !url.is_empty()) {
            // `--scratch` takes an optional value: a path written after it is taken for one.
            if !text.contains("://") && !text.contains('=') {
                anyhow::bail!(
                    "--scratch {text}: not a connection string (a URL, or libpq's key=value \
                     form); to use the default scratch server, write the paths before --scratch \
                     or give the URL as --scratch=URL"
                );
            }
            return Ok(ScratchServer::Url(DatabaseUrl::new(text)));
        }
        if let Some(url) = from_env {
            return Ok(ScratchServer::Url(DatabaseUrl::new(url)));
        }
        if let Some(url) = config.scratch_url()? {
            return Ok(ScratchServer::Url(url));
        }
        let options = ScratchOptions {
            bin_dir: config.scratch.bin_dir.clone(),
            prefer_major: Some(config.lint.postgres_version),
        };
        let binaries = find_binaries(&options)?;
        printer.note(&format!(
            "starting a throwaway PostgreSQL {} for the scratch database ({}; no --scratch, \
             STAGEGATE_SCRATCH_URL or [scratch] url given)",
            binaries.major,
            binaries.dir.display()
        ));
        if binaries.major != config.lint.postgres_version {
            printer.warning(&format!(
                "the scratch database runs PostgreSQL {}, [lint] postgres_version is {} \
                 (point [scratch] bin_dir at PostgreSQL {}'s binaries, or give --scratch URL)",
                binaries.major, config.lint.postgres_version, config.lint.postgres_version
            ));
        }
        let cluster = Cluster::start_with(&binaries).map_err(crate::exit::execution)?;
        Ok(ScratchServer::Cluster(cluster))
    }

    /// The scratch server's URL (for a cluster, its `postgres` database).
    pub fn url(&self) -> DatabaseUrl {
        match self {
            ScratchServer::Url(url) => url.clone(),
            ScratchServer::Cluster(cluster) => cluster.url("postgres"),
        }
    }

    /// Creates a database of stagegate's own on this server ([`ScratchDb::open`]).
    pub(crate) async fn database(&self, prefix: &str) -> anyhow::Result<ScratchDb> {
        ScratchDb::open(&self.url(), prefix)
            .await
            .map_err(|error| match error {
                ScratchDbError::NotPermitted { .. } => anyhow::Error::new(error),
                other => crate::exit::execution(other),
            })
    }
}

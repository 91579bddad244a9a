//! Command-line types (clap derive only; no behaviour here).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::deploy::resolve::StatementOutcome;
use crate::env_vars;
use crate::printer::ColorChoice;
use crate::source::Layout;

/// Safe PostgreSQL schema changes, from a branch through staging to production.
///
/// Exit codes: 0 ok; 1 findings at error severity; 2 usage or configuration error;
/// 3 refused by a gate (promotion, confirmation, backup, data-loss guard);
/// 4 database or execution error; 5 the migrations committed but the after_apply (or
/// after_down) command failed.
#[derive(Debug, Parser)]
#[command(name = "stagegate", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    /// Path to stagegate.toml (default: searched in the current directory and its parents)
    #[arg(long, global = true, value_name = "FILE", env = env_vars::STAGEGATE_CONFIG)]
    pub config: Option<PathBuf>,

    /// When to colour output; `auto` colours only a terminal and honours NO_COLOR
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Print only errors on stderr (no warnings, notes or progress); reports still go to stdout
    #[arg(
        long,
        short = 'q',
        global = true,
        conflicts_with = "verbose",
        display_order = 900
    )]
    pub quiet: bool,

    /// Also print which configuration, migrations and databases the run uses, on stderr
    #[arg(long, short = 'v', global = true, display_order = 901)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  lint findings at error severity (warnings too with --deny-warnings)
  2  usage or configuration error (bad flags, broken stagegate.toml, unreadable migrations)
  3  refused by a gate (promotion, approvals, confirmation, backup, data-loss guard, drift)
  4  database or execution error
  5  committed, but the after_apply / after_down command failed or timed out";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check migrations for locking, rewriting, data-losing and backward-incompatible changes
    Lint(LintArgs),
    /// List the lint rules, or print one rule's documentation
    Rule(RuleArgs),
    /// Check the migration directory (layout, pairing, directives) and, with --env, that
    /// applied migrations still match their files
    Verify(VerifyArgs),
    /// Apply, inspect and roll back migrations per environment
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// Show the event log of an environment and verify its hash chain
    Audit(AuditArgs),
    /// Create, list and verify pg_dump backups of an environment
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Write a release report for the DBA: hazards, locks, table sizes, schema diff
    Report(ReportArgs),
    /// Run migrations on a scratch database and record the locks and rewrites they cause
    Trace(TraceArgs),
    /// On a scratch database, run up, down and up again, and compare the schemas
    CheckReversible(CheckReversibleArgs),
    /// Create stagegate.toml, the migrations directory and a .gitattributes in this directory
    Init(InitArgs),
    /// Create the next migration (up and down) in the layout of the migrations directory
    New(NewArgs),
    /// Print a shell completion script (bash, zsh, fish) to stdout
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
}

const COMPLETIONS_HELP: &str = "Install:
  bash  stagegate completions bash > ~/.local/share/bash-completion/completions/stagegate
  zsh   stagegate completions zsh > ~/.zfunc/_stagegate   (with fpath+=~/.zfunc before compinit)
  fish  stagegate completions fish > ~/.config/fish/completions/stagegate.fish";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write completions for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

/// Shells stagegate writes completions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// bash (with the bash-completion package)
    Bash,
    /// zsh (a `_stagegate` file on $fpath)
    Zsh,
    /// fish
    Fish,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// Human-readable, with the source line underlined
    Text,
    /// Machine-readable, versioned schema
    Json,
    /// SARIF 2.1.0, for code-scanning tools
    Sarif,
    /// GitHub Actions workflow annotations (::error file=..,line=..::)
    Github,
    /// A Markdown summary for a pull-request comment
    Markdown,
    /// GitLab Code Quality JSON (artifacts:reports:codequality)
    Gitlab,
}

/// The id of the `--scratch` argument, for the `mut_arg` that gives each command its help.
pub(crate) const SCRATCH_FLAG: &str = "scratch";

// `--scratch [URL]`, the one definition of the flag every command with a scratch server takes
// (`#[command(flatten)]`); `--shadow`, its former name, stays a visible alias. Each command
// sets the help (and what the flag requires or conflicts with) with `mut_arg(SCRATCH_FLAG, ..)`.
// Plain comments: a doc comment here would become the about text of the command flattening it.
#[derive(Debug, Clone, Args)]
pub struct ScratchFlag {
    /// The URL given; `Some("")` for the flag without one (the default scratch server); `None`
    /// without the flag.
    #[arg(
        id = SCRATCH_FLAG,
        long = "scratch",
        visible_alias = "shadow",
        value_name = "URL",
        num_args = 0..=1,
        default_missing_value = ""
    )]
    pub url: Option<String>,
}

impl ScratchFlag {
    /// Whether the flag was given (with or without a URL).
    pub fn given(&self) -> bool {
        self.url.is_some()
    }
}

/// The help of `LintArgs`'s `--scratch`.
const LINT_SCRATCH_HELP: &str = "\
    Read the facts no file shows from a scratch database instead: the migrations older than \
    the ones linted are applied to it first. The scratch server is URL, else \
    STAGEGATE_SCRATCH_URL, else [scratch] url, else a throwaway cluster; stagegate creates a \
    database of its own there and drops it";

#[derive(Debug, Args)]
#[command(mut_arg(SCRATCH_FLAG, |arg| arg.help(LINT_SCRATCH_HELP)))]
pub struct LintArgs {
    /// Files or directories to lint (default: the configured migrations directory). A directory
    /// is read as a migration set: each migration is judged against the ones before it. `-`
    /// reads one script from stdin, reported as `<stdin>`
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format [default: text; in GitHub Actions (GITHUB_ACTIONS=true), text with
    /// workflow annotations]
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<LintFormat>,

    /// Report only migrations added or changed since this git ref (the earlier ones are still
    /// read); their tables count as new in later migrations. An edited migration that already
    /// existed at the ref is an error of its own
    #[arg(long, value_name = "GIT_REF")]
    pub changed_since: Option<String>,

    /// Run only these rules (codes, names or code prefixes such as SG1; comma-separated or
    /// repeated), even those [lint] disable lists
    #[arg(long, value_name = "RULE", value_delimiter = ',')]
    pub select: Vec<String>,

    /// Do not run these rules (codes, names or code prefixes), besides those [lint] disable
    /// lists; wins over --select
    #[arg(long, value_name = "RULE", value_delimiter = ',')]
    pub ignore: Vec<String>,

    /// Exit 1 on warnings too, not only on errors
    #[arg(long)]
    pub deny_warnings: bool,

    /// PostgreSQL major version the migrations target (overrides [lint] postgres_version)
    #[arg(long, value_name = "MAJOR")]
    pub postgres_version: Option<u32>,

    /// Take settings such as lock_timeout from this environment's configuration, and read
    /// from its state which migrations have run there: tables of the others count as new.
    /// Facts no file shows (column types, nullability, indexes, sizes, TimeZone, ...) are read
    /// from its catalog with read-only queries
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,

    #[command(flatten)]
    pub scratch: ScratchFlag,

    /// Write the report to this file instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Threads that read and parse migrations ahead of the rules, which run in file order
    /// [default: the number of processors]; the report is the same with any number
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<std::num::NonZeroUsize>,
}

#[derive(Debug, Args)]
pub struct RuleArgs {
    /// A rule code (SG101) or name (require-concurrent-index); omit to list every rule
    #[arg(value_name = "CODE_OR_NAME")]
    pub rule: Option<String>,

    /// Output format of the listing
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// A table for people
    Table,
    /// JSON for scripts
    Json,
}

/// Exit codes of `verify`.
const VERIFY_EXIT_CODES: &str = "Exit codes:
  0  the directory is well-formed (and matches what each --env recorded)
  2  a problem: a file of the wrong layout, an unpaired or unreadable script, a bad directive,
     history edited since --against, or a migration applied on an --env whose file changed
     or is gone; also a configuration error
  4  an --env database could not be read";

#[derive(Debug, Args)]
#[command(after_help = VERIFY_EXIT_CODES)]
pub struct VerifyArgs {
    /// Also compare the checksums recorded in these environments with the files on disk (read
    /// only): a migration applied there whose file changed since, or whose file is gone, is a
    /// problem (repeatable)
    #[arg(long = "env", value_name = "ENV")]
    pub envs: Vec<String>,

    /// Also compare the migrations with this git ref (no database needed): a migration that
    /// existed there and was edited or deleted, or one added since with a version older than
    /// one that existed there, is a problem
    #[arg(long, value_name = "GIT_REF")]
    pub against: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// A table of migrations by environment: applied (when), pending, checksum mismatch,
    /// failed, applied but missing locally
    Status(StatusArgs),
    /// Show what apply would do: pending migrations, findings, locks, gates and a plan hash
    Plan(PlanArgs),
    /// Apply pending migrations to an environment, through its gates
    Apply(ApplyArgs),
    /// Sign off a plan (`approvals = N`): recorded in the event log, bound to its plan hash
    Approve(ApproveArgs),
    /// Roll back the newest applied migrations with their down scripts (guarded)
    Down(DownArgs),
    /// Clear a failed attempt after the database was repaired by hand (recorded)
    Resolve(ResolveArgs),
    /// Record migrations another runner already applied (read from its own table) as applied,
    /// marked baselined, without running them
    Baseline(BaselineArgs),
    /// Bind an environment's database to that environment explicitly (recorded): after it
    /// moved, or when another environment name was bound to it
    Rebind(RebindArgs),
    /// Record an applied migration's down script as its file is now (a wrong down fixed), or
    /// declare that undoing it needs nothing (--no-op); gated and recorded with both checksums
    ReplaceDown(ReplaceDownArgs),
}

#[derive(Debug, Args)]
pub struct ReplaceDownArgs {
    /// Environment whose record of the migration changes
    #[arg(long, value_name = "ENV")]
    pub env: String,

    /// Version of the applied migration
    #[arg(value_name = "VERSION")]
    pub version: String,

    /// Undoing the migration needs no SQL (a VALIDATE CONSTRAINT, a comment): `migrate down`
    /// runs nothing for it and records it reverted
    #[arg(long)]
    pub no_op: bool,

    /// Why the down script changes; recorded in the event log with both checksums
    #[arg(long, value_name = "TEXT")]
    pub reason: String,

    /// Confirm a gated environment without a prompt (CI): exactly what the prompt asks for
    /// (the configured `confirm` phrase, or the environment's name for `confirm = true`)
    #[arg(long, value_name = "PHRASE")]
    pub confirm: Option<String>,
}

#[derive(Debug, Args)]
pub struct RebindArgs {
    /// Environment whose database is bound to it
    #[arg(long, value_name = "ENV")]
    pub env: String,

    /// Why the database now belongs to this environment; recorded in the event log
    #[arg(long, value_name = "TEXT")]
    pub reason: String,

    /// Confirm without a prompt (CI): name the target environment if it is gated, and the
    /// environment the database is bound to now if that one is gated (repeat the flag)
    #[arg(long, value_name = "ENV")]
    pub confirm: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Environment to show; repeat for several (default: every configured environment)
    #[arg(long = "env", value_name = "ENV")]
    pub envs: Vec<String>,

    /// Show only migrations that are not applied, as their file is now, in every environment
    /// shown (pending, failed, drifted, missing locally)
    #[arg(long)]
    pub pending: bool,

    /// Output format
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Environment to plan for
    #[arg(long, value_name = "ENV")]
    pub env: String,

    /// Plan only up to and including this version
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,

    /// Output format
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Human-readable
    Text,
    /// Machine-readable
    Json,
}

/// Confirmation for a gated environment, for runs without a terminal.
#[derive(Debug, Args)]
pub struct ConfirmArgs {
    /// Confirm a gated environment without a prompt (CI): exactly what the prompt asks for
    /// (the configured `confirm` phrase, or the environment's name for `confirm = true`), and a
    /// reason with it. On a terminal, without it, stagegate shows the plan and asks
    #[arg(long, value_name = "PHRASE")]
    pub confirm: Option<String>,

    /// Why this change is being made; recorded in the event log with the confirmation, the OS
    /// user, the host, the git commit and the CI run (asked for on a terminal when missing)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

/// The help of `ApplyArgs`'s `--scratch`.
const APPLY_SCRATCH_HELP: &str = "\
    With --dry-run: also run the plan on a scratch copy of the environment's database \
    (pg_dump, then pg_restore into a database stagegate creates on the scratch server and \
    drops at the end). The scratch server is URL, else STAGEGATE_SCRATCH_URL, else [scratch] \
    url, else a throwaway cluster";

#[derive(Debug, Args)]
#[command(mut_arg(SCRATCH_FLAG, |arg| arg.help(APPLY_SCRATCH_HELP).requires("dry_run")))]
pub struct ApplyArgs {
    /// Environment to apply to
    #[arg(long, value_name = "ENV")]
    pub env: String,

    /// Apply only up to and including this version
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,

    /// Check everything and print the plan, but change nothing
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub scratch: ScratchFlag,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    /// Refuse unless the plan still hashes to this value (from `migrate plan`)
    #[arg(long, value_name = "HASH")]
    pub plan_hash: Option<String>,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// Environment whose plan is approved
    #[arg(long, value_name = "ENV")]
    pub env: String,

    /// The plan hash `migrate plan` shows; refused unless it is the environment's plan now
    #[arg(long, value_name = "HASH")]
    pub plan_hash: String,

    /// Why this plan may go out (what was reviewed); recorded in the event log with the
    /// approver (the CI actor in CI, else the OS user), the host and the git commit
    #[arg(long, value_name = "TEXT")]
    pub reason: String,

    /// The plan up to and including this version, as `migrate plan --to` showed it
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
}

/// The help of `DownArgs`'s `--scratch`.
const DOWN_SCRATCH_HELP: &str = "\
    With --dry-run: run the down scripts on a scratch copy of the environment's database \
    instead (pg_dump, then pg_restore into a database stagegate creates on the scratch server \
    and drops at the end), reporting what they do there, errors included. The scratch server \
    is URL, else STAGEGATE_SCRATCH_URL, else [scratch] url, else a throwaway cluster";

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["steps", "to"])))]
#[command(mut_arg(SCRATCH_FLAG, |arg| arg.help(DOWN_SCRATCH_HELP).requires("dry_run")))]
pub struct DownArgs {
    /// Environment to roll back
    #[arg(long, value_name = "ENV")]
    pub env: String,

    /// Roll back this many of the newest applied migrations
    #[arg(long, value_name = "N")]
    pub steps: Option<u32>,

    /// Roll back every applied migration newer than this version (it stays applied)
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,

    /// Run the down scripts in one transaction, report each statement's rows and the objects
    /// dropped, then roll back (on a gated environment, or with --scratch: list them and what
    /// they drop from read-only queries, sending none of them there)
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub scratch: ScratchFlag,

    /// Run down scripts even where they destroy data the database holds (rows of a dropped or
    /// emptied table, values of a dropped or narrowed column) or hold statements stagegate
    /// cannot classify
    #[arg(long)]
    pub allow_data_loss: bool,

    #[command(flatten)]
    pub confirm: ConfirmArgs,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// Environment whose failed attempt is cleared
    #[arg(long, value_name = "ENV")]
    pub env: String,

    /// Version of the failed migration
    #[arg(value_name = "VERSION")]
    pub version: String,

    /// What was repaired, and by whom; recorded in the event log
    #[arg(long, value_name = "TEXT")]
    pub reason: String,

    /// For a no-transaction attempt whose process died while the server ran a statement that
    /// the catalog cannot account for: whether that statement took effect (`ran`: resume
    /// after it; `not-run`: resume with it)
    #[arg(long, value_enum, value_name = "OUTCOME", conflicts_with = "abandon")]
    pub statement: Option<StatementOutcome>,

    /// Give the failed migration up instead: it is never run again (put a fix in a new
    /// migration) and no longer holds back the migrations after it; for a file that was
    /// deleted after it failed
    #[arg(long)]
    pub abandon: bool,

    /// Confirm a gated environment without a prompt (CI); must name the target environment
    #[arg(long, value_name = "ENV")]
    pub confirm: Option<String>,
}

#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Environment whose database another runner migrated
    #[arg(long, value_name = "ENV")]
    pub env: String,

    /// Read this runner's table (default: the one runner table the database has)
    #[arg(long, value_enum, value_name = "RUNNER", conflicts_with = "to")]
    pub from: Option<crate::db::runners::ForeignRunner>,

    /// Instead of reading a runner's table, record every local migration up to and including
    /// this version
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,

    /// Why these migrations count as applied; recorded in the event log
    #[arg(long, value_name = "TEXT")]
    pub reason: String,

    /// Confirm a gated environment without a prompt (CI): exactly what the prompt asks for
    /// (the configured `confirm` phrase, or the environment's name for `confirm = true`)
    #[arg(long, value_name = "PHRASE")]
    pub confirm: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Environment whose event log is shown
    #[arg(long, value_name = "ENV")]
    pub env: String,

    /// Check the log: recompute the hash chain, look for gaps in event ids, compare every
    /// migration's state with its latest event and the log's head anchor, and name the first
    /// event that does not match
    #[arg(long)]
    pub verify: bool,

    /// With --verify: a head hash printed by an earlier `migrate apply` (kept in a CI log);
    /// the log must still contain that event, or it was cut or rewritten since
    #[arg(long, value_name = "HASH", requires = "verify")]
    pub head: Option<String>,

    /// Output format
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Take a pg_dump backup now, verify it and record it
    #[command(after_help = BACKUP_CREATE_EXIT_CODES)]
    Create(BackupEnvArgs),
    /// List the recorded backups of an environment, each with the pg_restore command that
    /// restores it
    #[command(after_help = BACKUP_LIST_EXIT_CODES)]
    List(BackupListArgs),
    /// Check a backup file against its recorded size and SHA-256 and with pg_restore --list;
    /// with --scratch (or --restore-into), restore it and compare every table's row count
    #[command(after_help = BACKUP_VERIFY_EXIT_CODES)]
    Verify(BackupVerifyArgs),
}

const BACKUP_CREATE_EXIT_CODES: &str = "Exit codes:
  0  the backup was taken, checked with pg_restore --list and recorded
  2  the environment has no `backup = { dir = ..., keep = ... }`, or another configuration error
  3  refused: no usable pg_dump (missing, older than the server, failing), the dump failed
     (for example a lock wait beyond lock_timeout) or the archive does not read back
  4  the database cannot be reached or the backup cannot be recorded";

const BACKUP_LIST_EXIT_CODES: &str = "Exit codes:
  0  success
  2  configuration error
  4  the database cannot be read";

const BACKUP_VERIFY_EXIT_CODES: &str = "Exit codes:
  0  every check passed
  2  the file is not a recorded backup of the environment, or a configuration error
  3  a check failed: SHA-256 or size differs from the record, the table of contents lacks a
     table, or (with --scratch or --restore-into) the restore failed or a table's row count
     differs
  4  a database cannot be reached";

#[derive(Debug, Args)]
pub struct BackupEnvArgs {
    /// Environment to back up
    #[arg(long, value_name = "ENV")]
    pub env: String,
}

#[derive(Debug, Args)]
pub struct BackupListArgs {
    /// Environment whose backups are listed
    #[arg(long, value_name = "ENV")]
    pub env: String,

    /// Output format
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
}

/// The help of `BackupVerifyArgs`'s `--scratch`.
const BACKUP_VERIFY_SCRATCH_HELP: &str = "\
    Also restore the backup into a scratch database and compare every table's row count with \
    the counts taken in the dump's snapshot. The scratch server is URL, else \
    STAGEGATE_SCRATCH_URL, else [scratch] url, else a throwaway cluster; stagegate creates a \
    database of its own there, restores into it and drops it";

#[derive(Debug, Args)]
#[command(mut_arg(SCRATCH_FLAG, |arg| arg.help(BACKUP_VERIFY_SCRATCH_HELP).conflicts_with("restore_into")))]
pub struct BackupVerifyArgs {
    /// Environment the backup belongs to
    #[arg(long, value_name = "ENV")]
    pub env: String,

    /// The backup file to verify (default: the newest recorded backup)
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    #[command(flatten)]
    pub scratch: ScratchFlag,

    /// Also restore the backup into this existing database (as it is: what it holds stays and
    /// is counted too) and compare the row counts. Never the environment's own database
    #[arg(long, value_name = "URL")]
    pub restore_into: Option<String>,

    /// Output format
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Markdown, valid as a GitHub comment
    Markdown,
    /// One self-contained HTML page (no scripts, no external assets), printable
    Html,
    /// Machine-readable
    Json,
}

/// Exit codes of `report`.
const REPORT_EXIT_CODES: &str = "Exit codes:
  0  the report was written, whatever its findings (a report is not a gate: use lint or
     migrate plan for that)
  2  usage or configuration error (unknown environment, bad --since, unreadable migrations)
  4  the --env database, the scratch database or pg_dump failed";

/// The help of `ReportArgs`'s `--scratch`.
const REPORT_SCRATCH_HELP: &str = "\
    Also apply the release to a scratch database for the schema diff before/after each \
    migration and its traced locks. The scratch server is URL, else STAGEGATE_SCRATCH_URL, \
    else [scratch] url, else a throwaway cluster; stagegate creates a database of its own \
    there and drops it at the end";

#[derive(Debug, Args)]
#[command(after_help = REPORT_EXIT_CODES)]
#[command(mut_arg(SCRATCH_FLAG, |arg| arg.help(REPORT_SCRATCH_HELP)))]
pub struct ReportArgs {
    /// Report the migrations not applied on this environment yet, with live table sizes from
    /// it (read only). Without --env and --since: every migration, without sizes
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,

    /// Report the migrations after this version instead (no database needed; with --env,
    /// sizes still come from it)
    #[arg(long, value_name = "VERSION")]
    pub since: Option<String>,

    #[command(flatten)]
    pub scratch: ScratchFlag,

    /// Output format
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    pub format: ReportFormat,

    /// Write the report to this file (replaced atomically) instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TraceFormat {
    /// A table per migration
    Text,
    /// Machine-readable, versioned schema
    Json,
    /// Markdown, for a pull request or a release document
    Markdown,
}

/// Exit codes of `trace`.
const TRACE_EXIT_CODES: &str = "Exit codes:
  0  every traced migration ran (where lint and the trace disagree is reported, not failed)
  1  a traced migration, or one applied before it, failed
  2  usage or configuration error (no scratch database, a path that is no migration)
  4  the scratch database failed";

/// The help of `TraceArgs`'s `--scratch`.
const TRACE_SCRATCH_HELP: &str = "\
    The scratch server: URL, else STAGEGATE_SCRATCH_URL, else [scratch] url, else a throwaway \
    cluster (`--scratch` alone: the same). stagegate creates a database of its own there and \
    drops it at the end";

#[derive(Debug, Args)]
#[command(after_help = TRACE_EXIT_CODES)]
#[command(mut_arg(SCRATCH_FLAG, |arg| arg.help(TRACE_SCRATCH_HELP)))]
pub struct TraceArgs {
    #[command(flatten)]
    pub scratch: ScratchFlag,

    /// Migrations to trace: up scripts, or directories to trace whole (default: the
    /// configured migrations directory); the migrations before them are applied first
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format
    #[arg(long, value_enum, default_value_t = TraceFormat::Text)]
    pub format: TraceFormat,
}

/// Exit codes of `check-reversible`.
const CHECK_REVERSIBLE_EXIT_CODES: &str = "Exit codes:
  0  every checked migration is reversible
  1  a migration is not reversible (down failed, schema differs, no or empty down script),
     or an up script failed
  2  usage or configuration error (no scratch database, bad --from, unreadable migrations,
     a scratch database that holds objects where stagegate may not create one)
  4  the scratch database or pg_dump failed";

/// The help of `CheckReversibleArgs`'s `--scratch`.
const CHECK_REVERSIBLE_SCRATCH_HELP: &str = "\
    The scratch server: URL, else STAGEGATE_SCRATCH_URL, else [scratch] url, else a throwaway \
    cluster (`--scratch` alone: the same). stagegate creates a database of its own there and \
    drops it at the end; a server where it may not create one is refused";

#[derive(Debug, Args)]
#[command(after_help = CHECK_REVERSIBLE_EXIT_CODES)]
#[command(mut_arg(SCRATCH_FLAG, |arg| arg.help(CHECK_REVERSIBLE_SCRATCH_HELP)))]
pub struct CheckReversibleArgs {
    #[command(flatten)]
    pub scratch: ScratchFlag,

    /// Check only this migration and the ones after it; the earlier ones are only applied
    #[arg(long, value_name = "VERSION")]
    pub from: Option<String>,

    /// Output format
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,

    /// Migrations directory (default: the configured one)
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Layout for new migrations [default: the layout of the migrations found, else sqlx]
    #[arg(long, value_enum)]
    pub layout: Option<Layout>,

    /// Directory for migrations, relative to the current directory [default: where another
    /// runner keeps them (diesel.toml, migrations/, db/migration/, db/migrations/, sql/,
    /// src/main/resources/db/migration/), else migrations]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// What the migration does, e.g. add_orders_status; becomes part of the file name
    #[arg(value_name = "NAME")]
    pub name: String,

    /// Layout to use when the migrations directory is still empty (default: the configured
    /// layout, else sqlx)
    #[arg(long, value_enum)]
    pub layout: Option<Layout>,

    /// Create only the up script
    #[arg(long)]
    pub no_down: bool,
}

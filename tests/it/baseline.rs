//! `migrate baseline`: a database another runner migrated is adopted from that runner's own
//! table, created here with the DDL the runner itself runs and filled the way it fills it.
//! Baseline never runs a migration's SQL: the tables the migrations create stay absent.

use sha2::{Digest, Sha384};

use crate::support::harness::TestDb;
use crate::support::project::{Project, assert_exit, query, tables};

const USERS: &str = "CREATE TABLE users (id bigint PRIMARY KEY);\n";
const ORDERS: &str =
    "CREATE TABLE orders (id bigint PRIMARY KEY);\r\nCREATE INDEX orders_id ON orders (id);\r\n";
const ITEMS: &str = "CREATE TABLE items (id bigint PRIMARY KEY);\n";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// CRC-32 bit by bit (not table-driven like stagegate's), over the lines of `text` without
/// their endings, as Flyway sums a migration.
fn flyway_crc(text: &str) -> i32 {
    let mut crc: u32 = !0;
    for line in text.lines() {
        for &byte in line.trim_end_matches('\r').as_bytes() {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
    }
    !crc as i32
}

/// `version:status:baselined_from` of every stagegate row.
fn recorded(db: &TestDb) -> Vec<String> {
    query(
        db,
        "SELECT version || ':' || status || ':' || coalesce(baselined_from, '-') \
         FROM stagegate.migrations ORDER BY version::numeric",
    )
    .into_iter()
    .map(|row| row[0].clone().unwrap())
    .collect()
}

fn baseline_events(db: &TestDb) -> Vec<String> {
    query(
        db,
        "SELECT version || ' ' || (detail::jsonb ->> 'from') || ' ' || (detail::jsonb ->> 'reason') \
         FROM stagegate.events WHERE kind = 'baseline' ORDER BY id",
    )
    .into_iter()
    .map(|row| row[0].clone().unwrap())
    .collect()
}

fn sqlx_project() -> Project {
    let p = Project::new("");
    p.write("1_create_users.up.sql", USERS);
    p.write("1_create_users.down.sql", "DROP TABLE users;\n");
    p.write("2_create_orders.sql", ORDERS);
    p.write("3_create_items.sql", ITEMS);
    // sqlx-postgres's own table, as `sqlx migrate run` creates it.
    p.query(
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
             version BIGINT PRIMARY KEY,
             description TEXT NOT NULL,
             installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
             success BOOLEAN NOT NULL,
             checksum BYTEA NOT NULL,
             execution_time BIGINT NOT NULL
         )",
    );
    for (version, description, text) in [(1, "create users", USERS), (2, "create orders", ORDERS)] {
        p.query(&format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES ({version}, '{description}', true, '\\x{}', 1234567)",
            hex(&Sha384::digest(text.as_bytes()))
        ));
    }
    p
}

#[test]
fn sqlx_table_is_baselined_without_running_sql_and_apply_runs_only_the_rest() {
    let p = sqlx_project();
    let out = p.run(&[
        "migrate",
        "baseline",
        "--env",
        "staging",
        "--reason",
        "moving from sqlx",
    ]);
    assert_exit(&out, 0);
    assert!(
        out.stdout
            .contains("baselined 2 migration(s) from sqlx (public._sqlx_migrations)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("pending    3_create_items"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("reading public._sqlx_migrations"),
        "{}",
        out.stderr
    );
    // No SQL of the migrations ran.
    assert_eq!(tables(&p), ["_sqlx_migrations"]);
    assert_eq!(
        recorded(&p.db),
        ["1:applied:sqlx", "2:applied:sqlx"],
        "{}",
        out.stdout
    );
    assert_eq!(
        baseline_events(&p.db),
        ["1 sqlx moving from sqlx", "2 sqlx moving from sqlx"]
    );
    // The row keeps sqlx's time of application.
    assert_eq!(
        p.scalar(
            "SELECT (m.finished_at = s.installed_on)::text FROM stagegate.migrations m \
             JOIN _sqlx_migrations s ON s.version::text = m.version WHERE m.version = '1'"
        )
        .as_deref(),
        Some("true")
    );
    let status = p.run(&["migrate", "status"]);
    assert_exit(&status, 0);
    let line = |v: &str| {
        status
            .stdout
            .lines()
            .find(|l| l.contains(v))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("create_users").contains("baselined"),
        "{}",
        status.stdout
    );
    assert!(
        line("create_items").contains("pending"),
        "{}",
        status.stdout
    );
    // A second baseline changes nothing.
    let again = p.run(&[
        "migrate", "baseline", "--env", "staging", "--reason", "again",
    ]);
    assert_exit(&again, 0);
    assert!(
        again.stdout.contains("nothing to baseline"),
        "{}",
        again.stdout
    );
    assert_eq!(baseline_events(&p.db).len(), 2);
    // Apply runs only what sqlx had not applied.
    let apply = p.apply();
    assert_exit(&apply, 0);
    assert_eq!(tables(&p), ["_sqlx_migrations", "items"]);
    let audit = p.run(&["audit", "--env", "staging", "--verify"]);
    assert_exit(&audit, 0);
    // The down script's checksum was recorded, so a baselined migration can be rolled back.
    assert_eq!(
        p.scalar(
            "SELECT (down_checksum IS NOT NULL)::text FROM stagegate.migrations WHERE version = '1'"
        )
        .as_deref(),
        Some("true")
    );
}

#[test]
fn sqlx_checksum_mismatch_refuses_and_records_nothing() {
    let p = sqlx_project();
    p.write(
        "2_create_orders.sql",
        "CREATE TABLE orders (id int PRIMARY KEY);\n",
    );
    let out = p.run(&["migrate", "baseline", "--env", "staging", "--reason", "x"]);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("2_create_orders.sql: sha384:"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("differ from what sqlx applied"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("stagegate migrate baseline --env staging --to VERSION"),
        "{}",
        out.stderr
    );
    assert_eq!(
        p.scalar("SELECT to_regclass('stagegate.migrations')::text"),
        None
    );
    // A failed (no-transaction) sqlx migration is refused too.
    p.write("2_create_orders.sql", ORDERS);
    p.query("UPDATE _sqlx_migrations SET success = false WHERE version = 2");
    let out = p.run(&["migrate", "baseline", "--env", "staging", "--reason", "x"]);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("version 2 as not successful"),
        "{}",
        out.stderr
    );
}

#[test]
fn diesel_table_is_baselined_by_versions_without_dashes() {
    let p = Project::new("");
    p.write("00000000000000_diesel_initial_setup/up.sql", "SELECT 1;\n");
    p.write("2021-02-02-153240_create_users/up.sql", USERS);
    p.write(
        "2021-02-02-153240_create_users/down.sql",
        "DROP TABLE users;\n",
    );
    p.write("2021-03-01-090000_create_orders/up.sql", ORDERS);
    p.write(
        "2021-03-01-090000_create_orders/down.sql",
        "DROP TABLE orders;\n",
    );
    // diesel's table, as diesel_migrations creates it on PostgreSQL; it records a version
    // as the directory's version with its dashes removed.
    p.query(
        "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (
             version VARCHAR(50) PRIMARY KEY NOT NULL,
             run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
         )",
    );
    p.query(
        "INSERT INTO __diesel_schema_migrations (version) VALUES ('00000000000000'), \
         ('20210202153240')",
    );
    let out = p.run(&[
        "migrate",
        "baseline",
        "--env",
        "staging",
        "--reason",
        "from diesel",
    ]);
    assert_exit(&out, 0);
    assert_eq!(
        recorded(&p.db),
        ["0:applied:diesel", "20210202153240:applied:diesel"],
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("pending    2021-03-01-090000_create_orders"),
        "{}",
        out.stdout
    );
    assert_eq!(tables(&p), ["__diesel_schema_migrations"]);
}

fn flyway_project() -> Project {
    let p = Project::new("");
    p.write("V1__create_users.sql", USERS);
    p.write("V1.1__create_orders.sql", ORDERS);
    p.write("V2__create_items.sql", ITEMS);
    // Flyway's createMetaDataTable.sql for PostgreSQL.
    p.query(
        r#"CREATE TABLE "public"."flyway_schema_history" (
               "installed_rank" INT NOT NULL,
               "version" VARCHAR(50),
               "description" VARCHAR(200) NOT NULL,
               "type" VARCHAR(20) NOT NULL,
               "script" VARCHAR(1000) NOT NULL,
               "checksum" INTEGER,
               "installed_by" VARCHAR(100) NOT NULL,
               "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
               "execution_time" INTEGER NOT NULL,
               "success" BOOLEAN NOT NULL
           );
           ALTER TABLE "public"."flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk"
               PRIMARY KEY ("installed_rank");
           CREATE INDEX "flyway_schema_history_s_idx" ON "public"."flyway_schema_history" ("success");"#,
    );
    p
}

#[test]
fn flyway_history_is_baselined_with_its_crc32_compared() {
    let p = flyway_project();
    for (rank, version, script, text) in [
        (1, "1", "V1__create_users.sql", USERS),
        (2, "1.1", "V1.1__create_orders.sql", ORDERS),
    ] {
        p.query(&format!(
            "INSERT INTO flyway_schema_history (installed_rank, version, description, type, \
             script, checksum, installed_by, execution_time, success) \
             VALUES ({rank}, '{version}', 'x', 'SQL', '{script}', {}, 'flyway', 12, true)",
            flyway_crc(text)
        ));
    }
    let out = p.run(&[
        "migrate",
        "baseline",
        "--env",
        "staging",
        "--reason",
        "from flyway",
    ]);
    assert_exit(&out, 0);
    assert_eq!(
        recorded(&p.db),
        ["1:applied:flyway", "1.1:applied:flyway"],
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("pending    2_create_items"),
        "{}",
        out.stdout
    );
    assert_eq!(tables(&p), ["flyway_schema_history"]);
}

#[test]
fn flyway_checksum_mismatch_and_a_flyway_baseline_row() {
    let p = flyway_project();
    // Flyway's own baseline at 1.1: everything up to it counts as applied, with no checksum;
    // then V2 applied by Flyway with a checksum that is not the file's.
    p.query(
        "INSERT INTO flyway_schema_history (installed_rank, version, description, type, \
         script, checksum, installed_by, execution_time, success) VALUES \
         (1, '1.1', '<< Flyway Baseline >>', 'BASELINE', '<< Flyway Baseline >>', NULL, \
          'flyway', 0, true)",
    );
    p.query(&format!(
        "INSERT INTO flyway_schema_history (installed_rank, version, description, type, \
         script, checksum, installed_by, execution_time, success) \
         VALUES (2, '2', 'create items', 'SQL', 'V2__create_items.sql', {}, 'flyway', 3, true)",
        flyway_crc("CREATE TABLE items (id int);\n")
    ));
    let out = p.run(&["migrate", "baseline", "--env", "staging", "--reason", "x"]);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("V2__create_items.sql: crc32:"),
        "{}",
        out.stderr
    );
    p.query(&format!(
        "UPDATE flyway_schema_history SET checksum = {} WHERE installed_rank = 2",
        flyway_crc(ITEMS)
    ));
    let out = p.run(&["migrate", "baseline", "--env", "staging", "--reason", "x"]);
    assert_exit(&out, 0);
    assert_eq!(
        recorded(&p.db),
        ["1:applied:flyway", "1.1:applied:flyway", "2:applied:flyway"]
    );
}

#[test]
fn dbmate_rows_are_baselined() {
    let p = Project::new("");
    p.write(
        "20240101120000_create_users.sql",
        "-- migrate:up\nCREATE TABLE users (id bigint);\n\n-- migrate:down\nDROP TABLE users;\n",
    );
    p.write(
        "20240102120000_create_orders.sql",
        "-- migrate:up\nCREATE TABLE orders (id bigint);\n\n-- migrate:down\nDROP TABLE orders;\n",
    );
    // dbmate's table on PostgreSQL: one row per applied migration.
    p.query("CREATE TABLE IF NOT EXISTS schema_migrations (version varchar(128) PRIMARY KEY)");
    p.query("INSERT INTO schema_migrations (version) VALUES ('20240101120000')");
    let out = p.run(&[
        "migrate",
        "baseline",
        "--env",
        "staging",
        "--reason",
        "from dbmate",
    ]);
    assert_exit(&out, 0);
    assert_eq!(recorded(&p.db), ["20240101120000:applied:dbmate"]);
    assert_eq!(tables(&p), ["schema_migrations"]);
}

#[test]
fn golang_migrate_version_counts_up_to_it_and_dirty_refuses() {
    let p = Project::new("");
    p.write("1_create_users.up.sql", USERS);
    p.write("1_create_users.down.sql", "DROP TABLE users;\n");
    p.write("2_create_orders.up.sql", ORDERS);
    p.write("3_create_items.up.sql", ITEMS);
    // golang-migrate's table on PostgreSQL: one row, the current version.
    p.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint not null primary key, \
         dirty boolean not null)",
    );
    p.query("INSERT INTO schema_migrations (version, dirty) VALUES (2, true)");
    let out = p.run(&["migrate", "baseline", "--env", "staging", "--reason", "x"]);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("golang-migrate marks version 2 dirty"),
        "{}",
        out.stderr
    );
    assert_eq!(
        p.scalar("SELECT to_regclass('stagegate.migrations')::text"),
        None
    );
    p.query("UPDATE schema_migrations SET dirty = false");
    let out = p.run(&["migrate", "baseline", "--env", "staging", "--reason", "x"]);
    assert_exit(&out, 0);
    assert_eq!(
        recorded(&p.db),
        ["1:applied:golang-migrate", "2:applied:golang-migrate"]
    );
}

#[test]
fn to_baselines_by_hand_and_a_missing_table_says_so() {
    let p = Project::new("");
    p.write("1_create_users.sql", USERS);
    p.write("2_create_orders.sql", ORDERS);
    p.write("3_create_items.sql", ITEMS);
    let out = p.run(&["migrate", "baseline", "--env", "staging", "--reason", "x"]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("has no migration runner's table")
            && out
                .stderr
                .contains("stagegate migrate baseline --env staging --to VERSION"),
        "{}",
        out.stderr
    );
    let out = p.run(&[
        "migrate",
        "baseline",
        "--env",
        "staging",
        "--to",
        "2",
        "--reason",
        "applied by hand",
    ]);
    assert_exit(&out, 0);
    assert_eq!(recorded(&p.db), ["1:applied:manual", "2:applied:manual"]);
    assert_eq!(
        baseline_events(&p.db),
        ["1 manual applied by hand", "2 manual applied by hand"]
    );
    assert!(tables(&p).is_empty());
    let out = p.run(&[
        "migrate", "baseline", "--env", "staging", "--to", "9", "--reason", "x",
    ]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("--to 9: no local migration"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_gated_environment_needs_confirmation_and_staging_baselined_promotes() {
    let production = TestDb::create();
    let p = Project::new(
        "\n[environments.production]\nurl = \"${SG_BASELINE_PROD_URL}\"\n\
         promote_from = \"staging\"\nconfirm = true\n",
    );
    p.write("1_create_users.sql", USERS);
    p.write("2_create_orders.sql", ORDERS);
    let prod_url = production.database_url().expose().to_string();
    let run = |args: &[&str]| {
        let out = p
            .command()
            .env("SG_BASELINE_PROD_URL", &prod_url)
            .args(args)
            .output()
            .unwrap();
        crate::support::project::Output::from(out)
    };
    // Production: gated, so no baseline without a confirmation.
    let out = run(&[
        "migrate",
        "baseline",
        "--env",
        "production",
        "--to",
        "1",
        "--reason",
        "adopt",
    ]);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("needs a confirmation"),
        "{}",
        out.stderr
    );
    assert_eq!(
        query(
            &production,
            "SELECT to_regclass('stagegate.migrations')::text"
        )[0][0],
        None
    );
    let out = run(&[
        "migrate",
        "baseline",
        "--env",
        "production",
        "--to",
        "1",
        "--reason",
        "adopt",
        "--confirm",
        "production",
    ]);
    assert_exit(&out, 0);
    assert_eq!(recorded(&production), ["1:applied:manual"]);
    assert_eq!(
        query(
            &production,
            "SELECT count(*)::text FROM stagegate.events WHERE kind = 'confirmation'"
        )[0][0]
            .as_deref(),
        Some("1")
    );
    // Staging baselined counts as applied there: production may then receive it.
    let out = run(&[
        "migrate", "baseline", "--env", "staging", "--to", "2", "--reason", "adopt",
    ]);
    assert_exit(&out, 0);
    let out = run(&[
        "migrate",
        "apply",
        "--env",
        "production",
        "--confirm",
        "production",
        "--reason",
        "release",
    ]);
    assert_exit(&out, 0);
    assert_eq!(
        recorded(&production),
        ["1:applied:manual", "2:applied:-"],
        "{}",
        out.stderr
    );
}

/// The Supabase CLI's table lives in schema `supabase_migrations`, off the search path; its
/// versions are the timestamps of `supabase/migrations/<timestamp>_<name>.sql`.
#[test]
fn supabase_cli_table_is_found_in_its_own_schema() {
    let p = Project::new("");
    p.write("20240101120000_create_users.sql", USERS);
    p.write("20240102120000_create_orders.sql", ORDERS);
    // As `supabase db push` creates and fills it.
    p.query("CREATE SCHEMA IF NOT EXISTS supabase_migrations");
    p.query(
        "CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text NOT \
         NULL PRIMARY KEY, statements text[], name text)",
    );
    p.query(
        "INSERT INTO supabase_migrations.schema_migrations (version, statements, name) VALUES \
         ('20240101120000', ARRAY['CREATE TABLE users (id bigint PRIMARY KEY)'], 'create_users')",
    );
    let out = p.run(&[
        "migrate",
        "baseline",
        "--env",
        "staging",
        "--reason",
        "moving from the supabase cli",
    ]);
    assert_exit(&out, 0);
    assert!(
        out.stdout
            .contains("from supabase (supabase_migrations.schema_migrations)"),
        "{}",
        out.stdout
    );
    assert_eq!(recorded(&p.db), ["20240101120000:applied:supabase"]);
    assert!(
        out.stdout
            .contains("pending    20240102120000_create_orders"),
        "{}",
        out.stdout
    );
    assert_eq!(tables(&p), Vec::<String>::new());
}

/// Prisma's `_prisma_migrations`: a finished row is applied (its SHA-256 compared with the
/// file, either line ending), a rolled-back row is ignored as Prisma ignores it, a started
/// and unfinished one refuses.
#[test]
fn prisma_history_is_baselined_with_its_checksums() {
    let p = Project::new("");
    p.write("20240101120000_init.sql", USERS);
    p.write("20240102120000_orders.sql", ORDERS);
    p.write("20240103120000_items.sql", ITEMS);
    // As prisma-engines creates it.
    p.query(
        "CREATE TABLE \"_prisma_migrations\" (
             \"id\" VARCHAR(36) PRIMARY KEY NOT NULL,
             \"checksum\" VARCHAR(64) NOT NULL,
             \"finished_at\" TIMESTAMPTZ,
             \"migration_name\" VARCHAR(255) NOT NULL,
             \"logs\" TEXT,
             \"rolled_back_at\" TIMESTAMPTZ,
             \"started_at\" TIMESTAMPTZ NOT NULL DEFAULT now(),
             \"applied_steps_count\" INTEGER NOT NULL DEFAULT 0
         )",
    );
    let sha = |text: &str| hex(&sha2::Sha256::digest(text.as_bytes()));
    // ORDERS has CRLF endings here; Prisma on another checkout summed it with LF.
    let orders_lf = ORDERS.replace("\r\n", "\n");
    let rows = [
        ("a", sha(USERS), "now()", "20240101120000_init", "NULL"),
        (
            "b",
            sha(&orders_lf),
            "now()",
            "20240102120000_orders",
            "NULL",
        ),
        ("c", sha(ITEMS), "NULL", "20240103120000_items", "now()"),
        ("d", sha(ITEMS), "NULL", "20240103120000_items", "NULL"),
    ];
    for (id, checksum, finished, name, rolled_back) in &rows {
        p.query(&format!(
            "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, \
             rolled_back_at, applied_steps_count) VALUES ('{id}', '{checksum}', {finished}, \
             '{name}', {rolled_back}, 1)"
        ));
    }
    let baseline = ["migrate", "baseline", "--env", "staging", "--reason", "x"];
    let out = p.run(&baseline);
    assert_exit(&out, 3);
    assert!(
        out.stderr
            .contains("20240103120000_items as started and not finished")
            && out.stderr.contains("prisma migrate resolve"),
        "{}",
        out.stderr
    );
    // `prisma migrate resolve --rolled-back 20240103120000_items`.
    p.query("UPDATE _prisma_migrations SET rolled_back_at = now() WHERE id = 'd'");
    // An edit since Prisma applied it refuses, naming both checksums.
    p.write(
        "20240101120000_init.sql",
        "CREATE TABLE users (id int PRIMARY KEY);\n",
    );
    let out = p.run(&baseline);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("20240101120000_init.sql: sha256:")
            && out.stderr.contains("in public._prisma_migrations"),
        "{}",
        out.stderr
    );
    p.write("20240101120000_init.sql", USERS);
    let out = p.run(&baseline);
    assert_exit(&out, 0);
    assert_eq!(
        recorded(&p.db),
        [
            "20240101120000:applied:prisma",
            "20240102120000:applied:prisma"
        ]
    );
    assert!(
        out.stdout.contains("pending    20240103120000_items"),
        "{}",
        out.stdout
    );
}

/// goose's `goose_db_version`: a version's latest row says whether it is applied (older goose
/// appended `is_applied = false` for a down); the table-creation row 0 is not a migration.
#[test]
fn goose_history_is_baselined_from_each_versions_latest_row() {
    let p = Project::new("");
    p.write("00001_create_users.sql", USERS);
    p.write("00002_create_orders.sql", ORDERS);
    p.write("00003_create_items.sql", ITEMS);
    // As goose creates and fills it on PostgreSQL.
    p.query(
        "CREATE TABLE goose_db_version (
             id serial NOT NULL,
             version_id bigint NOT NULL,
             is_applied boolean NOT NULL,
             tstamp timestamp NULL default now(),
             PRIMARY KEY(id)
         )",
    );
    p.query(
        "INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), \
         (2, true), (3, true), (3, false)",
    );
    let out = p.run(&[
        "migrate",
        "baseline",
        "--env",
        "staging",
        "--reason",
        "moving from goose",
    ]);
    assert_exit(&out, 0);
    assert!(
        out.stdout.contains("from goose (public.goose_db_version)"),
        "{}",
        out.stdout
    );
    assert_eq!(recorded(&p.db), ["1:applied:goose", "2:applied:goose"]);
    assert!(
        out.stdout.contains("pending    00003_create_items"),
        "{}",
        out.stdout
    );
}

//! The harness and the fixtures against a real PostgreSQL.

use stagegate::DatabaseUrl;
use stagegate::{Script, discover};
use tokio_postgres::Client;

use crate::support::harness::{TestDb, block_on};
use crate::support::tools::fixture;

/// Runs a script the way its directives ask: in a transaction with its verify script, or
/// alone when it is marked no-transaction.
async fn run(client: &mut Client, script: &Script, verify: Option<&Script>) {
    let path = script.path.display().to_string();
    let ok = |result: Result<(), tokio_postgres::Error>| {
        result.unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    if script.settings.no_transaction {
        ok(client.batch_execute(&script.text).await);
    } else {
        let transaction = client.transaction().await.unwrap();
        ok(transaction.batch_execute(&script.text).await);
        if let Some(verify) = verify {
            ok(transaction.batch_execute(&verify.text).await);
        }
        ok(transaction.commit().await);
    }
}

async fn tables(client: &Client) -> Vec<String> {
    let rows = client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|row| row.get(0)).collect()
}

#[test]
fn every_layout_applies_and_rolls_back_on_a_real_server() {
    for layout in [
        "sqlx",
        "sqlx-crlf",
        "golang-migrate",
        "flyway",
        "diesel",
        "dbmate",
        "dbmate-crlf",
    ] {
        let db = TestDb::create();
        let set = discover(&fixture(layout)).unwrap();
        let url = db.database_url();
        block_on(async {
            let mut client = stagegate::connect(&url).await.unwrap();
            for migration in &set.migrations {
                let up = migration.load_up().unwrap();
                let verify = migration.load_verify().unwrap();
                run(&mut client, &up, verify.as_ref()).await;
            }
            assert_eq!(tables(&client).await, ["orders", "users"], "{layout}");
            let index = client
                .query_one(
                    "SELECT indisvalid FROM pg_index WHERE indexrelid = 'orders_user_id_idx'::regclass",
                    &[],
                )
                .await
                .unwrap();
            assert!(
                index.get::<_, bool>(0),
                "{layout}: the concurrent index is valid"
            );
            let comment: String = client
                .query_one(
                    "SELECT obj_description('orders'::regclass, 'pg_class')",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(
                comment, "One row per checkout; 'status' follows the order's life",
                "{layout}"
            );

            for migration in set.migrations.iter().rev() {
                if let Some(down) = migration.load_down().unwrap() {
                    run(&mut client, &down, None).await;
                }
            }
            assert!(
                tables(&client).await.is_empty(),
                "{layout}: down scripts undo everything"
            );
        });
    }
}

#[test]
fn a_failing_verify_script_rolls_the_migration_back() {
    let db = TestDb::create();
    let url = db.database_url();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("1_t.up.sql"), "CREATE TABLE t (id int);\n").unwrap();
    std::fs::write(
        dir.path().join("1_t.verify.sql"),
        "DO $$ BEGIN IF (SELECT count(*) FROM t) = 0 THEN RAISE EXCEPTION 't is empty'; END IF; END $$;\n",
    )
    .unwrap();
    let set = discover(dir.path()).unwrap();
    let up = set.migrations[0].load_up().unwrap();
    let verify = set.migrations[0].load_verify().unwrap().unwrap();
    block_on(async {
        let mut client = stagegate::connect(&url).await.unwrap();
        let transaction = client.transaction().await.unwrap();
        transaction.batch_execute(&up.text).await.unwrap();
        let error = transaction.batch_execute(&verify.text).await.unwrap_err();
        assert!(
            error
                .as_db_error()
                .unwrap()
                .message()
                .contains("t is empty")
        );
        drop(transaction);
        assert!(
            tables(&client).await.is_empty(),
            "the up script was rolled back"
        );
    });
}

#[test]
fn connection_errors_never_show_the_password() {
    let url =
        DatabaseUrl::new("postgres://postgres:s3cr3t-pw@127.0.0.1:1/nowhere?connect_timeout=2");
    let error = block_on(async move { stagegate::connect(&url).await.map(drop) }).unwrap_err();
    let message = format!("{error} {error:?}");
    assert!(
        message.contains("cannot connect to postgres://postgres:***@127.0.0.1:1/nowhere"),
        "{message}"
    );
    assert!(!message.contains("s3cr3t"), "{message}");
}

/// Whether each open connection to `db` (other than the asking one) uses TLS.
fn tls_of_other_sessions(db: &TestDb) -> Vec<bool> {
    let url = db.database_url();
    block_on(async move {
        let plain = DatabaseUrl::new(format!("{}?sslmode=disable", url.expose()));
        let client = stagegate::connect(&plain).await.unwrap();
        client
            .query(
                "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
                 WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() ORDER BY 1",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    })
}

/// The test server's certificate (Debian's snakeoil: CN and SAN `localhost`, self-signed).
const SERVER_CERT: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

/// `sslmode` and `sslrootcert` mean what they mean to libpq, for both drivers. Needs the test
/// server to offer TLS, as Debian's PostgreSQL does out of the box.
#[test]
fn both_drivers_speak_tls_as_sslmode_asks() {
    use stagegate::StateStore;

    let db = TestDb::create();
    let base = db.database_url().expose().to_string();
    assert!(
        base.contains("127.0.0.1") && std::path::Path::new(SERVER_CERT).is_file(),
        "this test expects the local server at 127.0.0.1 with Debian's snakeoil certificate \
         ({base}, {SERVER_CERT})"
    );
    let with = |params: &str| DatabaseUrl::new(format!("{base}?{params}"));
    let by_name = |params: &str| {
        DatabaseUrl::new(format!(
            "{}?{params}",
            base.replace("127.0.0.1", "localhost")
        ))
    };
    // Opens both drivers' connections, reports whether the server sees TLS on each.
    let open = |url: DatabaseUrl| -> Result<Vec<bool>, String> {
        let db = &db;
        block_on(async move {
            let session = stagegate::connect(&url).await.map_err(|e| e.to_string())?;
            let store = StateStore::connect(&url).await.map_err(|e| e.to_string())?;
            let seen = tls_of_other_sessions(db);
            drop(session);
            store.close().await;
            Ok(seen)
        })
    };
    let server_offers_tls = open(with("sslmode=require"));
    assert_eq!(
        server_offers_tls,
        Ok(vec![true, true]),
        "sslmode=require: both connections encrypted (the server must have ssl = on)"
    );
    assert_eq!(
        open(db.database_url()),
        Ok(vec![true, true]),
        "default is prefer"
    );
    assert_eq!(open(with("sslmode=disable")), Ok(vec![false, false]));
    // The snakeoil certificate is its own root; its name is localhost.
    let root = format!("sslrootcert={SERVER_CERT}");
    assert_eq!(
        open(by_name(&format!("sslmode=verify-full&{root}"))),
        Ok(vec![true, true])
    );
    assert_eq!(
        open(with(&format!("sslmode=verify-ca&{root}"))),
        Ok(vec![true, true]),
        "verify-ca does not check the host name"
    );
    let error = open(with(&format!("sslmode=verify-full&{root}"))).unwrap_err();
    assert!(
        error.contains("cannot connect to") && error.to_lowercase().contains("name"),
        "verify-full names the host mismatch: {error}"
    );
    // A root that did not sign the server's certificate: both connections refuse the server
    // (with a root file of the target's own, the state connection's TLS is stagegate's own:
    // see db::relay).
    let other_root = std::fs::read_dir("/etc/ssl/certs")
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "pem") && !p.ends_with("ssl-cert-snakeoil.pem")
        })
        .expect("a CA certificate in /etc/ssl/certs");
    let url = by_name(&format!(
        "sslmode=verify-full&sslrootcert={}",
        other_root.display()
    ));
    let (session, store) = block_on(async move {
        (
            stagegate::connect(&url)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            StateStore::connect(&url)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
        )
    });
    for error in [session.unwrap_err(), store.unwrap_err()] {
        assert!(error.contains("UnknownIssuer"), "{error}");
    }
    let error = open(with("sslmode=verify-ca&sslrootcert=/nonexistent/root.crt")).unwrap_err();
    assert!(
        error.contains("cannot read sslrootcert /nonexistent/root.crt"),
        "{error}"
    );
    let error = open(with("sslmode=verify")).unwrap_err();
    assert!(error.contains("sslmode `verify` is not one of"), "{error}");
}

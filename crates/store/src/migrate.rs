//! Versioned schema migrations. DDL may differ per backend; the queries that read and
//! write data are the same text on both.

use sqlx::{AnyConnection, Connection, Executor, Row};

use crate::error::StoreError;
use crate::store::Backend;

/// The resources table: the same DDL on both backends.
macro_rules! resources_table {
    () => {
        r#"
CREATE TABLE resources (
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    uid TEXT NOT NULL,
    generation BIGINT NOT NULL,
    resource_version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);
"#
    };
}

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "resources and journal",
        sqlite: concat!(
            resources_table!(),
            r#"
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    time BIGINT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    actor TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX events_by_subject ON events (subject, seq);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event journal is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event journal is append-only'); END;
"#
        ),
        postgres: concat!(
            resources_table!(),
            r#"
CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
    time BIGINT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    actor TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX events_by_subject ON events (subject, seq);
CREATE FUNCTION andon_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'the event journal is append-only'; END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
FOR EACH ROW EXECUTE FUNCTION andon_append_only();
"#
        ),
    },
    // Reading the journal by event kind (alert history, silences and the notification
    // log restored at start) without scanning it.
    Migration {
        version: 2,
        name: "journal by kind",
        sqlite: "CREATE INDEX events_by_kind ON events (kind, seq);",
        postgres: "CREATE INDEX events_by_kind ON events (kind, seq);",
    },
];

/// The schema version this build knows.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Brings the schema up to date in one transaction; refuses a schema newer than this build.
pub(crate) async fn run(conn: &mut AnyConnection, backend: Backend) -> Result<(), StoreError> {
    let mut tx = conn.begin().await?;
    if backend == Backend::Postgres {
        // Several andon replicas may start at once; one migrates, the others wait.
        tx.execute("SELECT pg_advisory_xact_lock(7070001)").await?;
    }
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let row = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        .fetch_one(&mut *tx)
        .await?;
    let current: i64 = row.try_get(0)?;
    if current > latest() {
        return Err(StoreError::SchemaTooNew { found: current, known: latest() });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let sql = match backend {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        tx.execute(sql).await?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(andon_core::Clock::now(&andon_core::SystemClock).millis())
        .execute(&mut *tx)
        .await?;
        tracing::info!(version = m.version, name = m.name, "applied schema migration");
    }
    tx.commit().await?;
    Ok(())
}

//! Migrations: SQL files embedded at compile time, applied in order at start, each once,
//! under an advisory lock so that instances starting together do not race.

use std::fmt;

use super::connection::Connection;
use super::queries::Queries;

/// The table that records the migrations applied.
pub(crate) const TABLE: &str = "tamarco_migrations";

/// One SQL file, embedded in the binary by [`migrations!`](crate::postgres::migrations).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    name: &'static str,
    sql: &'static str,
}

impl fmt::Debug for Migration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Migration")
            .field("name", &self.name)
            .field("bytes", &self.sql.len())
            .finish()
    }
}

impl Migration {
    /// A migration named `name` (recorded under that name once applied) running `sql`.
    pub const fn new(name: &'static str, sql: &'static str) -> Self {
        Migration { name, sql }
    }

    /// The name it is recorded under: the file name, without its folders.
    pub fn name(&self) -> &'static str {
        self.name.rsplit(['/', '\\']).next().unwrap_or(self.name)
    }

    /// The SQL it runs.
    pub fn sql(&self) -> &'static str {
        self.sql
    }

    /// A fingerprint of the SQL (64-bit FNV-1a), to notice a file edited after it was applied.
    fn checksum(&self) -> i64 {
        fnv1a(self.sql.as_bytes())
    }
}

/// Embeds SQL files at compile time, as a `[Migration; N]` to give to
/// [`Postgres::with_migrations`](crate::postgres::Postgres::with_migrations). Paths are
/// relative to the file that calls the macro, as with `include_str!`; each migration is named
/// (and recorded) by its file name, and they run in the order written.
///
/// ```rust,ignore
/// let db = Postgres::new().with_migrations(tamarco::postgres::migrations![
///     "../migrations/001_create_users.sql",
///     "../migrations/002_add_email.sql",
/// ]);
/// ```
#[macro_export]
#[doc(hidden)]
macro_rules! __postgres_migrations {
    ($($path:literal),* $(,)?) => {
        [$($crate::postgres::Migration::new($path, ::core::include_str!($path))),*]
    };
}

/// What applying the migrations did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Applied {
    pub(crate) applied: Vec<&'static str>,
    pub(crate) already: usize,
}

/// Why the migrations stopped: names the file at fault when there is one.
#[derive(Debug)]
pub(crate) struct MigrationError {
    pub(crate) file: Option<&'static str>,
    pub(crate) message: String,
    pub(crate) source: Option<super::Error>,
}

impl MigrationError {
    fn at(file: &'static str, message: impl Into<String>, source: Option<super::Error>) -> Self {
        MigrationError {
            file: Some(file),
            message: message.into(),
            source,
        }
    }

    fn general(source: super::Error) -> Self {
        MigrationError {
            file: None,
            message: "cannot read or record the applied migrations".to_owned(),
            source: Some(source),
        }
    }
}

/// Checks the list: names unique.
pub(crate) fn check(migrations: &[Migration]) -> Result<(), String> {
    for (i, migration) in migrations.iter().enumerate() {
        if migrations[..i].iter().any(|m| m.name() == migration.name()) {
            return Err(format!(
                "migration `{}` is listed twice (names are file names)",
                migration.name()
            ));
        }
    }
    Ok(())
}

/// Applies the migrations not yet recorded, in order, each in its own transaction, holding
/// the advisory lock throughout.
pub(crate) async fn apply(
    connection: &Connection,
    migrations: &[Migration],
) -> Result<Applied, MigrationError> {
    let lock = fnv1a(TABLE.as_bytes());
    connection
        .execute("SELECT pg_advisory_lock($1)", &[&lock])
        .await
        .map_err(MigrationError::general)?;
    let outcome = apply_locked(connection, migrations).await;
    // The lock is the session's: if unlocking fails the connection is unusable anyway.
    let _ = connection
        .execute("SELECT pg_advisory_unlock($1)", &[&lock])
        .await;
    outcome
}

async fn apply_locked(
    connection: &Connection,
    migrations: &[Migration],
) -> Result<Applied, MigrationError> {
    connection
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (
                name TEXT PRIMARY KEY,
                checksum BIGINT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )"
        ))
        .await
        .map_err(MigrationError::general)?;
    let recorded: Vec<(String, i64)> = connection
        .fetch(&format!("SELECT name, checksum FROM {TABLE}"), &[])
        .await
        .map_err(MigrationError::general)?;
    let mut done = Applied::default();
    for migration in migrations {
        let name = migration.name();
        if let Some((_, checksum)) = recorded.iter().find(|(n, _)| n == name) {
            if *checksum != migration.checksum() {
                return Err(MigrationError::at(
                    name,
                    "was changed after it was applied (write a new migration instead)",
                    None,
                ));
            }
            done.already += 1;
            continue;
        }
        connection
            .begin()
            .await
            .map_err(|e| MigrationError::at(name, "cannot begin its transaction", Some(e)))?;
        let run = async {
            connection.batch_execute(migration.sql()).await?;
            connection
                .execute(
                    &format!("INSERT INTO {TABLE} (name, checksum) VALUES ($1, $2)"),
                    &[&name, &migration.checksum()],
                )
                .await?;
            Ok::<_, super::Error>(())
        }
        .await;
        match run {
            Ok(()) => connection
                .end("COMMIT")
                .await
                .map_err(|e| MigrationError::at(name, "failed", Some(e)))?,
            Err(error) => {
                let _ = connection.end("ROLLBACK").await;
                return Err(MigrationError::at(name, "failed", Some(error)));
            }
        }
        connection.reset();
        tracing::info!(migration = name, "postgres: migration applied");
        done.applied.push(name);
    }
    Ok(done)
}

/// 64-bit FNV-1a, as a signed number for a `BIGINT` column or an advisory lock key.
fn fnv1a(bytes: &[u8]) -> i64 {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_file_names_and_must_be_unique() {
        let a = Migration::new("sql/001_a.sql", "SELECT 1");
        let b = Migration::new("other/001_a.sql", "SELECT 2");
        assert_eq!(a.name(), "001_a.sql");
        let error = check(&[a, b]).unwrap_err();
        assert!(error.contains("`001_a.sql` is listed twice"), "{error}");
        assert_ne!(a.checksum(), b.checksum());
    }
}

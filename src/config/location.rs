//! `storage.path` / `storage.url`: which database the store opens.

use std::path::PathBuf;
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

/// Where the store lives: `storage.path` (or `sqlite://FILE`) or a
/// `postgres://` URL.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file: one node.
    Sqlite(PathBuf),
    /// A PostgreSQL URL: a cluster. Its password never reaches a log.
    Postgres(String),
}

impl Location {
    /// Reads `storage.url`.
    pub fn parse(url: &str) -> Result<Self, String> {
        if let Some(file) = url.strip_prefix("sqlite://") {
            if file.is_empty() {
                return Err("sqlite:// needs a file, as in sqlite://data/hopwatch.db".to_owned());
            }
            return Ok(Self::Sqlite(PathBuf::from(file)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return PgConnectOptions::from_str(url)
                .map(|_| Self::Postgres(url.to_owned()))
                .map_err(|err| format!("not a valid postgres:// URL: {}", without_secrets(err)));
        }
        Err("must start with postgres://, postgresql:// or sqlite://".to_owned())
    }
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "Sqlite({})", path.display()),
            Self::Postgres(url) => write!(f, "Postgres({})", server_of(url)),
        }
    }
}

/// `host:port` of a PostgreSQL URL, for messages: never the password.
pub fn server_of(url: &str) -> String {
    match PgConnectOptions::from_str(url) {
        Ok(options) => format!("{}:{}", options.get_host(), options.get_port()),
        Err(_) => "an unreadable postgres:// URL".to_owned(),
    }
}

/// sqlx's URL errors may quote the URL; only the kind of problem is kept.
pub fn without_secrets(err: sqlx::Error) -> String {
    match err {
        sqlx::Error::Configuration(inner) => {
            let text = inner.to_string();
            text.split(':').next().unwrap_or("bad URL").to_owned()
        }
        _ => "bad URL".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend_and_messages_never_carry_the_password() {
        assert_eq!(
            Location::parse("sqlite://data/x.db"),
            Ok(Location::Sqlite(PathBuf::from("data/x.db")))
        );
        let pg = Location::parse("postgres://hw:s3cret@db.example.com:6543/hw").expect("pg");
        assert_eq!(format!("{pg:?}"), "Postgres(db.example.com:6543)");
        assert!(Location::parse("mysql://x").is_err());
        assert!(Location::parse("sqlite://").is_err());
        assert_eq!(server_of("postgresql://u:pw@h/db"), "h:5432");
    }
}

//! Which engine is on the other end, read from the server itself.

use crate::DialectKind;

/// The engine a server says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// TiDB (MySQL protocol; `VERSION()` contains `-TiDB-`).
    Tidb,
    /// MariaDB (MySQL protocol; `VERSION()` contains `MariaDB`).
    MariaDb,
    /// Oracle MySQL (MySQL protocol, neither of the above).
    MySql,
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

impl Flavor {
    /// Detects the flavor of a MySQL-protocol server from its `SELECT VERSION()` text,
    /// e.g. `8.0.11-TiDB-v8.5.1` or `11.8.3-MariaDB-0+deb13u1`.
    pub fn from_mysql_version(version: &str) -> Flavor {
        if version.contains("TiDB") {
            Flavor::Tidb
        } else if version.contains("MariaDB") {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        }
    }

    /// The dialect p8fs speaks to this flavor, or `None` for MySQL, whose 8.x servers have
    /// no vector type.
    pub fn dialect(self) -> Option<DialectKind> {
        match self {
            Flavor::Tidb => Some(DialectKind::Tidb),
            Flavor::MariaDb => Some(DialectKind::MariaDb),
            Flavor::MySql => None,
            Flavor::Postgres => Some(DialectKind::Postgres),
            Flavor::Sqlite => Some(DialectKind::Sqlite),
        }
    }

    /// Lower-case name, as used in configuration and test output.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Tidb => "tidb",
            Flavor::MariaDb => "mariadb",
            Flavor::MySql => "mysql",
            Flavor::Postgres => "postgres",
            Flavor::Sqlite => "sqlite",
        }
    }
}

/// What a server says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// The engine.
    pub flavor: Flavor,
    /// The full version text the server reported.
    pub version_text: String,
    /// The engine's own version as (major, minor, patch): TiDB's `v8.5.1` for TiDB (not the
    /// MySQL version it emulates), MariaDB's for MariaDB, and so on.
    pub version: (u32, u32, u32),
}

impl ServerInfo {
    /// Builds the info for a flavor from the version text the server reported.
    pub fn parse(flavor: Flavor, version_text: &str) -> ServerInfo {
        let relevant = match flavor {
            // "8.0.11-TiDB-v8.5.1": the engine's version follows "-TiDB-v".
            Flavor::Tidb => version_text.split("TiDB-v").nth(1).unwrap_or(version_text),
            // "PostgreSQL 15.18 (Debian ...) on x86_64 ...".
            Flavor::Postgres => version_text.strip_prefix("PostgreSQL ").unwrap_or(version_text),
            _ => version_text,
        };
        ServerInfo { flavor, version_text: version_text.to_owned(), version: leading_version(relevant) }
    }

    /// Whether this server is at least `major.minor`.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.version.0, self.version.1) >= (major, minor)
    }
}

/// Reads `major.minor.patch` from the start of `s`; missing parts are 0.
fn leading_version(s: &str) -> (u32, u32, u32) {
    let mut parts =
        s.split(|c: char| !c.is_ascii_digit()).take_while(|p| !p.is_empty()).map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_mysql_protocol_flavors() {
        assert_eq!(Flavor::from_mysql_version("8.0.11-TiDB-v8.5.1"), Flavor::Tidb);
        assert_eq!(Flavor::from_mysql_version("11.8.3-MariaDB-0+deb13u1"), Flavor::MariaDb);
        assert_eq!(Flavor::from_mysql_version("8.4.3"), Flavor::MySql);
    }

    #[test]
    fn parses_engine_versions_not_emulated_ones() {
        let tidb = ServerInfo::parse(Flavor::Tidb, "8.0.11-TiDB-v8.5.1");
        assert_eq!(tidb.version, (8, 5, 1));
        assert!(tidb.at_least(8, 4));
        let maria = ServerInfo::parse(Flavor::MariaDb, "11.8.3-MariaDB-0+deb13u1 from Debian");
        assert_eq!(maria.version, (11, 8, 3));
        let pg = ServerInfo::parse(Flavor::Postgres, "PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64");
        assert_eq!(pg.version, (15, 18, 0));
        assert_eq!(ServerInfo::parse(Flavor::Sqlite, "3.50.2").version, (3, 50, 2));
        assert!(!ServerInfo::parse(Flavor::MariaDb, "10.11.6-MariaDB").at_least(11, 7));
    }
}

//! TiDB administration statements: TiFlash replicas, statistics, placement policies.
//! (Hash partitioning by tenant is a model option, see
//! [`crate::model::ModelBuilder::partition_by_tenant`].)
//!
//! DDL cannot bind values, so names and options are validated here and only then written
//! into the text: identifiers match `[a-z0-9_]`, region names `[a-z0-9-]`.

use crate::model::{Model, check_ident};
use crate::{Dialect, Error, Result, Statement, Tidb};

fn table(schema: Option<&str>, name: &str) -> String {
    match schema {
        Some(s) => format!("{}.{}", Tidb.quote_ident(s), Tidb.quote_ident(name)),
        None => Tidb.quote_ident(name),
    }
}

/// `ALTER TABLE t SET TIFLASH REPLICA n` (0 removes the replicas). Vector indexes need at
/// least one TiFlash replica.
///
/// # Errors
/// Invalid identifiers.
pub fn set_tiflash_replica(schema: Option<&str>, name: &str, replicas: u32) -> Result<Statement> {
    if let Some(s) = schema {
        check_ident("schema", s)?;
    }
    check_ident("table", name)?;
    Ok(Statement::raw(format!("ALTER TABLE {} SET TIFLASH REPLICA {replicas}", table(schema, name))))
}

/// The TiFlash replicas of a model's table and of its embeddings table.
///
/// # Errors
/// Invalid identifiers.
pub fn tiflash_replicas_for(
    model: &Model,
    schema: Option<&str>,
    embeddings_schema: Option<&str>,
    replicas: u32,
) -> Result<Vec<Statement>> {
    let mut out = vec![set_tiflash_replica(schema, model.name(), replicas)?];
    if model.embedding().is_some() {
        out.push(set_tiflash_replica(embeddings_schema, &model.embeddings_table(), replicas)?);
    }
    Ok(out)
}

/// The TiFlash replica of a table as TiDB reports it: one row (replica count, available,
/// progress 0..1) or none when the table has no replica.
pub fn tiflash_replica_status(schema: Option<&str>, name: &str) -> Statement {
    Statement {
        sql: "SELECT replica_count, available, progress FROM information_schema.tiflash_replica \
              WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ?"
            .into(),
        values: vec![sea_query::Value::String(schema.map(str::to_owned)), sea_query::Value::from(name)],
    }
}

/// `ANALYZE TABLE t`.
///
/// # Errors
/// Invalid identifiers.
pub fn analyze_table(schema: Option<&str>, name: &str) -> Result<Statement> {
    if let Some(s) = schema {
        check_ident("schema", s)?;
    }
    check_ident("table", name)?;
    Ok(Statement::raw(format!("ANALYZE TABLE {}", table(schema, name))))
}

/// A placement policy: where a table's replicas live (needs TiKV location labels; not
/// available on TiDB Cloud Starter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementPolicy {
    /// Policy name.
    pub name: String,
    /// Region of the leaders.
    pub primary_region: String,
    /// Every region that holds replicas (the primary included).
    pub regions: Vec<String>,
    /// Followers per Raft group.
    pub followers: Option<u32>,
}

fn check_region(r: &str) -> Result<()> {
    let ok =
        !r.is_empty() && r.len() <= 64 && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok { Ok(()) } else { Err(Error::invalid_input(format!("region {r:?} must be 1-64 characters of [a-z0-9-]"))) }
}

impl PlacementPolicy {
    fn validate(&self) -> Result<()> {
        check_ident("placement policy", &self.name)?;
        check_region(&self.primary_region)?;
        if self.regions.is_empty() {
            return Err(Error::invalid_input("a placement policy needs at least one region"));
        }
        for r in &self.regions {
            check_region(r)?;
        }
        if !self.regions.contains(&self.primary_region) {
            return Err(Error::invalid_input(format!(
                "the primary region {} must be one of the regions {:?}",
                self.primary_region, self.regions
            )));
        }
        Ok(())
    }

    /// `CREATE PLACEMENT POLICY IF NOT EXISTS p PRIMARY_REGION="..." REGIONS="..." [FOLLOWERS=n]`.
    ///
    /// # Errors
    /// Invalid names, regions, or a primary region outside the regions.
    pub fn create(&self) -> Result<Statement> {
        self.validate()?;
        let mut sql = format!(
            "CREATE PLACEMENT POLICY IF NOT EXISTS {} PRIMARY_REGION=\"{}\" REGIONS=\"{}\"",
            Tidb.quote_ident(&self.name),
            self.primary_region,
            self.regions.join(",")
        );
        if let Some(f) = self.followers {
            sql.push_str(&format!(" FOLLOWERS={f}"));
        }
        Ok(Statement::raw(sql))
    }

    /// `ALTER TABLE t PLACEMENT POLICY=p`.
    ///
    /// # Errors
    /// Invalid identifiers.
    pub fn apply_to(&self, schema: Option<&str>, name: &str) -> Result<Statement> {
        self.validate()?;
        if let Some(s) = schema {
            check_ident("schema", s)?;
        }
        check_ident("table", name)?;
        Ok(Statement::raw(format!(
            "ALTER TABLE {} PLACEMENT POLICY={}",
            table(schema, name),
            Tidb.quote_ident(&self.name)
        )))
    }
}

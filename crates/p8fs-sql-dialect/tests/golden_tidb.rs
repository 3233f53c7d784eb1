//! Golden SQL for TiDB: the exact text of every statement kind p8fs sends it. These pin the
//! text; the conformance suites run the same statements on a real tidb-server (over its
//! in-process store: no TiFlash, so replicas and vector indexes are refused there), the
//! administration ones in `tidb::partitions_statistics_tiflash_and_placement_run_on_the_server`.

use chrono::{TimeZone, Utc};
use p8fs_sql_dialect::entity::dml::{self, UpsertRow};
use p8fs_sql_dialect::entity::{EntityQuery, Layout, ddl};
use p8fs_sql_dialect::model::{FieldType, Model, resources};
use p8fs_sql_dialect::sea_query::Value;
use p8fs_sql_dialect::tidb_admin::{self, PlacementPolicy};
use p8fs_sql_dialect::{Dialect, ErrorKind, MariaDb, Tidb};
use serde_json::{Map, json};

fn obj(v: serde_json::Value) -> Map<String, serde_json::Value> {
    v.as_object().cloned().unwrap()
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

fn print_or_assert(got: &[String], want: &[&str]) {
    if std::env::var_os("P8FS_PRINT_GOLDEN").is_some() {
        for g in got {
            println!("{g}");
        }
    }
    assert_eq!(got, want);
}

#[test]
fn ddl_of_a_core_model() {
    let stmts: Vec<String> =
        ddl::create_model(&Tidb, &resources(), &Layout::default()).into_iter().map(|s| s.sql).collect();
    print_or_assert(
        &stmts,
        &[
            "CREATE DATABASE IF NOT EXISTS `embeddings`",
            "CREATE TABLE IF NOT EXISTS `p8fs_schema_versions` ( `model` varchar(128) NOT NULL PRIMARY KEY, `fingerprint` varchar(32) NOT NULL, `version` bigint NOT NULL, `applied_at` DATETIME(6) NOT NULL ) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_bin",
            "CREATE TABLE IF NOT EXISTS `resources` ( `id` varchar(64) NOT NULL, `tenant_id` varchar(255) NOT NULL, `name` varchar(255) NOT NULL, `category` LONGTEXT, `content` LONGTEXT, `summary` LONGTEXT, `ordinal` bigint, `uri` LONGTEXT, `metadata` json, `graph_paths` json, `resource_timestamp` DATETIME(6), `userid` LONGTEXT, `created_at` DATETIME(6) NOT NULL, `updated_at` DATETIME(6) NOT NULL, PRIMARY KEY (`tenant_id`, `id`), KEY `resources_tenant_idx` (`tenant_id`), UNIQUE KEY `resources_key_uq` (`tenant_id`, `name`) ) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_bin",
            "CREATE TABLE IF NOT EXISTS `embeddings`.`resources_embeddings` ( `id` varchar(36) NOT NULL PRIMARY KEY, `entity_id` varchar(64) NOT NULL, `field_name` varchar(128) NOT NULL, `embedding_provider` varchar(128) NOT NULL, `embedding_vector` VECTOR(384) NOT NULL, `vector_dimension` int NOT NULL, `tenant_id` varchar(255), `created_at` DATETIME(6) NOT NULL, `updated_at` DATETIME(6) NOT NULL, UNIQUE KEY `resources_embeddings_uq` (`tenant_id`, `entity_id`, `field_name`), KEY `resources_embeddings_entity_idx` (`entity_id`) ) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_bin",
        ],
    );
}

#[test]
fn partitioned_table_keeps_the_partition_column_in_every_unique_key() {
    let m =
        Model::builder("events").field("name", FieldType::Text).key("name").partition_by_tenant(16).build().unwrap();
    let stmts = ddl::create_entity_table(&Tidb, &m, &Layout::new(None, None).unwrap());
    print_or_assert(
        &[stmts[0].sql.clone()],
        &[
            "CREATE TABLE IF NOT EXISTS `events` ( `id` varchar(64) NOT NULL, `tenant_id` varchar(255) NOT NULL, `name` varchar(255) NOT NULL, `created_at` DATETIME(6) NOT NULL, `updated_at` DATETIME(6) NOT NULL, PRIMARY KEY (`tenant_id`, `id`), KEY `events_tenant_idx` (`tenant_id`), UNIQUE KEY `events_key_uq` (`tenant_id`, `name`) ) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_bin PARTITION BY KEY(`tenant_id`) PARTITIONS 16",
        ],
    );
}

#[test]
fn upsert_and_batch() {
    let m = resources();
    let a = obj(json!({"name": "Manual", "content": "text", "metadata": {"k": 1}}));
    let b = obj(json!({"name": "Guide", "content": "more", "metadata": {}}));
    let rows = [UpsertRow { id: "id-1".into(), fields: &a }, UpsertRow { id: "id-2".into(), fields: &b }];
    let s = dml::upsert(&Tidb, &m, &Layout::default(), "tenant-x", &rows, now()).unwrap();
    print_or_assert(
        std::slice::from_ref(&s.sql),
        &[
            "INSERT INTO `resources` (`id`, `tenant_id`, `name`, `content`, `metadata`, `created_at`, `updated_at`) VALUES (?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE `content` = IF(`tenant_id` <=> VALUES(`tenant_id`) AND `name` <=> VALUES(`name`), VALUES(`content`), `content`), `metadata` = IF(`tenant_id` <=> VALUES(`tenant_id`) AND `name` <=> VALUES(`name`), JSON_MERGE_PATCH(COALESCE(`resources`.`metadata`, ?), VALUES(`metadata`)), `metadata`), `updated_at` = IF(`tenant_id` <=> VALUES(`tenant_id`) AND `name` <=> VALUES(`name`), VALUES(`updated_at`), `updated_at`)",
        ],
    );
    assert_eq!(s.values.len(), 15, "14 row values and the '{{}}' of COALESCE, all bound");
    assert_eq!(s.values[1], Value::from("tenant-x"));
    assert_eq!(s.values[4], Value::from(r#"{"k":1}"#));
    // Every row of one statement names the same fields, whatever their order and the id.
    let c = obj(json!({"metadata": {}, "id": "x", "content": "c", "name": "Other"}));
    let d = obj(json!({"name": "Third", "content": "c"}));
    let e = obj(json!({"name": "Fourth", "content": "c", "bogus": 1, "metadata": {}}));
    let with = |x| [UpsertRow { id: "id-1".into(), fields: &a }, UpsertRow { id: "id-3".into(), fields: x }];
    assert!(dml::upsert(&Tidb, &m, &Layout::default(), "t", &with(&c), now()).is_ok());
    for bad in [&d, &e] {
        let err = dml::upsert(&Tidb, &m, &Layout::default(), "t", &with(bad), now()).unwrap_err();
        assert!(err.to_string().contains("must name the same fields"), "{err}");
    }
    // TiDB returns no rows from an upsert: the store reads the ids back instead.
    let e = dml::upsert_returning(&Tidb, &m, &Layout::default(), "tenant-x", &rows, now()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    // MariaDB's RETURNING follows the update clause; the values stay the same, in order.
    let r = dml::upsert_returning(&MariaDb, &m, &Layout::default(), "tenant-x", &rows, now()).unwrap();
    assert!(r.sql.ends_with("`updated_at`) RETURNING `id`, `name`, `tenant_id`"), "{}", r.sql);
    assert_eq!(r.values, dml::upsert(&MariaDb, &m, &Layout::default(), "tenant-x", &rows, now()).unwrap().values);
    // One row whose update changes only a row of its id as well as its tenant and key: the
    // count then tells whether this id is the stored one. The values are the plain upsert's.
    let g = dml::upsert_id_guarded(&Tidb, &m, &Layout::default(), "tenant-x", &rows[0], now()).unwrap();
    print_or_assert(
        std::slice::from_ref(&g.sql),
        &[
            "INSERT INTO `resources` (`id`, `tenant_id`, `name`, `content`, `metadata`, `created_at`, `updated_at`) VALUES (?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE `content` = IF(`tenant_id` <=> VALUES(`tenant_id`) AND `name` <=> VALUES(`name`) AND `id` <=> VALUES(`id`), VALUES(`content`), `content`), `metadata` = IF(`tenant_id` <=> VALUES(`tenant_id`) AND `name` <=> VALUES(`name`) AND `id` <=> VALUES(`id`), JSON_MERGE_PATCH(COALESCE(`resources`.`metadata`, ?), VALUES(`metadata`)), `metadata`), `updated_at` = IF(`tenant_id` <=> VALUES(`tenant_id`) AND `name` <=> VALUES(`name`) AND `id` <=> VALUES(`id`), VALUES(`updated_at`), `updated_at`)",
        ],
    );
    let one = dml::upsert(&Tidb, &m, &Layout::default(), "tenant-x", &rows[..1], now()).unwrap();
    assert_eq!(g.values, one.values);
    // One row only, a keyed model only, the MySQL family only.
    let e = dml::upsert_id_guarded(&Tidb, &m, &Layout::default(), "tenant-x", &rows[1], now());
    assert!(e.is_ok());
    let e = dml::upsert_id_guarded(&p8fs_sql_dialect::Postgres, &m, &Layout::default(), "t", &rows[0], now());
    assert_eq!(e.unwrap_err().kind(), ErrorKind::Unsupported);
    let unkeyed = Model::builder("notes").field("body", FieldType::Text).build().unwrap();
    let body = obj(json!({"body": "x"}));
    let row = UpsertRow { id: "n-1".into(), fields: &body };
    let e = dml::upsert_id_guarded(&Tidb, &unkeyed, &Layout::default(), "t", &row, now()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}

#[test]
fn select_with_filters_get_and_delete() {
    let m = resources();
    let q = EntityQuery::parse(
        &m,
        &obj(json!({"category": "docs", "ordinal__gte": 2, "name__ilike": "%man%", "metadata__contains": {"k": 1}, "uri": null})),
        &["-ordinal".into()],
        Some(10),
        Some(20),
    )
    .unwrap();
    let s = dml::select(&Tidb, &m, &Layout::default(), "t", &q).unwrap();
    let cols = "`id`, `tenant_id`, `created_at`, `updated_at`, `name`, `category`, `content`, `summary`, `ordinal`, `uri`, `metadata`, `graph_paths`, `resource_timestamp`, `userid`";
    print_or_assert(
        std::slice::from_ref(&s.sql),
        &[&format!(
            "SELECT {cols} FROM `resources` WHERE `tenant_id` = ? AND (`category` = ? AND JSON_CONTAINS(`metadata`, ?) AND LOWER(`name`) LIKE ? AND `ordinal` >= ? AND `uri` IS NULL) ORDER BY `ordinal` DESC LIMIT 10 OFFSET 20"
        )],
    );
    assert_eq!(s.values.len(), 5, "LIMIT and OFFSET are literals, the rest bound");
    let g = dml::get_by_id(&Tidb, &m, &Layout::default(), "t", "id-1");
    assert_eq!(g.sql, format!("SELECT {cols} FROM `resources` WHERE `tenant_id` = ? AND `id` = ?"));
    let d: Vec<String> =
        dml::delete_by_id(&Tidb, &m, &Layout::default(), "t", "id-1").into_iter().map(|s| s.sql).collect();
    print_or_assert(
        &d,
        &[
            "DELETE FROM `embeddings`.`resources_embeddings` WHERE `tenant_id` = ? AND `entity_id` = ?",
            "DELETE FROM `resources` WHERE `tenant_id` = ? AND `id` = ?",
        ],
    );
}

#[test]
fn embeddings_upsert() {
    let m =
        Model::builder("docs").field("name", FieldType::Text).embedded("content", "p", 3).key("name").build().unwrap();
    let s = dml::upsert_embeddings(
        &Tidb,
        &m,
        &Layout::default(),
        "t",
        "e1",
        None,
        &[("content", &[0.5, -0.25, 1.0])],
        now(),
    )
    .unwrap();
    print_or_assert(
        std::slice::from_ref(&s.sql),
        &[
            "INSERT INTO `embeddings`.`docs_embeddings` (`id`, `entity_id`, `field_name`, `embedding_provider`, `embedding_vector`, `vector_dimension`, `tenant_id`, `created_at`, `updated_at`) VALUES (?, ?, ?, ?, VEC_FROM_TEXT(?), ?, ?, ?, ?) ON DUPLICATE KEY UPDATE `embedding_provider` = IF(`tenant_id` <=> VALUES(`tenant_id`) AND `entity_id` <=> VALUES(`entity_id`) AND `field_name` <=> VALUES(`field_name`), VALUES(`embedding_provider`), `embedding_provider`), `embedding_vector` = IF(`tenant_id` <=> VALUES(`tenant_id`) AND `entity_id` <=> VALUES(`entity_id`) AND `field_name` <=> VALUES(`field_name`), VALUES(`embedding_vector`), `embedding_vector`), `vector_dimension` = IF(`tenant_id` <=> VALUES(`tenant_id`) AND `entity_id` <=> VALUES(`entity_id`) AND `field_name` <=> VALUES(`field_name`), VALUES(`vector_dimension`), `vector_dimension`), `updated_at` = IF(`tenant_id` <=> VALUES(`tenant_id`) AND `entity_id` <=> VALUES(`entity_id`) AND `field_name` <=> VALUES(`field_name`), VALUES(`updated_at`), `updated_at`)",
        ],
    );
    assert_eq!(s.values[4], Value::from("[0.5,-0.25,1]"));
    // The row id is UUIDv5 of "{tenant}/{field}/{entity_id}" in the DNS namespace:
    // injective, unlike the replaced system's "{entity_id}-{field}-{tenant}", under which
    // tenant "x" with entity "e1-content" and tenant "content-x" with entity "e1" collide.
    let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, b"t/content/e1").to_string();
    assert_eq!(s.values[0], Value::from(id));
    let a = dml::embedding_row_id("x", "content", "e1-content");
    let b = dml::embedding_row_id("content-x", "content", "e1");
    assert_ne!(a, b, "two tenants share an embedding row id");
}

#[test]
fn administration() {
    let m = resources();
    let got: Vec<String> = [
        tidb_admin::tiflash_replicas_for(&m, None, Some("embeddings"), 1).unwrap(),
        vec![tidb_admin::analyze_table(None, "resources").unwrap()],
    ]
    .concat()
    .into_iter()
    .map(|s| s.sql)
    .collect();
    let policy = PlacementPolicy {
        name: "p8fs_east".into(),
        primary_region: "us-east-1".into(),
        regions: vec!["us-east-1".into(), "us-west-1".into()],
        followers: Some(2),
    };
    let mut all = got;
    all.push(policy.create().unwrap().sql);
    all.push(policy.apply_to(None, "resources").unwrap().sql);
    print_or_assert(
        &all,
        &[
            "ALTER TABLE `resources` SET TIFLASH REPLICA 1",
            "ALTER TABLE `embeddings`.`resources_embeddings` SET TIFLASH REPLICA 1",
            "ANALYZE TABLE `resources`",
            "CREATE PLACEMENT POLICY IF NOT EXISTS `p8fs_east` PRIMARY_REGION=\"us-east-1\" REGIONS=\"us-east-1,us-west-1\" FOLLOWERS=2",
            "ALTER TABLE `resources` PLACEMENT POLICY=`p8fs_east`",
        ],
    );
    let bad = PlacementPolicy {
        name: "x".into(),
        primary_region: "eu\"; DROP".into(),
        regions: vec!["eu".into()],
        followers: None,
    };
    assert!(bad.create().is_err());
    let off =
        PlacementPolicy { name: "x".into(), primary_region: "a".into(), regions: vec!["b".into()], followers: None };
    assert!(off.create().is_err(), "primary region outside the regions");
    assert!(tidb_admin::analyze_table(None, "x; drop").is_err());
    let _ = Tidb.quote_ident("x");
}

#[test]
fn vector_search_and_index() {
    use p8fs_sql_dialect::entity::knn::knn;
    use p8fs_sql_dialect::entity::{SearchMode, SearchOptions};
    use p8fs_sql_dialect::{Metric, VectorIndexParams};
    let m =
        Model::builder("docs").field("name", FieldType::Text).embedded("content", "p", 3).key("name").build().unwrap();
    let l = Layout::default();
    let exact = SearchOptions { limit: 5, ..Default::default() };
    let approx =
        SearchOptions { limit: 5, mode: SearchMode::Approximate, fields: vec!["content".into()], ..Default::default() };
    let q = [0.5f32, -0.25, 1.0];
    let e = knn(&Tidb, &m, &l, "t", &q, &exact, 5).unwrap().unwrap();
    let a = knn(&Tidb, &m, &l, "t", &q, &approx, 40).unwrap().unwrap();
    let l2 = knn(&Tidb, &m, &l, "t", &q, &SearchOptions { metric: Metric::L2, ..exact.clone() }, 5).unwrap().unwrap();
    let ip = knn(&Tidb, &m, &l, "t", &q, &SearchOptions { metric: Metric::InnerProduct, ..exact.clone() }, 5)
        .unwrap()
        .unwrap();
    let mut all = vec![e.sql, a.sql, l2.sql, ip.sql];
    all.extend(
        Tidb.create_vector_index(
            l.embeddings_schema(&Tidb),
            &m.embeddings_table(),
            Metric::Cosine,
            &VectorIndexParams::default(),
        )
        .unwrap()
        .into_iter()
        .map(|s| s.sql),
    );
    all.push(Tidb.drop_vector_index(l.embeddings_schema(&Tidb), &m.embeddings_table(), Metric::Cosine).unwrap().sql);
    print_or_assert(
        &all,
        &[
            "SELECT `entity_id`, `field_name`, VEC_COSINE_DISTANCE(`embedding_vector`, VEC_FROM_TEXT(?)) + (0) AS `distance` FROM `embeddings`.`docs_embeddings` WHERE `tenant_id` = ? ORDER BY `distance` ASC, `entity_id` ASC LIMIT ?",
            "SELECT `entity_id`, `field_name`, `distance` FROM (SELECT `entity_id`, `field_name`, `tenant_id`, VEC_COSINE_DISTANCE(`embedding_vector`, VEC_FROM_TEXT(?)) AS `distance` FROM `embeddings`.`docs_embeddings` ORDER BY VEC_COSINE_DISTANCE(`embedding_vector`, VEC_FROM_TEXT(?)) ASC LIMIT ?) AS `knn` WHERE `tenant_id` = ? AND `field_name` IN (?) ORDER BY `distance` ASC LIMIT ?",
            "SELECT `entity_id`, `field_name`, VEC_L2_DISTANCE(`embedding_vector`, VEC_FROM_TEXT(?)) + (0) AS `distance` FROM `embeddings`.`docs_embeddings` WHERE `tenant_id` = ? ORDER BY `distance` ASC, `entity_id` ASC LIMIT ?",
            "SELECT `entity_id`, `field_name`, VEC_NEGATIVE_INNER_PRODUCT(`embedding_vector`, VEC_FROM_TEXT(?)) + (0) AS `distance` FROM `embeddings`.`docs_embeddings` WHERE `tenant_id` = ? ORDER BY `distance` ASC, `entity_id` ASC LIMIT ?",
            "ALTER TABLE `embeddings`.`docs_embeddings` SET TIFLASH REPLICA 1",
            "CREATE VECTOR INDEX IF NOT EXISTS `docs_embeddings_vec_cosine` ON `embeddings`.`docs_embeddings` ((VEC_COSINE_DISTANCE(`embedding_vector`))) USING HNSW",
            "DROP INDEX IF EXISTS `docs_embeddings_vec_cosine` ON `embeddings`.`docs_embeddings`",
        ],
    );
    assert!(Tidb.create_vector_index(None, "x", Metric::InnerProduct, &VectorIndexParams::default()).is_err());
    // Names that are not identifiers never reach the text of a statement.
    for (schema, table) in [(None, "x` ON y; DROP TABLE z; --"), (Some("a`b"), "x"), (None, "X"), (Some(""), "x")] {
        assert!(Tidb.create_vector_index(schema, table, Metric::Cosine, &VectorIndexParams::default()).is_err());
        assert!(Tidb.drop_vector_index(schema, table, Metric::Cosine).is_err());
    }
}

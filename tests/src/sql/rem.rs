//! REM queries and graph edges on every SQL provider: the tenant-aware LOOKUP scenario of
//! the system p8fs replaces, FUZZY, SELECT refusing injection and tenant escapes,
//! TRAVERSE over a seeded graph, and edges merged by (destination, relation type) without
//! losing concurrent changes.

use anyhow::{Context, Result, ensure};
use p8fs_core::{Edge, ErrorKind, P8fs, RemAnswer};
use serde_json::{Value, json};

use super::core_api::{obj, with_core};
use crate::harness::Ctx;

fn ids(a: &RemAnswer) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = a.results.iter().map(|h| (h.table.clone(), h.id.clone())).collect();
    v.sort();
    v
}

async fn refused(p: &P8fs, q: &str, tenant: &str, names: &str) -> Result<()> {
    match p.rem(q, tenant).await {
        Ok(a) => anyhow::bail!("{q:?} was accepted: {:?}", a.results),
        Err(e) => {
            ensure!(e.kind() == ErrorKind::InvalidInput, "{q:?}: {e} is not bad input");
            ensure!(
                e.to_string().to_lowercase().contains(&names.to_lowercase()),
                "{q:?}: the error {e:?} does not name {names:?}"
            );
            Ok(())
        }
    }
}

pub(crate) async fn rem_lookup_is_tenant_scoped(ctx: Ctx) -> Result<()> {
    let (a, b) = (format!("{}a", ctx.scratch), format!("{}b", ctx.scratch));
    with_core(&ctx, async |p| {
        let mut mine = Vec::new();
        let mut theirs = Vec::new();
        for (t, out) in [(&a, &mut mine), (&b, &mut theirs)] {
            for ty in ["resources", "moments"] {
                let s = p
                    .store_entity_with_reverse_mapping("my-project-alpha", ty, obj(json!({"content": "alpha"})), t)
                    .await?;
                out.push((ty.to_owned(), s.id));
            }
            out.sort();
        }
        let got = p.rem("LOOKUP my-project-alpha", &a).await?;
        ensure!(got.kind == "lookup" && ids(&got) == mine, "A's LOOKUP: {:?} want {mine:?}", ids(&got));
        for q in ["lookup \"my-project-alpha\"", "GET 'my-project-alpha'", "LOOKUP `my-project-alpha`, nothing-here"] {
            ensure!(ids(&p.rem(q, &a).await?) == mine, "{q}");
        }
        let one = p.rem("LOOKUP resources:my-project-alpha", &a).await?;
        ensure!(ids(&one) == mine[1..] && one.results[0].table == "resources", "table narrows: {:?}", ids(&one));
        let b_sees = p.rem("LOOKUP my-project-alpha", &b).await?;
        ensure!(ids(&b_sees) == theirs, "B's LOOKUP: {:?}", ids(&b_sees));
        ensure!(b_sees.results.iter().all(|h| !mine.iter().any(|(_, id)| *id == h.id)), "B saw A's ids");
        // An entity stored without a mapping is still found by its name (a key index read).
        p.upsert("resources", &a, &[obj(json!({"name": "unmapped one"}))]).await?;
        ensure!(p.rem("LOOKUP unmapped one", &a).await?.results.len() == 1, "unmapped name not found");
        ensure!(p.rem("LOOKUP unmapped one", &b).await?.results.is_empty(), "B found A's unmapped entity");
        refused(p, "LOOKUP nosuchtable:x", &a, "nosuchtable").await?;
        refused(p, "LOOKUP ", &a, "").await?;
        let bad_tenant = p.rem("LOOKUP x", "../b").await.err().context("a tenant with .. accepted")?;
        ensure!(bad_tenant.kind() == ErrorKind::InvalidInput, "{bad_tenant}");
        Ok(())
    })
    .await
}

pub(crate) async fn rem_fuzzy_and_search_rank_within_the_tenant(ctx: Ctx) -> Result<()> {
    let (a, b) = (format!("{}a", ctx.scratch), format!("{}b", ctx.scratch));
    with_core(&ctx, async |p| {
        for (name, content) in [
            ("project-alpha-notes", "notes about the alpha release"),
            ("project-beta-plan", "plan for the beta"),
            ("gardening tips", "how to grow tomatoes"),
        ] {
            p.store_entity_with_reverse_mapping(name, "resources", obj(json!({"content": content})), &a).await?;
        }
        p.store_entity_with_reverse_mapping("project-alpha-secret", "resources", obj(json!({})), &b).await?;
        let f = p.rem("FUZZY projekt alpha", &a).await?;
        let names: Vec<&str> = f.results.iter().filter_map(|h| h.name.as_deref()).collect();
        ensure!(names.first() == Some(&"project-alpha-notes"), "FUZZY ranking: {names:?}");
        ensure!(!names.contains(&"project-alpha-secret"), "FUZZY crossed tenants: {names:?}");
        ensure!(!names.contains(&"gardening tips"), "FUZZY matched an unrelated name: {names:?}");
        let scores: Vec<f64> = f.results.iter().filter_map(|h| h.score).collect();
        ensure!(scores.windows(2).all(|w| w[0] >= w[1]) && scores.len() == f.results.len(), "{scores:?}");
        let one = p.rem("FUZZY alpha IN resources LIMIT 1", &a).await?;
        ensure!(one.results.len() == 1, "LIMIT 1: {}", one.results.len());
        // Wildcards and quotes are literal.
        ensure!(p.rem("FUZZY \"%' OR 1=1 --\"", &a).await?.results.is_empty(), "a LIKE wildcard matched");
        // SEARCH, explicit and implicit, in one table, with LIMIT.
        let s = p.rem("SEARCH \"how to grow tomatoes\" IN resources LIMIT 2", &a).await?;
        ensure!(s.kind == "search" && s.results.len() <= 2, "{:?}", s.results);
        ensure!(s.results.first().and_then(|h| h.name.as_deref()) == Some("gardening tips"), "{:?}", ids(&s));
        let implicit = p.rem("how to grow tomatoes", &a).await?;
        ensure!(implicit.kind == "search", "implicit search: {}", implicit.kind);
        ensure!(implicit.results.iter().all(|h| h.name.as_deref() != Some("project-alpha-secret")), "crossed");
        // A threshold above every score leaves nothing.
        let opts = p8fs_core::rem::RemOptions { threshold: Some(1.01), ..Default::default() };
        ensure!(p.rem_with("SEARCH tomatoes", &a, &opts).await?.results.is_empty(), "threshold ignored");
        Ok(())
    })
    .await
}

pub(crate) async fn rem_select_is_parsed_never_passed_through(ctx: Ctx) -> Result<()> {
    let (a, b) = (format!("{}a", ctx.scratch), format!("{}b", ctx.scratch));
    with_core(&ctx, async |p| {
        for (i, cat) in ["docs", "docs", "notes"].iter().enumerate() {
            p.store_entity_with_reverse_mapping(
                &format!("r{i}"),
                "resources",
                obj(json!({"category": cat, "ordinal": i})),
                &a,
            )
            .await?;
        }
        p.store_entity_with_reverse_mapping("rb", "resources", obj(json!({"category": "docs"})), &b).await?;
        let s = p.rem("select name, ordinal from resources where category = 'docs' order by ordinal desc", &a).await?;
        let names: Vec<&str> = s.results.iter().filter_map(|h| h.name.as_deref()).collect();
        ensure!(names == ["r1", "r0"], "SELECT: {names:?}");
        ensure!(
            s.results.iter().all(|h| h.entity.keys().all(|k| k == "name" || k == "ordinal")),
            "projection: {:?}",
            s.results[0].entity
        );
        let gt =
            p.rem("SELECT * FROM resources WHERE ordinal >= 1 AND category IN ('docs','notes') LIMIT 5", &a).await?;
        ensure!(gt.results.len() == 2, "{:?}", ids(&gt));
        // Injection and tenant escapes are refused, naming the part.
        refused(p, "SELECT * FROM resources WHERE category = 'docs' OR 1=1", &a, "OR").await?;
        refused(p, "SELECT * FROM resources; DROP TABLE resources", &a, "").await?;
        refused(p, "SELECT * FROM resources UNION SELECT * FROM moments", &a, "UNION").await?;
        refused(p, "SELECT * FROM resources WHERE tenant_id = 'x'", &a, "tenant_id").await?;
        refused(p, &format!("SELECT * FROM resources WHERE tenant_id = '{b}'"), &a, "tenant_id").await?;
        refused(p, "SELECT password FROM resources", &a, "password").await?;
        refused(p, "SELECT * FROM pg_catalog.pg_tables", &a, "").await?;
        refused(p, "SELECT * FROM nosuch", &a, "nosuch").await?;
        refused(p, "SELECT * FROM resources WHERE (SELECT 1) = 1", &a, "").await?;
        // The value is bound: a quote in it is data.
        let lit = p.rem("SELECT * FROM resources WHERE name = 'x'' OR ''1''=''1'", &a).await?;
        ensure!(lit.results.is_empty(), "a quoted value matched rows: {:?}", ids(&lit));
        ensure!(p.rem("SELECT * FROM resources WHERE name = 'rb'", &a).await?.results.is_empty(), "B's row from A");
        ensure!(p.rem("SELECT * FROM resources", &b).await?.results.len() == 1, "B's SELECT");
        Ok(())
    })
    .await
}

pub(crate) async fn rem_traverse_walks_the_seeded_graph(ctx: Ctx) -> Result<()> {
    let (a, b) = (format!("{}a", ctx.scratch), format!("{}b", ctx.scratch));
    with_core(&ctx, async |p| {
        // root -cites-> n1 -cites-> n2 -cites-> n3; root -authored_by-> alice (a moment);
        // n1 -cites-> root (a cycle); root -cites-> ghost (no such entity); B has n1 too.
        let edge = |dst: &str, rel: &str| json!({"dst": dst, "rel_type": rel});
        let put = |name: &'static str, ty: &'static str, edges: Value, t: String| async move {
            p.store_entity_with_reverse_mapping(name, ty, obj(json!({"graph_paths": edges})), &t).await
        };
        put(
            "root",
            "resources",
            json!([edge("n1", "cites"), edge("alice", "authored_by"), edge("ghost", "cites")]),
            a.clone(),
        )
        .await?;
        put("n1", "resources", json!([edge("n2", "cites"), edge("root", "cites")]), a.clone()).await?;
        put("n2", "resources", json!([edge("n3", "cites")]), a.clone()).await?;
        put("n3", "resources", json!([]), a.clone()).await?;
        put("alice", "moments", json!([]), a.clone()).await?;
        put("n1", "resources", json!([edge("b-only", "cites")]), b.clone()).await?;
        put("b-only", "resources", json!([]), b.clone()).await?;
        let t = p.rem("TRAVERSE WITH LOOKUP root DEPTH 2", &a).await?;
        let at = |d: u32| {
            let mut v: Vec<String> =
                t.results.iter().filter(|h| h.depth == Some(d)).filter_map(|h| h.name.clone()).collect();
            v.sort();
            v
        };
        ensure!(
            at(0) == ["root"] && at(1) == ["alice", "n1"] && at(2) == ["n2"],
            "{:?} {:?} {:?}",
            at(0),
            at(1),
            at(2)
        );
        let n2 = t.results.iter().find(|h| h.name.as_deref() == Some("n2")).context("n2")?;
        ensure!(n2.path == ["root", "n1", "n2"], "path {:?}", n2.path);
        ensure!(t.results.iter().all(|h| h.name.as_deref() != Some("b-only")), "crossed tenants");
        let tr = t.traversal.as_ref().context("no traversal")?;
        ensure!(tr.stages.len() == 3 && tr.stages[0].nodes == 1 && tr.stages[1].nodes == 2, "{:?}", tr.stages);
        ensure!(
            tr.summary.unresolved == 1 && tr.summary.by_rel_type.get("authored_by") == Some(&1),
            "{:?}",
            tr.summary
        );
        // Edge-type filter, LIMIT, DEPTH 0 and PLAN.
        let cites = p.rem("TRAVERSE cites WITH LOOKUP root DEPTH 3", &a).await?;
        let names: Vec<&str> = cites.results.iter().filter_map(|h| h.name.as_deref()).collect();
        ensure!(!names.contains(&"alice") && names.contains(&"n3"), "{names:?}");
        let limited = p.rem("TRAVERSE WITH LOOKUP root DEPTH 3 LIMIT 2", &a).await?;
        ensure!(limited.results.len() == 2 && limited.traversal.as_ref().is_some_and(|t| t.truncated), "limit");
        for q in ["TRAVERSE WITH LOOKUP root DEPTH 0", "TRAVERSE WITH LOOKUP root PLAN"] {
            let plan = p.rem(q, &a).await?;
            let tr = plan.traversal.as_ref().context("plan")?;
            ensure!(tr.plan_only && plan.results.len() == 1, "{q}: {:?}", ids(&plan));
            ensure!(tr.edges.len() == 3 && tr.edges.iter().all(|e| !e.followed), "{q}: {:?}", tr.edges);
        }
        // From B, A's graph is not there.
        let from_b = p.rem("TRAVERSE WITH LOOKUP root", &b).await?;
        ensure!(from_b.results.is_empty(), "B traversed A's root: {:?}", ids(&from_b));
        Ok(())
    })
    .await
}

pub(crate) async fn edges_merge_by_destination_and_type(ctx: Ctx) -> Result<()> {
    let (a, b) = (format!("{}a", ctx.scratch), format!("{}b", ctx.scratch));
    with_core(&ctx, async |p| {
        let s = p
            .store_entity_with_reverse_mapping(
                "src",
                "resources",
                obj(json!({"graph_paths": [{"dst": "x", "rel_type": "cites", "weight": 0.5}]})),
                &a,
            )
            .await?;
        // An upsert that carries edges merges them: same (dst, rel_type) replaced, others added.
        p.store_entity_with_reverse_mapping(
            "src",
            "resources",
            obj(json!({"graph_paths": [{"dst": "x", "rel_type": "cites", "weight": 2.0}, {"dst": "y", "rel_type": "cites"}]})),
            &a,
        )
        .await?;
        let e = p.edges("resources", &s.id, &a).await?;
        ensure!(e.len() == 2 && e[0].dst == "x" && e[0].weight == 2.0 && e[1].dst == "y", "{e:?}");
        ensure!(e.iter().all(|x| x.created_at.is_some()), "created_at missing: {e:?}");
        // An upsert without edges leaves them.
        p.store_entity_with_reverse_mapping("src", "resources", obj(json!({"summary": "s"})), &a).await?;
        ensure!(p.edges("resources", &s.id, &a).await?.len() == 2, "an upsert without edges dropped them");
        let c = p.add_edges("resources", &s.id, &[Edge::new("x", "mentions"), Edge::new("y", "cites")], &a).await?;
        ensure!(c.added == 1 && c.updated == 1 && c.edges.len() == 3, "{c:?}");
        let r = p.remove_edges("resources", &s.id, "x", Some("cites"), &a).await?;
        ensure!(r.removed == 1 && r.edges.len() == 2, "{r:?}");
        let r = p.remove_edges("resources", &s.id, "x", None, &a).await?;
        ensure!(r.removed == 1 && r.edges.len() == 1 && r.edges[0].dst == "y", "{r:?}");
        // Bad edges are refused and change nothing.
        for bad in [Edge::new("", "cites"), Edge::new("x ", "cites"), Edge::new("x", "bad type"), {
            let mut e = Edge::new("x", "cites");
            e.weight = f64::NAN;
            e
        }] {
            let err = p.add_edges("resources", &s.id, std::slice::from_ref(&bad), &a).await.err().context(format!("{bad:?}"))?;
            ensure!(err.kind() == ErrorKind::InvalidInput, "{err}");
        }
        let not_edges = p
            .store_entity_with_reverse_mapping("src", "resources", obj(json!({"graph_paths": ["a/b/c"]})), &a)
            .await
            .err()
            .context("a non-edge list element accepted")?;
        ensure!(not_edges.kind() == ErrorKind::InvalidInput, "{not_edges}");
        ensure!(p.edges("resources", &s.id, &a).await?.len() == 1, "a refused change changed edges");
        // Tenant B can neither read nor change A's edges by id.
        for r in [
            p.edges("resources", &s.id, &b).await.err(),
            p.add_edges("resources", &s.id, &[Edge::new("z", "cites")], &b).await.err(),
            p.remove_edges("resources", &s.id, "y", None, &b).await.err(),
        ] {
            ensure!(r.context("B reached A's edges")?.kind() == ErrorKind::NotFound, "not NotFound");
        }
        ensure!(p.edges("resources", &s.id, &a).await?.len() == 1, "B changed A's edges");
        // Concurrent adds of different edges: none lost.
        let adds = (0..8).map(|i| {
            let (id, t) = (s.id.clone(), a.clone());
            async move { p.add_edges("resources", &id, &[Edge::new(format!("c{i}"), "cites")], &t).await }
        });
        for r in futures::future::join_all(adds).await {
            r?;
        }
        let all = p.edges("resources", &s.id, &a).await?;
        ensure!(all.len() == 9, "concurrent adds lost edges: {} of 9", all.len());
        Ok(())
    })
    .await
}

/// Queries generated from REM and SQL fragments (types, operators and values mixed up on
/// purpose), run on the engine: each answers or is refused as bad input; none reaches the
/// engine as an error of another kind (a value of the wrong type for a column, a timestamp
/// that is not one, a LIKE on a number) and none panics.
pub(crate) async fn rem_generated_queries_answer_or_are_refused(ctx: Ctx) -> Result<()> {
    let t = ctx.scratch.clone();
    with_core(&ctx, async |p| {
        p.store_entity_with_reverse_mapping(
            "seed",
            "resources",
            obj(json!({"ordinal": 3, "category": "c", "metadata": {"k": 1}, "graph_paths": [{"dst": "seed", "rel_type": "self"}]})),
            &t,
        )
        .await?;
        let columns = ["name", "ordinal", "metadata", "graph_paths", "created_at", "id", "resource_timestamp", "bogus"];
        let ops = ["=", ">", "<=", "LIKE", "ILIKE", "IN", "IS NULL", "!="];
        let values = ["'x'", "1", "-2.5", "true", "NULL", "'2024-01-01'", "'not a time'", "''", "'%'", "'\\'"];
        let mut queries = Vec::new();
        for (i, c) in columns.iter().enumerate() {
            for (j, o) in ops.iter().enumerate() {
                let v = values[(i * 3 + j) % values.len()];
                let cond = match *o {
                    "IN" => format!("{c} IN ({v}, {v})"),
                    "IS NULL" => format!("{c} IS NULL"),
                    _ => format!("{c} {o} {v}"),
                };
                queries.push(format!("SELECT * FROM resources WHERE {cond} ORDER BY {c} DESC LIMIT 5"));
            }
        }
        for v in values {
            for kind in ["LOOKUP", "GET", "SEARCH", "FUZZY"] {
                queries.push(format!("{kind} {v}"));
                queries.push(format!("{kind} {v} IN resources LIMIT 2"));
            }
            queries.push(format!("TRAVERSE self WITH LOOKUP {v} DEPTH 3"));
            queries.push(format!("TRAVERSE WITH SEARCH {v} LIMIT 0"));
        }
        queries.push("TRAVERSE self WITH LOOKUP seed DEPTH 10".into());
        queries.push(format!("LOOKUP {}", vec!["seed"; 50].join(", ")));
        queries.push("SELECT".into());
        let mut answered = 0;
        for q in &queries {
            match p.rem(q, &t).await {
                Ok(_) => answered += 1,
                Err(e) => ensure!(e.kind() == ErrorKind::InvalidInput, "{q:?}: {e} ({:?})", e.kind()),
            }
        }
        let refused = queries.len() - answered;
        ensure!(
            answered > queries.len() / 4 && refused > queries.len() / 4,
            "{answered} answered and {refused} refused of {}: the mix no longer probes both",
            queries.len()
        );
        Ok(())
    })
    .await
}

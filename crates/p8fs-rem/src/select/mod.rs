//! `SELECT`: parsed by `sqlparser`, then read into a [`SelectQuery`] or refused.
//!
//! Refusal is the default: every field of the parsed query and of its `SELECT` is named
//! below (no `..` in the patterns), so a clause the parser learns in a later version is a
//! compile error here, never a clause silently dropped. The SQL text itself goes nowhere.

mod filter;

use sqlparser::ast::Expr;
use sqlparser::ast::{
    GroupByExpr, Ident, LimitClause, ObjectNamePart, OrderBy, OrderByExpr, OrderByKind, OrderByOptions, OrderBySort,
    Query, Select, SelectFlavor, SelectItem, SetExpr, Statement, TableFactor, TableWithJoins, Value,
    WildcardAdditionalOptions,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use crate::ast::{RemQuery, SelectQuery};
use crate::error::{ParseError, Result, bail, shown};
use crate::lexer::{ident, number};
use crate::{MAX_LIMIT, SQL_RECURSION_LIMIT};

/// A whole `SELECT` statement.
///
/// The generic dialect: strings in single quotes; identifiers plain or quoted with `"`
/// or a backtick (the quotes are removed, then the name is checked like any other).
pub(crate) fn parse(sql: &str) -> Result<RemQuery> {
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| ParseError::new(format!("the SELECT does not parse: {e}")))?;
    // Comments have no use in a one-line query and are the classic way to hide the rest
    // of one: refused rather than skipped.
    if tokens
        .iter()
        .any(|t| matches!(t, Token::Whitespace(Whitespace::SingleLineComment { .. } | Whitespace::MultiLineComment(_))))
    {
        bail!("comments (-- or /* */) are not allowed in SELECT");
    }
    let statements = Parser::new(&dialect)
        .with_recursion_limit(SQL_RECURSION_LIMIT)
        .with_tokens(tokens)
        .parse_statements()
        .map_err(|e| match e {
            ParserError::RecursionLimitExceeded => {
                ParseError::new(format!("the SELECT is nested too deeply (more than {SQL_RECURSION_LIMIT} levels)"))
            }
            ParserError::TokenizerError(m) | ParserError::ParserError(m) => {
                ParseError::new(format!("the SELECT does not parse: {m}"))
            }
        })?;
    match statements.as_slice() {
        [Statement::Query(q)] => Ok(RemQuery::Select(query(q)?)),
        [_] => bail!("only SELECT is allowed"),
        [] => bail!("the query is empty"),
        more => bail!("only one statement is allowed, got {} separated by ;", more.len()),
    }
}

fn query(q: &Query) -> Result<SelectQuery> {
    let Query { with, body, order_by, limit_clause, fetch, locks, for_clause, settings, format_clause, pipe_operators } =
        q;
    if with.is_some() {
        bail!("WITH (a common table expression) is not allowed");
    }
    if fetch.is_some() {
        bail!("FETCH is not allowed: use LIMIT");
    }
    if !locks.is_empty() {
        bail!("FOR UPDATE / FOR SHARE is not allowed");
    }
    if for_clause.is_some() {
        bail!("FOR XML/JSON/BROWSE is not allowed");
    }
    if settings.is_some() {
        bail!("SETTINGS is not allowed");
    }
    if format_clause.is_some() {
        bail!("FORMAT is not allowed");
    }
    if !pipe_operators.is_empty() {
        bail!("pipe operators (|>) are not allowed");
    }
    let select = match body.as_ref() {
        SetExpr::Select(s) => s,
        SetExpr::SetOperation { op, .. } => bail!("{op} is not allowed: one SELECT from one table"),
        SetExpr::Query(_) => bail!("a parenthesized query (a subquery) is not allowed"),
        other => bail!("only SELECT is allowed, got {}", shown(&other.to_string())),
    };
    let (table, columns, filters) = select_body(select)?;
    let (limit, offset) = limits(limit_clause.as_ref())?;
    Ok(SelectQuery { table, columns, filters, order_by: ordering(order_by.as_ref())?, limit, offset })
}

type Body = (String, Option<Vec<String>>, serde_json::Map<String, serde_json::Value>);

fn select_body(s: &Select) -> Result<Body> {
    let Select {
        select_token: _,
        optimizer_hints,
        distinct,
        select_modifiers,
        top,
        top_before_distinct: _,
        projection,
        exclude,
        into,
        from,
        lateral_views,
        prewhere,
        selection,
        connect_by,
        group_by,
        cluster_by,
        distribute_by,
        sort_by,
        having,
        named_window,
        qualify,
        window_before_qualify: _,
        value_table_mode,
        flavor,
    } = s;
    let refused = [
        (!optimizer_hints.is_empty(), "optimizer hints are"),
        (distinct.is_some(), "DISTINCT is"),
        (select_modifiers.is_some(), "SELECT modifiers are"),
        (top.is_some(), "TOP is"),
        (exclude.is_some(), "EXCLUDE is"),
        (into.is_some(), "SELECT INTO is"),
        (!lateral_views.is_empty(), "LATERAL VIEW is"),
        (prewhere.is_some(), "PREWHERE is"),
        (!connect_by.is_empty(), "CONNECT BY is"),
        (!matches!(group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty()), "GROUP BY is"),
        (!cluster_by.is_empty(), "CLUSTER BY is"),
        (!distribute_by.is_empty(), "DISTRIBUTE BY is"),
        (!sort_by.is_empty(), "SORT BY is"),
        (having.is_some(), "HAVING is"),
        (!named_window.is_empty(), "WINDOW is"),
        (qualify.is_some(), "QUALIFY is"),
        (value_table_mode.is_some(), "SELECT AS VALUE/STRUCT is"),
        (*flavor != SelectFlavor::Standard, "FROM before SELECT is"),
    ];
    if let Some((_, what)) = refused.iter().find(|(bad, _)| *bad) {
        bail!("{what} not allowed");
    }
    let table = from_table(from)?;
    let columns = projection_columns(projection)?;
    let filters = match selection {
        Some(e) => filter::filters(e)?,
        None => serde_json::Map::new(),
    };
    Ok((table, columns, filters))
}

fn from_table(from: &[TableWithJoins]) -> Result<String> {
    let TableWithJoins { relation, joins } = match from {
        [one] => one,
        [] => bail!("SELECT needs FROM and one table"),
        _ => bail!("only one table is allowed in FROM (a comma is a join)"),
    };
    if !joins.is_empty() {
        bail!("JOIN is not allowed");
    }
    let TableFactor::Table {
        name,
        alias,
        args,
        with_hints,
        version,
        with_ordinality,
        partitions,
        json_path,
        sample,
        index_directives,
        inheritance,
    } = relation
    else {
        match relation {
            TableFactor::Derived { .. } => bail!("a subquery in FROM is not allowed"),
            other => bail!("only a table name is allowed in FROM, got {}", shown(&other.to_string())),
        }
    };
    if let Some(a) = alias {
        bail!("a table alias is not allowed: {}", shown(&a.to_string()));
    }
    let refused = [
        (args.is_some(), "table functions are"),
        (!with_hints.is_empty(), "table hints are"),
        (version.is_some(), "time travel (FOR SYSTEM_TIME) is"),
        (*with_ordinality, "WITH ORDINALITY is"),
        (!partitions.is_empty(), "PARTITION is"),
        (json_path.is_some(), "a JSON path in FROM is"),
        (sample.is_some(), "TABLESAMPLE is"),
        (!index_directives.is_empty(), "index hints are"),
        (inheritance.is_some(), "ONLY is"),
    ];
    if let Some((_, what)) = refused.iter().find(|(bad, _)| *bad) {
        bail!("{what} not allowed");
    }
    match name.0.as_slice() {
        [ObjectNamePart::Identifier(i)] => name_of(i, "a table name"),
        _ => bail!("a qualified table name is not allowed: {}; name the table alone", shown(&name.to_string())),
    }
}

/// `*` (`None`) or plain column names.
fn projection_columns(items: &[SelectItem]) -> Result<Option<Vec<String>>> {
    let mut stars = 0;
    let mut columns = Vec::new();
    for item in items {
        match item {
            SelectItem::Wildcard(opts) if *opts == WildcardAdditionalOptions::default() => stars += 1,
            SelectItem::Wildcard(opts) => bail!("* with options is not allowed: {}", shown(&opts.to_string())),
            SelectItem::UnnamedExpr(Expr::Identifier(i)) => columns.push(name_of(i, "a column name")?),
            SelectItem::UnnamedExpr(e @ (Expr::Function(_) | Expr::CompoundIdentifier(_) | Expr::Subquery(_))) => {
                bail!("{}", filter::refusal(e, "in the column list"))
            }
            SelectItem::UnnamedExpr(e) => {
                bail!("only * or column names are allowed in the column list, got {}", shown(&e.to_string()))
            }
            SelectItem::ExprWithAlias { alias, .. } => {
                bail!("column aliases are not allowed: AS {}", shown(&alias.value))
            }
            SelectItem::QualifiedWildcard(..) => bail!("a qualified * (table.*) is not allowed"),
            other => bail!("only * or column names are allowed in the column list, got {}", shown(&other.to_string())),
        }
    }
    match (stars, columns.is_empty()) {
        (0, false) => Ok(Some(columns)),
        (1, true) => Ok(None),
        (0, true) => bail!("SELECT needs * or column names"),
        _ => bail!("* cannot be repeated or combined with column names"),
    }
}

/// `ORDER BY a, b DESC` as `["a", "-b"]`.
fn ordering(order_by: Option<&OrderBy>) -> Result<Vec<String>> {
    let Some(OrderBy { kind, interpolate }) = order_by else { return Ok(Vec::new()) };
    if interpolate.is_some() {
        bail!("INTERPOLATE is not allowed");
    }
    let OrderByKind::Expressions(list) = kind else { bail!("ORDER BY ALL is not allowed") };
    let mut out = Vec::with_capacity(list.len());
    for OrderByExpr { expr, options: OrderByOptions { sort, nulls_first }, with_fill } in list {
        if with_fill.is_some() {
            bail!("WITH FILL is not allowed");
        }
        if nulls_first.is_some() {
            bail!("NULLS FIRST / NULLS LAST is not allowed in ORDER BY");
        }
        let Expr::Identifier(i) = expr else { bail!("{}", filter::refusal(expr, "in ORDER BY")) };
        let column = name_of(i, "a column name")?;
        out.push(match sort {
            None | Some(OrderBySort::Asc) => column,
            Some(OrderBySort::Desc) => format!("-{column}"),
            Some(OrderBySort::Using(_)) => bail!("ORDER BY ... USING is not allowed"),
        });
    }
    Ok(out)
}

/// `LIMIT n` (0..=[`MAX_LIMIT`]) and `OFFSET n` (at most `i64::MAX`).
fn limits(clause: Option<&LimitClause>) -> Result<(Option<u64>, Option<u64>)> {
    let (limit, offset) = match clause {
        None => return Ok((None, None)),
        Some(LimitClause::LimitOffset { limit_by, .. }) if !limit_by.is_empty() => bail!("LIMIT BY is not allowed"),
        Some(LimitClause::LimitOffset { limit, offset, .. }) => (limit.as_ref(), offset.as_ref().map(|o| &o.value)),
        Some(LimitClause::OffsetCommaLimit { .. }) => bail!("LIMIT offset, count is not allowed: use LIMIT n OFFSET m"),
    };
    let limit = limit.map(|e| integer(e, "LIMIT")).transpose()?;
    if let Some(n) = limit.filter(|&n| n > MAX_LIMIT) {
        bail!("LIMIT must be at most {MAX_LIMIT}, got {n}");
    }
    let offset = offset.map(|e| integer(e, "OFFSET")).transpose()?;
    if let Some(n) = offset.filter(|&n| i64::try_from(n).is_err()) {
        bail!("OFFSET is too large: {n}");
    }
    Ok((limit, offset))
}

fn integer(e: &Expr, after: &str) -> Result<u64> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, false) => number(n, after),
            other => number(&other.to_string(), after),
        },
        other => number(&other.to_string(), after),
    }
}

/// A table or column name: quotes removed, then checked as a plain identifier.
fn name_of(i: &Ident, what: &str) -> Result<String> {
    ident(&i.value, what)
}

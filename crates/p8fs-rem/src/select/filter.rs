//! `WHERE`: a conjunction of simple conditions, into p8fs's filter grammar
//! (`{"field": v, "field__gt": v, ...}`).

use serde_json::{Map, Number, Value as Json};
use sqlparser::ast::{BinaryOperator, Expr, Ident, InTarget, UnaryOperator, Value};

use crate::error::{Result, bail, shown};
use crate::lexer::ident;

const SUPPORTED: &str = "only =, <, <=, >, >=, IN (...), LIKE, ILIKE and IS NULL, joined by AND";

/// The conditions of a `WHERE` clause.
///
/// Walked with an explicit stack: a flat chain of 2,000 `AND`s is a tree 2,000 deep that
/// the SQL parser builds without recursing, and this must not recurse on it either.
pub(super) fn filters(e: &Expr) -> Result<Map<String, Json>> {
    let mut out = Map::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::BinaryOp { left, op: BinaryOperator::And, right } => {
                stack.push(right);
                stack.push(left);
            }
            Expr::Nested(inner) => stack.push(inner),
            _ => {
                let (key, value) = condition(e)?;
                if out.contains_key(&key) {
                    bail!("two conditions on {}: give each column and operator once", shown(&key));
                }
                out.insert(key, value);
            }
        }
    }
    Ok(out)
}

/// One condition: its filter key and value.
fn condition(e: &Expr) -> Result<(String, Json)> {
    match e {
        Expr::BinaryOp { left, op, right } => comparison(e, left, op, right),
        Expr::In { expr, target, negated, global } => {
            if *negated {
                bail!("NOT IN is not supported in WHERE: {SUPPORTED}");
            }
            if *global {
                bail!("GLOBAL IN is not allowed");
            }
            let column = column(expr, "IN")?;
            let InTarget::List(list) = target else { bail!("IN takes a list of values here, not a subquery or table") };
            let values = list.iter().map(literal).collect::<Result<Vec<_>>>()?;
            Ok((format!("{column}__in"), Json::Array(values)))
        }
        Expr::Like { negated, any, expr, pattern, escape_char } => {
            like("LIKE", "like", *negated, *any, expr, pattern, escape_char.is_some())
        }
        Expr::ILike { negated, any, expr, pattern, escape_char } => {
            like("ILIKE", "ilike", *negated, *any, expr, pattern, escape_char.is_some())
        }
        Expr::IsNull(inner) => Ok((column(inner, "IS NULL")?, Json::Null)),
        Expr::IsNotNull(_) => bail!("IS NOT NULL is not supported in WHERE: {SUPPORTED}"),
        Expr::Between { .. } => bail!("BETWEEN is not supported in WHERE: write col >= a AND col <= b"),
        Expr::UnaryOp { op: UnaryOperator::Not, .. } => bail!("NOT is not supported in WHERE: {SUPPORTED}"),
        other => bail!("{}", refusal(other, "in WHERE")),
    }
}

/// `col op literal` or `literal op col`; the second is turned around (`5 < n` is
/// `n > 5`).
fn comparison(e: &Expr, left: &Expr, op: &BinaryOperator, right: &Expr) -> Result<(String, Json)> {
    let (suffix, flipped) = match op {
        BinaryOperator::Eq => ("", ""),
        BinaryOperator::Gt => ("__gt", "__lt"),
        BinaryOperator::GtEq => ("__gte", "__lte"),
        BinaryOperator::Lt => ("__lt", "__gt"),
        BinaryOperator::LtEq => ("__lte", "__gte"),
        BinaryOperator::Or => bail!("OR is not supported in WHERE: only AND of conditions"),
        BinaryOperator::NotEq => bail!("unknown operator != (or <>) in WHERE: {SUPPORTED}"),
        other => bail!("unknown operator {} in WHERE: {SUPPORTED}", shown(&other.to_string())),
    };
    match (left, right) {
        (Expr::Identifier(l), Expr::Identifier(r)) => bail!(
            "column-to-column comparisons are not allowed: {} {op} {} (double quotes name a column; quote strings with single quotes)",
            shown(&l.value),
            shown(&r.value)
        ),
        (Expr::Identifier(col), value) => Ok((format!("{}{suffix}", where_column(col)?), literal(value)?)),
        (value, Expr::Identifier(col)) if is_literal(value) => {
            Ok((format!("{}{flipped}", where_column(col)?), literal(value)?))
        }
        _ if is_literal(left) && is_literal(right) => {
            bail!("a comparison needs a column on one side: {}", shown(&e.to_string()))
        }
        _ if is_literal(left) => bail!("{}", refusal(right, "in WHERE")),
        _ => bail!("{}", refusal(left, "in WHERE")),
    }
}

fn like(
    kw: &str,
    op: &str,
    negated: bool,
    any: bool,
    expr: &Expr,
    pattern: &Expr,
    escape: bool,
) -> Result<(String, Json)> {
    if negated {
        bail!("NOT {kw} is not supported in WHERE: {SUPPORTED}");
    }
    if any {
        bail!("{kw} ANY is not allowed");
    }
    if escape {
        bail!("{kw} ... ESCAPE is not allowed");
    }
    let column = column(expr, kw)?;
    match literal(pattern)? {
        Json::String(p) => Ok((format!("{column}__{op}"), Json::String(p))),
        _ => bail!("the pattern of {kw} must be a single-quoted string"),
    }
}

/// The column on the left of IN, LIKE, ILIKE or IS NULL.
fn column(e: &Expr, operator: &str) -> Result<String> {
    match e {
        Expr::Identifier(i) => where_column(i),
        Expr::CompoundIdentifier(_) => bail!("{}", refusal(e, "in WHERE")),
        other => bail!("{operator} needs a column on its left, got {}", shown(&other.to_string())),
    }
}

/// A column of a condition: a plain name without `__`, which the filter grammar uses
/// to separate a column from its operator (`a__gt = 1` must not become `a > 1`).
fn where_column(i: &Ident) -> Result<String> {
    let name = ident(&i.value, "a column name")?;
    if name.contains("__") {
        bail!("column names with __ cannot be filtered on in WHERE: {}", shown(&name));
    }
    Ok(name)
}

fn is_literal(e: &Expr) -> bool {
    match e {
        Expr::Value(_) => true,
        Expr::UnaryOp { op: UnaryOperator::Minus, expr } => matches!(expr.as_ref(), Expr::Value(_)),
        _ => false,
    }
}

/// A value: a single-quoted string, a number (optionally negative), TRUE or FALSE.
fn literal(e: &Expr) -> Result<Json> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Ok(Json::String(s.clone())),
            Value::Number(n, false) => number(n, false),
            Value::Boolean(b) => Ok(Json::Bool(*b)),
            Value::Null => bail!("NULL is only allowed in IS NULL (= NULL matches nothing in SQL)"),
            Value::Placeholder(p) => bail!("placeholders are not allowed: {}", shown(p)),
            other => bail!(
                "only single-quoted strings, numbers, TRUE and FALSE are allowed as values, got {}",
                shown(&other.to_string())
            ),
        },
        Expr::UnaryOp { op: UnaryOperator::Minus, expr } => match expr.as_ref() {
            Expr::Value(v) => match &v.value {
                Value::Number(n, false) => number(n, true),
                _ => bail!("- applies to numbers only, got {}", shown(&e.to_string())),
            },
            _ => bail!("{}", refusal(e, "as a value")),
        },
        Expr::Identifier(i) => bail!(
            "expected a value, got the name {} (double quotes name a column; quote strings with single quotes)",
            shown(&i.value)
        ),
        other => bail!("{}", refusal(other, "as a value")),
    }
}

/// A numeric literal as JSON: an integer if it fits `i64`, else a finite float.
fn number(n: &str, negative: bool) -> Result<Json> {
    let text = if negative { format!("-{n}") } else { n.to_owned() };
    if n.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<i64>() {
            Ok(i) => Ok(Json::Number(i.into())),
            Err(_) => bail!("the integer {} is out of range", shown(&text)),
        };
    }
    match text.parse::<f64>().ok().and_then(Number::from_f64) {
        Some(f) => Ok(Json::Number(f)),
        None => bail!("not a finite number: {}", shown(&text)),
    }
}

/// Why an expression is refused, naming its kind.
pub(super) fn refusal(e: &Expr, place: &str) -> String {
    match e {
        Expr::Function(f) => format!("function calls are not allowed {place}: {}(...)", shown(&f.name.to_string())),
        Expr::Subquery(_) | Expr::Exists { .. } => format!("subqueries are not allowed {place}"),
        Expr::In { target: InTarget::Subquery(_), .. } => format!("subqueries are not allowed {place}"),
        Expr::CompoundIdentifier(parts) => format!(
            "qualified names are not allowed {place}: {}; name the column alone",
            shown(&parts.iter().map(|p| p.value.as_str()).collect::<Vec<_>>().join("."))
        ),
        Expr::BinaryOp { op, .. } => format!("operator {} is not allowed {place}", shown(&op.to_string())),
        Expr::UnaryOp { op, .. } => format!("operator {op} is not allowed {place}"),
        Expr::Value(v) if matches!(v.value, Value::Placeholder(_)) => format!("placeholders are not allowed {place}"),
        Expr::Cast { .. } => format!("casts are not allowed {place}"),
        Expr::Nested(_) => format!("parentheses are not allowed {place}"),
        Expr::Identifier(i) => format!("a bare column is not a condition {place}: {}", shown(&i.value)),
        other => format!("{} is not allowed {place}", shown(&other.to_string())),
    }
}

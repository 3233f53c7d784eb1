//! The filter grammar of the system p8fs replaces, parsed against a model.
//!
//! `{"field": v}` is equality (`null`: `IS NULL`); `{"field__op": v}` with `op` one of
//! `gt gte lt lte in like ilike contains overlap`; an empty `in` list matches no rows.
//! Ordering: `"field"` ascending, `"-field"` descending. Unknown fields and operators are
//! errors, never ignored. Values are typed by the field and always bound.

use sea_query::{Cond, Expr, ExprTrait, Order};
use serde_json::{Map, Value as Json};

use super::codec::bind_field;
use crate::model::{FieldType, Model};
use crate::{Dialect, Error, Result};

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=` (or `IS NULL` for `null`).
    Eq,
    /// `>`.
    Gt,
    /// `>=`.
    Gte,
    /// `<`.
    Lt,
    /// `<=`.
    Lte,
    /// `IN (...)`; an empty list matches nothing.
    In,
    /// Case-sensitive `LIKE`.
    Like,
    /// Case-insensitive `LIKE`.
    Ilike,
    /// JSON containment.
    Contains,
    /// JSON arrays sharing an element.
    Overlap,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "in" => Op::In,
            "like" => Op::Like,
            "ilike" => Op::Ilike,
            "contains" => Op::Contains,
            "overlap" => Op::Overlap,
            _ => return None,
        })
    }
}

/// One condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The column.
    pub field: String,
    /// The type of the column.
    pub ty: FieldType,
    /// The comparison.
    pub op: Op,
    /// The value.
    pub value: Json,
}

/// A parsed query: conditions (all must hold), ordering, paging.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntityQuery {
    /// Conditions.
    pub filters: Vec<Filter>,
    /// Ordering, in priority order.
    pub order_by: Vec<(String, Order)>,
    /// Most rows.
    pub limit: Option<u64>,
    /// Rows to skip.
    pub offset: Option<u64>,
}

/// The type of a filterable column: a model field or a system column (`tenant_id` is
/// applied by the store, never by a filter).
fn column_type(model: &Model, name: &str) -> Option<FieldType> {
    match name {
        "id" => Some(FieldType::Text),
        "created_at" | "updated_at" => Some(FieldType::Timestamp),
        _ => model.field(name).map(|f| f.ty),
    }
}

impl EntityQuery {
    /// Parses filters (`{"field__op": value}`), ordering (`["-field"]`), limit and offset.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] naming the unknown field or operator, or the
    /// operator that does not apply to the field's type.
    pub fn parse(
        model: &Model,
        filters: &Map<String, Json>,
        order_by: &[String],
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> Result<Self> {
        let mut q = EntityQuery { limit, offset, ..Default::default() };
        for (k, v) in filters {
            let (field, op) = match k.split_once("__") {
                Some((f, o)) => (f, Op::parse(o).ok_or_else(|| {
                    Error::invalid_input(format!(
                        "{model}: unknown filter operator {o:?} in {k:?}; valid: gt, gte, lt, lte, in, like, ilike, contains, overlap"
                    ))
                })?),
                None => (k.as_str(), Op::Eq),
            };
            let ty = column_type(model, field)
                .ok_or_else(|| Error::invalid_input(format!("{model}: unknown field {field:?} in filter {k:?}")))?;
            check_applicable(model, field, ty, op, v)?;
            q.filters.push(Filter { field: field.to_owned(), ty, op, value: v.clone() });
        }
        for o in order_by {
            let (name, dir) = match o.strip_prefix('-') {
                Some(n) => (n, Order::Desc),
                None => (o.as_str(), Order::Asc),
            };
            let ty = column_type(model, name)
                .ok_or_else(|| Error::invalid_input(format!("{model}: unknown field {name:?} in ordering")))?;
            if ty.is_json() {
                return Err(Error::invalid_input(format!("{model}: cannot order by the JSON field {name}")));
            }
            q.order_by.push((name.to_owned(), dir));
        }
        Ok(q)
    }

    /// The condition of all filters.
    ///
    /// # Errors
    /// Values of the wrong type for their field.
    pub fn condition(&self, d: &dyn Dialect, model: &Model) -> Result<Cond> {
        let mut cond = Cond::all();
        for f in &self.filters {
            cond = cond.add(filter_expr(d, model, f)?);
        }
        Ok(cond)
    }
}

fn check_applicable(model: &Model, field: &str, ty: FieldType, op: Op, v: &Json) -> Result<()> {
    let ok = match op {
        Op::Eq => !ty.is_json() || v.is_null(),
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
            matches!(ty, FieldType::Int | FieldType::Float | FieldType::Timestamp | FieldType::Text | FieldType::Uuid)
        }
        Op::In => !ty.is_json(),
        Op::Like | Op::Ilike => matches!(ty, FieldType::Text | FieldType::Uuid),
        Op::Contains => ty.is_json(),
        Op::Overlap => matches!(ty, FieldType::JsonArray | FieldType::TextArray),
    };
    if !ok {
        return Err(Error::invalid_input(format!(
            "{model}.{field}: operator {op:?} does not apply to a {} field",
            ty.name()
        )));
    }
    if op == Op::In && !v.is_array() {
        return Err(Error::invalid_input(format!("{model}.{field}__in needs a list")));
    }
    if matches!(op, Op::Like | Op::Ilike) && !v.is_string() {
        return Err(Error::invalid_input(format!("{model}.{field}: a like pattern must be a string")));
    }
    if op == Op::Overlap && !v.is_array() {
        return Err(Error::invalid_input(format!("{model}.{field}__overlap needs a list")));
    }
    Ok(())
}

fn filter_expr(d: &dyn Dialect, model: &Model, f: &Filter) -> Result<Expr> {
    let col = Expr::col(sea_query::Alias::new(f.field.as_str()));
    let bind = |v: &Json| bind_field(d, model, &f.field, f.ty, v);
    Ok(match f.op {
        Op::Eq if Json::is_null(&f.value) => col.is_null(),
        Op::Eq => col.eq(bind(&f.value)?),
        Op::Gt => col.gt(bind(&f.value)?),
        Op::Gte => col.gte(bind(&f.value)?),
        Op::Lt => col.lt(bind(&f.value)?),
        Op::Lte => col.lte(bind(&f.value)?),
        Op::In => {
            let items = f.value.as_array().map(Vec::as_slice).unwrap_or_default();
            if items.is_empty() {
                // An empty list matches nothing (a constant: nothing to bind).
                Expr::cust("1 = 0")
            } else {
                col.is_in(items.iter().map(bind).collect::<Result<Vec<_>>>()?)
            }
        }
        Op::Like => d.like(col, f.value.as_str().unwrap_or_default()),
        Op::Ilike => d.ilike(col, f.value.as_str().unwrap_or_default()),
        Op::Contains => d.json_contains(col, &f.value),
        Op::Overlap => d.json_overlaps(col, &f.value),
    })
}

//! [`HitRow`]: one semantic search hit as `search` and `demo` print it, in JSON and in
//! their tables.

use p8fs_core::entity::SemanticHit;
use serde::Serialize;
use serde_json::Value;

/// One hit: the entity's id and name, its score, and (for `search`) the field that
/// matched. Fields are declared in alphabetical order: the JSON keeps the key order the
/// commands printed before this type existed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct HitRow {
    /// The best-matching field; `demo` leaves it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) field: Option<String>,
    /// The entity's id.
    pub(crate) id: String,
    /// Its name (`null` for a model without a `name` field).
    pub(crate) name: Option<String>,
    /// The score (higher is closer).
    pub(crate) score: f64,
}

impl HitRow {
    /// The row of `hit`, with its field.
    pub(crate) fn new(hit: &SemanticHit) -> Self {
        let text = |k: &str| hit.entity.get(k).and_then(Value::as_str).map(str::to_owned);
        Self {
            field: Some(hit.field.clone()),
            id: text("id").unwrap_or_default(),
            name: text("name"),
            score: hit.score,
        }
    }

    /// The row of `hit`, without its field.
    pub(crate) fn without_field(hit: &SemanticHit) -> Self {
        Self { field: None, ..Self::new(hit) }
    }

    /// The name, or nothing, for a table cell.
    pub(crate) fn name_cell(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// The score as the tables show it.
    pub(crate) fn score_cell(&self) -> String {
        format!("{:.3}", self.score)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;

    fn hit(entity: Value) -> SemanticHit {
        let entity: Map<String, Value> = entity.as_object().cloned().unwrap();
        SemanticHit { entity, field: "content".into(), distance: 0.25, score: 0.75 }
    }

    #[test]
    fn json_is_what_the_commands_printed_before() {
        let h = hit(json!({"id": "e1", "name": "alpha", "content": "text"}));
        assert_eq!(
            serde_json::to_string(&HitRow::new(&h)).unwrap(),
            r#"{"field":"content","id":"e1","name":"alpha","score":0.75}"#
        );
        assert_eq!(
            serde_json::to_string(&HitRow::without_field(&h)).unwrap(),
            r#"{"id":"e1","name":"alpha","score":0.75}"#
        );
        let unnamed = HitRow::new(&hit(json!({"id": "e2"})));
        assert_eq!(serde_json::to_value(&unnamed).unwrap()["name"], Value::Null, "a missing name is null");
        assert_eq!((unnamed.name_cell(), unnamed.score_cell().as_str()), ("", "0.750"));
    }
}

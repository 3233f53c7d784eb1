//! The platform's own models, with the columns of the system p8fs replaces, so an existing
//! deployment's tables are readable.

use super::{FieldType as T, Model};

/// Default embedding provider and dimension of the core models (all-MiniLM-L6-v2).
pub const DEFAULT_EMBEDDING: (&str, u32) = ("all-MiniLM-L6-v2", 384);

fn resource_fields(name: &str) -> super::ModelBuilder {
    Model::builder(name)
        .field("name", T::Text)
        .field("category", T::Text)
        .embedded("content", DEFAULT_EMBEDDING.0, DEFAULT_EMBEDDING.1)
        .field("summary", T::Text)
        .field("ordinal", T::Int)
        .field("uri", T::Text)
        .field("metadata", T::JsonObject)
        .field("graph_paths", T::JsonArray)
        .field("resource_timestamp", T::Timestamp)
        .field("userid", T::Text)
        .key("name")
}

/// `resources`: documents and other content, keyed by `name`, `content` embedded.
pub fn resources() -> Model {
    build(resource_fields("resources"))
}

/// `moments`: everything a resource has, plus time span, people, place and tags.
pub fn moments() -> Model {
    build(
        resource_fields("moments")
            .field("resource_ends_timestamp", T::Timestamp)
            .field("present_persons", T::JsonArray)
            .field("speakers", T::JsonArray)
            .field("location", T::Text)
            .field("background_sounds", T::Text)
            .field("moment_type", T::Text)
            .field("emotion_tags", T::TextArray)
            .field("topic_tags", T::TextArray)
            .field("images", T::TextArray)
            .field("key_emotions", T::TextArray),
    )
}

/// `sessions`: conversations, keyed by `name`, `query` embedded.
pub fn sessions() -> Model {
    build(
        Model::builder("sessions")
            .field("name", T::Text)
            .embedded("query", DEFAULT_EMBEDDING.0, DEFAULT_EMBEDDING.1)
            .field("user_rating", T::Float)
            .field("agent", T::Text)
            .field("parent_session_id", T::Uuid)
            .field("thread_id", T::Text)
            .field("channel_id", T::Text)
            .field("channel_type", T::Text)
            .field("metadata", T::JsonObject)
            .field("graph_paths", T::JsonArray)
            .field("userid", T::Text)
            .key("name"),
    )
}

/// `files`: uploaded files, keyed by `uri`.
pub fn files() -> Model {
    build(
        Model::builder("files")
            .field("uri", T::Text)
            .field("file_size", T::Int)
            .field("mime_type", T::Text)
            .field("content_hash", T::Text)
            .field("upload_timestamp", T::Timestamp)
            .field("metadata", T::JsonObject)
            .field("derived_attributes", T::JsonObject)
            .key("uri"),
    )
}

/// `users`: people, keyed by `email`.
pub fn users() -> Model {
    build(
        Model::builder("users")
            .field("email", T::Text)
            .field("name", T::Text)
            .field("role_level", T::Int)
            .field("interested_in", T::TextArray)
            .field("metadata", T::JsonObject)
            .field("graph_paths", T::JsonArray)
            .key("email"),
    )
}

/// `tenants`: the tenants themselves (not tenant-isolated), keyed by `tenant_name`.
pub fn tenants() -> Model {
    build(
        Model::builder("tenants")
            .field("tenant_name", T::Text)
            .field("email", T::Text)
            .field("public_key", T::Text)
            .field("device_ids", T::TextArray)
            .field("storage_bucket", T::Text)
            .field("metadata", T::JsonObject)
            .field("active", T::Bool)
            .key("tenant_name")
            .global(),
    )
}

/// Every core model.
pub fn core_models() -> Vec<Model> {
    vec![resources(), moments(), sessions(), files(), users(), tenants()]
}

fn build(b: super::ModelBuilder) -> Model {
    // The core models are constants of this crate; the unit test below proves they build.
    b.build().unwrap_or_else(|e| unreachable!("core model is invalid: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn core_models_build() {
        let ms = super::core_models();
        assert_eq!(ms.len(), 6);
        assert_eq!(super::resources().key_field(), Some("name"));
        assert!(!super::tenants().tenant_isolated());
        assert_eq!(super::resources().embedding().map(|e| e.dim), Some(384));
    }
}

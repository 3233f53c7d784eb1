//! p8fs: entities, embeddings, KV and reverse mappings behind one API; picks the backends.

"""Rule packs: JSON documents with a schema, stored and versioned in MLflow, transferable between lines."""

-- The content digest a pipeline version's image is pinned to (`image@sha256:...`); NULL for a tag alone.
ALTER TABLE pipeline_versions ADD COLUMN image_digest text;

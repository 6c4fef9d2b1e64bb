-- The jobs-by-state gauge (`tusk_jobs`) is read at every scrape: counted from this index (an index-only
-- scan once vacuumed) instead of the whole jobs table.
CREATE INDEX jobs_pipeline_state ON jobs (pipeline, state);

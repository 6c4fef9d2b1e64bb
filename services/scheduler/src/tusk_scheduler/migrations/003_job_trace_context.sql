-- The trace a job belongs to (W3C `traceparent` headers of the commit.finished that made it, NULL with
-- tracing off): the driver starts and finishes the job later, in another task, and resumes it from here.
ALTER TABLE jobs ADD COLUMN trace_context jsonb;

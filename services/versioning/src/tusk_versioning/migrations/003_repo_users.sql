-- Which pipelines read a repo or write it: a repo in use is not deleted without `force` (the scheduler
-- owns pipelines and keeps these rows current through `repo.set_users`).
CREATE TABLE repo_users (
    repo text NOT NULL REFERENCES repos (name) ON DELETE CASCADE,
    pipeline text NOT NULL,
    role text NOT NULL CHECK (role IN ('input', 'output')),
    PRIMARY KEY (repo, pipeline, role)
);
CREATE INDEX repo_users_pipeline ON repo_users (pipeline);

-- The versioning schema: repos, branches, commits, staged changes, file contents and tree nodes.
CREATE TABLE repos (
    name text PRIMARY KEY,
    description text NOT NULL DEFAULT '',
    default_branch text NOT NULL DEFAULT 'master',
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE commits (
    id text PRIMARY KEY,
    repo text NOT NULL REFERENCES repos (name) ON DELETE CASCADE,
    branch text,
    parent text,
    origin text NOT NULL DEFAULT 'user' CHECK (origin IN ('user', 'auto')),
    commit_set text NOT NULL,
    description text NOT NULL DEFAULT '',
    state text NOT NULL CHECK (state IN ('open', 'finished')),
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    error text,
    -- the tree of a finished commit; for an open commit, the tree it started from (its parent's)
    root text NOT NULL,
    size_bytes bigint NOT NULL DEFAULT 0,
    file_count bigint NOT NULL DEFAULT 0,
    -- last sequence number handed to a staged change of this (open) commit
    staged_seq bigint NOT NULL DEFAULT 0
);
CREATE INDEX commits_repo_started ON commits (repo, started_at, id);
CREATE INDEX commits_parent ON commits (parent);
CREATE INDEX commits_set ON commits (commit_set);

CREATE TABLE branches (
    repo text NOT NULL REFERENCES repos (name) ON DELETE CASCADE,
    name text NOT NULL,
    head text REFERENCES commits (id) DEFERRABLE INITIALLY DEFERRED,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (repo, name)
);
CREATE INDEX branches_head ON branches (head);

-- Changes staged into open commits, replayed in `seq` order; a put of a file or a delete drops the
-- earlier rows of the same path, so the last write per path wins.
CREATE TABLE staged (
    commit_id text NOT NULL REFERENCES commits (id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    path text NOT NULL,
    op text NOT NULL CHECK (op IN ('put', 'delete')),
    kind text CHECK (kind IN ('file', 'dir')),
    hash text,
    size bigint,
    file_count bigint,
    PRIMARY KEY (commit_id, seq)
);
CREATE INDEX staged_path ON staged (commit_id, path);

-- The bytes of a file, as the chunk store wrote them (`FileContent` on the wire), keyed by content id.
CREATE TABLE contents (
    id text PRIMARY KEY,
    size bigint NOT NULL,
    md5 text,
    chunks text
);

-- Immutable directory nodes and pages of the Merkle trees, keyed by the BLAKE3 of their bytes.
CREATE TABLE nodes (
    hash text PRIMARY KEY,
    data bytea NOT NULL
);

-- The provenance graph. See docs/lineage.md for the model; in short:
--   a lane is a linear run of commits of one repo, numbered by seq, so "the file at commit c" is the newest
--   version of its path in c's lane at or before c's seq (files are identified per commit, never by path
--   alone, and a commit only stores what changed);
--   a run is one processed datum: it read exact file versions (run_inputs, at the commit its job read) and
--   produced the versions of its output files (produced);
--   commit_edges link an output commit to every input commit its job read.

CREATE TABLE lanes (
    id serial PRIMARY KEY,
    repo text NOT NULL,
    branch text,
    tip_seq integer NOT NULL DEFAULT 0
);

CREATE TABLE commits (
    id bigserial PRIMARY KEY,
    commit_id text NOT NULL UNIQUE,
    repo text NOT NULL,
    branch text,
    parent text,
    commit_set text NOT NULL,
    origin text NOT NULL DEFAULT 'user',
    lane integer NOT NULL REFERENCES lanes (id),
    seq integer NOT NULL,
    lane_start boolean NOT NULL DEFAULT false,  -- first of its lane: its versions list every file
    state text NOT NULL DEFAULT 'open',
    error text,
    recorded boolean NOT NULL DEFAULT false,    -- finished, and its file versions are stored
    started_at timestamptz,
    finished_at timestamptz,
    size_bytes bigint NOT NULL DEFAULT 0,
    file_count bigint NOT NULL DEFAULT 0,
    UNIQUE (lane, seq)
);
CREATE INDEX commits_set ON commits (commit_set);
CREATE INDEX commits_repo ON commits (repo, id);

-- A path's content from one commit of a lane until the next version of the path (content NULL: deleted).
CREATE TABLE versions (
    id bigserial PRIMARY KEY,
    lane integer NOT NULL,
    path text NOT NULL,
    seq integer NOT NULL,
    content_id text,
    size bigint NOT NULL DEFAULT 0,
    reproduced boolean NOT NULL DEFAULT false,  -- same bytes as before, written again by a datum of this job
    UNIQUE (lane, path, seq)                    -- newest at or before seq: one backward index probe
);

CREATE TABLE pipeline_versions (
    pipeline text NOT NULL,
    version integer NOT NULL,
    spec_hash text,
    transform_hash text,
    cmd jsonb NOT NULL DEFAULT '[]'::jsonb,
    image text,
    spec jsonb,
    created_at timestamptz,
    PRIMARY KEY (pipeline, version)
);

CREATE TABLE jobs (
    id text PRIMARY KEY,
    pipeline text NOT NULL,
    pipeline_version integer NOT NULL,
    commit_set text NOT NULL,
    state text NOT NULL,
    reason text,
    output_repo text NOT NULL,
    output_branch text,
    output_commit text,
    trigger_repo text,
    trigger_commit text,
    inputs jsonb,                               -- [[repo, branch, commit]] once known
    attached boolean NOT NULL DEFAULT false,    -- its runs are linked to its output commit's versions
    created_at timestamptz,
    finished_at timestamptz
);
CREATE INDEX jobs_set ON jobs (commit_set);
CREATE INDEX jobs_output ON jobs (output_commit) WHERE output_commit IS NOT NULL;
CREATE INDEX jobs_unattached ON jobs (finished_at) WHERE NOT attached;

CREATE TABLE commit_edges (
    output text NOT NULL,                       -- commit ids: an edge may arrive before either commit
    input text NOT NULL,
    job text NOT NULL,
    PRIMARY KEY (output, input)
);
CREATE INDEX commit_edges_input ON commit_edges (input, output);

CREATE TABLE runs (
    id bigserial PRIMARY KEY,
    job text NOT NULL,
    datum_id text NOT NULL,
    datum_hash text NOT NULL,
    pipeline text NOT NULL,
    state text NOT NULL,
    outputs_known boolean NOT NULL DEFAULT true,
    UNIQUE (job, datum_id)
);

CREATE TABLE run_inputs (
    run bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name text NOT NULL,
    lane integer NOT NULL,
    seq integer NOT NULL,
    path text NOT NULL,
    content_id text NOT NULL,
    size bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (run, name, lane, seq, path)
);
CREATE INDEX run_inputs_file ON run_inputs (lane, path, seq) INCLUDE (run);

CREATE TABLE run_outputs (
    run bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    path text NOT NULL,
    content_id text NOT NULL,
    size bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (run, path)
);

CREATE TABLE produced (
    version bigint NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
    run bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    PRIMARY KEY (version, run)
);
CREATE INDEX produced_run ON produced (run, version);

-- Events applied, each once (redelivery finds its id here and changes nothing).
CREATE TABLE applied_events (
    event_id text PRIMARY KEY,
    kind text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- OpenLineage RunEvents waiting to be posted (written in the transaction that learned them).
CREATE TABLE openlineage_queue (
    seq bigserial PRIMARY KEY,
    payload jsonb NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);

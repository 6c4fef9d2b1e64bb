-- Pipelines and their spec versions.
CREATE TABLE pipelines (
    name text PRIMARY KEY,
    version integer NOT NULL,
    state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'paused')),
    input_repos text[] NOT NULL,
    inputs jsonb NOT NULL,             -- [[repo, branch], ...] the branches whose commits start jobs
    output_branch text NOT NULL,
    kicks bigint NOT NULL DEFAULT 0,   -- bumped by whoever wants the pipeline's driver to look again
    next_seq bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pipelines_inputs ON pipelines USING gin (input_repos);

CREATE TABLE pipeline_versions (
    pipeline text NOT NULL REFERENCES pipelines (name) ON DELETE CASCADE,
    version integer NOT NULL,
    spec jsonb NOT NULL,
    spec_hash text NOT NULL,
    transform_hash text NOT NULL,      -- of this version's transform
    datum_transform_hash text NOT NULL, -- what datum hashes use (a kept previous one with keep_outputs)
    salt text NOT NULL,                -- what datum hashes use (spec salt plus a reprocess nonce)
    reprocess boolean NOT NULL DEFAULT false,
    keep_outputs boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline, version)
);

CREATE TABLE jobs (
    id text PRIMARY KEY,
    pipeline text NOT NULL REFERENCES pipelines (name) ON DELETE CASCADE,
    pipeline_version integer NOT NULL,
    seq bigint NOT NULL,
    state text NOT NULL,
    commit_set text NOT NULL,
    trigger_repo text,
    trigger_branch text,
    trigger_commit text,
    trigger_error text,
    trigger_time timestamptz NOT NULL DEFAULT now(),
    inputs jsonb NOT NULL DEFAULT '[]'::jsonb,
    output_branch text NOT NULL,
    output_commit text,
    reason text,
    planned boolean NOT NULL DEFAULT false,
    total integer NOT NULL DEFAULT 0,
    processed integer NOT NULL DEFAULT 0,
    skipped integer NOT NULL DEFAULT 0,
    failed integer NOT NULL DEFAULT 0,
    recovered integer NOT NULL DEFAULT 0,
    pending integer NOT NULL DEFAULT 0,
    stats jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    UNIQUE (pipeline, seq)
);
CREATE UNIQUE INDEX jobs_trigger ON jobs (pipeline, trigger_commit) WHERE trigger_commit IS NOT NULL;
CREATE INDEX jobs_commit_set ON jobs (commit_set);
CREATE INDEX jobs_output_commit ON jobs (output_commit) WHERE output_commit IS NOT NULL;
CREATE INDEX jobs_active ON jobs (pipeline, trigger_time, seq)
    WHERE state IN ('created', 'starting', 'running', 'finishing');

CREATE TABLE datums (
    job text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    datum_id text NOT NULL,
    datum_hash text NOT NULL,
    state text NOT NULL,
    enqueued boolean NOT NULL DEFAULT false,
    generation integer NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    inputs jsonb NOT NULL,             -- [DatumInputInfo]
    outputs jsonb,                     -- {path: FileContent} once it succeeded (or carried over)
    output_files integer NOT NULL DEFAULT 0,
    output_bytes bigint NOT NULL DEFAULT 0,
    error text,
    worker text,
    stats jsonb NOT NULL DEFAULT '{}'::jsonb,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (job, datum_id)
);
CREATE INDEX datums_pending ON datums (job) WHERE state = 'starting';

-- Secrets: values sealed with AES-GCM (key: TUSK_SECRET_KEY); only key names are readable.
CREATE TABLE secrets (
    name text PRIMARY KEY,
    type text NOT NULL DEFAULT 'Opaque',
    keys text[] NOT NULL,
    nonce bytea NOT NULL,
    sealed bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE logs (
    seq bigserial PRIMARY KEY,
    pipeline text NOT NULL,
    job text NOT NULL,
    datum_id text,
    attempt integer NOT NULL DEFAULT 0,
    stream text NOT NULL,
    ts timestamptz NOT NULL,
    message text NOT NULL
);
CREATE INDEX logs_pipeline ON logs (pipeline, seq);
CREATE INDEX logs_job ON logs (job, seq);

-- Commits whose commit.finished this service has handled: `wait commit` knows what is still in flight.
CREATE TABLE seen_commits (
    commit_id text PRIMARY KEY,
    repo text NOT NULL,
    commit_set text NOT NULL,
    seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX seen_commits_set ON seen_commits (commit_set);

CREATE TABLE cron_state (
    pipeline text NOT NULL REFERENCES pipelines (name) ON DELETE CASCADE,
    input text NOT NULL,
    next_tick timestamptz NOT NULL,
    PRIMARY KEY (pipeline, input)
);

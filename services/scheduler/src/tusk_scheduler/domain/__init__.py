"""The pure rules of pipelines: no I/O, no clocks read, no clients.

spec         Pachyderm's pipeline spec: models, parsing (JSON/YAML), canonical form and hashes
spec_rules   rules across the input tree: input names, join/group keys, self-reads
document     JSON/YAML documents with duplicate-key detection
units        Go durations and Kubernetes quantities
cron         cron input schedules and tick file names
glob         the glob grammar, compiled to regexes, with capture groups
dag          input repos, cycle detection, topological order
datums       expanding an input tree on input listings into datums; datum ids and hashes
incremental  run / skip / remove plans and merging datum outputs
states       job and datum states and their transitions
"""

-- The branch of each seen commit: a job reads every input branch at that branch's commit of its own
-- commit set when there is one (a diamond's join sees both sides of the same change), and a job waits
-- while a pipeline upstream of it still works on its commit set.
ALTER TABLE seen_commits ADD COLUMN branch text;
CREATE INDEX seen_commits_set_branch ON seen_commits (commit_set, repo, branch);

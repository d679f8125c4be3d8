-- The change feed's two positions, written once (db/queries/*.sql use them).
--
-- feed_horizon(): the oldest transaction still running, as the reader's
-- snapshot sees it: every change below it has committed or never will, and
-- every change yet to commit has an xid at or above it (000007_sync).
CREATE FUNCTION feed_horizon() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint
$$;

-- data_version(user, floor): the version of a user's tasks and tags, the
-- xid of its latest change; a pruned deletion raised the user's
-- changes_floor to its xid, so the version never goes back to what it was
-- before that deletion. Pass users.changes_floor as floor.
CREATE FUNCTION data_version(user_id uuid, floor bigint) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT greatest((SELECT max(c.xid) FROM changes AS c WHERE c.user_id = data_version.user_id), floor)
$$;

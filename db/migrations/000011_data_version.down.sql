DROP FUNCTION data_version(uuid, bigint);
DROP FUNCTION feed_horizon();

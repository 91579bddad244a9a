
DROP INDEX resources_build_id_idx;


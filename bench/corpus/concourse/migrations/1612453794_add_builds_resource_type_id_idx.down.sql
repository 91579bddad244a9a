
DROP INDEX builds_resource_type_id_idx;


DROP TRIGGER IF EXISTS deleted_pipelines_insert_trigger ON pipelines;

ALTER TABLE resources
    DROP COLUMN in_memory_build_status;

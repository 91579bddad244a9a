
ALTER TABLE build_image_resource_caches
  DROP COLUMN IF EXISTS job_id;


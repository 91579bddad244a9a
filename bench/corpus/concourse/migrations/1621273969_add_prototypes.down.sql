DROP INDEX prototypes_resource_config_id;
DROP INDEX prototypes_pipeline_id;
DROP INDEX prototypes_pipeline_id_name_uniq;
DROP TABLE prototypes;

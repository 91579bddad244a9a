drop table default_versions;

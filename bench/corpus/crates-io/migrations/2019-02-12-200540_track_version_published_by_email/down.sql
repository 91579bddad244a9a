DROP TABLE versions_published_by;

CREATE INDEX index_crates_keywords_crate_id
                           ON crates_keywords (crate_id);
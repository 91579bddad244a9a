DROP TABLE publish_rate_overrides;

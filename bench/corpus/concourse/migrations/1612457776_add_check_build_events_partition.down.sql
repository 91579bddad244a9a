
DROP INDEX check_build_events_build_id_event_id;
DROP TABLE check_build_events;


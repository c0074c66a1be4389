DROP TABLE config_candidate;

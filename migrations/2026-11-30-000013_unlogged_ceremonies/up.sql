-- A ceremony lives for minutes and is worth nothing after a crash: the user asks for a new
-- challenge. Without write-ahead logging, storing and taking one costs no WAL and a
-- transaction that only stores a challenge commits without waiting for a disk flush. (Unlogged
-- tables are emptied by crash recovery and are not copied to streaming replicas: after a
-- failover, a ceremony in progress has to be started again.)
ALTER TABLE passkey_ceremonies SET UNLOGGED;

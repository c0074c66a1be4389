-- A ceremony lives for minutes and is worth nothing after a crash: the user asks for a new
-- challenge. Without write-ahead logging, storing and taking one costs no WAL, and storing a
-- discoverable sign-in's challenge commits without waiting for a disk flush (one bound to an
-- account still locks the account row for its foreign key). Unlogged tables are emptied by
-- crash recovery and are not copied to streaming replicas: after a failover, a ceremony in
-- progress has to be started again.
ALTER TABLE passkey_ceremonies SET UNLOGGED;

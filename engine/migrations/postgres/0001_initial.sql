-- Switchboard's PostgreSQL store, schema version 1: the same records as the sled trees, each
-- value a versioned record (two version bytes, then bincode; engine/src/store/envelope.rs).
-- Keys are the engine's ids as bytes (a webhook key holds a NUL between channel and key, which
-- text cannot), so rows sort as sled's keys do.

CREATE TABLE switchboard.sessions (
    chat    bytea PRIMARY KEY,
    record  bytea NOT NULL
);

CREATE TABLE switchboard.outbox (
    chat   bytea  NOT NULL,
    seq    bigint NOT NULL,
    event  bytea  NOT NULL,
    PRIMARY KEY (chat, seq)
);

CREATE TABLE switchboard.conversations (
    id      bytea PRIMARY KEY,
    record  bytea NOT NULL
);

-- lane: 0 = the desk session's lane, 1 = the user's.
CREATE TABLE switchboard.actions (
    conversation  bytea    NOT NULL,
    lane          smallint NOT NULL,
    seq           bigint   NOT NULL,
    action        bytea    NOT NULL,
    PRIMARY KEY (conversation, lane, seq)
);

-- Webhook dedupe keys with their arrival time (unix milliseconds), pruned by age.
CREATE TABLE switchboard.inbox (
    key    bytea  PRIMARY KEY,
    at_ms  bigint NOT NULL
);
CREATE INDEX inbox_by_arrival ON switchboard.inbox (at_ms);

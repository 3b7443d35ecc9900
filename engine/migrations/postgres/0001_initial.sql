-- Switchboard's PostgreSQL store, schema version 1: the same records as the sled trees, each
-- value a versioned record (two version bytes, then bincode; engine/src/store/envelope.rs).
-- Keys are the engine's ids as bytes (a webhook key holds a NUL between channel and key, which
-- text cannot), so rows sort as sled's keys do. Every row carries the shard of its conversation
-- (core/src/cluster/shard.rs), so that an instance can load and own whole shards.

CREATE TABLE switchboard.sessions (
    chat    bytea    PRIMARY KEY,
    shard   smallint NOT NULL,
    record  bytea    NOT NULL
);
CREATE INDEX sessions_by_shard ON switchboard.sessions (shard);

CREATE TABLE switchboard.outbox (
    chat   bytea    NOT NULL,
    seq    bigint   NOT NULL,
    shard  smallint NOT NULL,
    event  bytea    NOT NULL,
    PRIMARY KEY (chat, seq)
);
CREATE INDEX outbox_by_shard ON switchboard.outbox (shard);

CREATE TABLE switchboard.conversations (
    id      bytea    PRIMARY KEY,
    shard   smallint NOT NULL,
    record  bytea    NOT NULL
);
CREATE INDEX conversations_by_shard ON switchboard.conversations (shard);

-- lane: 0 = the desk session's lane, 1 = the user's.
CREATE TABLE switchboard.actions (
    conversation  bytea    NOT NULL,
    lane          smallint NOT NULL,
    seq           bigint   NOT NULL,
    shard         smallint NOT NULL,
    action        bytea    NOT NULL,
    PRIMARY KEY (conversation, lane, seq)
);
CREATE INDEX actions_by_shard ON switchboard.actions (shard);

-- Webhook dedupe keys with their arrival time (unix milliseconds), pruned by age.
CREATE TABLE switchboard.inbox (
    key    bytea    PRIMARY KEY,
    shard  smallint NOT NULL,
    at_ms  bigint   NOT NULL
);
CREATE INDEX inbox_by_arrival ON switchboard.inbox (at_ms);
CREATE INDEX inbox_by_shard ON switchboard.inbox (shard);

-- Who owns each shard: a takeover raises the epoch, and an owner's writes are checked against
-- the epoch it took the shard at (fencing). Times are the database's clock.
CREATE TABLE switchboard.leases (
    shard       smallint    PRIMARY KEY,
    owner       text,
    epoch       bigint      NOT NULL DEFAULT 0,
    expires_at  timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO switchboard.leases (shard) SELECT generate_series(0, 63);

-- The instances alive: each renews its row with its leases.
CREATE TABLE switchboard.instances (
    id       text        PRIMARY KEY,
    seen_at  timestamptz NOT NULL
);

-- Pushes an instance took in for a shard another instance holds, until that shard's owner has
-- taken them in (each named by its webhook dedupe key, stored once). Inserting one notifies
-- channel `switchboard_pushes` with the shard.
CREATE TABLE switchboard.pushes (
    seq    bigserial PRIMARY KEY,
    key    bytea     NOT NULL UNIQUE,
    shard  smallint  NOT NULL,
    push   bytea     NOT NULL
);
CREATE INDEX pushes_by_shard ON switchboard.pushes (shard, seq);

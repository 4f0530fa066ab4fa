-- 005: image ownership: which API key wrote each image tag (by a pull or a build through the
-- API). A tag with no row is the operator's (pulled or built outside the API): non-admin keys
-- may use it read-only but never overwrite or delete it. ref is the name as the engine lists
-- it in RepoTags ("redis:7", "localhost:5000/a/b:1"), compared byte for byte.
CREATE TABLE IF NOT EXISTS image_owners (
    ref                 VARCHAR(255) NOT NULL PRIMARY KEY,
    key_name            VARCHAR(64) NOT NULL,
    created_at          BIGINT NOT NULL,         -- unix seconds of the first claim
    updated_at          BIGINT NOT NULL,         -- unix seconds of the owner's last pull/build
    -- 1 while the claiming pull/build runs (another key cannot take the tag over then, unless
    -- the claim is an hour old: a crashed request); 0 once the tag was written
    pending             TINYINT NOT NULL DEFAULT 1,
    KEY image_owners_key (key_name)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

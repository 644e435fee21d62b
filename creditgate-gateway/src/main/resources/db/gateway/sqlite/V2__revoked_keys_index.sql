-- For the sweep that finds keys revoked by another process (ApiKeyStore): it reads the keys revoked
-- in the last minute or so, once a second per gateway.
CREATE INDEX gateway_api_keys_revoked ON gateway_api_keys (revoked_at) WHERE revoked_at IS NOT NULL;

"""The key holders' ceremonies that need the seal, not a token: rekey (unseal or recovery shares),
rekey verification, and root token generation. Each keeps its attempt in memory only, bound to a nonce,
and logs every step to the "sealer.ceremony" logger."""

-- The error signature of a held record: its issues as sorted unique `path:code` pairs joined by '+', e.g.
-- `quantity:not_integer` or `acquisition_date:invalid_date+grant_code:invalid_prefix`. Reviewers decide in bulk by it.
ALTER TABLE record_disposition ADD COLUMN error_signature text;
CREATE INDEX record_disposition_signature_idx ON record_disposition (batch_id, error_signature) WHERE status = 'quarantined';

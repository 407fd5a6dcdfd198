-- sluice store, first version. Every input record has exactly one row in record_disposition; the ledger holds each
-- idempotency key at most once; the audit log keeps who did what to which record.

CREATE TABLE batch (
  batch_id     text PRIMARY KEY,
  workflow_id  text NOT NULL,
  profile      text NOT NULL,
  sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes   bigint NOT NULL,
  file_name    text NOT NULL,
  config       jsonb NOT NULL,
  layout       jsonb,
  chunks       integer,
  records      bigint,
  started_at   timestamptz NOT NULL DEFAULT now(),
  planned_at   timestamptz,
  finished_at  timestamptz
);

-- The chunk plan lives here, not in workflow history: the workflow keeps only a cursor.
CREATE TABLE batch_chunk (
  batch_id      text NOT NULL REFERENCES batch ON DELETE CASCADE,
  chunk_no      integer NOT NULL,
  byte_start    bigint NOT NULL,
  byte_end      bigint NOT NULL,
  first_record  bigint NOT NULL,
  record_count  integer NOT NULL,
  first_line    bigint,
  committed_at  timestamptz,
  counts        jsonb,
  PRIMARY KEY (batch_id, chunk_no)
);

CREATE TABLE ledger (
  idempotency_key  text PRIMARY KEY,
  profile          text NOT NULL,
  business_key     text NOT NULL,
  batch_id         text NOT NULL,
  record_no        bigint NOT NULL,
  payload          jsonb NOT NULL,
  committed_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_batch_idx ON ledger (batch_id, record_no);

CREATE TABLE record_disposition (
  batch_id        text NOT NULL REFERENCES batch ON DELETE CASCADE,
  record_no       bigint NOT NULL,
  chunk_no        integer NOT NULL,
  status          text NOT NULL CHECK (status IN ('committed', 'duplicate', 'quarantined', 'approved', 'rejected')),
  audit_trace_id  uuid NOT NULL,
  idempotency_key text,
  business_key    text,
  -- true once the record was held for review, whatever its final status
  held            boolean NOT NULL DEFAULT false,
  reason_code     text,
  issues          jsonb,
  -- held records only: the fields as read, their location, for review and amendment
  source          jsonb,
  location        jsonb,
  decision_id     text,
  decided_by      text,
  decided_at      timestamptz,
  note            text,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (batch_id, record_no)
);
CREATE INDEX record_disposition_pending_idx ON record_disposition (batch_id, reason_code) WHERE status = 'quarantined';

CREATE TABLE review_decision (
  batch_id     text NOT NULL REFERENCES batch ON DELETE CASCADE,
  decision_id  text NOT NULL,
  action       text NOT NULL,
  reviewer     text NOT NULL,
  note         text,
  payload      jsonb NOT NULL,
  outcome      jsonb,
  decided_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (batch_id, decision_id)
);

CREATE TABLE audit_event (
  id              bigserial PRIMARY KEY,
  batch_id        text NOT NULL,
  at              timestamptz NOT NULL DEFAULT now(),
  event           text NOT NULL,
  audit_trace_id  uuid,
  record_no       bigint,
  chunk_no        integer,
  actor           text,
  detail          jsonb
);
CREATE INDEX audit_event_batch_idx ON audit_event (batch_id, id);
CREATE INDEX audit_event_trace_idx ON audit_event (audit_trace_id) WHERE audit_trace_id IS NOT NULL;

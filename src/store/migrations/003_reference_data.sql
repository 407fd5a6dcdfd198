-- Reference data that profiles classify against: rate contracts (freight), the HS nomenclature (customs), the
-- promotion master (rebate). One row per kind and key; an import replaces a kind's rows in one transaction, and
-- keeps the file's SHA-256 so an audit can say which reference data a batch was classified with.
CREATE TABLE reference_entry (
  kind        text NOT NULL,
  key         text NOT NULL,
  data        jsonb NOT NULL,
  PRIMARY KEY (kind, key)
);

CREATE TABLE reference_import (
  kind         text PRIMARY KEY,
  file_name    text NOT NULL,
  sha256       text NOT NULL,
  entries      integer NOT NULL,
  imported_at  timestamptz NOT NULL DEFAULT now()
);

-- Lookups of committed records by business key (an ASN's purchase order).
CREATE INDEX ledger_business_key_idx ON ledger (profile, business_key);

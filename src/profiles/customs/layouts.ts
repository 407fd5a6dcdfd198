/**
 * The layouts of the customs formats that sluice defines itself (readers read them, the generator writes them): the CSV
 * columns and the namespace of the UBL extension for packing lists and OCR confidences.
 */

/** The CSV columns, in order: the invoice's columns (repeated on each of its rows), then the line's. */
export const CSV_COLUMNS = [
  'invoice_number',
  'invoice_date',
  'locale',
  'exporter_id',
  'exporter_name',
  'exporter_country',
  'importer_id',
  'importer_name',
  'importer_country',
  'incoterm',
  'currency',
  'invoice_total',
  'packages',
  'gross_weight_kg',
  'net_weight_kg',
  'ocr_confidence',
  'line_no',
  'description',
  'quantity',
  'unit',
  'unit_price',
  'line_total',
  'hs_code',
  'origin_country',
  'line_packages',
] as const;

/** Namespace of sluice's UBL extension for customs data (packing list, OCR confidences). */
export const CUSTOMS_EXTENSION_NS = 'urn:sluice:customs:1';

/**
 * Business rules on a valid inventory record: hold it for review, or label it with a category class.
 */
import type { Classification, FieldIssue } from '../types.ts';
import type { InventoryRecord } from './schema.ts';

/** Hold reason codes, highest priority first. */
export const HOLD_REASON_CODES = ['nonstandard_location', 'quantity_outlier'] as const;
export type HoldReasonCode = (typeof HOLD_REASON_CODES)[number];

/**
 * A standardized location code, `<BUILDING>-<ROOM>`: a building code of 2 to 8 upper-case ASCII letters, a dash, and
 * a room of 1 to 5 upper-case letters or digits. `CHEM-101`, `BIO-2B` and `PHYS-B12` are standard; `chem-101`,
 * `CHEM 101`, `Room 101` and `C-101` are held for a person to map to a standard code.
 */
export const LOCATION_CODE = /^[A-Z]{2,8}-[A-Z0-9]{1,5}$/;

/** Quantities above this are held as a likely data-entry error (an extra digit, a catalogue number in the wrong column). */
export const QUANTITY_OUTLIER_ABOVE = 10_000;

export const CATEGORY_CLASSES = ['chemical', 'biological', 'equipment', 'other'] as const;
export type CategoryClass = (typeof CATEGORY_CLASSES)[number];

/** Keywords of each class, tried in order on the lower-cased category text; no match is `other`. */
const CATEGORY_KEYWORDS: ReadonlyArray<readonly [CategoryClass, RegExp]> = [
  // Equipment first: "chemical fume hood" and "tissue culture incubator" are instruments, not substances.
  [
    'equipment',
    /equip|instrument|centrifuge|microscope|pipett|incubator|freezer|balance|spectro|analy[sz]er|hood|cabinet|oven|pump/,
  ],
  ['biological', /bio|cell|antibod|enzyme|culture|tissue|plasmid|strain|serum|primer|dna|rna/],
  ['chemical', /chem|reagent|solvent|acid|buffer|salt|compound|oxide|ethanol|acetone/],
];

export function categoryClass(category: string): CategoryClass {
  const text = category.toLowerCase();
  return CATEGORY_KEYWORDS.find(([, pattern]) => pattern.test(text))?.[0] ?? 'other';
}

export function classifyInventory(record: InventoryRecord): Classification {
  const issues: FieldIssue[] = [];
  if (!LOCATION_CODE.test(record.location)) {
    issues.push({
      path: 'location',
      code: 'nonstandard_location',
      message: 'location is not a standard <BUILDING>-<ROOM> code such as CHEM-101',
      value: record.location,
    });
  }
  if (record.quantity > QUANTITY_OUTLIER_ABOVE) {
    issues.push({
      path: 'quantity',
      code: 'quantity_outlier',
      message: `quantity above ${QUANTITY_OUTLIER_ABOVE} is likely a data-entry error`,
      value: record.quantity,
    });
  }
  const first = issues[0];
  // Issues are pushed in HOLD_REASON_CODES order, so the first names the record's reason.
  if (first !== undefined) return { hold: true, reasonCode: first.code, issues };
  return { hold: false, label: categoryClass(record.category) };
}

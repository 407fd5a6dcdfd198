/**
 * Matching (seed 003's reconciliation): a ship notice or an invoice is checked line by line against the purchase
 * order it names, as committed to the ledger by an earlier batch. Purchase orders are the reference here, so they are
 * committed documents of this same profile rather than imported reference data: the buyer's ERP sends the 850s
 * through sluice, and the supplier's 856s and 810s are matched against what was committed.
 *
 * Within one batch the chunks run concurrently and in no set order, so an order in the same file as its ship notice
 * may commit after the notice is classified: submit orders first (a batch of their own) and wait for it.
 */
import { z } from 'zod';
import type { Classification, FieldIssue, ProfileContext, ReferenceLookup } from '../types.ts';
import { fromMicros, toMicros } from './schema.ts';
import type { SupplyDocument, SupplyLine } from './schema.ts';

export const SUPPLY_FEED_PROFILE_ID = 'supply-feed';

/** Hold reason codes, highest priority first. */
export const HOLD_REASON_CODES = ['unknown_po', 'unmatched_line', 'quantity_variance', 'price_variance'] as const;
export type HoldReasonCode = (typeof HOLD_REASON_CODES)[number];

/** Labels of records that pass: an order is committed as the reference; a notice or invoice that matches its order. */
export const LABELS = { purchaseOrder: 'purchase_order', matched: 'matched' } as const;

export const supplyFeedOptionsSchema = z
  .strictObject({
    /** Shipped or invoiced quantity may exceed the ordered quantity by this many percent. Default 0: not at all. */
    quantity_tolerance_pct: z.number().min(0).max(1000).default(0),
    /** An invoice's unit price may exceed the order's by this many percent. Default 1. */
    price_tolerance_pct: z.number().min(0).max(1000).default(1),
  })
  .strict();
export type SupplyFeedOptions = z.output<typeof supplyFeedOptionsSchema>;

export const DEFAULT_OPTIONS: SupplyFeedOptions = { quantity_tolerance_pct: 0, price_tolerance_pct: 1 };

/** `purchase_order/<supplier_id>/<po_number>`: an order's business key, as its ship notices and invoices find it. */
export const orderKey = (supplierId: string, poNumber: string): string => `purchase_order/${supplierId}/${poNumber}`;

/** The order each line belongs to: its own `po_number`, else the document's. */
const linePo = (doc: SupplyDocument, line: SupplyLine): string => line.po_number ?? doc.po_number;

/** The committed orders the records refer to, by business key. */
export interface PreparedOrders {
  orders: Map<string, SupplyDocument>;
}

/** One ledger query per chunk for every order the chunk's notices and invoices refer to. */
export async function prepareSupplyClassify(
  records: readonly SupplyDocument[],
  lookup: ReferenceLookup,
): Promise<PreparedOrders> {
  const keys = new Set<string>();
  for (const doc of records) {
    if (doc.doc_type === 'purchase_order') continue;
    for (const line of doc.lines) keys.add(orderKey(doc.supplier_id, linePo(doc, line)));
  }
  const found = await lookup.ledger(SUPPLY_FEED_PROFILE_ID, [...keys]);
  return { orders: found as Map<string, SupplyDocument> };
}

/** Percent as an integer of millionths of the whole (1 % = 10,000), so tolerance checks stay in integers. */
const percentUnits = (pct: number): bigint => BigInt(Math.round(pct * 10_000));

/** Whether `actual` exceeds `allowed` plus `tolerance` (millionths of the whole), all exact. */
export const exceeds = (actual: bigint, allowed: bigint, tolerance: bigint): boolean =>
  actual * 1_000_000n > allowed * (1_000_000n + tolerance);

export function supplyOptions(context?: ProfileContext): SupplyFeedOptions {
  return supplyFeedOptionsSchema.parse({ ...DEFAULT_OPTIONS, ...(context?.options ?? {}) });
}

export function classifySupplyDocument(
  doc: SupplyDocument,
  prepared: PreparedOrders | undefined,
  context?: ProfileContext,
): Classification {
  if (doc.doc_type === 'purchase_order') return { hold: false, label: LABELS.purchaseOrder };
  const options = supplyOptions(context);
  const quantityTolerance = percentUnits(options.quantity_tolerance_pct);
  const priceTolerance = percentUnits(options.price_tolerance_pct);
  const what = doc.doc_type === 'invoice' ? 'invoiced' : 'shipped';

  const issues: Array<FieldIssue & { reason: HoldReasonCode }> = [];
  const unknown = new Set<string>();
  /** Per order and SKU: this document's total quantity and the first line that has it. */
  const totals = new Map<string, { po: string; sku: string; quantity: bigint; first: number }>();

  doc.lines.forEach((line, i) => {
    const po = linePo(doc, line);
    const order = prepared?.orders.get(orderKey(doc.supplier_id, po));
    if (order === undefined) {
      if (!unknown.has(po)) {
        unknown.add(po);
        issues.push({
          path: line.po_number === undefined ? 'po_number' : `lines[${i}].po_number`,
          code: 'unknown_po',
          message: `no purchase order ${po} of supplier ${doc.supplier_id} has been committed`,
          value: po,
          reason: 'unknown_po',
        });
      }
      return;
    }
    const ordered = order.lines.filter((l) => l.sku === line.sku);
    if (ordered.length === 0) {
      issues.push({
        path: `lines[${i}].sku`,
        code: 'unmatched_line',
        message: `SKU ${line.sku} is not on purchase order ${po}`,
        value: line.sku,
        reason: 'unmatched_line',
      });
      return;
    }
    if (!ordered.some((l) => l.unit === line.unit)) {
      issues.push({
        path: `lines[${i}].unit`,
        code: 'unit_mismatch',
        message: `SKU ${line.sku} is ordered in ${ordered[0]!.unit} on purchase order ${po}, not ${line.unit}`,
        value: line.unit,
        reason: 'unmatched_line',
      });
      return;
    }
    const key = `${po}\u001f${line.sku}`;
    const total = totals.get(key) ?? { po, sku: line.sku, quantity: 0n, first: i };
    total.quantity += toMicros(line.quantity);
    totals.set(key, total);

    if (doc.doc_type === 'invoice' && line.unit_price !== undefined) {
      if (order.currency !== doc.currency) {
        issues.push({
          path: 'currency',
          code: 'currency_mismatch',
          message: `the invoice is in ${doc.currency}, purchase order ${po} in ${order.currency}: prices cannot be compared`,
          value: doc.currency,
          reason: 'price_variance',
        });
        return;
      }
      // Several order lines of one SKU may carry different prices: the highest is what the buyer agreed to at most.
      const orderPrice = ordered.reduce((max, l) => {
        const price = toMicros(l.unit_price ?? '0');
        return price > max ? price : max;
      }, 0n);
      if (exceeds(toMicros(line.unit_price), orderPrice, priceTolerance)) {
        issues.push({
          path: `lines[${i}].unit_price`,
          code: 'price_variance',
          message: `unit price ${line.unit_price} is more than ${options.price_tolerance_pct}% above the order's ${fromMicros(orderPrice)} (purchase order ${po}, SKU ${line.sku})`,
          value: line.unit_price,
          reason: 'price_variance',
        });
      }
    }
  });

  for (const total of totals.values()) {
    const order = prepared!.orders.get(orderKey(doc.supplier_id, total.po))!;
    const ordered = order.lines.filter((l) => l.sku === total.sku).reduce((sum, l) => sum + toMicros(l.quantity), 0n);
    if (exceeds(total.quantity, ordered, quantityTolerance)) {
      issues.push({
        path: `lines[${total.first}].quantity`,
        code: 'quantity_variance',
        message: `${what} quantity ${fromMicros(total.quantity)} of SKU ${total.sku} is more than the ${fromMicros(ordered)} ordered on purchase order ${total.po}${quantityTolerance > 0n ? ` plus ${options.quantity_tolerance_pct}%` : ''}`,
        value: doc.lines[total.first]!.quantity,
        reason: 'quantity_variance',
      });
    }
  }

  if (issues.length === 0) return { hold: false, label: LABELS.matched };
  const reasons = new Set(issues.map((i) => i.reason));
  const reasonCode = HOLD_REASON_CODES.find((r) => reasons.has(r))!;
  // Issues in document order read best; the reason is the highest-priority one among them.
  const ordered = issues.map(({ reason: _reason, ...issue }) => issue);
  return { hold: true, reasonCode, issues: ordered };
}

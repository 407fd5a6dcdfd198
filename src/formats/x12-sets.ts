/**
 * Maps X12 transaction sets read by `readX12` to plain, JSON-able canonical records: 210 (motor carrier freight
 * invoice), 810 (invoice), 850 (purchase order) and 856 (ship notice). Pure functions: no I/O, no exceptions for bad
 * content. A missing required segment or element, an unreadable date or number, becomes a located `FieldIssue` (the
 * message names the set and the segment position) next to a record built from whatever was there, so the caller
 * decides whether to quarantine it.
 *
 * Value conventions, as the 4010/5010 dictionaries define the element types:
 * - ID and AN elements are copied as they are (not trimmed); empty elements are absent.
 * - R (decimal) elements, such as quantities, unit prices, rates and weights, are copied as they are in the file
 *   ("16.5" stays "16.5") after checking they are numbers.
 * - N2 elements carry two implied decimals and become decimal strings: "128763" -> "1287.63", "-2500" -> "-25.00",
 *   "5" -> "0.05". These are 210 B307, L104 and L305 and 810 TDS01. An N2 value holding a decimal point is an
 *   `invalid_number` issue rather than a guess at what the sender meant.
 * - DT elements are CCYYMMDD and become YYYY-MM-DD; anything else is an `invalid_date` issue.
 * - The currency defaults to USD when the set has no currency segment (210 C301, 810/850 CUR02 before the lines),
 *   which is the dictionaries' own reading of an absent currency for these US-centric sets.
 */
import type { FieldIssue } from '../profiles/types.ts';
import type { X12Segment, X12TransactionSet } from './x12.ts';

/** An N1 loop: N1 with its N3 address lines and N4 place. */
export interface X12Party {
  /** N101 entity identifier code, e.g. `SH` shipper, `CN` consignee, `BT` bill-to, `ST` ship-to. */
  qualifier?: string;
  /** N102. */
  name?: string;
  /** N103 identification code qualifier. */
  idQualifier?: string;
  /** N104. */
  id?: string;
  /** N301, N302 of each N3, in order. */
  address?: string[];
  /** N401. */
  city?: string;
  /** N402. */
  state?: string;
  /** N403. */
  postalCode?: string;
  /** N404. */
  country?: string;
}

/** Product ids by qualifier (`VP` vendor part, `BP` buyer part, `UP` UPC, `SK` SKU, ...), from qualifier/id pairs. */
export type X12ProductIds = Record<string, string>;

/** One L1 (rate and charges). */
export interface Freight210Charge {
  /** L102 freight rate (R). */
  rate?: string;
  /** L103 rate/value qualifier, e.g. `CW` per hundredweight, `FR` flat rate. */
  rateQualifier?: string;
  /** L104 charge (N2, converted). */
  charge?: string;
  /** L108 special charge or allowance code, e.g. `400` freight, `FUE` fuel surcharge. */
  chargeCode?: string;
  /** L112 special charge description. */
  description?: string;
}

/** One LX loop. */
export interface Freight210Line {
  /** LX01. */
  lineNo?: string;
  /** L502 lading description (L501 is the lading line item number, not a description). */
  description?: string;
  /** L004 weight (R). L001 is the lading line item number, not a weight. */
  weight?: string;
  /** L005 weight qualifier, e.g. `G` gross. */
  weightQualifier?: string;
  /** L011 weight unit code, e.g. `L` pounds, `K` kilograms. */
  weightUnit?: string;
  /** L008 lading quantity. */
  quantity?: string;
  /** L009 packaging form code. */
  packaging?: string;
  /** L102 of the loop's first L1. */
  rate?: string;
  /** L103 of the loop's first L1. */
  rateQualifier?: string;
  /** L104 of the loop's first L1 (N2, converted). */
  charge?: string;
  /** L108 of the loop's first L1. */
  chargeCode?: string;
  /** Every L1 of the loop, the first included: a loop may hold freight and accessorial charges together. */
  charges: Freight210Charge[];
  /** N1 loops inside the LX loop, if any. */
  parties?: X12Party[];
}

/** One S5 loop (stop off details). */
export interface Freight210Stop {
  /** S501 stop sequence number. */
  stopNo?: string;
  /** S502 stop reason code, e.g. `LD` load, `UL` unload. */
  reason?: string;
  /** S503 weight. */
  weight?: string;
  /** S504 weight unit code. */
  weightUnit?: string;
  /** S505 number of units shipped. */
  quantity?: string;
  /** S506 unit or basis for measurement code. */
  unit?: string;
  /** N1 loops inside the S5 loop. */
  parties: X12Party[];
}

export interface Freight210 {
  type: '210';
  /** B302. */
  invoiceNumber?: string;
  /** B303 shipment identification number. */
  shipmentId?: string;
  /** B304 shipment method of payment, e.g. `PP` prepaid, `CC` collect. */
  paymentMethod?: string;
  /** B306 billing date. */
  billDate?: string;
  /** B307 net amount due (N2, converted). */
  netAmountDue?: string;
  /** B309 delivery date. */
  deliveryDate?: string;
  /** B311 standard carrier alpha code. */
  scac?: string;
  /** C301, else USD. */
  currency: string;
  /** N1 loops of the heading. */
  parties: X12Party[];
  stops: Freight210Stop[];
  lines: Freight210Line[];
  /** L301 total weight (R). */
  totalWeight?: string;
  /** L302 weight qualifier. */
  totalWeightQualifier?: string;
  /** L305 total charges (N2, converted). */
  totalCharges?: string;
}

export interface Invoice810Line {
  /** IT101 assigned identification. */
  lineNo?: string;
  /** IT102 quantity invoiced (R). */
  quantity?: string;
  /** IT103 unit of measure, e.g. `EA`. */
  unit?: string;
  /** IT104 unit price (R). */
  unitPrice?: string;
  /** IT106/IT107, IT108/IT109, ... up to IT124/IT125. */
  productIds: X12ProductIds;
  /** PID05 of the line's first PID that has one. */
  description?: string;
  /** N1 loops inside the IT1 loop, if any. */
  parties?: X12Party[];
}

export interface Invoice810 {
  type: '810';
  /** BIG02. */
  invoiceNumber?: string;
  /** BIG01. */
  invoiceDate?: string;
  /** BIG03. */
  poDate?: string;
  /** BIG04. */
  poNumber?: string;
  /** CUR02 of the heading, else USD. */
  currency: string;
  parties: X12Party[];
  lines: Invoice810Line[];
  /** TDS01 total invoice amount (N2, converted). */
  totalAmount?: string;
  /** CTT01 number of IT1 lines, as sent. */
  totalLines?: string;
}

export interface PurchaseOrder850Line {
  /** PO101 assigned identification. */
  lineNo?: string;
  /** PO102 quantity ordered (R). */
  quantity?: string;
  /** PO103 unit of measure. */
  unit?: string;
  /** PO104 unit price (R). */
  unitPrice?: string;
  /** PO106/PO107, ... up to PO124/PO125. */
  productIds: X12ProductIds;
  /** PID05 of the line's first PID that has one. */
  description?: string;
  /** N1 loops inside the PO1 loop, if any. */
  parties?: X12Party[];
}

export interface PurchaseOrder850 {
  type: '850';
  /** BEG03. */
  poNumber?: string;
  /** BEG05. */
  poDate?: string;
  /** BEG01 transaction set purpose code, e.g. `00` original. */
  purpose?: string;
  /** BEG02 purchase order type code, e.g. `SA` stand-alone. */
  orderType?: string;
  /** BEG04. */
  releaseNumber?: string;
  /** CUR02 of the heading, else USD. */
  currency: string;
  parties: X12Party[];
  lines: PurchaseOrder850Line[];
  /** CTT01 number of PO1 lines, as sent. */
  totalLines?: string;
}

/** One HL segment. */
export interface ShipNotice856Level {
  /** HL01. */
  id?: string;
  /** HL02. */
  parentId?: string;
  /** HL03 level code: `S` shipment, `O` order, `T` tare, `P` pack, `I` item. */
  code?: string;
  /** PRF01 of the level, when it has a PRF (normally order levels). */
  poNumber?: string;
  /** N1 loops of a level other than the shipment level (those go to the record's `parties`). */
  parties?: X12Party[];
}

export interface ShipNotice856Line {
  /** HL01 of the level holding the LIN/SN1. */
  hlId?: string;
  /** PRF01 of the enclosing order level (followed through HL02 parents). */
  poNumber?: string;
  /** LIN01 assigned identification. */
  lineNo?: string;
  /** LIN02/LIN03, LIN04/LIN05, ... up to LIN30/LIN31. */
  productIds: X12ProductIds;
  /** SN102 number of units shipped (R). */
  quantityShipped?: string;
  /** SN103 unit of measure. */
  unit?: string;
}

export interface ShipNotice856 {
  type: '856';
  /** BSN02. */
  shipmentId?: string;
  /** BSN03. */
  shipDate?: string;
  /** BSN04 (HHMM or longer, as sent). */
  shipTime?: string;
  /** BSN01 transaction set purpose code. */
  purpose?: string;
  /** TD503 when TD502 is `2` (a SCAC). */
  carrierScac?: string;
  /** PRF01 of each order level, in order, without repeats. */
  poNumbers: string[];
  /** N1 loops before the first HL or in a shipment level. */
  parties: X12Party[];
  levels: ShipNotice856Level[];
  lines: ShipNotice856Line[];
  /** CTT01 number of HL segments, as sent. */
  totalLines?: string;
}

export type X12Record = Freight210 | Invoice810 | PurchaseOrder850 | ShipNotice856;

export interface X12MapResult<T> {
  record: T;
  issues: FieldIssue[];
}

/** Maps any supported set; other set ids give no record and one `unsupported_transaction_set` issue. */
export function mapTransactionSet(set: X12TransactionSet): { record?: X12Record; issues: FieldIssue[] } {
  switch (set.setId) {
    case '210':
      return map210(set);
    case '810':
      return map810(set);
    case '850':
      return map850(set);
    case '856':
      return map856(set);
    default: {
      const st = set.segments[0];
      const at = st === undefined ? set.where : `${set.where}, ST at segment ${st.position}`;
      const message = `transaction set ${JSON.stringify(set.setId)} is not supported: only 210, 810, 850 and 856 are (${at})`;
      return { issues: [{ path: '', code: 'unsupported_transaction_set', message, value: set.setId }] };
    }
  }
}

/** 210 Motor Carrier Freight Details and Invoice. Requires B3 (B302, B304, B306, B307, B311) and L3. */
export function map210(set: X12TransactionSet): X12MapResult<Freight210> {
  const m = new SetReader(set, '210');
  // Fields start undefined so that they keep this order in the output; `compact` drops the ones never filled.
  const record: Freight210 = {
    type: '210',
    invoiceNumber: undefined,
    scac: undefined,
    shipmentId: undefined,
    paymentMethod: undefined,
    billDate: undefined,
    deliveryDate: undefined,
    currency: 'USD',
    netAmountDue: undefined,
    parties: [],
    stops: [],
    lines: [],
    totalWeight: undefined,
    totalWeightQualifier: undefined,
    totalCharges: undefined,
  };
  const parties = new PartyLoops(m);
  parties.enter(record.parties, 'parties');
  let line: Freight210Line | undefined;
  let lineIndex = -1;
  const openLine = (lineNo?: string): Freight210Line => {
    line = {
      lineNo,
      description: undefined,
      weight: undefined,
      weightQualifier: undefined,
      weightUnit: undefined,
      quantity: undefined,
      packaging: undefined,
      rate: undefined,
      rateQualifier: undefined,
      charge: undefined,
      chargeCode: undefined,
      charges: [],
    };
    lineIndex = record.lines.push(line) - 1;
    parties.enter((line.parties = []), `lines[${lineIndex}].parties`);
    return line;
  };
  let sawB3 = false;
  let sawL3 = false;
  for (const seg of m.body) {
    if (parties.take(seg)) continue;
    switch (seg.id) {
      case 'B3':
        sawB3 = true;
        record.invoiceNumber = m.required(seg, 2, 'invoiceNumber', 'invoice number');
        record.shipmentId = m.text(seg, 3);
        record.paymentMethod = m.required(seg, 4, 'paymentMethod', 'shipment method of payment');
        record.billDate = m.date(seg, 6, 'billDate', 'billing date', true);
        record.netAmountDue = m.n2(seg, 7, 'netAmountDue', 'net amount due', true);
        record.deliveryDate = m.date(seg, 9, 'deliveryDate', 'delivery date');
        record.scac = m.required(seg, 11, 'scac', 'standard carrier alpha code');
        break;
      case 'C3':
        record.currency = m.text(seg, 1) ?? record.currency;
        break;
      case 'S5': {
        const stop: Freight210Stop = {
          stopNo: m.text(seg, 1),
          reason: m.text(seg, 2),
          weight: m.decimal(seg, 3, `stops[${record.stops.length}].weight`, 'weight'),
          weightUnit: m.text(seg, 4),
          quantity: m.decimal(seg, 5, `stops[${record.stops.length}].quantity`, 'number of units'),
          unit: m.text(seg, 6),
          parties: [],
        };
        parties.enter(stop.parties, `stops[${record.stops.push(stop) - 1}].parties`);
        line = undefined;
        break;
      }
      case 'LX':
        openLine(m.text(seg, 1));
        break;
      case 'L5': {
        const target = line ?? openLine();
        target.description ??= m.text(seg, 2);
        break;
      }
      case 'L0': {
        const target = line ?? openLine();
        const path = `lines[${lineIndex}]`;
        target.weight = m.decimal(seg, 4, `${path}.weight`, 'weight');
        target.weightQualifier = m.text(seg, 5);
        target.quantity = m.text(seg, 8);
        target.packaging = m.text(seg, 9);
        target.weightUnit = m.text(seg, 11);
        break;
      }
      case 'L1': {
        const target = line ?? openLine();
        const path = `lines[${lineIndex}].charges[${target.charges.length}]`;
        const charge = compact<Freight210Charge>({
          rate: m.decimal(seg, 2, `${path}.rate`, 'freight rate'),
          rateQualifier: m.text(seg, 3),
          charge: m.n2(seg, 4, `${path}.charge`, 'charge'),
          chargeCode: m.text(seg, 8),
          description: m.text(seg, 12),
        });
        if (target.charges.push(charge) === 1) {
          target.rate = charge.rate;
          target.rateQualifier = charge.rateQualifier;
          target.charge = charge.charge;
          target.chargeCode = charge.chargeCode;
        }
        break;
      }
      case 'L3':
        sawL3 = true;
        line = undefined;
        parties.enter(record.parties, 'parties');
        record.totalWeight = m.decimal(seg, 1, 'totalWeight', 'weight');
        record.totalWeightQualifier = m.text(seg, 2);
        record.totalCharges = m.n2(seg, 5, 'totalCharges', 'charge');
        break;
    }
  }
  if (!sawB3) m.missingSegment('B3', 'beginning segment for carrier invoice');
  if (!sawL3) m.missingSegment('L3', 'total weight and charges');
  record.stops = record.stops.map((stop) => compact(stop));
  record.lines = record.lines.map((l) => compact({ ...l, parties: nonEmpty(l.parties) }));
  return m.result(compact(record));
}

/** 810 Invoice. Requires BIG (BIG01, BIG02) and TDS (TDS01). */
export function map810(set: X12TransactionSet): X12MapResult<Invoice810> {
  const m = new SetReader(set, '810');
  const record: Invoice810 = {
    type: '810',
    invoiceNumber: undefined,
    invoiceDate: undefined,
    poNumber: undefined,
    poDate: undefined,
    currency: 'USD',
    parties: [],
    lines: [],
    totalAmount: undefined,
    totalLines: undefined,
  };
  const parties = new PartyLoops(m);
  parties.enter(record.parties, 'parties');
  let line: Invoice810Line | undefined;
  let sawBig = false;
  let sawTds = false;
  for (const seg of m.body) {
    if (parties.take(seg)) continue;
    switch (seg.id) {
      case 'BIG':
        sawBig = true;
        record.invoiceDate = m.date(seg, 1, 'invoiceDate', 'invoice date', true);
        record.invoiceNumber = m.required(seg, 2, 'invoiceNumber', 'invoice number');
        record.poDate = m.date(seg, 3, 'poDate', 'purchase order date');
        record.poNumber = m.text(seg, 4);
        break;
      case 'CUR':
        if (line === undefined) record.currency = m.text(seg, 2) ?? record.currency;
        break;
      case 'IT1': {
        const path = `lines[${record.lines.length}]`;
        line = lineItem(m, seg, path, 6);
        record.lines.push(line);
        parties.enter((line.parties = []), `${path}.parties`);
        break;
      }
      case 'PID':
        if (line !== undefined) line.description ??= m.text(seg, 5);
        break;
      case 'TDS':
        sawTds = true;
        line = undefined;
        parties.enter(record.parties, 'parties');
        record.totalAmount = m.n2(seg, 1, 'totalAmount', 'total invoice amount', true);
        break;
      case 'CTT':
        record.totalLines = m.lineCount(seg, record.lines.length, 'IT1');
        break;
    }
  }
  if (!sawBig) m.missingSegment('BIG', 'beginning segment for invoice');
  if (!sawTds) m.missingSegment('TDS', 'total monetary value summary');
  record.lines = record.lines.map((l) => compact({ ...l, parties: nonEmpty(l.parties) }));
  return m.result(compact(record));
}

/** 850 Purchase Order. Requires BEG (BEG01, BEG02, BEG03, BEG05) and at least one PO1. */
export function map850(set: X12TransactionSet): X12MapResult<PurchaseOrder850> {
  const m = new SetReader(set, '850');
  const record: PurchaseOrder850 = {
    type: '850',
    poNumber: undefined,
    poDate: undefined,
    purpose: undefined,
    orderType: undefined,
    releaseNumber: undefined,
    currency: 'USD',
    parties: [],
    lines: [],
    totalLines: undefined,
  };
  const parties = new PartyLoops(m);
  parties.enter(record.parties, 'parties');
  let line: PurchaseOrder850Line | undefined;
  let sawBeg = false;
  for (const seg of m.body) {
    if (parties.take(seg)) continue;
    switch (seg.id) {
      case 'BEG':
        sawBeg = true;
        record.purpose = m.required(seg, 1, 'purpose', 'transaction set purpose code');
        record.orderType = m.required(seg, 2, 'orderType', 'purchase order type code');
        record.poNumber = m.required(seg, 3, 'poNumber', 'purchase order number');
        record.releaseNumber = m.text(seg, 4);
        record.poDate = m.date(seg, 5, 'poDate', 'purchase order date', true);
        break;
      case 'CUR':
        if (line === undefined) record.currency = m.text(seg, 2) ?? record.currency;
        break;
      case 'PO1': {
        const path = `lines[${record.lines.length}]`;
        line = lineItem(m, seg, path, 6);
        record.lines.push(line);
        parties.enter((line.parties = []), `${path}.parties`);
        break;
      }
      case 'PID':
        if (line !== undefined) line.description ??= m.text(seg, 5);
        break;
      case 'CTT':
        line = undefined;
        record.totalLines = m.lineCount(seg, record.lines.length, 'PO1');
        break;
    }
  }
  if (!sawBeg) m.missingSegment('BEG', 'beginning segment for purchase order');
  if (record.lines.length === 0) m.missingSegment('PO1', 'baseline item data (no order lines)');
  record.lines = record.lines.map((l) => compact({ ...l, parties: nonEmpty(l.parties) }));
  return m.result(compact(record));
}

/**
 * 856 Ship Notice/Manifest. Requires BSN (BSN01, BSN02, BSN03) and at least one HL with HL01 and HL03. Each LIN starts
 * a line; an SN1 completes the line of its level, or starts one when the level has no LIN. A line's PO number is the
 * PRF01 of the order level found through HL02 parents (or, without parents, the last order level before it).
 */
export function map856(set: X12TransactionSet): X12MapResult<ShipNotice856> {
  const m = new SetReader(set, '856');
  const record: ShipNotice856 = {
    type: '856',
    shipmentId: undefined,
    shipDate: undefined,
    shipTime: undefined,
    purpose: undefined,
    carrierScac: undefined,
    poNumbers: [],
    parties: [],
    levels: [],
    lines: [],
    totalLines: undefined,
  };
  const parties = new PartyLoops(m);
  parties.enter(record.parties, 'parties');
  const byId = new Map<string, { level: ShipNotice856Level; lastOrder?: ShipNotice856Level }>();
  const lineLevels: Array<{ level: ShipNotice856Level; lastOrder?: ShipNotice856Level }> = [];
  let level: { level: ShipNotice856Level; lastOrder?: ShipNotice856Level } | undefined;
  let lastOrder: ShipNotice856Level | undefined;
  let line: ShipNotice856Line | undefined;
  let sawBsn = false;
  const openLine = (): ShipNotice856Line => {
    line = { hlId: level?.level.id, poNumber: undefined, lineNo: undefined, productIds: {} };
    record.lines.push(line);
    lineLevels.push(level ?? { level: {}, lastOrder });
    return line;
  };
  for (const seg of m.body) {
    if (parties.take(seg)) continue;
    switch (seg.id) {
      case 'BSN':
        sawBsn = true;
        record.purpose = m.required(seg, 1, 'purpose', 'transaction set purpose code');
        record.shipmentId = m.required(seg, 2, 'shipmentId', 'shipment identification');
        record.shipDate = m.date(seg, 3, 'shipDate', 'ship date', true);
        record.shipTime = m.text(seg, 4);
        break;
      case 'HL': {
        const path = `levels[${record.levels.length}]`;
        const hl: ShipNotice856Level = {
          id: m.required(seg, 1, `${path}.id`, 'hierarchical id number'),
          parentId: m.text(seg, 2),
          code: m.required(seg, 3, `${path}.code`, 'hierarchical level code'),
        };
        if (hl.parentId !== undefined && !byId.has(hl.parentId)) {
          m.issue(
            seg,
            `${path}.parentId`,
            'unknown_parent',
            `HL02 parent ${JSON.stringify(hl.parentId)} is not an earlier HL01`,
            hl.parentId,
          );
        }
        record.levels.push(hl);
        level = { level: hl, lastOrder };
        if (hl.id !== undefined) byId.set(hl.id, level);
        if (hl.code === 'O') lastOrder = hl;
        line = undefined;
        if (hl.code === 'S') parties.enter(record.parties, 'parties');
        else parties.enter((hl.parties = []), `${path}.parties`);
        break;
      }
      case 'PRF': {
        const po = m.text(seg, 1);
        if (level !== undefined && po !== undefined) {
          level.level.poNumber ??= po;
          if (level.level.code === 'O' && !record.poNumbers.includes(po)) record.poNumbers.push(po);
        }
        break;
      }
      case 'LIN': {
        const target = openLine();
        target.lineNo = m.text(seg, 1);
        target.productIds = m.productIds(seg, 2, `lines[${record.lines.length - 1}].productIds`);
        break;
      }
      case 'SN1': {
        const target = line !== undefined && line.quantityShipped === undefined ? line : openLine();
        const path = `lines[${record.lines.length - 1}]`;
        target.quantityShipped = m.decimal(seg, 2, `${path}.quantityShipped`, 'number of units shipped');
        target.unit = m.text(seg, 3);
        break;
      }
      case 'TD5':
        if (m.text(seg, 2) === '2') record.carrierScac ??= m.text(seg, 3);
        break;
      case 'CTT':
        line = undefined;
        record.totalLines = m.lineCount(seg, record.levels.length, 'HL');
        break;
    }
  }
  if (!sawBsn) m.missingSegment('BSN', 'beginning segment for ship notice');
  if (record.levels.length === 0) m.missingSegment('HL', 'hierarchical level (no levels)');
  record.lines = record.lines.map((l, i) => compact({ ...l, poNumber: orderOf(lineLevels[i]!, byId)?.poNumber }));
  record.levels = record.levels.map((l) => compact({ ...l, parties: nonEmpty(l.parties) }));
  return m.result(compact(record));
}

/** The order level above a level: through HL02 parents when they lead to one, else the last order level before it. */
function orderOf(
  start: { level: ShipNotice856Level; lastOrder?: ShipNotice856Level },
  byId: Map<string, { level: ShipNotice856Level; lastOrder?: ShipNotice856Level }>,
): ShipNotice856Level | undefined {
  const seen = new Set<ShipNotice856Level>();
  for (let at: ShipNotice856Level | undefined = start.level; at !== undefined && !seen.has(at);) {
    if (at.code === 'O') return at;
    seen.add(at);
    at = at.parentId === undefined ? undefined : byId.get(at.parentId)?.level;
  }
  return start.lastOrder;
}

/** IT1 and PO1 share a layout: 01 id, 02 quantity, 03 unit, 04 unit price, 05 price basis, then qualifier/id pairs. */
function lineItem(m: SetReader, seg: X12Segment, path: string, firstPair: number): Invoice810Line {
  return {
    lineNo: m.text(seg, 1),
    quantity: m.decimal(seg, 2, `${path}.quantity`, 'quantity'),
    unit: m.text(seg, 3),
    unitPrice: m.decimal(seg, 4, `${path}.unitPrice`, 'unit price'),
    productIds: m.productIds(seg, firstPair, `${path}.productIds`),
  };
}

/**
 * Collects N1 loops (N1, then N3 and N4 for it) into whichever list the set's structure says they belong to at the
 * moment: the heading, a stop, a line or a level. The mapper moves the target with `enter`.
 */
class PartyLoops {
  private list: X12Party[] = [];
  private path = 'parties';
  private party: X12Party | undefined;

  constructor(private readonly m: SetReader) {}

  enter(list: X12Party[], path: string): void {
    this.list = list;
    this.path = path;
    this.party = undefined;
  }

  /** Takes N1, N3 and N4 segments; false for any other. */
  take(seg: X12Segment): boolean {
    const { m } = this;
    switch (seg.id) {
      case 'N1': {
        const path = `${this.path}[${this.list.length}]`;
        this.party = {
          qualifier: m.required(seg, 1, `${path}.qualifier`, 'entity identifier code'),
          name: m.text(seg, 2),
          idQualifier: m.text(seg, 3),
          id: m.text(seg, 4),
        };
        this.list.push(this.party);
        this.tidy();
        return true;
      }
      case 'N3':
        if (this.party !== undefined) {
          const lines = [m.text(seg, 1), m.text(seg, 2)].filter((s): s is string => s !== undefined);
          (this.party.address ??= []).push(...lines);
        }
        return true;
      case 'N4':
        if (this.party !== undefined) {
          Object.assign(this.party, {
            city: m.text(seg, 1),
            state: m.text(seg, 2),
            postalCode: m.text(seg, 3),
            country: m.text(seg, 4),
          });
          this.tidy();
        }
        return true;
      default:
        return false;
    }
  }

  /** Drops absent fields from the current party in place (it is already in its list). */
  private tidy(): void {
    const party = this.party!;
    for (const key of Object.keys(party) as Array<keyof X12Party>) if (party[key] === undefined) delete party[key];
  }
}

/** Reads elements of one set, collecting located issues. */
class SetReader {
  readonly issues: FieldIssue[] = [];
  /** The set's segments without ST and SE. */
  readonly body: X12Segment[];

  constructor(
    readonly set: X12TransactionSet,
    expected: string,
  ) {
    this.body = set.segments.filter((seg) => seg.id !== 'ST' && seg.id !== 'SE');
    if (set.setId !== expected) {
      this.issues.push({
        path: '',
        code: 'wrong_transaction_set',
        message: `expected a ${expected} transaction set, got ${JSON.stringify(set.setId)} (${this.stAt()})`,
        value: set.setId,
      });
    }
  }

  result<T>(record: T): X12MapResult<T> {
    return { record, issues: this.issues };
  }

  /** Element `n` (1-based, as in `B302`), or undefined when absent or empty. */
  text(seg: X12Segment, n: number): string | undefined {
    const value = seg.elements[n - 1];
    return value === undefined || value === '' ? undefined : value;
  }

  required(seg: X12Segment, n: number, path: string, label: string): string | undefined {
    const value = this.text(seg, n);
    if (value === undefined) this.missing(seg, n, path, label);
    return value;
  }

  /** A DT element (CCYYMMDD) as YYYY-MM-DD. */
  date(seg: X12Segment, n: number, path: string, label: string, required = false): string | undefined {
    const value = required ? this.required(seg, n, path, label) : this.text(seg, n);
    if (value === undefined) return undefined;
    const iso = isoDate(value);
    if (iso === undefined) {
      this.issue(
        seg,
        path,
        'invalid_date',
        `${elementName(seg, n)} (${label}) ${JSON.stringify(value)} is not a CCYYMMDD date`,
        value,
      );
    }
    return iso;
  }

  /** An N2 element (two implied decimals) as a decimal string. */
  n2(seg: X12Segment, n: number, path: string, label: string, required = false): string | undefined {
    const value = required ? this.required(seg, n, path, label) : this.text(seg, n);
    if (value === undefined) return undefined;
    const amount = impliedDecimal(value, 2);
    if (amount === undefined) {
      this.issue(
        seg,
        path,
        'invalid_number',
        `${elementName(seg, n)} (${label}) ${JSON.stringify(value)} is not an N2 number (digits with 2 implied decimals)`,
        value,
      );
    }
    return amount;
  }

  /** An R element (explicit decimal point, if any), copied as it is once checked. */
  decimal(seg: X12Segment, n: number, path: string, label: string): string | undefined {
    const value = this.text(seg, n);
    if (value === undefined || DECIMAL.test(value)) return value;
    this.issue(
      seg,
      path,
      'invalid_number',
      `${elementName(seg, n)} (${label}) ${JSON.stringify(value)} is not a number`,
      value,
    );
    return undefined;
  }

  /** Qualifier/id pairs from element `first` to the end of the segment. */
  productIds(seg: X12Segment, first: number, path: string): X12ProductIds {
    const ids: X12ProductIds = {};
    for (let n = first; n <= seg.elements.length; n += 2) {
      const qualifier = this.text(seg, n);
      const id = this.text(seg, n + 1);
      if (qualifier === undefined && id === undefined) continue;
      if (qualifier === undefined || id === undefined) {
        const [missing, label] =
          qualifier === undefined ? [n, 'product/service id qualifier'] : [n + 1, 'product/service id'];
        this.missing(seg, missing, qualifier === undefined ? path : `${path}.${qualifier}`, label);
      } else if (!QUALIFIER.test(qualifier)) {
        this.issue(
          seg,
          path,
          'invalid_qualifier',
          `${elementName(seg, n)} ${JSON.stringify(qualifier)} is not a product/service id qualifier`,
          qualifier,
        );
      } else if (Object.hasOwn(ids, qualifier)) {
        this.issue(
          seg,
          `${path}.${qualifier}`,
          'duplicate_qualifier',
          `${elementName(seg, n)} repeats qualifier ${qualifier}; the first id is kept`,
          id,
        );
      } else {
        ids[qualifier] = id;
      }
    }
    return ids;
  }

  /** CTT01 as sent, with an issue when it disagrees with what the set holds. */
  lineCount(seg: X12Segment, counted: number, of: string): string | undefined {
    const value = this.text(seg, 1);
    if (value !== undefined && (!/^\d+$/.test(value) || Number(value) !== counted)) {
      this.issue(
        seg,
        'totalLines',
        'count_mismatch',
        `CTT01 says ${JSON.stringify(value)} ${of} segments, the set has ${counted}`,
        value,
      );
    }
    return value;
  }

  missingSegment(id: string, label: string): void {
    this.issues.push({
      path: '',
      code: 'missing_segment',
      message: `${id} segment (${label}) is missing (${this.stAt()})`,
    });
  }

  issue(seg: X12Segment, path: string, code: string, text: string, value?: unknown): void {
    const message = `${text} (${this.set.where}, ${seg.id} at segment ${seg.position})`;
    this.issues.push(value === undefined ? { path, code, message } : { path, code, message, value });
  }

  private missing(seg: X12Segment, n: number, path: string, label: string): void {
    this.issue(seg, path, 'missing_element', `${elementName(seg, n)} (${label}) is missing`);
  }

  private stAt(): string {
    const st = this.set.segments[0];
    return st === undefined ? this.set.where : `${this.set.where}, ST at segment ${st.position}`;
  }
}

/** R type: optional minus, digits with an optional decimal point, optional exponent (allowed from 4010 on). */
const DECIMAL = /^-?(\d+\.?\d*|\.\d+)(E-?\d+)?$/;
const QUALIFIER = /^[A-Z0-9]{1,3}$/;

/** `B302` for element 2 of a B3. */
function elementName(seg: X12Segment, n: number): string {
  return `${seg.id}${String(n).padStart(2, '0')}`;
}

/** An X12 N-type value (digits, optional leading minus, no decimal point) with `decimals` implied decimals. */
export function impliedDecimal(value: string, decimals: number): string | undefined {
  const match = /^(-?)(\d+)$/.exec(value);
  if (match === null) return undefined;
  const digits = match[2]!.replace(/^0+/, '').padStart(decimals + 1, '0');
  const sign = match[1] === '-' && /[1-9]/.test(digits) ? '-' : '';
  if (decimals === 0) return `${sign}${digits}`;
  return `${sign}${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
}

/** CCYYMMDD -> YYYY-MM-DD, or undefined when it is not a real calendar date. */
export function isoDate(value: string): string | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(value);
  if (match === null) return undefined;
  const [y, mo, d] = [match[1]!, match[2]!, match[3]!];
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (date.getUTCFullYear() !== Number(y) || date.getUTCMonth() !== Number(mo) - 1 || date.getUTCDate() !== Number(d)) {
    return undefined;
  }
  return `${y}-${mo}-${d}`;
}

/** A copy without the properties that are undefined, so records compare and serialise cleanly. */
function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function nonEmpty<T>(list: T[] | undefined): T[] | undefined {
  return list === undefined || list.length === 0 ? undefined : list;
}

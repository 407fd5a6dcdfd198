/**
 * UBL 2.1 mapper: turns an `Invoice` or `CreditNote` element (as read by `readXmlDocuments`) into plain JSON with the
 * fields EN 16931 / Peppol BIS Billing 3 invoices carry: parties, lines, tax totals and monetary totals. Generic: knows
 * the UBL vocabulary and nothing about any profile.
 *
 * Elements are matched by namespace and local name, never by prefix (files use `cbc:`, `ubl:` or default namespaces
 * freely). An element with the right local name in the wrong namespace is reported, not silently skipped: a mistyped
 * namespace URI would otherwise look like a missing field.
 *
 * Amounts, quantities and percentages stay the decimal strings of the file: no float ever touches money. Totals are
 * checked separately (`checkUblTotals`) with exact scaled-integer arithmetic.
 */
import type { XmlElement } from './xml.ts';

export const UBL_NAMESPACES = {
  Invoice: 'urn:oasis:names:specification:ubl:schema:xsd:Invoice-2',
  CreditNote: 'urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2',
  cac: 'urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2',
  cbc: 'urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2',
} as const;

export interface UblParty {
  /** PartyName/Name, else PartyLegalEntity/RegistrationName. */
  name?: string;
  endpointId?: string;
  /** EndpointID's schemeID (e.g. `0088` for GLN): an endpoint means nothing without it. */
  endpointScheme?: string;
  /** PartyIdentification/ID. */
  id?: string;
  /** PartyTaxScheme/CompanyID, the one whose TaxScheme/ID is VAT when there are several. */
  vatId?: string;
  /** PartyLegalEntity/CompanyID. */
  legalId?: string;
  street?: string;
  city?: string;
  postalCode?: string;
  /** PostalAddress/Country/IdentificationCode. */
  country?: string;
}

export interface UblLine {
  id: string;
  /** InvoicedQuantity or CreditedQuantity. */
  quantity: string;
  unitCode?: string;
  lineExtensionAmount: string;
  /** LineExtensionAmount's currencyID. */
  currency?: string;
  itemName?: string;
  description?: string;
  sellersItemId?: string;
  buyersItemId?: string;
  standardItemId?: string;
  /** Item/CommodityClassification/ItemClassificationCode, e.g. `{ listId: 'HS', code: '851713' }`. */
  commodityCodes: { listId?: string; code: string }[];
  /** Item/OriginCountry/IdentificationCode. */
  originCountry?: string;
  priceAmount?: string;
  baseQuantity?: string;
  /** Item/ClassifiedTaxCategory/ID and Percent. */
  taxCategory?: string;
  taxPercent?: string;
  /** OrderLineReference/LineID. */
  orderLineRef?: string;
}

export interface UblDocument {
  documentType: 'Invoice' | 'CreditNote';
  customizationId?: string;
  profileId?: string;
  id: string;
  issueDate: string;
  /** DueDate; for a credit note (which has none in UBL 2.1) PaymentMeans/PaymentDueDate. */
  dueDate?: string;
  /** InvoiceTypeCode or CreditNoteTypeCode. */
  typeCode?: string;
  documentCurrency: string;
  taxCurrency?: string;
  buyerReference?: string;
  orderReference?: string;
  /** BillingReference/InvoiceDocumentReference/ID: the invoice a credit note (or corrective invoice) refers to. */
  billingReference?: string;
  /** All Note elements, joined by line breaks. */
  note?: string;
  supplier: UblParty;
  customer: UblParty;
  delivery?: { date?: string; country?: string; incoterms?: string };
  lines: UblLine[];
  /** The TaxTotal in the document currency (with a TaxCurrencyCode there is a second one, in the tax currency). */
  taxTotal: {
    taxAmount: string;
    currency?: string;
    subtotals: { taxableAmount: string; taxAmount: string; category?: string; percent?: string }[];
  };
  monetaryTotal: {
    lineExtensionAmount: string;
    taxExclusiveAmount: string;
    taxInclusiveAmount: string;
    allowanceTotalAmount?: string;
    chargeTotalAmount?: string;
    prepaidAmount?: string;
    payableRoundingAmount?: string;
    payableAmount: string;
  };
}

/** Same shape as the profile contract's `FieldIssue`; `path` names the field in `UblDocument`. */
export interface UblIssue {
  path: string;
  code: string;
  message: string;
  value?: unknown;
}

/**
 * Maps a UBL 2.1 Invoice or CreditNote. `document` is undefined only when the element is not one (wrong name or root
 * namespace). Otherwise it is always returned, so a reviewer sees what the file said, but it is trustworthy only when
 * `issues` is empty: a missing required element is an issue and its field is `''`.
 *
 * Required (EN 16931 mandatory): ID, IssueDate, DocumentCurrencyCode, both parties, at least one line with ID,
 * quantity and LineExtensionAmount, TaxTotal/TaxAmount, and LegalMonetaryTotal's LineExtensionAmount,
 * TaxExclusiveAmount, TaxInclusiveAmount and PayableAmount. Amounts, quantities and percentages must be decimals,
 * dates `YYYY-MM-DD`.
 */
export function mapUbl(doc: XmlElement): { document: UblDocument | undefined; issues: UblIssue[] } {
  const documentType = doc.name === 'Invoice' || doc.name === 'CreditNote' ? doc.name : undefined;
  if (documentType === undefined) {
    return {
      document: undefined,
      issues: [
        {
          path: '',
          code: 'not_ubl_document',
          message: `<${doc.name}> is not a UBL Invoice or CreditNote`,
          value: doc.name,
        },
      ],
    };
  }
  if (doc.ns !== UBL_NAMESPACES[documentType]) {
    return {
      document: undefined,
      issues: [
        {
          path: '',
          code: 'wrong_namespace',
          message: `<${documentType}> is in namespace "${doc.ns}", not the UBL 2.1 ${documentType} namespace "${UBL_NAMESPACES[documentType]}"`,
          value: doc.ns,
        },
      ],
    };
  }
  return new Mapper(doc, documentType).map();
}

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** `cac:Party`-style step: a namespace prefix of `UBL_NAMESPACES` and a local name. */
type Step = `${'cac' | 'cbc'}:${string}`;

class Mapper {
  private readonly issues: UblIssue[] = [];
  /** Wrong-namespace elements already reported: several lookups may pass the same one. */
  private readonly reported = new WeakSet<XmlElement>();
  private readonly lineName: 'InvoiceLine' | 'CreditNoteLine';

  constructor(
    private readonly root: XmlElement,
    private readonly documentType: 'Invoice' | 'CreditNote',
  ) {
    this.lineName = documentType === 'Invoice' ? 'InvoiceLine' : 'CreditNoteLine';
  }

  map(): { document: UblDocument; issues: UblIssue[] } {
    const r = this.root;
    const isInvoice = this.documentType === 'Invoice';
    const documentCurrency = this.required(
      'documentCurrency',
      this.text(r, 'documentCurrency', 'cbc:DocumentCurrencyCode'),
    );
    const notes = this.all(r, 'note', 'cbc:Note')
      .map((n) => n.text)
      .filter((t) => t !== '');
    const document: UblDocument = {
      documentType: this.documentType,
      ...defined({
        customizationId: this.text(r, 'customizationId', 'cbc:CustomizationID'),
        profileId: this.text(r, 'profileId', 'cbc:ProfileID'),
      }),
      id: this.required('id', this.text(r, 'id', 'cbc:ID')),
      issueDate: this.required('issueDate', this.date('issueDate', this.text(r, 'issueDate', 'cbc:IssueDate'))),
      ...defined({
        dueDate: this.date(
          'dueDate',
          this.text(r, 'dueDate', 'cbc:DueDate') ??
            (isInvoice ? undefined : this.text(r, 'dueDate', 'cac:PaymentMeans', 'cbc:PaymentDueDate')),
        ),
        typeCode: this.text(r, 'typeCode', isInvoice ? 'cbc:InvoiceTypeCode' : 'cbc:CreditNoteTypeCode'),
      }),
      documentCurrency,
      ...defined({
        taxCurrency: this.text(r, 'taxCurrency', 'cbc:TaxCurrencyCode'),
        buyerReference: this.text(r, 'buyerReference', 'cbc:BuyerReference'),
        orderReference: this.text(r, 'orderReference', 'cac:OrderReference', 'cbc:ID'),
        billingReference: this.text(
          r,
          'billingReference',
          'cac:BillingReference',
          'cac:InvoiceDocumentReference',
          'cbc:ID',
        ),
        note: notes.length > 0 ? notes.join('\n') : undefined,
      }),
      supplier: this.party('supplier', 'cac:AccountingSupplierParty'),
      customer: this.party('customer', 'cac:AccountingCustomerParty'),
      ...defined({ delivery: this.delivery() }),
      lines: this.lines(),
      taxTotal: this.taxTotal(documentCurrency),
      monetaryTotal: this.monetaryTotal(),
    };
    return { document, issues: this.issues };
  }

  private party(path: string, step: Step): UblParty {
    const outer = this.find(this.root, path, step);
    if (outer === undefined) {
      this.issue(path, 'missing', `${step} is missing`);
      return {};
    }
    const party = this.find(outer, path, 'cac:Party');
    if (party === undefined) {
      this.issue(path, 'missing', `${step}/cac:Party is missing`);
      return {};
    }
    const endpoint = this.find(party, `${path}.endpointId`, 'cbc:EndpointID');
    const taxSchemes = this.all(party, `${path}.vatId`, 'cac:PartyTaxScheme');
    const vatScheme =
      taxSchemes.find((s) => this.text(s, `${path}.vatId`, 'cac:TaxScheme', 'cbc:ID')?.toUpperCase() === 'VAT') ??
      taxSchemes[0];
    const address = this.find(party, `${path}.country`, 'cac:PostalAddress');
    return defined({
      name:
        this.text(party, `${path}.name`, 'cac:PartyName', 'cbc:Name') ??
        this.text(party, `${path}.name`, 'cac:PartyLegalEntity', 'cbc:RegistrationName'),
      endpointId: nonEmpty(endpoint?.text),
      endpointScheme: endpoint?.attrs.schemeID,
      id: this.text(party, `${path}.id`, 'cac:PartyIdentification', 'cbc:ID'),
      vatId: vatScheme === undefined ? undefined : this.text(vatScheme, `${path}.vatId`, 'cbc:CompanyID'),
      legalId: this.text(party, `${path}.legalId`, 'cac:PartyLegalEntity', 'cbc:CompanyID'),
      street: address && this.text(address, `${path}.street`, 'cbc:StreetName'),
      city: address && this.text(address, `${path}.city`, 'cbc:CityName'),
      postalCode: address && this.text(address, `${path}.postalCode`, 'cbc:PostalZone'),
      country: address && this.text(address, `${path}.country`, 'cac:Country', 'cbc:IdentificationCode'),
    });
  }

  private delivery(): UblDocument['delivery'] {
    const r = this.root;
    const delivery = this.find(r, 'delivery', 'cac:Delivery');
    const terms = this.find(r, 'delivery.incoterms', 'cac:DeliveryTerms');
    const result = defined({
      date: delivery && this.date('delivery.date', this.text(delivery, 'delivery.date', 'cbc:ActualDeliveryDate')),
      country:
        delivery &&
        this.text(
          delivery,
          'delivery.country',
          'cac:DeliveryLocation',
          'cac:Address',
          'cac:Country',
          'cbc:IdentificationCode',
        ),
      incoterms:
        (terms && this.text(terms, 'delivery.incoterms', 'cbc:ID')) ??
        (delivery && this.text(delivery, 'delivery.incoterms', 'cac:DeliveryTerms', 'cbc:ID')),
    });
    return Object.keys(result).length > 0 ? result : undefined;
  }

  private lines(): UblLine[] {
    const elements = this.all(this.root, 'lines', `cac:${this.lineName}`);
    if (elements.length === 0) {
      const other = this.documentType === 'Invoice' ? 'CreditNoteLine' : 'InvoiceLine';
      const hint = this.root.children.some((c) => c.name === other)
        ? ` (it has ${other}s, which belong to the other document type)`
        : '';
      this.issue(
        'lines',
        'missing',
        `${this.documentType === 'Invoice' ? 'an' : 'a'} ${this.documentType} needs at least one cac:${this.lineName}${hint}`,
      );
    }
    const quantityStep: Step = this.documentType === 'Invoice' ? 'cbc:InvoicedQuantity' : 'cbc:CreditedQuantity';
    return elements.map((el, i) => {
      const p = `lines[${i}]`;
      const quantity = this.find(el, `${p}.quantity`, quantityStep);
      const amount = this.find(el, `${p}.lineExtensionAmount`, 'cbc:LineExtensionAmount');
      const item = this.find(el, `${p}.itemName`, 'cac:Item');
      const price = this.find(el, `${p}.priceAmount`, 'cac:Price');
      const taxCategory = item && this.find(item, `${p}.taxCategory`, 'cac:ClassifiedTaxCategory');
      const commodityCodes = (item ? this.all(item, `${p}.commodityCodes`, 'cac:CommodityClassification') : [])
        .flatMap((c) => this.all(c, `${p}.commodityCodes`, 'cbc:ItemClassificationCode'))
        .filter((c) => c.text !== '')
        .map((c) => (c.attrs.listID === undefined ? { code: c.text } : { listId: c.attrs.listID, code: c.text }));
      return {
        id: this.required(`${p}.id`, this.text(el, `${p}.id`, 'cbc:ID')),
        quantity: this.required(`${p}.quantity`, this.decimal(`${p}.quantity`, nonEmpty(quantity?.text))),
        ...defined({ unitCode: quantity?.attrs.unitCode }),
        lineExtensionAmount: this.required(
          `${p}.lineExtensionAmount`,
          this.decimal(`${p}.lineExtensionAmount`, nonEmpty(amount?.text)),
        ),
        ...defined({
          currency: amount?.attrs.currencyID,
          itemName: item && this.text(item, `${p}.itemName`, 'cbc:Name'),
          description: item && this.text(item, `${p}.description`, 'cbc:Description'),
          sellersItemId: item && this.text(item, `${p}.sellersItemId`, 'cac:SellersItemIdentification', 'cbc:ID'),
          buyersItemId: item && this.text(item, `${p}.buyersItemId`, 'cac:BuyersItemIdentification', 'cbc:ID'),
          standardItemId: item && this.text(item, `${p}.standardItemId`, 'cac:StandardItemIdentification', 'cbc:ID'),
        }),
        commodityCodes,
        ...defined({
          originCountry: item && this.text(item, `${p}.originCountry`, 'cac:OriginCountry', 'cbc:IdentificationCode'),
          priceAmount:
            price && this.decimal(`${p}.priceAmount`, this.text(price, `${p}.priceAmount`, 'cbc:PriceAmount')),
          baseQuantity:
            price && this.decimal(`${p}.baseQuantity`, this.text(price, `${p}.baseQuantity`, 'cbc:BaseQuantity')),
          taxCategory: taxCategory && this.text(taxCategory, `${p}.taxCategory`, 'cbc:ID'),
          taxPercent:
            taxCategory && this.decimal(`${p}.taxPercent`, this.text(taxCategory, `${p}.taxPercent`, 'cbc:Percent')),
          orderLineRef: this.text(el, `${p}.orderLineRef`, 'cac:OrderLineReference', 'cbc:LineID'),
        }),
      };
    });
  }

  private taxTotal(documentCurrency: string): UblDocument['taxTotal'] {
    const totals = this.all(this.root, 'taxTotal', 'cac:TaxTotal');
    // With a TaxCurrencyCode, EN 16931 wants a second TaxTotal in the tax currency, without subtotals.
    const total =
      totals.find((t) => this.find(t, 'taxTotal.taxAmount', 'cbc:TaxAmount')?.attrs.currencyID === documentCurrency) ??
      totals[0];
    if (total === undefined) {
      this.issue('taxTotal', 'missing', 'cac:TaxTotal is missing');
      return { taxAmount: '', subtotals: [] };
    }
    const amount = this.find(total, 'taxTotal.taxAmount', 'cbc:TaxAmount');
    const subtotals = this.all(total, 'taxTotal.subtotals', 'cac:TaxSubtotal').map((s, i) => {
      const p = `taxTotal.subtotals[${i}]`;
      const category = this.find(s, `${p}.category`, 'cac:TaxCategory');
      return {
        taxableAmount: this.amount(s, `${p}.taxableAmount`, 'cbc:TaxableAmount'),
        taxAmount: this.amount(s, `${p}.taxAmount`, 'cbc:TaxAmount'),
        ...defined({
          category: category && this.text(category, `${p}.category`, 'cbc:ID'),
          percent: category && this.decimal(`${p}.percent`, this.text(category, `${p}.percent`, 'cbc:Percent')),
        }),
      };
    });
    return {
      taxAmount: this.required('taxTotal.taxAmount', this.decimal('taxTotal.taxAmount', nonEmpty(amount?.text))),
      ...defined({ currency: amount?.attrs.currencyID }),
      subtotals,
    };
  }

  private monetaryTotal(): UblDocument['monetaryTotal'] {
    const path = 'monetaryTotal';
    const t = this.find(this.root, path, 'cac:LegalMonetaryTotal');
    if (t === undefined) this.issue(path, 'missing', 'cac:LegalMonetaryTotal is missing');
    const req = (field: string, step: Step): string => {
      if (t !== undefined) return this.amount(t, `${path}.${field}`, step);
      return '';
    };
    const opt = (field: string, step: Step): string | undefined =>
      t && this.decimal(`${path}.${field}`, this.text(t, `${path}.${field}`, step));
    return {
      lineExtensionAmount: req('lineExtensionAmount', 'cbc:LineExtensionAmount'),
      taxExclusiveAmount: req('taxExclusiveAmount', 'cbc:TaxExclusiveAmount'),
      taxInclusiveAmount: req('taxInclusiveAmount', 'cbc:TaxInclusiveAmount'),
      ...defined({
        allowanceTotalAmount: opt('allowanceTotalAmount', 'cbc:AllowanceTotalAmount'),
        chargeTotalAmount: opt('chargeTotalAmount', 'cbc:ChargeTotalAmount'),
        prepaidAmount: opt('prepaidAmount', 'cbc:PrepaidAmount'),
        payableRoundingAmount: opt('payableRoundingAmount', 'cbc:PayableRoundingAmount'),
      }),
      payableAmount: req('payableAmount', 'cbc:PayableAmount'),
    };
  }

  /** A required decimal child of `el`. */
  private amount(el: XmlElement, path: string, step: Step): string {
    return this.required(path, this.decimal(path, this.text(el, path, step)));
  }

  /** Text at the end of `steps` below `el`; undefined (and not an issue) when a step is missing or the text empty. */
  private text(el: XmlElement, path: string, ...steps: Step[]): string | undefined {
    let at: XmlElement | undefined = el;
    for (const step of steps) {
      at = this.find(at, path, step);
      if (at === undefined) return undefined;
    }
    return nonEmpty(at.text);
  }

  private find(el: XmlElement, path: string, step: Step): XmlElement | undefined {
    return this.all(el, path, step)[0];
  }

  /** Children of `el` matching `step` by namespace and local name; same-named children in another namespace are issues. */
  private all(el: XmlElement, path: string, step: Step): XmlElement[] {
    const [prefix, local] = step.split(':') as ['cac' | 'cbc', string];
    const ns = UBL_NAMESPACES[prefix];
    const found: XmlElement[] = [];
    for (const c of el.children) {
      if (c.name !== local) continue;
      if (c.ns === ns) found.push(c);
      else if (!this.reported.has(c)) {
        this.reported.add(c);
        this.issue(path, 'wrong_namespace', `${step} at line ${c.line} is in namespace "${c.ns}", not "${ns}"`, c.ns);
      }
    }
    return found;
  }

  private required(path: string, value: string | undefined): string {
    if (value !== undefined) return value;
    if (!this.issues.some((i) => i.path === path)) this.issue(path, 'missing', `${path} is required`);
    return '';
  }

  private decimal(path: string, value: string | undefined): string | undefined {
    if (value !== undefined && !DECIMAL.test(value)) {
      this.issue(path, 'not_decimal', `${path} must be a decimal number`, value);
    }
    return value;
  }

  private date(path: string, value: string | undefined): string | undefined {
    if (value !== undefined && !isDate(value)) this.issue(path, 'not_date', `${path} must be a date YYYY-MM-DD`, value);
    return value;
  }

  private issue(path: string, code: string, message: string, value?: unknown): void {
    this.issues.push(value === undefined ? { path, code, message } : { path, code, message, value });
  }
}

function isDate(value: string): boolean {
  const m = DATE.exec(value);
  if (m === null) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** The object without its undefined properties, so the mapped JSON has no `"x": undefined` noise. */
function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/**
 * EN 16931 totals rules, checked exactly (decimals as scaled BigInts), each within `tolerance`:
 * - BR-CO-10: the sum of line net amounts equals LegalMonetaryTotal/LineExtensionAmount.
 * - BR-CO-13: LineExtensionAmount - AllowanceTotalAmount + ChargeTotalAmount equals TaxExclusiveAmount.
 * - BR-CO-15: TaxExclusiveAmount + TaxTotal/TaxAmount equals TaxInclusiveAmount.
 * - BR-CO-16: TaxInclusiveAmount - PrepaidAmount + PayableRoundingAmount equals PayableAmount.
 * A rule whose amounts are missing or not decimals is skipped: `mapUbl` has reported them already.
 */
export function checkUblTotals(document: UblDocument, tolerance = '0.01'): UblIssue[] {
  const tol = parseDecimal(tolerance);
  if (tol === undefined || tol.units < 0n)
    throw new RangeError(`tolerance must be a non-negative decimal, got ${tolerance}`);
  const m = document.monetaryTotal;
  const issues: UblIssue[] = [];
  const check = (
    rule: string,
    path: string,
    stated: string,
    what: string,
    terms: { value: string | undefined; sign: 1n | -1n; optional?: boolean }[],
  ): void => {
    const parsed = terms.map((t) =>
      t.value === undefined && t.optional === true ? ZERO : parseDecimal(t.value ?? ''),
    );
    const target = parseDecimal(stated);
    if (target === undefined || parsed.some((p) => p === undefined)) return;
    const all = [target, tol, ...(parsed as Decimal[])];
    const scale = Math.max(...all.map((d) => d.scale));
    let sum = 0n;
    parsed.forEach((d, i) => (sum += terms[i]!.sign * rescale(d!, scale)));
    const diff = sum - rescale(target, scale);
    const abs = diff < 0n ? -diff : diff;
    if (abs > rescale(tol, scale)) {
      issues.push({
        path,
        code: 'totals_mismatch',
        message:
          `${rule}: ${what} is ${format(sum, scale)} but ${path} is ${stated} ` +
          `(difference ${format(abs, scale)}, tolerance ${tolerance})`,
        value: stated,
      });
    }
  };
  check(
    'BR-CO-10',
    'monetaryTotal.lineExtensionAmount',
    m.lineExtensionAmount,
    'the sum of line amounts',
    document.lines.map((l) => ({ value: l.lineExtensionAmount, sign: 1n })),
  );
  check(
    'BR-CO-13',
    'monetaryTotal.taxExclusiveAmount',
    m.taxExclusiveAmount,
    'LineExtensionAmount - AllowanceTotalAmount + ChargeTotalAmount',
    [
      { value: m.lineExtensionAmount, sign: 1n },
      { value: m.allowanceTotalAmount, sign: -1n, optional: true },
      { value: m.chargeTotalAmount, sign: 1n, optional: true },
    ],
  );
  check('BR-CO-15', 'monetaryTotal.taxInclusiveAmount', m.taxInclusiveAmount, 'TaxExclusiveAmount + TaxAmount', [
    { value: m.taxExclusiveAmount, sign: 1n },
    { value: document.taxTotal.taxAmount, sign: 1n },
  ]);
  check(
    'BR-CO-16',
    'monetaryTotal.payableAmount',
    m.payableAmount,
    'TaxInclusiveAmount - PrepaidAmount + PayableRoundingAmount',
    [
      { value: m.taxInclusiveAmount, sign: 1n },
      { value: m.prepaidAmount, sign: -1n, optional: true },
      { value: m.payableRoundingAmount, sign: 1n, optional: true },
    ],
  );
  return issues;
}

/** A decimal as an integer number of 10^-scale units: `-12.50` is `{ units: -1250n, scale: 2 }`. */
interface Decimal {
  units: bigint;
  scale: number;
}

const ZERO: Decimal = { units: 0n, scale: 0 };

/** Parses an xsd:decimal; undefined when it is not one. */
export function parseDecimal(text: string): Decimal | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const negative = text.startsWith('-');
  const unsigned = text.replace(/^[+-]/, '');
  const [whole = '', fraction = ''] = unsigned.split('.');
  const units = BigInt(`${whole}${fraction}` || '0');
  return { units: negative ? -units : units, scale: fraction.length };
}

function rescale(d: Decimal, scale: number): bigint {
  return d.units * 10n ** BigInt(scale - d.scale);
}

function format(units: bigint, scale: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

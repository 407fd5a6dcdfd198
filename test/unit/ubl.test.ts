import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readXmlDocuments } from '../../src/formats/xml.ts';
import type { XmlElement, XmlReadOptions } from '../../src/formats/xml.ts';
import { checkUblTotals, mapUbl, parseDecimal } from '../../src/formats/ubl.ts';
import type { UblDocument, UblIssue } from '../../src/formats/ubl.ts';

const fixtures = join(import.meta.dirname, '../fixtures/xml');
const dir = mkdtempSync(join(tmpdir(), 'sluice-ubl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const UBL = { documentElements: ['Invoice', 'CreditNote'] };
const NS = {
  Invoice: 'urn:oasis:names:specification:ubl:schema:xsd:Invoice-2',
  CreditNote: 'urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2',
  cac: 'urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2',
  cbc: 'urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2',
};

async function elements(file: string, options: XmlReadOptions = UBL): Promise<XmlElement[]> {
  const out: XmlElement[] = [];
  for await (const doc of readXmlDocuments(file, 'in.xml', options)) out.push(doc.element);
  return out;
}

let fileNo = 0;
async function parse(xml: string): Promise<XmlElement> {
  const file = join(dir, `f${fileNo++}.xml`);
  writeFileSync(file, xml);
  const [el] = await elements(file, {});
  return el!;
}

async function mapFixture(name: string): Promise<{ document: UblDocument | undefined; issues: UblIssue[] }> {
  const [el] = await elements(join(fixtures, name));
  return mapUbl(el!);
}

/** A small valid invoice; each part given replaces everything between the header and the lines when given. */
function invoice(parts: {
  header?: string;
  parties?: string;
  totals?: string;
  lines?: string;
  rootNs?: string;
}): string {
  return `<Invoice xmlns="${parts.rootNs ?? NS.Invoice}" xmlns:cac="${NS.cac}" xmlns:cbc="${NS.cbc}">
  ${
    parts.header ??
    `<cbc:ID>T-1</cbc:ID>
  <cbc:IssueDate>2024-02-29</cbc:IssueDate>
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>`
  }
  ${
    parts.parties ??
    `<cac:AccountingSupplierParty><cac:Party><cac:PartyName><cbc:Name>S</cbc:Name></cac:PartyName></cac:Party></cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty><cac:Party><cac:PartyName><cbc:Name>C</cbc:Name></cac:PartyName></cac:Party></cac:AccountingCustomerParty>`
  }
  ${
    parts.totals ??
    `<cac:TaxTotal><cbc:TaxAmount currencyID="EUR">2.00</cbc:TaxAmount></cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="EUR">10.00</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="EUR">10.00</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="EUR">12.00</cbc:TaxInclusiveAmount>
    <cbc:PayableAmount currencyID="EUR">12.00</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>`
  }
  ${
    parts.lines ??
    `<cac:InvoiceLine>
    <cbc:ID>1</cbc:ID>
    <cbc:InvoicedQuantity unitCode="EA">1</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="EUR">10.00</cbc:LineExtensionAmount>
  </cac:InvoiceLine>`
  }
</Invoice>`;
}

describe('mapUbl', () => {
  it('maps a Peppol BIS 3 invoice field by field', async () => {
    const { document, issues } = await mapFixture('peppol-invoice.xml');
    expect(issues).toEqual([]);
    expect(document).toEqual({
      documentType: 'Invoice',
      customizationId: 'urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0',
      profileId: 'urn:fdc:peppol.eu:2017:poacc:billing:01:1.0',
      id: 'INV-2024-0042',
      issueDate: '2024-03-15',
      dueDate: '2024-04-14',
      typeCode: '380',
      documentCurrency: 'EUR',
      taxCurrency: 'SEK',
      buyerReference: '4711-PURCH',
      orderReference: 'PO-7781',
      note: 'Payment within 30 days & no early-payment discount',
      supplier: {
        name: 'Nordic Components AB',
        endpointId: '7300010000001',
        endpointScheme: '0088',
        id: '7300010000001',
        // The VAT registration, not the Swedish F-tax approval listed first under another TaxScheme.
        vatId: 'SE556677889901',
        legalId: '5566778899',
        street: 'Hamngatan 12',
        city: 'Göteborg',
        postalCode: '411 06',
        country: 'SE',
      },
      customer: {
        // No PartyName: the legal registration name stands in.
        name: 'Bayerische Maschinenbau GmbH',
        endpointId: 'DE123456789',
        endpointScheme: '9930',
        vatId: 'DE123456789',
        legalId: 'HRB 98765',
        street: 'Industriestraße 5',
        city: 'München',
        postalCode: '80331',
        country: 'DE',
      },
      delivery: { date: '2024-03-10', country: 'DE', incoterms: 'DAP' },
      lines: [
        {
          id: '1',
          quantity: '10',
          unitCode: 'H87',
          lineExtensionAmount: '455.00',
          currency: 'EUR',
          itemName: 'Router NR-400',
          description: 'Industrial router, 4 ports, DIN rail',
          sellersItemId: 'NR-400-DIN',
          buyersItemId: 'BMB-55-0071',
          standardItemId: '07350053850019',
          commodityCodes: [
            { listId: 'HS', code: '851762' },
            { listId: 'STI', code: '43222609' },
          ],
          originCountry: 'SE',
          priceAmount: '45.50',
          taxCategory: 'S',
          taxPercent: '25',
          orderLineRef: '10',
        },
        {
          id: '2',
          quantity: '2.5',
          unitCode: 'KGM',
          lineExtensionAmount: '45.00',
          currency: 'EUR',
          itemName: 'Cable ties <200 mm>, bulk',
          sellersItemId: 'CT-200-BULK',
          commodityCodes: [{ listId: 'HS', code: '392690' }],
          originCountry: 'CN',
          priceAmount: '18.00',
          baseQuantity: '1',
          taxCategory: 'S',
          taxPercent: '25',
        },
        {
          id: '3',
          quantity: '1',
          unitCode: 'HUR',
          lineExtensionAmount: '100.00',
          currency: 'EUR',
          itemName: 'Installation training (on site)',
          commodityCodes: [],
          priceAmount: '100.00',
          taxCategory: 'E',
          taxPercent: '0',
        },
      ],
      // The TaxTotal in the document currency, not the SEK one that comes first.
      taxTotal: {
        taxAmount: '131.25',
        currency: 'EUR',
        subtotals: [
          { taxableAmount: '525.00', taxAmount: '131.25', category: 'S', percent: '25' },
          { taxableAmount: '100.00', taxAmount: '0.00', category: 'E', percent: '0' },
        ],
      },
      monetaryTotal: {
        lineExtensionAmount: '600.00',
        taxExclusiveAmount: '625.00',
        taxInclusiveAmount: '756.25',
        allowanceTotalAmount: '0.00',
        chargeTotalAmount: '25.00',
        prepaidAmount: '100.00',
        payableRoundingAmount: '-0.25',
        payableAmount: '656.00',
      },
    } satisfies UblDocument);
    expect(checkUblTotals(document!)).toEqual([]);
    expect(checkUblTotals(document!, '0')).toEqual([]);
  });

  it('maps a credit note: CreditNoteLine, CreditedQuantity, any prefixes', async () => {
    const { document, issues } = await mapFixture('ubl-credit-note.xml');
    expect(issues).toEqual([]);
    expect(document).toEqual({
      documentType: 'CreditNote',
      customizationId: 'urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0',
      profileId: 'urn:fdc:peppol.eu:2017:poacc:billing:01:1.0',
      id: 'CN-2024-0007',
      issueDate: '2024-03-20',
      dueDate: '2024-04-19',
      typeCode: '381',
      documentCurrency: 'EUR',
      buyerReference: '4711-PURCH',
      billingReference: 'INV-2024-0042',
      note: 'Two routers returned damaged\nCredit against INV-2024-0042',
      supplier: {
        name: 'Nordic Components Aktiebolag',
        endpointId: '7300010000001',
        endpointScheme: '0088',
        vatId: 'SE556677889901',
        city: 'Göteborg',
        country: 'SE',
      },
      customer: {
        name: 'Bayerische Maschinenbau GmbH',
        endpointId: 'DE123456789',
        endpointScheme: '9930',
        city: 'München',
        country: 'DE',
      },
      lines: [
        {
          id: '1',
          quantity: '2',
          unitCode: 'H87',
          lineExtensionAmount: '91.00',
          currency: 'EUR',
          itemName: 'Router NR-400',
          sellersItemId: 'NR-400-DIN',
          commodityCodes: [{ listId: 'HS', code: '851762' }],
          priceAmount: '45.50',
          taxCategory: 'S',
          taxPercent: '25',
        },
      ],
      taxTotal: {
        taxAmount: '22.75',
        currency: 'EUR',
        subtotals: [{ taxableAmount: '91.00', taxAmount: '22.75', category: 'S', percent: '25' }],
      },
      monetaryTotal: {
        lineExtensionAmount: '91.00',
        taxExclusiveAmount: '91.00',
        taxInclusiveAmount: '113.75',
        payableAmount: '113.75',
      },
    } satisfies UblDocument);
    expect(checkUblTotals(document!)).toEqual([]);
  });

  it('maps each invoice of a wrapper file', async () => {
    const mapped = (await elements(join(fixtures, 'invoices-batch.xml'))).map(mapUbl);
    expect(mapped.map((m) => m.issues)).toEqual([[], [], []]);
    expect(
      mapped.map(({ document: d }) => [d?.id, d?.supplier.name, d?.lines[0]?.quantity, d?.monetaryTotal.payableAmount]),
    ).toEqual([
      ['BATCH-001', 'Supplier 1', '1', '125.00'],
      ['BATCH-002', 'Supplier 2', '2', '250.00'],
      ['BATCH-003', 'Supplier 3', '3', '375.00'],
    ]);
    expect(mapped.map((m) => checkUblTotals(m.document!))).toEqual([[], [], []]);
  });

  it('reports every missing required element by path', async () => {
    const el = await parse(
      invoice({
        header: '<cbc:Note>header fields all missing</cbc:Note>',
        parties: '',
        totals:
          '<cac:TaxTotal/><cac:LegalMonetaryTotal><cbc:PayableAmount currencyID="EUR"></cbc:PayableAmount></cac:LegalMonetaryTotal>',
        lines: '',
      }),
    );
    const { document, issues } = mapUbl(el);
    expect(issues.map((i) => [i.path, i.code])).toEqual([
      ['documentCurrency', 'missing'],
      ['id', 'missing'],
      ['issueDate', 'missing'],
      ['supplier', 'missing'],
      ['customer', 'missing'],
      ['lines', 'missing'],
      ['taxTotal.taxAmount', 'missing'],
      ['monetaryTotal.lineExtensionAmount', 'missing'],
      ['monetaryTotal.taxExclusiveAmount', 'missing'],
      ['monetaryTotal.taxInclusiveAmount', 'missing'],
      ['monetaryTotal.payableAmount', 'missing'],
    ]);
    expect(issues.find((i) => i.path === 'supplier')?.message).toBe('cac:AccountingSupplierParty is missing');
    expect(issues.find((i) => i.path === 'lines')?.message).toBe('an Invoice needs at least one cac:InvoiceLine');
    // The document is still returned, for review, with empty required fields.
    expect(document).toMatchObject({ id: '', note: 'header fields all missing', lines: [], supplier: {} });
  });

  it('reports missing line fields and a missing Party inside a party element', async () => {
    const el = await parse(
      invoice({
        parties: `<cac:AccountingSupplierParty/>
          <cac:AccountingCustomerParty><cac:Party><cac:PartyName><cbc:Name>C</cbc:Name></cac:PartyName></cac:Party></cac:AccountingCustomerParty>`,
        lines: `<cac:InvoiceLine><cbc:ID>1</cbc:ID><cbc:InvoicedQuantity>1</cbc:InvoicedQuantity><cbc:LineExtensionAmount>10.00</cbc:LineExtensionAmount></cac:InvoiceLine>
          <cac:InvoiceLine><cac:Item><cbc:Name>no id</cbc:Name></cac:Item></cac:InvoiceLine>`,
      }),
    );
    const { document, issues } = mapUbl(el);
    expect(issues).toEqual([
      { path: 'supplier', code: 'missing', message: 'cac:AccountingSupplierParty/cac:Party is missing' },
      { path: 'lines[1].id', code: 'missing', message: 'lines[1].id is required' },
      { path: 'lines[1].quantity', code: 'missing', message: 'lines[1].quantity is required' },
      { path: 'lines[1].lineExtensionAmount', code: 'missing', message: 'lines[1].lineExtensionAmount is required' },
    ]);
    expect(document?.lines.map((l) => [l.id, l.quantity, l.itemName])).toEqual([
      ['1', '1', undefined],
      ['', '', 'no id'],
    ]);
  });

  it('rejects a root that is not a UBL Invoice or CreditNote, or is in the wrong namespace', async () => {
    const wrongNs = await parse(invoice({ rootNs: 'urn:oasis:names:specification:ubl:schema:xsd:Invoice-3' }));
    expect(mapUbl(wrongNs)).toEqual({
      document: undefined,
      issues: [
        {
          path: '',
          code: 'wrong_namespace',
          message:
            '<Invoice> is in namespace "urn:oasis:names:specification:ubl:schema:xsd:Invoice-3", not the UBL 2.1 ' +
            'Invoice namespace "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"',
          value: 'urn:oasis:names:specification:ubl:schema:xsd:Invoice-3',
        },
      ],
    });
    // An invoice in the credit note namespace is wrong too.
    const swapped = await parse(invoice({ rootNs: NS.CreditNote }));
    expect(mapUbl(swapped).issues.map((i) => i.code)).toEqual(['wrong_namespace']);
    const order = await parse('<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"/>');
    expect(mapUbl(order)).toEqual({
      document: undefined,
      issues: [
        { path: '', code: 'not_ubl_document', message: '<Order> is not a UBL Invoice or CreditNote', value: 'Order' },
      ],
    });
  });

  it('reports child elements in the wrong namespace instead of calling them missing', async () => {
    const el = await parse(
      invoice({
        header: `<cbc:ID>T-1</cbc:ID>
  <IssueDate xmlns="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponent-2">2024-01-01</IssueDate>
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>`,
      }),
    );
    const { issues } = mapUbl(el);
    expect(issues).toEqual([
      {
        path: 'issueDate',
        code: 'wrong_namespace',
        message:
          'cbc:IssueDate at line 3 is in namespace "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponent-2", ' +
          'not "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"',
        value: 'urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponent-2',
      },
    ]);
  });

  it('reports amounts, quantities and percentages that are not decimals, and bad dates', async () => {
    const el = await parse(
      invoice({
        header: `<cbc:ID>T-1</cbc:ID><cbc:IssueDate>2023-02-29</cbc:IssueDate><cbc:DueDate>15.03.2024</cbc:DueDate>
          <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>`,
        totals: `<cac:TaxTotal><cbc:TaxAmount>2,00</cbc:TaxAmount>
            <cac:TaxSubtotal><cbc:TaxableAmount>10</cbc:TaxableAmount><cbc:TaxAmount>2</cbc:TaxAmount>
              <cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>20%</cbc:Percent></cac:TaxCategory></cac:TaxSubtotal></cac:TaxTotal>
          <cac:LegalMonetaryTotal>
            <cbc:LineExtensionAmount>10.00</cbc:LineExtensionAmount>
            <cbc:TaxExclusiveAmount>1e1</cbc:TaxExclusiveAmount>
            <cbc:TaxInclusiveAmount>12.00</cbc:TaxInclusiveAmount>
            <cbc:PrepaidAmount>.50</cbc:PrepaidAmount>
            <cbc:PayableAmount>EUR 11.50</cbc:PayableAmount>
          </cac:LegalMonetaryTotal>`,
        lines: `<cac:InvoiceLine><cbc:ID>1</cbc:ID><cbc:InvoicedQuantity>one</cbc:InvoicedQuantity>
            <cbc:LineExtensionAmount>10.00 </cbc:LineExtensionAmount>
            <cac:Price><cbc:PriceAmount>NaN</cbc:PriceAmount></cac:Price></cac:InvoiceLine>`,
      }),
    );
    const { document, issues } = mapUbl(el);
    expect(issues.map((i) => [i.path, i.code, i.value])).toEqual([
      ['issueDate', 'not_date', '2023-02-29'],
      ['dueDate', 'not_date', '15.03.2024'],
      ['lines[0].quantity', 'not_decimal', 'one'],
      ['lines[0].priceAmount', 'not_decimal', 'NaN'],
      ['taxTotal.subtotals[0].percent', 'not_decimal', '20%'],
      ['taxTotal.taxAmount', 'not_decimal', '2,00'],
      ['monetaryTotal.taxExclusiveAmount', 'not_decimal', '1e1'],
      ['monetaryTotal.payableAmount', 'not_decimal', 'EUR 11.50'],
    ]);
    // Text is trimmed, and the strings are kept as they were.
    expect(document?.lines[0]?.lineExtensionAmount).toBe('10.00');
    expect(document?.monetaryTotal.prepaidAmount).toBe('.50');
    expect(document?.monetaryTotal.payableAmount).toBe('EUR 11.50');
    // Totals checks skip what is not a decimal rather than guess.
    expect(checkUblTotals(document!).map((i) => i.message.slice(0, 8))).toEqual([]);
  });

  it('says so when an invoice holds credit note lines', async () => {
    const el = await parse(
      invoice({
        lines: `<cac:CreditNoteLine><cbc:ID>1</cbc:ID><cbc:CreditedQuantity>1</cbc:CreditedQuantity>
          <cbc:LineExtensionAmount>10.00</cbc:LineExtensionAmount></cac:CreditNoteLine>`,
      }),
    );
    expect(mapUbl(el).issues).toEqual([
      {
        path: 'lines',
        code: 'missing',
        message:
          'an Invoice needs at least one cac:InvoiceLine (it has CreditNoteLines, which belong to the other document type)',
      },
    ]);
  });
});

describe('checkUblTotals', () => {
  async function peppol(): Promise<UblDocument> {
    const { document } = await mapFixture('peppol-invoice.xml');
    return document!;
  }

  it('BR-CO-10: line amounts must add up to LineExtensionAmount, within the tolerance', async () => {
    const d = await peppol();
    d.lines[1]!.lineExtensionAmount = '45.01';
    expect(checkUblTotals(d)).toEqual([]);
    expect(checkUblTotals(d, '0')).toEqual([
      {
        path: 'monetaryTotal.lineExtensionAmount',
        code: 'totals_mismatch',
        message:
          'BR-CO-10: the sum of line amounts is 600.01 but monetaryTotal.lineExtensionAmount is 600.00 ' +
          '(difference 0.01, tolerance 0)',
        value: '600.00',
      },
    ]);
    d.lines[1]!.lineExtensionAmount = '44.98';
    expect(checkUblTotals(d).map((i) => i.message)).toEqual([
      'BR-CO-10: the sum of line amounts is 599.98 but monetaryTotal.lineExtensionAmount is 600.00 ' +
        '(difference 0.02, tolerance 0.01)',
    ]);
  });

  it('BR-CO-13, BR-CO-15 and BR-CO-16', async () => {
    const d = await peppol();
    d.monetaryTotal.chargeTotalAmount = '20.00';
    d.taxTotal.taxAmount = '131.35';
    d.monetaryTotal.payableRoundingAmount = undefined;
    expect(checkUblTotals(d).map((i) => [i.path, i.message])).toEqual([
      [
        'monetaryTotal.taxExclusiveAmount',
        'BR-CO-13: LineExtensionAmount - AllowanceTotalAmount + ChargeTotalAmount is 620.00 but ' +
          'monetaryTotal.taxExclusiveAmount is 625.00 (difference 5.00, tolerance 0.01)',
      ],
      [
        'monetaryTotal.taxInclusiveAmount',
        'BR-CO-15: TaxExclusiveAmount + TaxAmount is 756.35 but monetaryTotal.taxInclusiveAmount is 756.25 ' +
          '(difference 0.10, tolerance 0.01)',
      ],
      [
        'monetaryTotal.payableAmount',
        'BR-CO-16: TaxInclusiveAmount - PrepaidAmount + PayableRoundingAmount is 656.25 but ' +
          'monetaryTotal.payableAmount is 656.00 (difference 0.25, tolerance 0.01)',
      ],
    ]);
  });

  it('adds exactly where floating point would not', async () => {
    const d = await peppol();
    // 0.1 + 0.2 !== 0.3 in floating point; 1000 x 0.01 drifts too.
    d.lines = [
      { ...d.lines[0]!, lineExtensionAmount: '0.1' },
      { ...d.lines[0]!, lineExtensionAmount: '0.2' },
    ];
    d.monetaryTotal.lineExtensionAmount = '0.30';
    expect(checkUblTotals(d, '0').filter((i) => i.message.startsWith('BR-CO-10'))).toEqual([]);
    d.lines = Array.from({ length: 1000 }, () => ({ ...d.lines[0]!, lineExtensionAmount: '0.01' }));
    d.monetaryTotal.lineExtensionAmount = '10';
    expect(checkUblTotals(d, '0').filter((i) => i.message.startsWith('BR-CO-10'))).toEqual([]);
    d.monetaryTotal.lineExtensionAmount = '10.0001';
    expect(checkUblTotals(d, '0.0001').filter((i) => i.message.startsWith('BR-CO-10'))).toEqual([]);
    expect(checkUblTotals(d, '0.00009').map((i) => i.message)).toContain(
      'BR-CO-10: the sum of line amounts is 10.00000 but monetaryTotal.lineExtensionAmount is 10.0001 ' +
        '(difference 0.00010, tolerance 0.00009)',
    );
    // Amounts far beyond 2^53 minor units stay exact.
    d.lines = [
      { ...d.lines[0]!, lineExtensionAmount: '90071992547409.93' },
      { ...d.lines[0]!, lineExtensionAmount: '0.01' },
    ];
    d.monetaryTotal.lineExtensionAmount = '90071992547409.94';
    expect(checkUblTotals(d, '0').filter((i) => i.message.startsWith('BR-CO-10'))).toEqual([]);
  });

  it('handles negative amounts (credit notes and corrections)', async () => {
    const d = await peppol();
    d.lines = [
      { ...d.lines[0]!, lineExtensionAmount: '-100.00' },
      { ...d.lines[0]!, lineExtensionAmount: '+40' },
    ];
    d.monetaryTotal = {
      lineExtensionAmount: '-60.00',
      taxExclusiveAmount: '-60',
      taxInclusiveAmount: '-75.00',
      payableAmount: '-75.00',
    };
    d.taxTotal.taxAmount = '-15.00';
    expect(checkUblTotals(d, '0')).toEqual([]);
    d.monetaryTotal.payableAmount = '-75.02';
    expect(checkUblTotals(d).map((i) => i.message)).toEqual([
      'BR-CO-16: TaxInclusiveAmount - PrepaidAmount + PayableRoundingAmount is -75.00 but monetaryTotal.payableAmount ' +
        'is -75.02 (difference 0.02, tolerance 0.01)',
    ]);
  });

  it('rejects a tolerance that is not a non-negative decimal', async () => {
    const d = await peppol();
    expect(() => checkUblTotals(d, '-0.01')).toThrow(RangeError);
    expect(() => checkUblTotals(d, 'cent')).toThrow(RangeError);
  });
});

describe('parseDecimal', () => {
  it('parses xsd:decimal exactly and refuses everything else', () => {
    expect(parseDecimal('-12.50')).toEqual({ units: -1250n, scale: 2 });
    expect(parseDecimal('+7')).toEqual({ units: 7n, scale: 0 });
    expect(parseDecimal('.5')).toEqual({ units: 5n, scale: 1 });
    expect(parseDecimal('3.')).toEqual({ units: 3n, scale: 0 });
    expect(parseDecimal('0012.3400')).toEqual({ units: 123400n, scale: 4 });
    for (const bad of ['', '.', '-', '1e3', '1,5', ' 1', 'NaN', 'Infinity', '0x10', '1.2.3']) {
      expect(parseDecimal(bad), bad).toBeUndefined();
    }
  });
});

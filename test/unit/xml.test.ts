import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { child, childText, children, readXmlDocuments, XmlInputError } from '../../src/formats/xml.ts';
import type { XmlDocument, XmlReadOptions } from '../../src/formats/xml.ts';
import { InputError } from '../../src/profiles/types.ts';

const fixtures = join(import.meta.dirname, '../fixtures/xml');
const dir = mkdtempSync(join(tmpdir(), 'sluice-xml-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const UBL = { documentElements: ['Invoice', 'CreditNote'] };
const INVOICE_NS = 'urn:oasis:names:specification:ubl:schema:xsd:Invoice-2';
const CBC_NS = 'urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2';

let fileNo = 0;
function temp(content: string | Buffer): string {
  const file = join(dir, `f${fileNo++}.xml`);
  writeFileSync(file, content);
  return file;
}

async function readAll(file: string, options?: XmlReadOptions): Promise<XmlDocument[]> {
  const docs: XmlDocument[] = [];
  for await (const doc of readXmlDocuments(file, 'in.xml', options)) docs.push(doc);
  return docs;
}

/** Reads until the reader fails; returns the documents yielded before the error and the error. */
async function readError(
  file: string,
  options?: XmlReadOptions,
): Promise<{ err: XmlInputError; docs: XmlDocument[]; ms: number }> {
  const docs: XmlDocument[] = [];
  const started = performance.now();
  try {
    for await (const doc of readXmlDocuments(file, 'in.xml', options)) docs.push(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    expect(err).toBeInstanceOf(XmlInputError);
    return { err: err as XmlInputError, docs, ms: performance.now() - started };
  }
  throw new Error(`reading did not fail; ${docs.length} documents`);
}

describe('readXmlDocuments: documents', () => {
  it('yields each invoice of a wrapper file with its position, line, column and byte range', async () => {
    const file = join(fixtures, 'invoices-batch.xml');
    const bytes = readFileSync(file);
    const docs = await readAll(file, UBL);
    expect(docs.map((d) => [d.index, d.position, d.line, d.column])).toEqual([
      [1, '/Invoices/Invoice[1]', 6, 3],
      [2, '/Invoices/Invoice[2]', 44, 3],
      [3, '/Invoices/Invoice[3]', 82, 3],
    ]);
    // Byte ranges found independently: each `<Invoice` start tag up to just past its `</Invoice>`.
    const starts = [0, 1, 2].map((n) => {
      let at = -1;
      for (let i = 0; i <= n; i++) at = bytes.indexOf('  <Invoice', at + 1) + 2;
      return at;
    });
    expect(docs.map((d) => d.byteStart)).toEqual(starts);
    for (const d of docs) {
      const text = bytes.subarray(d.byteStart, d.byteEnd).toString('utf8');
      expect(text.startsWith('<Invoice')).toBe(true);
      expect(text.endsWith('</Invoice>')).toBe(true);
      expect(text.slice(1).includes('<Invoice')).toBe(false);
    }
    // Namespaces declared on the wrapper apply inside the documents.
    const first = docs[0]!.element;
    expect([first.name, first.ns, first.prefix, first.line, first.column]).toEqual([
      'Invoice',
      INVOICE_NS,
      undefined,
      6,
      3,
    ]);
    const id = child(first, 'ID')!;
    expect(id).toEqual({
      name: 'ID',
      ns: CBC_NS,
      prefix: 'cbc',
      attrs: {},
      children: [],
      text: 'BATCH-001',
      line: 8,
      column: 5,
    });
    expect(docs.map((d) => childText(d.element, 'ID'))).toEqual(['BATCH-001', 'BATCH-002', 'BATCH-003']);
    expect(childText(docs[2]!.element, 'InvoiceLine', 'Item', 'Name')).toBe('Widget 3');
  });

  it('treats a root that is a document element as the one document', async () => {
    const docs = await readAll(join(fixtures, 'peppol-invoice.xml'), UBL);
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ index: 1, position: '/Invoice', line: 2, column: 1, byteStart: 39 });
    expect(docs[0]!.byteEnd).toBe(readFileSync(join(fixtures, 'peppol-invoice.xml')).length - 1);
    expect(children(docs[0]!.element, 'InvoiceLine')).toHaveLength(3);
  });

  it('without documentElements, the root element is the document', async () => {
    const docs = await readAll(join(fixtures, 'invoices-batch.xml'));
    expect(docs.map((d) => [d.position, d.element.name, children(d.element, 'Invoice').length])).toEqual([
      ['/Invoices', 'Invoices', 3],
    ]);
  });

  it('builds elements: local names, namespaces, attributes, text with entities, references and CDATA', async () => {
    const file = temp(
      '<r xmlns:a="urn:a" xmlns="urn:d">\n' +
        '  <a:x a:k="1" k2="2" xmlns:b="urn:b" b:k2="other">  one &amp; &lt;two&gt; &#233;&#x263A; <![CDATA[<raw>]]>  </a:x>\n' +
        '  <y __proto__="p"/>\n' +
        '  <y>mixed <z>inner</z> tail</y>\n' +
        '</r>\n',
    );
    const [doc] = await readAll(file);
    const r = doc!.element;
    expect(r.children.map((c) => [c.name, c.ns, c.prefix, c.line, c.column])).toEqual([
      ['x', 'urn:a', 'a', 2, 3],
      ['y', 'urn:d', undefined, 3, 3],
      ['y', 'urn:d', undefined, 4, 3],
    ]);
    const x = r.children[0]!;
    expect(x.text).toBe('one & <two> é☺ <raw>');
    // Namespace declarations are not attributes; the attribute without a namespace wins a local-name clash.
    expect(x.attrs).toEqual({ k: '1', k2: '2' });
    expect(Object.keys(r.children[1]!.attrs)).toEqual(['__proto__']);
    expect(r.children[1]!.attrs['__proto__']).toBe('p');
    expect(r.children[2]!.text).toBe('mixed  tail');
    expect(childText(r.children[2]!, 'z')).toBe('inner');
    expect(children(r, 'y')).toHaveLength(2);
    expect(child(r, 'y', 'z', 'nothing')).toBeUndefined();
    expect(childText(r, 'missing')).toBeUndefined();
  });

  it('finds the line and column of a start tag whose name is followed by a line break', async () => {
    const file = temp('<r>\r\n  <a\r\n  k="v"/>\n    <b\n/></r>');
    const [doc] = await readAll(file);
    expect(doc!.element.children.map((c) => [c.name, c.line, c.column, c.attrs])).toEqual([
      ['a', 2, 3, { k: 'v' }],
      ['b', 4, 5, {}],
    ]);
  });

  it('skips wrapper children named in ignoreElements and rejects any other', async () => {
    const content = '<Batch><Header><Count>2</Count></Header><Invoice/><Invoice/></Batch>';
    const docs = await readAll(temp(content), { ...UBL, ignoreElements: ['Header'] });
    expect(docs.map((d) => d.position)).toEqual(['/Batch/Invoice[1]', '/Batch/Invoice[2]']);
    const { err } = await readError(temp(content), UBL);
    expect(err.message).toBe(
      'in.xml: line 1, column 8 (/Batch): unexpected element <Header> in <Batch>: expected Invoice or CreditNote',
    );
    expect(err.location).toEqual({ file: 'in.xml', line: 1, position: '/Batch' });
  });

  it('rejects text between documents in a wrapper', async () => {
    const { err, docs } = await readError(temp('<Invoices>\n<Invoice/>\nstray\n<Invoice/></Invoices>'), UBL);
    expect(docs).toEqual([]);
    expect(err.message).toMatch(/^in\.xml: line 3, column 1 \(\/Invoices\): unexpected text "stray"/);
  });

  it('counts CreditNote and Invoice positions separately but numbers documents together', async () => {
    const docs = await readAll(temp('<D><Invoice/><CreditNote/><Invoice/></D>'), UBL);
    expect(docs.map((d) => [d.index, d.position])).toEqual([
      [1, '/D/Invoice[1]'],
      [2, '/D/CreditNote[1]'],
      [3, '/D/Invoice[2]'],
    ]);
  });

  it('skips the documents before firstDocument without building them', async () => {
    const docs = await readAll(join(fixtures, 'invoices-batch.xml'), { ...UBL, firstDocument: 3 });
    expect(docs.map((d) => [d.index, d.position, childText(d.element, 'ID')])).toEqual([
      [3, '/Invoices/Invoice[3]', 'BATCH-003'],
    ]);
  });

  it('stops reading when the consumer stops', async () => {
    let seen = 0;
    for await (const doc of readXmlDocuments(join(fixtures, 'invoices-batch.xml'), 'in.xml', UBL)) {
      seen = doc.index;
      break;
    }
    expect(seen).toBe(1);
  });
});

describe('readXmlDocuments: encodings', () => {
  it('decodes ISO-8859-1 and windows-1252 when the declaration says so, with byte offsets in the file', async () => {
    const file = temp(
      Buffer.concat([
        Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?>\n<D><Invoice>caf'),
        Buffer.from([0xe9, 0x80]),
        Buffer.from('</Invoice><Invoice/></D>'),
      ]),
    );
    const docs = await readAll(file, UBL);
    expect(docs.map((d) => [d.element.text, d.byteStart, d.byteEnd])).toEqual([
      ['café€', 47, 71],
      ['', 71, 81],
    ]);
  });

  it('uses the encoding option only when nothing in the file names one', async () => {
    const latin = Buffer.concat([Buffer.from('<Invoice>caf'), Buffer.from([0xe9]), Buffer.from('</Invoice>')]);
    expect((await readAll(temp(latin), { encoding: 'windows-1252' }))[0]!.element.text).toBe('café');
    const declared = Buffer.concat([Buffer.from('<?xml version="1.0" encoding="utf-8"?>'), latin]);
    const { err } = await readError(temp(declared), { encoding: 'windows-1252' });
    expect(err.message).toContain('not valid UTF-8');
  });

  it('skips a UTF-8 byte order mark and counts its bytes', async () => {
    const file = temp(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<D><Invoice>é</Invoice></D>')]));
    const docs = await readAll(file, UBL);
    expect(docs.map((d) => [d.element.text, d.line, d.column, d.byteStart, d.byteEnd])).toEqual([['é', 1, 4, 6, 27]]);
  });

  it('rejects invalid UTF-8 at its byte, line and column', async () => {
    const file = temp(
      Buffer.concat([Buffer.from('<D>\n<Invoice>ok é then '), Buffer.from([0xff]), Buffer.from(' x</Invoice></D>')]),
    );
    const { err } = await readError(file, UBL);
    expect(err.message).toBe(
      'in.xml: line 2, column 20 (byte 24): the file is not valid UTF-8; if it is windows-1252 or ISO-8859-1, ' +
        'its XML declaration must say so',
    );
    expect(err.location).toEqual({ file: 'in.xml', line: 2, byteOffset: 24 });
    expect(err.column).toBe(20);
  });

  it('rejects a truncated UTF-8 sequence at the end of the file', async () => {
    const { err } = await readError(temp(Buffer.concat([Buffer.from('<a>x</a>\n'), Buffer.from([0xc3])])));
    expect(err.location).toEqual({ file: 'in.xml', line: 2, byteOffset: 9 });
  });

  it('rejects unsupported encodings, declared or detected', async () => {
    const declared = await readError(temp('<?xml version="1.0" encoding="Shift_JIS"?>\n<a/>'));
    expect(declared.err.message).toBe(
      'in.xml: line 1, column 31: the XML declaration names encoding "Shift_JIS"; supported are UTF-8, US-ASCII, ' +
        'ISO-8859-1 and windows-1252',
    );
    const utf16 = await readError(temp(Buffer.from('\ufeff<a/>', 'utf16le')));
    expect(utf16.err.message).toBe(
      'in.xml: line 1, column 1: the file looks like UTF-16, which is not supported; convert it to UTF-8',
    );
    const bomMismatch = await readError(
      temp(
        Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<?xml version="1.0" encoding="latin1"?><a/>')]),
      ),
    );
    expect(bomMismatch.err.message).toContain('starts with a UTF-8 byte order mark but declares encoding "latin1"');
  });
});

describe('readXmlDocuments: hostile input', () => {
  it('rejects the billion laughs DOCTYPE before any entity is defined', async () => {
    const { err, docs, ms } = await readError(join(fixtures, 'billion-laughs.xml'), UBL);
    expect(docs).toEqual([]);
    expect(err.message).toBe(
      'in.xml: line 2, column 1: DOCTYPE declarations are not allowed: no DTDs, entity definitions or external ' +
        'entities are read',
    );
    expect(err.location).toEqual({ file: 'in.xml', line: 2 });
    expect(err.column).toBe(1);
    expect(err.code).toBe('parse_error');
    expect(ms).toBeLessThan(2000);
  });

  it('rejects an external entity DOCTYPE without reading the file it names', async () => {
    const { err } = await readError(join(fixtures, 'external-entity.xml'), UBL);
    expect(err.message).toMatch(/^in\.xml: line 3, column 1: DOCTYPE declarations are not allowed/);
    expect(err.message).not.toContain('root:');
  });

  it('rejects an external DTD right after the XML declaration', async () => {
    const { err } = await readError(join(fixtures, 'external-dtd.xml'));
    expect([err.location.line, err.column, err.message.includes('DOCTYPE')]).toEqual([1, 22, true]);
  });

  it('finds a DOCTYPE after a long comment that spans read buffers, and a lower-case one', async () => {
    const comment = `<!-- ${'x'.repeat(200_000)}\n-->`;
    const { err } = await readError(
      temp(`<?xml version="1.0"?>\n${comment}\n  <!DOCTYPE a [<!ENTITY e "e">]><a>&e;</a>`),
    );
    expect([err.location.line, err.column]).toEqual([4, 3]);
    expect(err.message).toContain('DOCTYPE');
    const lower = await readError(temp('<!doctype a><a/>'));
    expect(lower.err.message).toContain('DOCTYPE');
  });

  it('rejects a huge DOCTYPE quickly, without reading it all', async () => {
    const file = temp(`<!DOCTYPE a [\n${'<!ENTITY x "y">\n'.repeat(500_000)}]>\n<a/>`);
    const { err, ms } = await readError(file);
    expect([err.location.line, err.column]).toEqual([1, 1]);
    expect(ms).toBeLessThan(2000);
  });

  it('rejects an undefined entity with its line, column and position', async () => {
    const { err, docs } = await readError(join(fixtures, 'undefined-entity.xml'), UBL);
    expect(docs).toEqual([]);
    expect(err.message).toBe(
      'in.xml: line 7, column 23 (/Invoices/Invoice[2]/Note[1]): malformed XML: undefined entity (only &amp; &lt; ' +
        '&gt; &quot; &apos; and numeric character references are allowed; there are no DTDs)',
    );
    expect(err.location).toEqual({ file: 'in.xml', line: 7, position: '/Invoices/Invoice[2]/Note[1]' });
  });

  it('yields the documents that precede an error in an earlier read buffer', async () => {
    const good = `<Invoice><Note>${'n'.repeat(100)}</Note></Invoice>\n`.repeat(1000);
    const { err, docs } = await readError(temp(`<Invoices>\n${good}<Invoice>&bad;</Invoice></Invoices>`), UBL);
    expect(err.location.position).toBe('/Invoices/Invoice[1001]');
    expect(docs.length).toBeGreaterThan(500);
    expect(docs.length).toBeLessThan(1001);
    expect(docs.map((d) => d.index)).toEqual(docs.map((_, i) => i + 1));
  });

  it('rejects a mismatched end tag where it is', async () => {
    const { err } = await readError(join(fixtures, 'mismatched-tag.xml'), UBL);
    expect(err.message).toBe(
      'in.xml: line 7, column 14 (/Invoices/Invoice[2]/ID[1]): malformed XML: the end tag does not match the open ' +
        'element <ID>',
    );
    expect(err.location).toEqual({ file: 'in.xml', line: 7, position: '/Invoices/Invoice[2]/ID[1]' });
  });

  it('rejects malformed XML: text after the root, a second root, an unclosed element', async () => {
    const after = await readError(temp('<Invoice/>\n trailing'));
    expect(after.err.message).toMatch(/^in\.xml: line 2, column 9: malformed XML: text data outside of root node/);
    const second = await readError(temp('<Invoice/><Invoice/>'));
    expect(second.err.message).toMatch(
      /^in\.xml: line 1, column 19: malformed XML: documents may contain only one root/,
    );
    const unclosed = await readError(temp('<Invoices>\n<Invoice>\n<ID>1</ID>\n'), UBL);
    expect(unclosed.err.message).toBe(
      'in.xml: line 4, column 1 (/Invoices/Invoice[1]): malformed XML: unclosed tag: Invoice',
    );
    const attr = await readError(temp('<Invoice a="1" a="2"/>'));
    expect(attr.err.message).toMatch(/duplicate attribute: a/);
    const prefix = await readError(temp('<Invoice><x:ID/></Invoice>'));
    expect(prefix.err.message).toMatch(
      /^in\.xml: line 1, column \d+ \(\/Invoice\): malformed XML: unbound namespace prefix/,
    );
  });

  it('caps the nesting depth', async () => {
    const deep = `${'<e>'.repeat(70)}${'</e>'.repeat(70)}`;
    const { err } = await readError(temp(`<Invoices>\n<Invoice>${deep}</Invoice></Invoices>`), UBL);
    expect(err.message).toMatch(
      /^in\.xml: line 2, column 196 \(\/Invoices\/Invoice\[1\](\/e\[1\]){62}\): elements are nested more than 64 deep$/,
    );
    expect((await readAll(temp('<a><b><c/></b></a>'), { maxDepth: 3 })).length).toBe(1);
    const capped = await readError(temp('<a><b><c><d/></c></b></a>'), { maxDepth: 3 });
    expect(capped.err.message).toBe('in.xml: line 1, column 10 (/a/b[1]/c[1]): elements are nested more than 3 deep');
  });

  it('caps the size of a document, naming where it starts', async () => {
    const small = '<Invoice><Note>ok</Note></Invoice>';
    const big = `<Invoice><Note>${'x'.repeat(5000)}</Note></Invoice>`;
    const { err, docs } = await readError(temp(`<Invoices>\n${small}\n${small}\n${big}\n${small}</Invoices>`), {
      ...UBL,
      maxDocumentBytes: 1000,
    });
    expect(docs).toEqual([]);
    expect(err.message).toBe(
      'in.xml: line 4, column 1 (/Invoices/Invoice[3]): document is larger than the limit of 1000 characters',
    );
    expect(err.location).toEqual({ file: 'in.xml', line: 4, position: '/Invoices/Invoice[3]' });
  });

  it('caps a huge text node even when it is one run of text in one document', async () => {
    const file = join(dir, 'huge-text.xml');
    const out = createWriteStream(file);
    out.write('<Invoice><Note>');
    const block = 'y'.repeat(1 << 20);
    for (let i = 0; i < 20; i++) out.write(block);
    out.end('</Note></Invoice>');
    await once(out, 'finish');
    const started = performance.now();
    const { err } = await readError(file);
    expect(err.message).toBe(
      'in.xml: line 1, column 1 (/Invoice): document is larger than the limit of 16777216 characters',
    );
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('caps text outside documents and the prolog', async () => {
    const gap = await readError(temp(`<Invoices>${' '.repeat(5000)}<Invoice/></Invoices>`), {
      ...UBL,
      maxDocumentBytes: 1000,
    });
    expect(gap.err.message).toContain('more than 1000 characters without markup outside any document');
    const prolog = await readError(temp(`<!--${'c'.repeat(1_100_000)}--><a/>`));
    expect(prolog.err.message).toBe(
      'in.xml: line 1, column 1: more than 1048576 characters of declarations and comments before the root element',
    );
  });

  it('caps attributes per element and the file size', async () => {
    const attrs = Array.from({ length: 5 }, (_, i) => `a${i}="${i}"`).join(' ');
    const { err } = await readError(temp(`<Invoice ${attrs}/>`), { maxAttributes: 4 });
    expect(err.message).toBe('in.xml: line 1, column 45: element <Invoice> has 5 attributes, more than the limit of 4');
    const file = temp('<Invoice>0123456789</Invoice>');
    const size = await readError(file, { maxFileBytes: 10 });
    expect(size.err.message).toBe('in.xml: the file is 29 bytes, more than the limit of 10');
    expect(await readAll(file, { maxFileBytes: 29 })).toHaveLength(1);
  });

  it('rejects an empty file', async () => {
    const { err } = await readError(temp(''));
    expect(err.message).toBe('in.xml: line 1, column 1: malformed XML: document must contain a root element');
  });
});

describe('readXmlDocuments: streaming', () => {
  it('streams 20,000 invoices one at a time', async () => {
    const count = 20_000;
    const file = join(dir, 'many.xml');
    const out = createWriteStream(file);
    out.write(
      '<?xml version="1.0" encoding="UTF-8"?>\n<Invoices xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"\n' +
        ' xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">\n',
    );
    for (let i = 1; i <= count; i++) {
      // Six lines per invoice; invoice i starts on line 4 + 6 * (i - 1).
      const ok = out.write(
        `  <Invoice>\n    <cbc:ID>INV-${i}</cbc:ID>\n    <cbc:Note>Ünïcödé ${i} &amp; more</cbc:Note>\n` +
          `    <cbc:IssueDate>2024-01-01</cbc:IssueDate>\n    <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>\n  </Invoice>\n`,
      );
      if (!ok) await once(out, 'drain');
    }
    out.end('</Invoices>\n');
    await once(out, 'finish');

    let n = 0;
    let lastEnd = 0;
    for await (const doc of readXmlDocuments(file, 'many.xml', UBL)) {
      n++;
      if (doc.index !== n || doc.line !== 4 + 6 * (n - 1) || childText(doc.element, 'ID') !== `INV-${n}`) {
        throw new Error(`document ${n}: ${JSON.stringify({ ...doc, element: undefined })}`);
      }
      if (childText(doc.element, 'Note') !== `Ünïcödé ${n} & more` || doc.byteStart <= lastEnd) {
        throw new Error(`document ${n}: bad text or byte range`);
      }
      lastEnd = doc.byteEnd;
      if (n === count) expect(doc.position).toBe(`/Invoices/Invoice[${count}]`);
    }
    expect(n).toBe(count);
    const bytes = readFileSync(file);
    expect(bytes.subarray(lastEnd - 10, lastEnd).toString()).toBe('</Invoice>');
  });
});

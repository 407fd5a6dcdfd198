/** Hand-built workbooks for tests of hostile XLSX files: the package parts around a sheet, and cheap zip bombs. */
import { constants as zlibConstants, crc32, deflateRawSync } from 'node:zlib';
import type { ZipWriter } from '../../src/formats/xlsx-write.ts';

export const MAIN_NS = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
export const REL_NS = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
export const PKG_REL_NS = 'http://schemas.openxmlformats.org/package/2006/relationships';

/** The parts of a one-sheet workbook except the sheet itself (`xl/worksheets/sheet1.xml`, added by the caller). */
export async function addWorkbookParts(zip: ZipWriter, sheetName = 'Sheet1'): Promise<void> {
  await zip.add('[Content_Types].xml', '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>');
  await zip.add(
    '_rels/.rels',
    `<Relationships xmlns="${PKG_REL_NS}"><Relationship Id="rId1" Type="${REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
  );
  await zip.add(
    'xl/workbook.xml',
    `<workbook xmlns="${MAIN_NS}" xmlns:r="${REL_NS}"><sheets><sheet name="${sheetName}" sheetId="1" r:id="rId1"/></sheets></workbook>`,
  );
  await zip.add(
    'xl/_rels/workbook.xml.rels',
    `<Relationships xmlns="${PKG_REL_NS}"><Relationship Id="rId1" Type="${REL_NS}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`,
  );
}

/** A deflate stream that inflates to `size` zero bytes (a multiple of 16 MiB), from one flushed block repeated. */
export function deflatedZeros(size: number): { data: Buffer[]; crc32: number } {
  const piece = 1 << 24;
  if (size % piece !== 0) throw new RangeError(`deflatedZeros: ${size} is not a multiple of ${piece}`);
  const zeros = Buffer.alloc(piece);
  // A full flush ends the block byte-aligned and forgets the window, so the same bytes can follow themselves.
  const block = deflateRawSync(zeros, { flush: zlibConstants.Z_FULL_FLUSH, finishFlush: zlibConstants.Z_FULL_FLUSH });
  const data: Buffer[] = [];
  let crc = 0;
  for (let done = 0; done < size; done += piece) {
    data.push(block);
    crc = crc32(zeros, crc);
  }
  data.push(deflateRawSync(Buffer.alloc(0)));
  return { data, crc32: crc };
}

/** Audit output: CSV rows safe to open in a spreadsheet, and a Markdown evidence pack for a compliance file. */
import type { AuditReport, RecordJourney } from './batch-audit.ts';

export const CSV_COLUMNS = [
  'record_no',
  'audit_trace_id',
  'file',
  'input_sha256',
  'line',
  'byte_offset',
  'chunk_no',
  'parsed_at',
  'validated_at',
  'classified_at',
  'validation',
  'held_reason',
  'error_signature',
  'disposition_at',
  'decision_id',
  'decision_action',
  'reviewer',
  'decided_at',
  'note',
  'status',
  'idempotency_key',
  'business_key',
] as const;

/**
 * One CSV cell. A cell a spreadsheet would run as a formula (starting with = + - @, a tab, a carriage return or a NUL,
 * as OWASP and ASVS 5.0 1.2.10 list them) is prefixed with an apostrophe, then quoted when it holds a comma, quote or
 * line break. Numbers stay numbers (-5 is not a formula); `--json` output is never altered.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r\0]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(j: RecordJourney): string {
  return [
    j.recordNo,
    j.auditTraceId,
    j.file,
    j.inputSha256,
    j.line,
    j.byteOffset,
    j.chunkNo,
    j.parsedAt,
    j.validatedAt,
    j.classifiedAt,
    j.validation,
    j.heldReason,
    j.errorSignature,
    j.dispositionAt,
    j.decision?.decisionId,
    j.decision?.action,
    j.decision?.reviewer,
    j.decision?.decidedAt,
    j.decision?.note,
    j.status,
    j.idempotencyKey,
    j.businessKey,
  ]
    .map(csvCell)
    .join(',');
}

const md = (text: unknown): string =>
  String(text ?? '')
    .replace(/[\\`*_[\]<>|]/g, (c) => `\\${c}`)
    .replace(/\r?\n/g, ' ');

/** The evidence pack: what was received, what became of it, who decided what, and whether the checks hold. */
export function evidenceMarkdown(report: AuditReport, exceptions: RecordJourney[], exceptionsTotal: number): string {
  const c = report.counts;
  const lines = [
    `# Audit of batch ${md(report.batchId)}`,
    '',
    `Verdict: **${report.ok ? 'CONSISTENT' : 'INCONSISTENT'}** (generated ${new Date().toISOString()} by \`sluice audit\`)`,
    '',
    '## Input',
    '',
    `| | |`,
    `|---|---|`,
    `| file | ${md(report.file)} |`,
    `| SHA-256 | \`${report.sha256}\` |`,
    `| profile | ${md(report.profile)} |`,
    `| records | ${report.records} in ${report.chunks} chunk(s) |`,
    `| workflow | \`${md(report.workflowId)}\` (${md(report.workflowStatus)}) |`,
    '',
    '## Outcome',
    '',
    '| committed | duplicates | held for review | approved | rejected | still pending |',
    '|---:|---:|---:|---:|---:|---:|',
    `| ${c.committed} | ${c.duplicates} | ${c.quarantined} | ${c.approved} | ${c.rejected} | ${c.pendingReview} |`,
    '',
    `Ledger hash (SHA-256 over the committed rows in record order): \`${report.ledgerHash}\``,
    report.recordedLedgerHash ? `; recorded by the workflow at completion: \`${report.recordedLedgerHash}\`` : '',
    '',
    '## Checks',
    '',
    '| check | result | detail |',
    '|---|---|---|',
    ...report.checks.map((k) => `| ${k.name} | ${k.ok ? 'pass' : '**FAIL**'} | ${md(k.detail)} |`),
    '',
    '## Review decisions',
    '',
  ];
  if (report.decisions.length === 0) lines.push('None.');
  else {
    lines.push('| decided at | decision | action | reviewer | note | outcome |', '|---|---|---|---|---|---|');
    for (const d of report.decisions) {
      const o = d.outcome as { approved?: number; rejected?: number; duplicates?: number; stillHeld?: number } | null;
      const outcome = o
        ? `approved ${o.approved ?? 0}, rejected ${o.rejected ?? 0}, duplicates ${o.duplicates ?? 0}, still held ${o.stillHeld ?? 0}`
        : '';
      lines.push(
        `| ${d.decidedAt} | ${md(d.decisionId)} | ${d.action} | ${md(d.reviewer)} | ${md(d.note)} | ${outcome} |`,
      );
    }
  }
  lines.push('', '## Records not committed as received', '');
  if (exceptionsTotal === 0) lines.push('None: every record was committed as received.');
  else {
    lines.push(
      `${exceptionsTotal} record(s) were held, found duplicate, approved or rejected` +
        (exceptionsTotal > exceptions.length
          ? `; the first ${exceptions.length} are listed (\`sluice audit --csv\` lists all).`
          : '.'),
      '',
      '| record | line | status | reason | error signature | decision | reviewer |',
      '|---:|---:|---|---|---|---|---|',
      ...exceptions.map(
        (j) =>
          `| ${j.recordNo} | ${j.line ?? ''} | ${j.status} | ${md(j.heldReason)} | ${md(j.errorSignature)} | ` +
          `${md(j.decision ? `${j.decision.action} (${j.decision.decisionId})` : '')} | ${md(j.decision?.reviewer)} |`,
      ),
    );
  }
  lines.push('', '## Batch events', '', '| at | event | detail |', '|---|---|---|');
  for (const e of report.events) lines.push(`| ${e.at} | ${e.event} | ${md(JSON.stringify(e.detail))} |`);
  return `${lines.join('\n')}\n`;
}

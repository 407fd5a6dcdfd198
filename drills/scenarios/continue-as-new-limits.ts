/**
 * A batch of 400 small chunks, long enough to continue as new about ten times, on a server whose history and payload
 * limits are lowered so that they would bite if the batch workflow misbehaved: suggest continue-as-new after 200
 * events, warn at 400 and fail the run at 1,000 events; history size 128 KiB / 256 KiB / 512 KiB; payloads warn above
 * 8 KiB and are refused above 32 KiB. The batch must continue as new at least three times, every run must end by
 * continuing as new (the last by completing), no payload in any history may exceed the 8 KiB warning limit (the
 * ceiling the integration tests hold every history to), and the server must log no limit warning.
 *
 * The number of chunks matters: what a run carries into the next must stay a cursor and counters however long the
 * batch is, so a carry that grows with the chunks done shows here and not in a batch of a few dozen chunks.
 */
import path from 'node:path';
import type { Scenario } from '../types.ts';
import type { Check } from './support.ts';
import { check, fileSize, logDirOf, logLines } from './support.ts';
import { batchHistories } from '../harness/invariants.ts';
import { largestPayload } from '../../test/helpers/history.ts';
import { batchWorkflowId } from '../../src/shared/task-queues.ts';

const SUGGEST_EVENTS = 200;
const WARN_EVENTS = 400;
const ERROR_EVENTS = 1_000;
const BLOB_WARN = 8 * 1024;
const BLOB_ERROR = 32 * 1024;
const CHUNK_SIZE = 20;
const CHUNKS = 400;

export const continueAsNewLimits: Scenario = {
  name: 'continue-as-new-limits',
  summary:
    `a ${CHUNKS}-chunk batch under lowered history and payload limits continues as new at least 3 times, ` +
    'with no payload over 8 KiB and no limit warning',
  fast: false,
  stack: {
    temporalDynamicConfig: [
      `limit.historyCount.suggestContinueAsNew=${SUGGEST_EVENTS}`,
      `limit.historyCount.warn=${WARN_EVENTS}`,
      `limit.historyCount.error=${ERROR_EVENTS}`,
      `limit.historySize.suggestContinueAsNew=${128 * 1024}`,
      `limit.historySize.warn=${256 * 1024}`,
      `limit.historySize.error=${512 * 1024}`,
      `limit.blobSize.warn=${BLOB_WARN}`,
      `limit.blobSize.error=${BLOB_ERROR}`,
    ],
  },
  async run(ctx) {
    const logDir = logDirOf(ctx);
    const temporalLog = logDir ? path.join(logDir, 'temporal.log') : undefined;
    const logFrom = temporalLog ? await fileSize(temporalLog) : 0;
    await ctx.spawnWorker();
    await ctx.spawnWorker();
    const { file, expected } = await ctx.generate('many-chunks', {
      records: CHUNKS * CHUNK_SIZE,
      seed: 31,
      defects: { duplicate: 0.03 },
    });
    const batch = await ctx.client.submitBatch({
      file,
      profile: 'inventory',
      config: ctx.config({ max_chunk_size: CHUNK_SIZE, max_concurrent_chunks: 8 }),
    });
    const started = Date.now();
    const report = await batch.settled();
    ctx.log(`batch ${batch.batchId} ${report.status} in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const runs: Array<{ runId: string; status: string; events: number }> = [];
    for await (const wf of ctx.client.temporal.workflow.list({
      query: `WorkflowId = "${batchWorkflowId(batch.batchId)}"`,
    })) {
      runs.push({ runId: wf.runId, status: wf.status.name, events: Number(wf.historyLength ?? 0) });
    }
    let largest = { bytes: 0, eventId: 0, eventType: '', workflowId: '' };
    let longest = { events: 0, workflowId: '' };
    let histories = 0;
    for (const h of await batchHistories(ctx.client.temporal, batch.batchId)) {
      histories += 1;
      const l = largestPayload(h.history);
      if (l.bytes > largest.bytes) largest = { ...l, workflowId: `${h.workflowId} ${h.runId}`.trim() };
      const events = h.history.events?.length ?? 0;
      if (events > longest.events) longest = { events, workflowId: `${h.workflowId} ${h.runId}`.trim() };
    }
    const warnings = temporalLog
      ? await logLines(
          temporalLog,
          logFrom,
          /exceeds (warn|error) limit|exceeds the (warning|error) limit|size exceeds/i,
        )
      : [];
    const closedByContinue = runs.filter((r) => r.status === 'CONTINUED_AS_NEW').length;
    const otherEnds = runs.filter((r) => r.status !== 'CONTINUED_AS_NEW' && r.status !== 'COMPLETED');

    const checks: Check[] = [
      check('the batch completed', report.status === 'completed', `status ${report.status}`),
      check('all chunks planned', report.chunks === CHUNKS, `${report.chunks} chunks (expected ${CHUNKS})`),
      check(
        'the batch continued as new at least 3 times',
        runs.length >= 4 && closedByContinue === runs.length - 1 && otherEnds.length === 0,
        `${runs.length} runs: ${runs.map((r) => `${r.status} (${r.events} events)`).join(', ')}`,
      ),
      check(
        `no history reached the ${WARN_EVENTS}-event warning limit`,
        longest.events < WARN_EVENTS,
        `longest history: ${longest.events} events (${longest.workflowId})`,
      ),
      check(
        `no payload above the ${BLOB_WARN}-byte warning limit`,
        largest.bytes <= BLOB_WARN,
        `largest payload in ${histories} histories: ${largest.bytes} bytes (${largest.workflowId}, event ${largest.eventId} ${largest.eventType})`,
      ),
      check(
        'the server logged no limit warning',
        temporalLog !== undefined && warnings.length === 0,
        temporalLog === undefined
          ? 'the harness does not expose the Temporal log'
          : warnings.length === 0
            ? `none in ${temporalLog}`
            : warnings.slice(0, 3).join(' | '),
      ),
    ];
    return {
      batches: [{ batchId: batch.batchId, expected }],
      expectRetry: false,
      checks,
      fault:
        `Temporal limits lowered: suggest CAN at ${SUGGEST_EVENTS} events, error at ${ERROR_EVENTS}; ` +
        `payloads warn ${BLOB_WARN} B, error ${BLOB_ERROR} B; history size suggest 128 KiB, error 512 KiB`,
    };
  },
};

/** Reading workflow histories in tests: every payload's size, and the histories of a batch and its chunks. */
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;

/** The largest payload anywhere in a history (inputs, results, signals, markers, failures' details), in bytes. */
export function largestPayload(history: History): { bytes: number; eventId: number; eventType: string } {
  let best = { bytes: 0, eventId: 0, eventType: '' };
  for (const event of history.events ?? []) {
    const visit = (node: unknown): void => {
      if (node === null || typeof node !== 'object') return;
      if (node instanceof Uint8Array) return;
      const maybePayload = node as { data?: unknown; metadata?: unknown };
      if (maybePayload.data instanceof Uint8Array && maybePayload.metadata) {
        const bytes = maybePayload.data.length;
        if (bytes > best.bytes) best = { bytes, eventId: Number(event.eventId), eventType: String(event.eventType) };
      }
      for (const value of Object.values(node)) visit(value);
    };
    visit(event);
  }
  return best;
}

/** Histories of a batch: every run of the batch workflow (continue-as-new makes several) and each chunk's child. */
export async function batchHistories(
  client: Client,
  workflowId: string,
  chunks: number,
): Promise<{ workflowId: string; history: History }[]> {
  const out: { workflowId: string; history: History }[] = [];
  for await (const wf of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) {
    out.push({ workflowId, history: await client.workflow.getHandle(workflowId, wf.runId).fetchHistory() });
  }
  for (let i = 0; i < chunks; i++) {
    const id = `${workflowId}/chunk-${i}`;
    out.push({ workflowId: id, history: await client.workflow.getHandle(id).fetchHistory() });
  }
  return out;
}

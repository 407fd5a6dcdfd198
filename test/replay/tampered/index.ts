// A deliberately changed batch workflow (it starts with a timer instead of planning), used to prove that the replay
// test catches a non-deterministic change.
import { sleep } from '@temporalio/workflow';

export { chunkWorkflow } from '../../../src/workflows/chunk.ts';

export async function batchWorkflow(): Promise<void> {
  await sleep('1 second');
}

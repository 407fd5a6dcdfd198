// The single workflowsPath of every worker: one file per workflow, re-exported here.
export { batchWorkflow } from './batch.ts';
export { chunkWorkflow } from './chunk.ts';

/**
 * Heartbeats every few seconds while `work` runs, so an activity with a heartbeat timeout stays alive through a long
 * transaction or file scan, and a dead worker is still noticed within that timeout.
 */
import { Context } from '@temporalio/activity';

export async function withHeartbeat<T>(work: () => Promise<T>, details?: () => unknown): Promise<T> {
  const ctx = Context.current();
  const timeoutMs = ctx.info.heartbeatTimeoutMs;
  if (!timeoutMs) return work();
  const timer = setInterval(() => ctx.heartbeat(details?.()), Math.max(1000, Math.floor(timeoutMs / 3)));
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** Which errors Temporal retries: a transient PostgreSQL error must never end up with a non-retryable type. */
import { ApplicationFailure } from '@temporalio/common';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { toFailure } from '../../src/activities/to-failure.ts';
import { NON_RETRYABLE_FAILURE_TYPES } from '../../src/shared/failure-types.ts';

function pgError(code: string, message: string): pg.DatabaseError {
  const err = new pg.DatabaseError(message, 0, 'error');
  err.code = code;
  return err;
}

describe('toFailure', () => {
  it.each([
    ['53300', 'sorry, too many clients already'],
    ['40P01', 'deadlock detected'],
    ['40001', 'could not serialize access'],
    ['57P01', 'terminating connection due to administrator command'],
    ['08006', 'connection failure'],
  ])('retries PostgreSQL %s (%s)', (code, message) => {
    const failure = toFailure(pgError(code, message), 'batch b chunk 3: commit');
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).nonRetryable).toBe(false);
    expect((failure as ApplicationFailure).type).toBe('TransientDatabaseError');
    expect(NON_RETRYABLE_FAILURE_TYPES).not.toContain((failure as ApplicationFailure).type);
    expect((failure as ApplicationFailure).message).toBe(`batch b chunk 3: commit: database error ${code}: ${message}`);
  });

  it('does not retry a constraint violation, and names its SQLSTATE', () => {
    const failure = toFailure(pgError('23505', 'duplicate key value'), 'ctx') as ApplicationFailure;
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe('ctx: database error 23505: duplicate key value');
    expect(NON_RETRYABLE_FAILURE_TYPES).toContain(failure.type);
  });

  it('a PostgreSQL error thrown as is (type = its class name) is not a non-retryable type', () => {
    // The SDK names a plain error's failure type after its constructor: node-postgres's is DatabaseError.
    expect(pgError('53300', 'x').constructor.name).toBe('DatabaseError');
    expect(NON_RETRYABLE_FAILURE_TYPES).not.toContain('DatabaseError');
  });

  it('passes network errors through unchanged, to be retried', () => {
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(toFailure(err, 'ctx')).toBe(err);
  });
});

/**
 * Turns errors into Temporal failures: permanent problems become non-retryable ApplicationFailures with a type from
 * the shared vocabulary; everything else is rethrown as is and retried by the stage's retry policy.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../shared/failure-types.ts';
import { InputError } from '../profiles/types.ts';
import { BlobNotFoundError } from '../store/blobs.ts';
import { isDatabaseError, isTransientDbError } from '../store/db.ts';

export function toFailure(err: unknown, context: string): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof InputError) {
    const where = [
      err.location.file,
      err.location.recordNo !== undefined ? `record ${err.location.recordNo}` : null,
      err.location.line !== undefined ? `line ${err.location.line}` : null,
      err.location.byteOffset !== undefined ? `byte ${err.location.byteOffset}` : null,
      err.location.field ? `field ${err.location.field}` : null,
    ]
      .filter(Boolean)
      .join(', ');
    const type = err.code === 'schema_violation' ? FailureType.SchemaViolation : FailureType.ParseError;
    return ApplicationFailure.nonRetryable(`${context}: ${where}: ${err.message}`, type, err.location);
  }
  if (err instanceof BlobNotFoundError) {
    return ApplicationFailure.nonRetryable(`${context}: ${err.message}`, FailureType.BadRequest);
  }
  if (isDatabaseError(err)) {
    // Retried by the stage's policy when retrying can help (with a type of its own: see FailureType.DatabaseError);
    // otherwise (constraint or data error) a bug, surfaced with its SQLSTATE.
    const message = `${context}: database error ${err.code}: ${err.message}`;
    return isTransientDbError(err)
      ? ApplicationFailure.retryable(message, FailureType.TransientDatabaseError)
      : ApplicationFailure.nonRetryable(message, FailureType.DatabaseError);
  }
  return err;
}

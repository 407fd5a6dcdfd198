/**
 * The one vocabulary of failure types. Activities throw `ApplicationFailure`s with these types; retry policies list
 * the permanent ones as non-retryable. Workflow-safe: constants only.
 */
export const FailureType = {
  /** The input cannot be read as the declared format (bad CSV quoting, wrong header, truncated file). */
  ParseError: 'ParseError',
  /** The input is readable but breaks the profile's schema as a whole (for example an unknown column). */
  SchemaViolation: 'SchemaViolation',
  /** A request that can never succeed: unknown profile, unknown batch, a blob that is missing. */
  BadRequest: 'BadRequest',
  /** The stored input does not match its SHA-256: corruption, never retried. */
  IntegrityError: 'IntegrityError',
  /** A commit target refused the data for good (HTTP 4xx other than 409). */
  CommitRejected: 'CommitRejected',
  /**
   * PostgreSQL refused a statement for a reason retrying cannot fix (constraint or data error): a bug. Not named
   * `DatabaseError`: an error thrown as is gets its class name as type, and node-postgres's class is `DatabaseError`,
   * so a transient one (too many clients, deadlock) would have matched this non-retryable type and never retried.
   */
  DatabaseError: 'PermanentDatabaseError',
  /** A database error that retrying can fix (connection limit, deadlock, serialization failure, shutdown). */
  TransientDatabaseError: 'TransientDatabaseError',
  /** A review decision that does not fit the contract. */
  MalformedDecision: 'MalformedDecision',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Failure types that retrying cannot fix. */
export const NON_RETRYABLE_FAILURE_TYPES: readonly FailureType[] = [
  FailureType.ParseError,
  FailureType.SchemaViolation,
  FailureType.BadRequest,
  FailureType.IntegrityError,
  FailureType.CommitRejected,
  FailureType.DatabaseError,
  FailureType.MalformedDecision,
];

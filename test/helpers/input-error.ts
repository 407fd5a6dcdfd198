/** The located error a reader must throw for bad input, for tests that read hostile files. */
import { expect } from 'vitest';
import { InputError } from '../../src/profiles/types.ts';

/** Awaits `read` and returns the InputError it rejects with; fails the test if it resolves or throws anything else. */
export async function inputErrorOf(read: Promise<unknown>): Promise<InputError> {
  try {
    await read;
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error('reading did not fail');
}

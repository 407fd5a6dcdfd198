/**
 * HTTP(S) feeds as a batch source. A "feed list" is a text file with one URL per line (`#` starts a comment line,
 * blank lines are skipped); `fetchFeeds` downloads the listed documents with bounded concurrency, a timeout, and
 * retries with exponential backoff and jitter, streaming each body to a file (never holding a whole body in memory)
 * while hashing it, and yields the downloaded files in list order so that records keep the order the list gives.
 *
 * Errors are sorted for the caller into retryable (network errors, timeouts, 5xx, 429: the same request may work
 * later) and permanent (other 4xx, a body over `maxBytes`, a URL that is not HTTP(S)): a `FeedError` says which, so a
 * planning activity can fail for good on a 404 and be retried on a 503. Knows nothing of Temporal or profiles.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable, Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { InputError } from '../profiles/types.ts';

/** One URL of a feed list, with the line it is on. */
export interface FeedListEntry {
  url: string;
  line: number;
}

export interface FetchFeedsOptions {
  /** Feeds downloading at once, at most. Default 4. */
  concurrency?: number;
  /**
   * Milliseconds an attempt may wait for the response headers, or for the next bytes of the body, before it is
   * abandoned as timed out (and retried). An inactivity limit rather than a total one, so a large feed that keeps
   * arriving is never cut off. Default 30,000.
   */
  timeoutMs?: number;
  /** Retries after the first attempt for a retryable failure. Default 3 (so at most 4 attempts). */
  retries?: number;
  /** Base of the exponential backoff: retry n waits a random time in [0, backoffMs * 2^(n-1)] ("full jitter"). Default 500. */
  backoffMs?: number;
  /** Longest wait between attempts, also for a server's `Retry-After`. Default 30,000. */
  maxBackoffMs?: number;
  /** Body bytes per feed at most; a longer body is a permanent error. Default: no limit. */
  maxBytes?: number;
  /** Request headers sent with every request (an API token, say). */
  headers?: Record<string, string>;
  /** Called as attempts start, fail and finish: for heartbeats and logs. Must not throw. */
  onProgress?: (progress: FeedProgress) => void;
}

export interface FeedProgress {
  index: number;
  url: string;
  event: 'start' | 'retry' | 'done';
  /** 1-based attempt number. */
  attempt: number;
  /** Body bytes received so far in this attempt (`done`: the body's size). */
  bytes: number;
  /** Why the attempt failed (`retry`). */
  error?: string;
  /** Milliseconds until the next attempt (`retry`). */
  delayMs?: number;
}

/** A downloaded feed: the file holding its body, which the caller owns from the moment it is yielded. */
export interface FetchedFeed {
  /** 0-based position in the URL list. */
  index: number;
  url: string;
  file: string;
  bytes: number;
  /** Hex SHA-256 of the body. */
  sha256: string;
  /** The response's Content-Type, if any. */
  contentType?: string;
  /** Attempts it took (1 when the first one worked). */
  attempts: number;
}

/** A feed that could not be downloaded. `retryable` says whether the same request might work later. */
export class FeedError extends Error {
  override name = 'FeedError';
  constructor(
    message: string,
    readonly url: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly attempts = 1,
  ) {
    super(message);
  }
}

const DEFAULTS = { concurrency: 4, timeoutMs: 30_000, retries: 3, backoffMs: 500, maxBackoffMs: 30_000 } as const;

/** A URL list is a few KB; a file far larger than any sane list is almost surely not one. */
const MAX_FEED_LIST_BYTES = 1 << 20;
const MAX_FEED_LIST_LINE = 8192;

/**
 * Reads a feed list: one absolute http(s) URL per line, `#` comments and blank lines skipped. Throws `InputError`
 * naming the file and line for anything else, and for a list with no URL at all.
 */
export async function readFeedList(file: string, fileName: string): Promise<FeedListEntry[]> {
  const entries: FeedListEntry[] = [];
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let lineNo = 0;
  let chars = 0;
  for await (const raw of lines) {
    lineNo += 1;
    chars += raw.length + 1;
    if (chars > MAX_FEED_LIST_BYTES) {
      lines.close();
      throw new InputError(`${fileName}: a feed list is at most ${MAX_FEED_LIST_BYTES} bytes`, {
        file: fileName,
        line: lineNo,
      });
    }
    const text = (lineNo === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim();
    if (text === '' || text.startsWith('#')) continue;
    const fail = (problem: string): never => {
      lines.close();
      throw new InputError(`${fileName} line ${lineNo}: ${problem}`, { file: fileName, line: lineNo });
    };
    if (text.length > MAX_FEED_LIST_LINE) fail(`a URL of more than ${MAX_FEED_LIST_LINE} characters`);
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return fail(`not a URL: ${JSON.stringify(text)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      fail(`only http and https feeds can be fetched, not ${url.protocol.replace(/:$/, '')}: ${text}`);
    }
    entries.push({ url: url.href, line: lineNo });
  }
  if (entries.length === 0) {
    throw new InputError(`${fileName}: the feed list names no URL (one http(s) URL per line, # for comments)`, {
      file: fileName,
    });
  }
  return entries;
}

/**
 * Downloads `urls` into files in the folder `sinkDir` (which must exist) and yields them in list order. At most
 * `concurrency` feeds are downloading or downloaded and waiting to be yielded, so a slow reader holds back the
 * downloads instead of filling the disk. A feed that still fails after its retries ends the iteration with its
 * `FeedError`; downloads still under way are then aborted and files not yet yielded are removed. Files yielded belong
 * to the caller.
 */
export async function* fetchFeeds(
  urls: readonly string[],
  options: FetchFeedsOptions,
  sinkDir: string,
): AsyncGenerator<FetchedFeed> {
  const opts: ResolvedOptions = { ...DEFAULTS, ...stripUndefined(options) };
  if (!(Number.isInteger(opts.concurrency) && opts.concurrency >= 1)) {
    throw new RangeError(`concurrency must be a positive integer, got ${opts.concurrency}`);
  }
  if (!(Number.isInteger(opts.retries) && opts.retries >= 0)) {
    throw new RangeError(`retries must be a non-negative integer, got ${opts.retries}`);
  }
  if (!(opts.timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${opts.timeoutMs}`);

  const cancel = new AbortController();
  const runId = randomUUID().slice(0, 8);
  const started: Array<{ promise: Promise<FetchedFeed>; file: string; yielded: boolean }> = [];
  const start = (index: number): void => {
    const file = join(sinkDir, `feed-${runId}-${String(index).padStart(6, '0')}.body`);
    const promise = fetchWithRetries(index, urls[index]!, file, opts, cancel.signal);
    // Marks the rejection handled: it is awaited (and rethrown) when its turn comes, or dropped after a cancel.
    promise.catch(() => undefined);
    started.push({ promise, file, yielded: false });
  };

  try {
    for (let i = 0; i < Math.min(opts.concurrency, urls.length); i++) start(i);
    for (let i = 0; i < urls.length; i++) {
      const feed = await started[i]!.promise;
      started[i]!.yielded = true;
      if (started.length < urls.length) start(started.length);
      yield feed;
    }
  } finally {
    cancel.abort();
    await Promise.allSettled(started.map((s) => s.promise));
    await Promise.all(started.filter((s) => !s.yielded).map((s) => rm(s.file, { force: true })));
  }
}

type ResolvedOptions = { -readonly [K in keyof typeof DEFAULTS]: number } & Omit<
  FetchFeedsOptions,
  keyof typeof DEFAULTS
>;

async function fetchWithRetries(
  index: number,
  url: string,
  file: string,
  opts: ResolvedOptions,
  cancel: AbortSignal,
): Promise<FetchedFeed> {
  for (let attempt = 1; ; attempt++) {
    if (cancel.aborted) throw new FeedError(`${url}: cancelled`, url, false);
    opts.onProgress?.({ index, url, event: 'start', attempt, bytes: 0 });
    try {
      const feed = await fetchOnce(index, url, file, attempt, opts, cancel);
      opts.onProgress?.({ index, url, event: 'done', attempt, bytes: feed.bytes });
      return feed;
    } catch (err) {
      await rm(file, { force: true });
      const failure = err instanceof FeedError ? err : new FeedError(describe(err), url, true);
      if (cancel.aborted) throw failure;
      if (!failure.retryable || attempt > opts.retries) {
        const tries = attempt === 1 ? '' : ` (after ${attempt} attempts)`;
        throw new FeedError(`feed ${url}: ${failure.message}${tries}`, url, failure.retryable, failure.status, attempt);
      }
      const ceiling = Math.min(opts.maxBackoffMs, opts.backoffMs * 2 ** (attempt - 1));
      const jittered = Math.random() * ceiling;
      const delayMs = Math.round(
        Math.min(opts.maxBackoffMs, Math.max(jittered, (failure as FeedErrorWithRetryAfter).retryAfterMs ?? 0)),
      );
      opts.onProgress?.({ index, url, event: 'retry', attempt, bytes: 0, error: failure.message, delayMs });
      await sleep(delayMs, cancel);
    }
  }
}

/** Carries a server's Retry-After (in ms) from a failed attempt to the backoff. */
interface FeedErrorWithRetryAfter extends FeedError {
  retryAfterMs?: number;
}

async function fetchOnce(
  index: number,
  url: string,
  file: string,
  attempt: number,
  opts: ResolvedOptions,
  cancel: AbortSignal,
): Promise<FetchedFeed> {
  const attemptAbort = new AbortController();
  const onCancel = (): void => attemptAbort.abort(new Error('cancelled'));
  cancel.addEventListener('abort', onCancel, { once: true });
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      attemptAbort.abort(new Error('timed out'));
    }, opts.timeoutMs);
  };
  const timeoutError = (what: string): FeedError =>
    new FeedError(`timed out: no ${what} for ${opts.timeoutMs} ms`, url, true);

  try {
    arm();
    let response: Response;
    try {
      response = await fetch(url, { signal: attemptAbort.signal, headers: opts.headers, redirect: 'follow' });
    } catch (err) {
      if (timedOut) throw timeoutError('response');
      throw new FeedError(describe(err), url, true);
    }
    if (!response.ok) {
      // Drain nothing: cancelling the body frees the connection without reading an error page of any size.
      await response.body?.cancel().catch(() => undefined);
      const retryable = response.status >= 500 || response.status === 429 || response.status === 408;
      const error: FeedErrorWithRetryAfter = new FeedError(
        `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
        url,
        retryable,
        response.status,
      );
      const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
      if (retryAfter !== undefined) error.retryAfterMs = retryAfter;
      throw error;
    }
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (opts.maxBytes !== undefined && declared > opts.maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw new FeedError(`the body is ${declared} bytes, more than the limit of ${opts.maxBytes}`, url, false);
    }

    const hash = createHash('sha256');
    let bytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
        arm();
        bytes += chunk.length;
        if (opts.maxBytes !== undefined && bytes > opts.maxBytes) {
          done(new FeedError(`the body is longer than the limit of ${opts.maxBytes} bytes`, url, false));
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const body = response.body
      ? Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>)
      : Readable.from([]);
    try {
      await pipeline(body, meter, createWriteStream(file));
    } catch (err) {
      if (err instanceof FeedError) throw err;
      if (timedOut) throw timeoutError('body bytes');
      throw new FeedError(`the body broke off after ${bytes} bytes: ${describe(err)}`, url, true);
    }
    const contentType = response.headers.get('content-type') ?? undefined;
    return {
      index,
      url,
      file,
      bytes,
      sha256: hash.digest('hex'),
      ...(contentType ? { contentType } : {}),
      attempts: attempt,
    };
  } finally {
    clearTimeout(timer);
    cancel.removeEventListener('abort', onCancel);
  }
}

/** `Retry-After` as delay-seconds or an HTTP date, in ms; undefined when absent or unreadable. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** An error's message with its cause (fetch's "fetch failed" hides the useful part, e.g. ECONNREFUSED). */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause : undefined;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return cause ? `${err.message}: ${code ? `${code} ` : ''}${cause.message}` : err.message;
}

function sleep(ms: number, cancel: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      cancel.removeEventListener('abort', done);
      resolve();
    }
    cancel.addEventListener('abort', done, { once: true });
  });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FeedError, fetchFeeds, readFeedList } from '../../src/formats/http-feed.ts';
import type { FetchFeedsOptions, FetchedFeed } from '../../src/formats/http-feed.ts';
import { InputError } from '../../src/profiles/types.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, hit: number) => unknown;

/** A loopback server whose routes the tests set; counts hits per path and the most requests open at once. */
let server: Server;
let base: string;
const routes = new Map<string, Handler>();
const hits = new Map<string, number>();
let open = 0;
let maxOpen = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const hit = (hits.get(path) ?? 0) + 1;
    hits.set(path, hit);
    open += 1;
    maxOpen = Math.max(maxOpen, open);
    res.on('close', () => (open -= 1));
    const handler = routes.get(path);
    if (!handler) {
      res.writeHead(404, 'Not Found').end('no such feed');
      return;
    }
    void Promise.resolve(handler(req, res, hit)).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-http-feed-'));
  routes.clear();
  hits.clear();
  maxOpen = 0;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sha256 = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');
const fast: FetchFeedsOptions = { backoffMs: 5, maxBackoffMs: 20, timeoutMs: 2000 };

async function collect(urls: string[], opts: FetchFeedsOptions): Promise<FetchedFeed[]> {
  const out: FetchedFeed[] = [];
  for await (const feed of fetchFeeds(urls, opts, dir)) out.push(feed);
  return out;
}

async function failure(urls: string[], opts: FetchFeedsOptions): Promise<FeedError> {
  try {
    await collect(urls, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(FeedError);
    return err as FeedError;
  }
  throw new Error('expected fetchFeeds to fail');
}

describe('fetchFeeds', () => {
  it('yields every feed in list order with its bytes and SHA-256, however the downloads finish', async () => {
    const bodies = ['first feed\n', 'second, slowest\n', 'third\n'];
    const delays = [60, 120, 0];
    bodies.forEach((body, i) =>
      routes.set(`/f${i}`, async (_req, res) => {
        await sleep(delays[i]!);
        res.writeHead(200, { 'content-type': 'text/csv' }).end(body);
      }),
    );
    const feeds = await collect(
      bodies.map((_, i) => `${base}/f${i}`),
      fast,
    );
    expect(feeds.map((f) => f.index)).toEqual([0, 1, 2]);
    for (const [i, feed] of feeds.entries()) {
      expect(feed.url).toBe(`${base}/f${i}`);
      expect(await readFile(feed.file, 'utf8')).toBe(bodies[i]);
      expect(feed.bytes).toBe(Buffer.byteLength(bodies[i]!));
      expect(feed.sha256).toBe(sha256(bodies[i]!));
      expect(feed.contentType).toBe('text/csv');
      expect(feed.attempts).toBe(1);
    }
  });

  it('keeps at most `concurrency` requests open at once', async () => {
    for (let i = 0; i < 10; i++) {
      routes.set(`/c${i}`, async (_req, res) => {
        await sleep(40);
        res.end(`feed ${i}`);
      });
    }
    const urls = Array.from({ length: 10 }, (_, i) => `${base}/c${i}`);
    const feeds = await collect(urls, { ...fast, concurrency: 3 });
    expect(feeds).toHaveLength(10);
    expect(maxOpen).toBe(3);
  });

  it('streams a body larger than any buffer to disk', async () => {
    const block = Buffer.alloc(1 << 16, 'x');
    const blocks = 64; // 4 MiB, written in pieces with back-pressure
    routes.set('/big', async (_req, res) => {
      for (let i = 0; i < blocks; i++) {
        if (!res.write(block)) await new Promise((r) => res.once('drain', r));
      }
      res.end();
    });
    const [feed] = await collect([`${base}/big`], fast);
    expect(feed!.bytes).toBe(block.length * blocks);
    expect(feed!.sha256).toBe(sha256(Buffer.concat(Array.from({ length: blocks }, () => block))));
  });

  it('retries 5xx, 429 and broken connections with backoff, then succeeds', async () => {
    routes.set('/flaky', (_req, res, hit) => {
      if (hit === 1) res.writeHead(503).end('busy');
      else if (hit === 2) res.writeHead(429, { 'retry-after': '0' }).end('slow down');
      else if (hit === 3) res.destroy();
      else res.end('finally');
    });
    const progress: string[] = [];
    const [feed] = await collect([`${base}/flaky`], {
      ...fast,
      onProgress: (p) => progress.push(`${p.event}:${p.attempt}`),
    });
    expect(await readFile(feed!.file, 'utf8')).toBe('finally');
    expect(feed!.attempts).toBe(4);
    expect(hits.get('/flaky')).toBe(4);
    expect(progress).toEqual(['start:1', 'retry:1', 'start:2', 'retry:2', 'start:3', 'retry:3', 'start:4', 'done:4']);
  });

  it('gives up after `retries` retries, naming the URL and the last error, retryable', async () => {
    routes.set('/down', (_req, res) => res.writeHead(502, 'Bad Gateway').end());
    const err = await failure([`${base}/down`], { ...fast, retries: 2 });
    expect(hits.get('/down')).toBe(3);
    expect(err.retryable).toBe(true);
    expect(err.status).toBe(502);
    expect(err.message).toBe(`feed ${base}/down: HTTP 502 Bad Gateway (after 3 attempts)`);
  });

  it('does not retry a 404: a permanent failure', async () => {
    const err = await failure([`${base}/missing`], fast);
    expect(hits.get('/missing')).toBe(1);
    expect(err.retryable).toBe(false);
    expect(err.status).toBe(404);
    expect(err.message).toBe(`feed ${base}/missing: HTTP 404 Not Found`);
  });

  it('times out a server that does not answer, and one that stalls mid-body, and retries both', async () => {
    routes.set('/silent', async (_req, res) => {
      await sleep(1000);
      res.end('too late');
    });
    routes.set('/stall', async (_req, res, hit) => {
      res.writeHead(200);
      res.write('part of it');
      if (hit === 1) return; // never ends
      res.end(', and the rest');
    });
    const err = await failure([`${base}/silent`], { ...fast, timeoutMs: 100, retries: 1 });
    expect(err.message).toBe(`feed ${base}/silent: timed out: no response for 100 ms (after 2 attempts)`);
    expect(err.retryable).toBe(true);

    const [feed] = await collect([`${base}/stall`], { ...fast, timeoutMs: 150 });
    expect(await readFile(feed!.file, 'utf8')).toBe('part of it, and the rest');
    expect(feed!.attempts).toBe(2);
  });

  it('refuses a body over maxBytes, declared or streamed, without retrying', async () => {
    routes.set('/declared', (_req, res) => res.writeHead(200, { 'content-length': '5000' }).end('y'.repeat(5000)));
    routes.set('/chunked', (_req, res) => {
      res.write('z'.repeat(3000));
      res.end('z'.repeat(3000));
    });
    const declared = await failure([`${base}/declared`], { ...fast, maxBytes: 4096 });
    expect(declared.message).toBe(`feed ${base}/declared: the body is 5000 bytes, more than the limit of 4096`);
    expect(declared.retryable).toBe(false);
    const streamed = await failure([`${base}/chunked`], { ...fast, maxBytes: 4096 });
    expect(streamed.message).toBe(`feed ${base}/chunked: the body is longer than the limit of 4096 bytes`);
    expect(hits.get('/chunked')).toBe(1);
    expect(await readdir(dir)).toEqual([]);
  });

  it('names a refused connection, and leaves no partial files behind when a feed fails', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    routes.set('/ok', (_req, res) => res.end('fine'));
    const err = await failure([`${base}/ok`, `http://127.0.0.1:${port}/gone`], { ...fast, retries: 1 });
    expect(err.message).toMatch(
      new RegExp(`^feed http://127\\.0\\.0\\.1:${port}/gone: .*ECONNREFUSED.*\\(after 2 attempts\\)$`),
    );
    // The first feed was yielded (the caller owns it); nothing of the failed one is left.
    expect((await readdir(dir)).length).toBe(1);
  });
});

describe('readFeedList', () => {
  it('reads one URL per line, skipping comments and blank lines, and keeps the line numbers', async () => {
    const file = join(dir, 'feeds.txt');
    await writeFile(file, '\uFEFF# supplier feeds\n\nhttps://example.test/a.edi\n  http://127.0.0.1:8080/b.csv  \r\n');
    expect(await readFeedList(file, 'feeds.txt')).toEqual([
      { url: 'https://example.test/a.edi', line: 3 },
      { url: 'http://127.0.0.1:8080/b.csv', line: 4 },
    ]);
  });

  it.each([
    ['https://ok.test/a\nnot a url\n', 'feeds.txt line 2: not a URL: "not a url"', 2],
    [
      'ftp://files.test/a.edi\n',
      'feeds.txt line 1: only http and https feeds can be fetched, not ftp: ftp://files.test/a.edi',
      1,
    ],
    [
      '# nothing here\n\n',
      'feeds.txt: the feed list names no URL (one http(s) URL per line, # for comments)',
      undefined,
    ],
  ])('refuses %j with a located error', async (text, message, line) => {
    const file = join(dir, 'feeds.txt');
    await writeFile(file, text);
    const err = await readFeedList(file, 'feeds.txt').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toBe(message);
    expect((err as InputError).location.line).toBe(line);
  });
});

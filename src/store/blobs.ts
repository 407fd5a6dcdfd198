/**
 * Content-addressed blob store (claim check): each input is stored once under its SHA-256, and workflows pass only
 * the hash. This is the local-directory store: objects/<2 hex>/<62 hex>, written to a temp file, fsynced and renamed,
 * so a reader never sees a partial object and storing the same bytes twice is a no-op.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StoredBlob {
  sha256: string;
  size: number;
}

export interface BlobStore {
  /** Stores a file or stream; returns its address. Idempotent. */
  put(source: string | Readable): Promise<StoredBlob>;
  /** A local file path holding the blob's bytes; throws `BlobNotFoundError` when absent. */
  localPath(sha256: string): Promise<string>;
}

export class BlobNotFoundError extends Error {
  override name = 'BlobNotFoundError';
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function createLocalBlobStore(root: string): BlobStore {
  const objectPath = (sha256: string): string => {
    if (!SHA256_HEX.test(sha256)) throw new Error(`not a SHA-256 hex digest: ${JSON.stringify(sha256)}`);
    return join(root, 'objects', sha256.slice(0, 2), sha256.slice(2));
  };

  return {
    async put(source) {
      const tmpDir = join(root, 'tmp');
      await mkdir(tmpDir, { recursive: true });
      const tmp = join(tmpDir, randomUUID());
      const hash = createHash('sha256');
      let size = 0;
      const input = typeof source === 'string' ? createReadStream(source) : source;
      try {
        await pipeline(
          input,
          async function* (chunks: AsyncIterable<Buffer>) {
            for await (const chunk of chunks) {
              hash.update(chunk);
              size += chunk.length;
              yield chunk;
            }
          },
          createWriteStream(tmp),
        );
        const fh = await open(tmp, 'r');
        await fh.sync().finally(() => fh.close());
        const sha256 = hash.digest('hex');
        const dest = objectPath(sha256);
        await mkdir(dirname(dest), { recursive: true });
        await rename(tmp, dest); // atomic; identical content makes this a harmless overwrite
        return { sha256, size };
      } finally {
        await rm(tmp, { force: true });
      }
    },

    async localPath(sha256) {
      const path = objectPath(sha256);
      try {
        await stat(path);
      } catch {
        throw new BlobNotFoundError(`blob ${sha256} is not in the store at ${root}`);
      }
      return path;
    },
  };
}

/** SHA-256 of a stored file, for integrity checks before planning. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

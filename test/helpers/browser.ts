/**
 * A real browser for end-to-end tests of the Temporal Web UI: Playwright (playwright-core, which never downloads a
 * browser) driving the machine's Chromium, headless, with a fresh profile; and a place for screenshots.
 *
 * A missing Chromium fails the test with how to install it: browser tests are never skipped.
 */
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SCREENSHOTS_DIR = path.join(REPO_ROOT, 'docs', 'screenshots');

/**
 * Switches for a root user on a machine with no internet: no sandbox (root), no GPU, and no background connections
 * (QUIC, component updates, sync), which the closed network would refuse many at a time.
 */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** `SLUICE_CHROMIUM_PATH`, or Debian's `/usr/bin/chromium`; throws with the install instructions if it is missing. */
export async function chromiumPath(): Promise<string> {
  const fromEnv = process.env.SLUICE_CHROMIUM_PATH;
  const candidate = fromEnv || '/usr/bin/chromium';
  try {
    await access(candidate, constants.X_OK);
    return candidate;
  } catch {
    throw new Error(
      fromEnv
        ? `SLUICE_CHROMIUM_PATH=${fromEnv} is not an executable file. Point it at a Chromium binary, or unset it ` +
            "and install Debian's Chromium: apt-get install -y chromium"
        : 'Chromium is missing (no executable /usr/bin/chromium); the Web UI tests need a real browser. Install it ' +
            'with: apt-get install -y chromium (or set SLUICE_CHROMIUM_PATH to a Chromium binary). ' +
            '`npx playwright install` does not work here: it downloads a browser from the internet.',
    );
  }
}

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Headless Chromium with a fresh user-data directory, a 1400x900 viewport, UTC and en-US (steady screenshots). */
export async function launchBrowser(): Promise<TestBrowser> {
  const executablePath = await chromiumPath();
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'sluice-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1400, height: 900 },
      timezoneId: 'UTC',
      locale: 'en-US',
      timeout: 30_000,
    });
  } catch (err) {
    await rm(userDataDir, { recursive: true, force: true });
    throw new Error(`could not start Chromium (${executablePath}): ${err instanceof Error ? err.message : err}`, {
      cause: err,
    });
  }
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  page.setDefaultNavigationTimeout(30_000);
  return {
    context,
    page,
    close: async () => {
      await context.close().catch(() => undefined);
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

export interface Screenshots {
  dir: string;
  /** Writes `<name>.png` (the viewport) and returns its path. */
  take(page: Page, name: string): Promise<string>;
  /** Writes `failed-<step>.png` to a temporary directory that is kept, and returns its path. */
  takeFailure(page: Page, step: string): Promise<string>;
  /** Removes the directory unless it is docs/screenshots or `keep` is set (after a failure). */
  cleanup(keep: boolean): Promise<void>;
}

/**
 * Screenshots go to a temporary directory, or to docs/screenshots when `SLUICE_UPDATE_SCREENSHOTS=1` (to refresh
 * the pictures the README shows).
 */
export async function screenshots(prefix: string): Promise<Screenshots> {
  const update = process.env.SLUICE_UPDATE_SCREENSHOTS === '1';
  const dir = update ? SCREENSHOTS_DIR : await mkdtemp(path.join(tmpdir(), `${prefix}-`));
  await mkdir(dir, { recursive: true });
  return {
    dir,
    take: async (page, name) => {
      const file = path.join(dir, `${name}.png`);
      await page.screenshot({ path: file, animations: 'disabled', caret: 'hide' });
      return file;
    },
    takeFailure: async (page, step) => {
      // Never into docs/screenshots: a failure picture is for whoever investigates, not for the README.
      const failDir = update ? await mkdtemp(path.join(tmpdir(), `${prefix}-failed-`)) : dir;
      const file = path.join(failDir, `failed-${step.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    cleanup: async (keep) => {
      if (!update && !keep) await rm(dir, { recursive: true, force: true });
    },
  };
}

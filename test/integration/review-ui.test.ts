/**
 * A reviewer works from the Temporal Web UI, in a real browser (the machine's Chromium driven by playwright-core):
 * finds the waiting batch with the search `SluicePendingReview > 0`, reads what is held in the workflow's current
 * details (User Metadata tab), approves it with "Send a Signal" (signal `review`, JSON input), and sees the batch
 * complete. The ledger then holds the approved records exactly once.
 *
 * Screenshots of each step go to a temporary directory, or to docs/screenshots with SLUICE_UPDATE_SCREENSHOTS=1.
 */
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { generateInventoryManifest } from '../../src/profiles/inventory/generator.ts';
import type { Screenshots, TestBrowser } from '../helpers/browser.ts';
import { launchBrowser, screenshots } from '../helpers/browser.ts';
import { checkInvariants, expectAuditConsistent, testConfig, useSluiceTest } from '../helpers/sluice-env.ts';

const t = useSluiceTest('review-ui');

/** What the reviewer types into the signal dialog: approve every record held as a quantity outlier. */
const DECISION = {
  decisionId: 'ui-approve-1',
  reasonCode: 'quantity_outlier',
  action: 'approve',
  reviewer: 'ui-reviewer',
  note: 'approved in the Web UI',
};
const SEARCH = 'SluicePendingReview > 0';

let uiUrl: string;
let browser: TestBrowser;
let shots: Screenshots;
/** Until the test reaches its end: keeps the screenshots of a failed run for whoever investigates. */
let failed = true;

afterAll(async () => {
  await browser?.close();
  if (failed && shots) console.log(`[review-ui] screenshots of the failed run kept in ${shots.dir}`);
  await shots?.cleanup(failed);
});

/** Runs one step of the walkthrough; on failure, keeps a screenshot of the page and names it in the error. */
async function step<T>(name: string, fn: (page: Page) => Promise<T>): Promise<T> {
  try {
    return await fn(browser.page);
  } catch (err) {
    const file = await shots.takeFailure(browser.page, name).catch(() => null);
    const where = `${browser.page.url()}${file ? ` (screenshot ${file})` : ''}`;
    throw new Error(`UI step "${name}" failed at ${where}: ${err instanceof Error ? err.message : err}`, {
      cause: err,
    });
  }
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

function withTimeout<T>(what: string, promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Waits until `locator` is visible, calling `refresh` every few seconds meanwhile (the workflow list does not poll;
 * visibility can lag the workflow by a moment).
 */
async function visibleWithRefresh(locator: Locator, refresh: () => Promise<unknown>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      await locator.waitFor({ state: 'visible', timeout: Math.min(4_000, Math.max(1, end - Date.now())) });
      return;
    } catch (err) {
      if (Date.now() >= end) throw err;
      await refresh();
    }
  }
}

/** The text of every frame in the page's main area: the UI renders user metadata (Markdown) in iframes. */
async function frameTexts(page: Page): Promise<string[]> {
  const frames = await page.getByRole('main').locator('iframe').all();
  return Promise.all(
    frames.map((f) =>
      f
        .contentFrame()
        .locator('body')
        .innerText({ timeout: 2_000 })
        .catch(() => ''),
    ),
  );
}

describe('reviewing a batch in the Temporal Web UI', () => {
  it('finds the waiting batch, shows what is held, and approves it with the review signal', async () => {
    // The browser first, in the test rather than a hook: a missing Chromium fails this test (never skips it) and
    // says how to install it.
    browser = await launchBrowser();
    shots = await screenshots('sluice-review-ui');
    const ui = inject('temporalUiUrl');
    if (!ui) throw new Error('the integration setup started the Temporal dev server without its Web UI');
    uiUrl = ui;

    const file = path.join(t.dir, 'outliers.csv');
    const expected = await generateInventoryManifest(file, {
      records: 2000,
      seed: 31,
      defects: { quantity_outlier: 0.01 },
    });
    const outliers = expected.byReason.quantity_outlier ?? 0;
    // Only business-rule holds, so one approval commits every held record.
    expect(outliers).toBeGreaterThan(0);
    expect(expected.byReason).toEqual({ quantity_outlier: outliers });

    const handle = await t.sluice.submitBatch({ file, profile: 'inventory', config: testConfig() });
    const settled = await handle.settled();
    expect(settled).toMatchObject({
      status: 'awaiting_review',
      committed: expected.committed,
      pendingReview: outliers,
    });
    const { workflowId, batchId } = handle;

    // 1. The workflow list, filtered by the search a reviewer uses to find waiting batches.
    await step('the filtered workflow list shows the batch', async (page) => {
      await page.goto(`${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(SEARCH)}`);
      await page.getByRole('button', { name: SEARCH }).waitFor(); // the query, shown as a filter
      const table = page.getByRole('table', { name: 'Workflows' });
      const link = table.getByRole('link', { name: workflowId, exact: true });
      await visibleWithRefresh(link, () => page.getByRole('button', { name: 'Refresh' }).click(), 20_000);
      await shots.take(page, '01-waiting-batches');
      await link.click();
      await page.waitForURL(new RegExp(`/workflows/${workflowId}/[0-9a-f-]+/`));
      await page.getByRole('heading', { level: 1, name: workflowId }).waitFor();
    });

    // 2. What is held: the workflow's current details (Markdown set by setCurrentDetails), in the User Metadata tab.
    const heldHeading = await step('the User Metadata tab shows "Held for review"', async (page) => {
      await page.getByRole('tab', { name: 'User Metadata' }).click();
      await page.waitForURL(/\/user-metadata$/);
      await page.getByRole('heading', { name: 'Current Details' }).waitFor();
      let shown: string[] = [];
      await waitFor(
        'the current details to show "Held for review"',
        async () => {
          shown = await frameTexts(page);
          return shown.some((t) => t.includes('Held for review')) || undefined;
        },
        15_000,
      ).catch((err: Error) => {
        const texts = shown.map((t) => t.trim().replace(/\s+/g, ' ').slice(0, 200));
        throw new Error(`${err.message}; the user metadata frames show ${JSON.stringify(texts)}`);
      });
      const heading = shown
        .flatMap((t) => t.split('\n'))
        .map((l) => l.trim())
        .find((l) => l.includes('Held for review'));
      // Let the frames settle at their content's height before the picture.
      await page.waitForTimeout(300);
      await shots.take(page, '02-batch-details');
      return heading;
    });
    expect(heldHeading).toContain('Held for review');

    // 3. "Send a Signal": the signal `review`, with the decision as JSON.
    await step('send the review signal', async (page) => {
      await page.getByRole('button', { name: 'More Actions' }).click();
      await page.getByRole('menuitem', { name: 'Send a Signal' }).click();
      const dialog = page.getByRole('dialog', { name: 'Send a Signal' });
      await dialog.waitFor();
      // The UI lists the workflow's signal handlers (from the SDK's __temporal_workflow_metadata query, answered by
      // the worker), with their descriptions; "Custom Input" takes any name.
      await dialog.getByRole('button', { name: 'Select a signal' }).click();
      await page.getByRole('option', { name: /^review\b/ }).click();
      await dialog.getByRole('button', { name: 'review', exact: true }).waitFor();
      const data = dialog.getByRole('textbox', { name: 'Data' });
      // The editor pretty-prints its JSON when it loses focus, which grows the dialog and moves the Submit button
      // under a pending click: enter it pretty-printed and leave the editor before submitting.
      await data.fill(JSON.stringify(DECISION, null, 2));
      await data.blur();
      expect(JSON.parse(await data.innerText())).toEqual(DECISION);
      await shots.take(page, '03-review-signal');
      const submit = dialog.getByRole('button', { name: 'Submit' });
      await submit.click();
      await dialog.waitFor({ state: 'hidden', timeout: 10_000 });
      await page.getByText('Workflow signaled.').first().waitFor({ timeout: 10_000 });
    });

    // The decision reaches the workflow, which approves the outliers and completes.
    await waitFor(
      'the batch to complete after the signal sent from the UI',
      async () => {
        const report = await t.sluice.getBatchStatus(batchId);
        if (report.status === 'completed') return true;
        if (report.status === 'failed') throw new Error(`batch ${batchId} failed: ${JSON.stringify(report)}`);
        const progress = await t.sluice.progress(batchId).catch(() => null);
        const refused = progress?.rejectedDecisions.find((d) => d.decisionId === DECISION.decisionId);
        if (refused) throw new Error(`the workflow refused the decision sent from the UI: ${refused.error}`);
        return undefined;
      },
      30_000,
    );
    const result = await withTimeout('the batch workflow to close', handle.result(), 15_000);
    expect(result).toMatchObject({
      status: 'completed',
      records: expected.records,
      committed: expected.committed + outliers,
      approved: outliers,
      rejected: 0,
      pendingReview: 0,
    });
    await checkInvariants(t.db, batchId, expected.records);
    // The decision applied is the one typed in the UI, and every outlier was approved by it.
    const decisions = await t.db.query(
      'SELECT decision_id, action, reviewer, note FROM review_decision WHERE batch_id = $1',
      [batchId],
    );
    expect(decisions.rows).toEqual([
      { decision_id: DECISION.decisionId, action: 'approve', reviewer: DECISION.reviewer, note: DECISION.note },
    ]);
    const approved = await t.db.query(
      `SELECT count(*)::int AS n FROM record_disposition WHERE batch_id = $1 AND status = 'approved'`,
      [batchId],
    );
    expect(approved.rows[0].n).toBe(outliers);
    await expectAuditConsistent(batchId);

    // 4. The UI shows the batch completed, with its report as the result.
    await step('the workflow page shows Completed', async (page) => {
      await page.goto(`${uiUrl}/namespaces/default/workflows/${workflowId}`);
      const completed = page
        .getByRole('main')
        .getByRole('status')
        .filter({ hasText: /^\s*Completed\s*$/i })
        .first();
      await visibleWithRefresh(completed, () => page.reload(), 20_000);
      await page.getByRole('heading', { level: 1, name: workflowId }).waitFor();
      await page.getByRole('heading', { name: 'Result' }).waitFor();
      await shots.take(page, '04-batch-completed');
    });
    failed = false;
  }, 120_000);
});

// The shared stack from test/helpers/global-setup.ts answers, with Sluice's search attributes registered.
import { Connection } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SEARCH_ATTRIBUTE_DECLARATIONS } from '../../src/shared/search-attributes.ts';

describe('local stack', () => {
  let connection: Connection;

  beforeAll(async () => {
    connection = await Connection.connect({ address: inject('temporalAddress') });
  });
  afterAll(async () => {
    await connection?.close();
  });

  it('Temporal has the Sluice search attributes registered', async () => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    const registered = Object.keys(customAttributes ?? {});
    const expected = SEARCH_ATTRIBUTE_DECLARATIONS.map((decl) => decl.split('=')[0]);
    expect(expected).toHaveLength(4);
    expect(registered).toEqual(expect.arrayContaining(expected));
  });

  it('the Temporal Web UI answers', async () => {
    const uiUrl = inject('temporalUiUrl');
    expect(uiUrl).not.toBeNull();
    const response = await fetch(uiUrl!);
    expect(response.status).toBe(200);
  });

  it('PostgreSQL answers on the sluice database', async () => {
    const client = new pg.Client({ connectionString: inject('databaseUrl') });
    await client.connect();
    try {
      const { rows } = await client.query<{ one: number; db: string }>('SELECT 1 AS one, current_database() AS db');
      expect(rows).toEqual([{ one: 1, db: 'sluice' }]);
    } finally {
      await client.end();
    }
  });
});

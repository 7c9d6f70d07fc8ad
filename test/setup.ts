import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex from 'knex';

/** Every integration test runs on both engines. */
export const ENGINES = ['sqlite', 'mysql'] as const;
export type Engine = (typeof ENGINES)[number];

/** MariaDB as CI provides it (README, .ci/run). */
export const MYSQL = {
  host: process.env.TEST_MYSQL_HOST ?? '127.0.0.1',
  port: Number(process.env.TEST_MYSQL_PORT ?? 3306),
  user: process.env.TEST_MYSQL_USER ?? 'root',
  password: process.env.TEST_MYSQL_PASSWORD ?? '',
};

/** One temporary root per test run; helpers make their directories below it. */
export const TEST_ROOT = mkdtempSync(join(tmpdir(), 'stowage-test-'));

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(30_000);
    // A missing database fails the run loudly instead of skipping half the suite.
    const db = knex({ client: 'mysql2', connection: { ...MYSQL } });
    try {
      await db.raw('select 1');
    } catch (err) {
      throw new Error(
        `MariaDB is not reachable at ${MYSQL.host}:${MYSQL.port} (${String(err)}); ` +
          'apt-get install mariadb-server and start it: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd',
      );
    } finally {
      await db.destroy();
    }
  },
  afterAll() {
    if (!process.env.KEEP_TEST_ROOT) rmSync(TEST_ROOT, { recursive: true, force: true });
  },
};

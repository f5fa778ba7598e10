// Acme shop: the release phase, run once per deploy before new instances start: the schema
// is in place before any instance serves. Without DATABASE_URL (a dry run on a laptop) it
// says what it would do, and succeeds.
import { pgQuery, VISITS_TABLE } from './db.js';

if (!process.env.DATABASE_URL) {
  console.log(`shop: DATABASE_URL is not set; would run: ${VISITS_TABLE}`);
} else {
  try {
    await pgQuery(process.env.DATABASE_URL, VISITS_TABLE);
    console.log('shop: migrations up to date (DATABASE_URL is set; table visits ready)');
  } catch (err) {
    // The message only: DATABASE_URL may hold a password.
    console.error(`shop: migration failed: ${err.message}`);
    process.exitCode = 1;
  }
}

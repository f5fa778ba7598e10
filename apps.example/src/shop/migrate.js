// Acme shop: the release phase, run once per deploy before new instances start.
// A real app would apply its schema migrations over DATABASE_URL here.
const db = process.env.DATABASE_URL ? 'DATABASE_URL is set' : 'DATABASE_URL is not set';
console.log(`shop: migrations up to date (${db})`);

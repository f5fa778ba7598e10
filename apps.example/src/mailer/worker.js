// Acme mailer: a background worker that would send queued e-mail. It polls on a timer
// and exits 0 on SIGTERM, so systemd stops and restarts it cleanly.
const interval = Number(process.env.POLL_INTERVAL_MS) || 5000;
const from = process.env.MAIL_FROM ?? 'noreply@localhost';

console.log(`mailer: started, sending as ${from}, polling every ${interval}ms`);
const timer = setInterval(() => console.log('mailer: outbox empty'), interval);

function shutdown(signal) {
  clearInterval(timer);
  console.log(`mailer: ${signal}, stopping`);
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

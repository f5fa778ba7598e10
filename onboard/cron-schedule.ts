// A crontab schedule as a systemd calendar expression (OnCalendar=), for the schedules that
// translate exactly; anything else is null, and the caller lists the job as not mapped.

const SPECIAL: Record<string, string> = {
  '@yearly': 'yearly', '@annually': 'yearly', '@monthly': 'monthly', '@weekly': 'weekly',
  '@daily': 'daily', '@midnight': 'daily', '@hourly': 'hourly',
};
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** One numeric field: '*', 'n', 'a-b', '*' + '/s', 'n/s' and lists of those; null when out of range or not exact. */
function numericField(field: string, min: number, max: number, width: number): string | null {
  if (field === '*') return '*';
  const pad = (n: number) => String(n).padStart(width, '0');
  const items = field.split(',').map((item) => {
    let m = /^\*\/([0-9]+)$/.exec(item);
    if (m) return Number(m[1]) > 0 ? `${pad(min)}/${Number(m[1])}` : null;
    m = /^([0-9]+)\/([0-9]+)$/.exec(item);
    if (m) return Number(m[1]) >= min && Number(m[1]) <= max && Number(m[2]) > 0 ? `${pad(Number(m[1]))}/${Number(m[2])}` : null;
    m = /^([0-9]+)-([0-9]+)$/.exec(item);
    if (m) return Number(m[1]) >= min && Number(m[2]) <= max && Number(m[1]) <= Number(m[2]) ? `${pad(Number(m[1]))}..${pad(Number(m[2]))}` : null;
    m = /^([0-9]+)$/.exec(item);
    if (m) return Number(m[1]) >= min && Number(m[1]) <= max ? pad(Number(m[1])) : null;
    return null;
  });
  return items.every((i) => i !== null) ? items.join(',') : null;
}

function dayOfWeek(field: string): string | null {
  if (field === '*') return '';
  const day = (d: string) => {
    const n = /^[0-7]$/.test(d) ? Number(d) : DAY_NAMES.indexOf(d.toLowerCase());
    return n === -1 ? null : DAYS[n];
  };
  const items = field.split(',').map((item) => {
    const range = /^([^-]+)-([^-]+)$/.exec(item);
    if (!range) return day(item);
    const [a, b] = [day(range[1]), day(range[2])];
    return a && b ? `${a}..${b}` : null;
  });
  return items.every((i) => i !== null) ? items.join(',') : null;
}

/** '30 3 * * *' → '*-*-* 03:30:00'; '@daily' → 'daily'; null when it has no exact equivalent. */
export function cronToCalendar(schedule: string): string | null {
  const text = schedule.trim();
  if (SPECIAL[text]) return SPECIAL[text];
  const fields = text.split(/\s+/);
  if (fields.length !== 5) return null;
  const [min, hour, dom, month, dow] = fields;
  // Cron runs when either day field matches; systemd needs both to: only one may be set.
  if (dom !== '*' && dow !== '*') return null;
  const parts = [numericField(min, 0, 59, 2), numericField(hour, 0, 23, 2), numericField(dom, 1, 31, 2), numericField(month, 1, 12, 2), dayOfWeek(dow)];
  if (parts.some((p) => p === null)) return null;
  const [m, h, d, mo, w] = parts as string[];
  return `${w ? `${w} ` : ''}*-${mo}-${d} ${h}:${m}:00`;
}

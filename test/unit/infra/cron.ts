/**
 * Five-field cron schedules as the platforms here take them (Workers cron triggers, Knative PingSource,
 * OpenFaaS cron-connector, Kubernetes CronJob): minute hour day-of-month month day-of-week, one minute
 * at the finest. No deploy tool checks them (`wrangler deploy --dry-run` accepts "bogus"), so this does.
 * Returns the problem, or undefined for a valid schedule.
 */
const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  // 0 and 7 are both Sunday.
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
] as const;

function value(text: string, f: (typeof FIELDS)[number]): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  const i = 'names' in f ? (f.names as readonly string[]).indexOf(text.toUpperCase()) : -1;
  if (i < 0) return undefined;
  return f.name === 'month' ? i + 1 : i;
}

export function cronProblem(schedule: string): string | undefined {
  const parts = schedule.trim().split(/\s+/);
  if (parts.length !== 5)
    return `${JSON.stringify(schedule)} has ${parts.length} fields, not 5 (no seconds field)`;
  for (let i = 0; i < 5; i++) {
    const f = FIELDS[i]!;
    for (const item of parts[i]!.split(',')) {
      const m = /^(\*|([^-/]+)(?:-([^-/]+))?)(?:\/(\d+))?$/.exec(item);
      if (!m) return `${f.name} ${JSON.stringify(item)} is not *, N, N-M or a step of them`;
      if (m[4] !== undefined && Number(m[4]) < 1) return `${f.name} step ${m[4]} must be at least 1`;
      if (m[1] === '*') continue;
      const from = value(m[2]!, f);
      const to = m[3] === undefined ? from : value(m[3], f);
      if (from === undefined || to === undefined || from < f.min || to > f.max || from > to)
        return `${f.name} ${JSON.stringify(item)} is outside ${f.min}-${f.max}`;
    }
  }
  return undefined;
}

// `skyrec plan --format json`: the Plan as it is. Its shape is the documented contract for tools
// (version 1, see plan-model.ts), so nothing is renamed or reshaped here.
import type { Plan } from './plan-model.js';

export function formatPlanJson(plan: Plan): string {
  return JSON.stringify(plan, null, 2) + '\n';
}

import { hostname, userInfo } from 'node:os';
import type { CommandContext } from './command.js';

/** Who an operator's change is by: `--by`, else `operator:<user>@<host>`. */
export function operatorName(ctx: Pick<CommandContext, 'values' | 'env'>): string {
  const by = ctx.values.by;
  if (typeof by === 'string' && by.length > 0) return by;
  let user = ctx.env.USER ?? ctx.env.LOGNAME;
  try {
    user ??= userInfo().username;
  } catch {
    user ??= 'unknown';
  }
  return `operator:${user}@${hostname()}`;
}

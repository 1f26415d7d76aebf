import { effectiveSettings } from '../settings/load.ts';
import { checkSettings, processRoles } from '../settings/views.ts';
import { table } from './table.ts';

type Command = keyof typeof processRoles;

/**
 * `stockade config`: the settings in force for a command (default: start, which
 * uses them all), from the environment or the default, secrets masked. A bad
 * value fails as it would fail that command's start.
 */
export function configCommand(opts: { json?: boolean; for: Command }): void {
  const roles = processRoles[opts.for];
  checkSettings(process.env, roles);
  const settings = effectiveSettings(process.env, roles);
  if (opts.json) {
    console.log(JSON.stringify(Object.fromEntries(settings.map(({ name, ...rest }) => [name, rest]))));
    return;
  }
  type Row = (typeof settings)[number];
  const value = (s: Row) => (s.value === null ? `(${s.default.replaceAll('`', '')})` : String(s.value));
  console.log(table(['variable', 'value', 'source', 'roles', 'doc'], settings.map((s) => [s.name, value(s), s.source, s.roles.join(','), s.doc])));
}

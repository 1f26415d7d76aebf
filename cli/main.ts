import { Command } from 'commander';
import { benchEngineCommand } from './bench.ts';
import { servicesDown, servicesStatus, servicesUp } from './services.ts';
import { reconcileExpire } from './reconcile.ts';
import { startCommand, workersCommand } from './start.ts';

const program = new Command('stockade')
  .description('Stockade: a reservation engine for flash sales')
  .showHelpAfterError();

program.command('start').description('run the engine (with its local Redis and PostgreSQL unless REDIS_URL/DATABASE_URL are set)')
  .action(startCommand);

program.command('workers').description('run write-through workers alone (outbox -> PostgreSQL); any number may run')
  .action(workersCommand);

const services = program.command('services').description('the embedded local redis-server and PostgreSQL under STOCKADE_DATA_DIR');
services.command('up').description('start them (kept running until `services down`)').action(servicesUp);
services.command('down').description('stop them').action(servicesDown);
services.command('status').description('print their URLs when running').action(servicesStatus);

const reconcile = program.command('reconcile').description('reconciler steps');
reconcile.command('expire').description('expire every due hold and purge records past retention, now')
  .option('--json', 'print one JSON object').action(reconcileExpire);

const bench = program.command('bench').description('benchmarks');
bench.command('engine').description('in-process reservations per second through the batching path, one hot SKU')
  .option('--seconds <n>', 'measured seconds per scenario', '5')
  .option('--concurrency <n>', 'callers with a request outstanding', '1000')
  .option('--scenario <name>', 'hold | hold-idempotent | sold-out | all', 'all')
  .option('--json', 'one JSON object per scenario')
  .action(benchEngineCommand);

program.parseAsync(process.argv).catch((error: unknown) => {
  const e = error as { code?: string; message?: string };
  console.error(`stockade: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(error)}`);
  process.exit(1);
});

import { Command, Option } from 'commander';
import { processRoles } from '../settings/views.ts';
import { benchEngineCommand, benchHttpCommand, benchMemoryCommand, benchWriteThroughCommand } from './bench.ts';
import { configCommand } from './config.ts';
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

program.command('config').description('print the settings in force: name, value, from the environment or the default, roles, doc (secrets masked)')
  .addOption(new Option('--for <command>', 'the settings this command uses and checks').choices(Object.keys(processRoles)).default('start'))
  .option('--json', 'print one JSON object').action(configCommand);

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
bench.command('memory').description('Redis memory per hold, per idempotency claim and per recorded refusal')
  .option('--count <n>', 'records of each kind', '50000')
  .action(benchMemoryCommand);
bench.command('writethrough').description('write-through rate (orders/s into PostgreSQL) and lag (commit to row visible)')
  .option('--orders <n>', 'orders waiting in the outbox for the drain runs', '20000')
  .option('--rate <n>', 'orders confirmed per second for the lag run', '1000')
  .option('--seconds <n>', 'length of the lag run', '10')
  .action(benchWriteThroughCommand);
bench.command('http').description('a flash sale over HTTP: autocannon against stockade start (its own services), reservations with unique keys')
  .option('--seconds <n>', 'duration', '10')
  .option('--connections <n>', 'concurrent connections', '100')
  .option('--processes <n>', 'STOCKADE_API_PROCESSES of the server', '1')
  .option('--stock <n>', 'units on sale (small: the sale sells out during the run)', '100000000')
  .action(benchHttpCommand);

program.parseAsync(process.argv).catch((error: unknown) => {
  const e = error as { code?: string; message?: string };
  console.error(`stockade: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(error)}`);
  process.exit(1);
});

import { StockadeError } from '../common/errors.ts';
import { loadUws } from '../api/uws.ts';
import { missingServiceBinaries } from '../services/local.ts';
import { DataDirLock } from '../services/lock.ts';
import { planServices, type ServicePlan } from '../services/resolve.ts';
import { readGroup } from '../settings/load.ts';
import { apiRows } from '../settings/registry.ts';
import { apiSettings, checkSettings, processRoles, type ApiSettings } from '../settings/views.ts';
import { holdPort, type PortHold } from './port.ts';

/** What `stockade start` has taken and decided before it starts anything. */
export interface Preflight {
  settings: ApiSettings;
  /** The data directory's lock, when embedded services are used (null with REDIS_URL and DATABASE_URL). */
  lock: DataDirLock | null;
  port: PortHold;
  services: ServicePlan;
}

/**
 * Everything `stockade start` can find wrong before it starts a service, reported
 * together in one error: every bad setting, a uWebSockets.js without its native
 * build, the data directory in use by a running Stockade, the port in use (PORT),
 * redis-server or PostgreSQL not installed. On success the lock and the port are
 * held; the caller releases them when it stops.
 */
export async function preflight(env: NodeJS.ProcessEnv): Promise<Preflight> {
  const problems: StockadeError[] = [];
  const attempt = <T>(check: () => T): T | undefined => {
    try {
      return check();
    } catch (error) {
      if (!(error instanceof StockadeError)) throw error;
      problems.push(error);
      return undefined;
    }
  };
  const settingsOk = attempt(() => { checkSettings(env, processRoles.start); return true; }) ?? false;
  const uwsOk = attempt(() => { loadUws(); return true; }) ?? false;
  // The data directory and the port are checked even when other settings are bad, as long as their own are good.
  // A bad setting it reads is reported by checkSettings above; what else it refuses (the data dir's Redis), here.
  const plan = attempt(() => {
    try {
      return planServices(env);
    } catch (error) {
      if (error instanceof StockadeError && error.code === 'INVALID_SETTING') return undefined;
      throw error;
    }
  });
  if (plan?.embedded) attempt(() => DataDirLock.check(plan.dataDir));
  const missing = plan ? missingServiceBinaries(plan.owned) : [];
  if (missing.length > 0) problems.push(new StockadeError('SERVICE_FAILED', `${missing.join(' and ')} not installed (run npm run setup)`));
  const listen = quietly(() => readGroup(env, { port: apiRows.port, host: apiRows.host, processes: apiRows.processes }));
  let port: PortHold | undefined;
  if (listen && uwsOk) {
    try {
      port = await holdPort(listen.host, listen.port, listen.processes > 1);
    } catch (error) {
      if (!(error instanceof StockadeError)) throw error;
      problems.push(error);
    }
  }
  if (problems.length > 0 || !settingsOk || !plan || !port) {
    port?.release();
    throw problems.length === 1 ? problems[0]! : new StockadeError(problems[0]!.code, problems.map((p) => p.message).join('; '));
  }
  // Nothing is wrong: take the data directory (checked above; taken only now, so a refused start creates nothing).
  let lock: DataDirLock | null = null;
  try {
    lock = plan.embedded ? DataDirLock.take(plan.dataDir) : null;
  } catch (error) {
    port.release();
    throw error;
  }
  // With the lock, the services a dead start left running are this one's to stop.
  const services = lock ? planServices(env, { adopt: lock.inherited }) : plan;
  const settings = apiSettings(env);
  return { settings, lock, port, services };
}

function quietly<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

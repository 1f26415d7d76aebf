export { Engine } from './engine.ts';
export { engineSettings, engineSettingRows, type EngineSettings } from '../settings/views.ts';
export { StockadeError, type ErrorCode } from './errors.ts';
export { partitionOf } from './redis/partition.ts';
export type * from './types.ts';

export { BullmqDispatcher } from './dispatcher.ts';
export { startWorker, type RunningWorker, type WorkerOptions } from './worker.ts';
export { redisConnection } from './wire.ts';

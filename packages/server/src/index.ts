export { buildProgram, main } from './cli.ts';
export { startServer, ConfigError, type RunningServer, type ServerOptions } from './server.ts';
export { RunStore } from './store.ts';
export { parsePreviewFrame, encodePreview, previewFrame } from './preview.ts';
export { runRemote } from './remote.ts';
export { DEFAULT_LIMITS, type Limits } from './guard.ts';
/** The WebSocket client the CLI uses (Node 20 has none built in); re-exported for the benchmark. */
export { WebSocket } from 'ws';

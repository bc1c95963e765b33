/** Terminal progress: one bar per node that reports progress, and a line per finished node. */
import cliProgress from 'cli-progress';
import type { EngineEvent } from '@diffgraph/engine';

export function terminalReporter(stream: NodeJS.WriteStream): (event: EngineEvent) => void {
  const interactive = stream.isTTY === true;
  const bars = interactive
    ? new cliProgress.MultiBar(
        { stream, format: ' {node} |{bar}| {value}/{total} {eta_formatted}', hideCursor: true, clearOnComplete: false, autopadding: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const active = new Map<string, cliProgress.SingleBar>();
  const say = (line: string) => (bars ? bars.log(`${line}\n`) : stream.write(`${line}\n`));

  return (event) => {
    switch (event.type) {
      case 'node.progress': {
        if (!bars) return;
        let bar = active.get(event.nodeId);
        if (!bar) {
          bar = bars.create(event.max, 0, { node: event.nodeId });
          active.set(event.nodeId, bar);
        }
        bar.setTotal(event.max);
        bar.update(event.value);
        return;
      }
      case 'node.finished':
        say(`  ✓ ${event.nodeId} (${event.nodeType}) ${event.seconds.toFixed(3)} s`);
        return;
      case 'node.cached':
        say(`  = ${event.nodeId} (${event.nodeType}) cached`);
        return;
      case 'node.failed':
        say(`  ✗ ${event.nodeId} (${event.nodeType}): ${event.error.message}`);
        return;
      case 'node.log':
        say(`    ${event.nodeId}: ${event.message}`);
        return;
      case 'run.finished':
      case 'run.failed':
      case 'run.cancelled':
        bars?.stop();
        return;
      default:
    }
  };
}

/**
 * A run's files end up exactly once, however often a crash interrupts it. Each attempt writes into a
 * staging folder of its own run (`<data>/staging/<runId>`), emptied when the attempt starts, so nothing
 * a killed attempt wrote survives into the next. When the attempt ends (succeeded, failed or cancelled)
 * the staging folder replaces `outputs/<runId>` by one rename, and only then is the run recorded as
 * finished with results that name those files. The database record is the commit point: until it is
 * written, a crash re-queues the run and its retry replaces whatever the folder holds.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { isInside, realpathOfNearest } from '@diffgraph/nodes';

export class RunOutputs {
  constructor(
    /** The folder `/api/files` serves: one committed folder per run. */
    readonly outputsRoot: string,
    /** Where attempts write; never served. Beside the outputs root, on the same file system. */
    readonly stagingRoot: string,
  ) {}

  committedDir(runId: string): string {
    return path.join(this.outputsRoot, runId);
  }

  stagingDir(runId: string): string {
    return path.join(this.stagingRoot, runId);
  }

  /** Starts an attempt: an empty staging folder, whatever an earlier attempt left there. */
  begin(runId: string): string {
    const dir = this.stagingDir(runId);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /**
   * Makes the staging folder `attemptName` (an attempt of a worker, `begin(attemptName)`) the run's staging
   * folder, replacing what is there. A worker attempt writes into a folder of its own, so one that lost
   * the run but still runs cannot add files to the attempt that took it over.
   */
  promote(attemptName: string, runId: string): void {
    const staged = this.stagingDir(runId);
    rmSync(staged, { recursive: true, force: true });
    if (existsSync(this.stagingDir(attemptName))) renameSync(this.stagingDir(attemptName), staged);
  }

  /** Makes `outputs/<runId>` exactly what this attempt wrote, replacing an earlier attempt's folder. */
  commit(runId: string): void {
    this.dropAttempts(runId);
    const staged = this.stagingDir(runId);
    const committed = this.committedDir(runId);
    rmSync(committed, { recursive: true, force: true });
    if (!existsSync(staged)) return;
    mkdirSync(this.outputsRoot, { recursive: true });
    try {
      renameSync(staged, committed);
    } catch (e) {
      // Outputs on another file system than the data folder (a mount or a link): copy, then drop.
      if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
      cpSync(staged, committed, { recursive: true });
      rmSync(staged, { recursive: true, force: true });
    }
  }

  /** Drops an attempt that will not be recorded (a run put back in the queue, or given up). */
  discard(runId: string): void {
    rmSync(this.stagingDir(runId), { recursive: true, force: true });
    this.dropAttempts(runId);
  }

  /** Removes what workers' attempts of the run left in staging (`<runId>.<attempt>`: a worker killed mid-run). */
  private dropAttempts(runId: string): void {
    let names: string[];
    try {
      names = readdirSync(this.stagingRoot);
    } catch {
      return;
    }
    for (const name of names) if (name.startsWith(`${runId}.`)) rmSync(path.join(this.stagingRoot, name), { recursive: true, force: true });
  }

  /** Removes everything of a run that was given up: nothing will ever name these files. */
  abandon(runId: string): void {
    this.discard(runId);
    rmSync(this.committedDir(runId), { recursive: true, force: true });
  }

  /**
   * Where a file an attempt wrote lives once committed, relative to the outputs root (`<runId>/x.png`);
   * null for a path that is not in the run's staging or committed folder.
   */
  committedName(runId: string, file: string): string | null {
    // Nodes report real paths (after symlinks), so the folders count under both names.
    const dirs = [this.stagingDir(runId), this.committedDir(runId)].flatMap((d) => [d, realpathOfNearest(d)]);
    for (const dir of dirs) {
      if (!isInside(dir, file)) continue;
      const rel = path.relative(dir, file);
      return rel === '' ? null : path.join(runId, rel);
    }
    return null;
  }
}

/**
 * What the ComfyUI API keeps beside a run (in the server's database, so it survives a restart like the
 * run itself): the prompt as the client sent it, its extra_data, which ComfyUI node each of our nodes
 * comes from, and the temp images its PreviewImage nodes produced.
 */
import type Database from 'better-sqlite3';

export interface ComfyPromptRecord {
  runId: string;
  /** The run's place in the queue (ComfyUI's "number"). */
  number: number;
  prompt: Record<string, unknown>;
  extraData: Record<string, unknown>;
  /** ComfyUI ids of the output nodes (outputs_to_execute). */
  outputs: string[];
  /** Our node id → ComfyUI node id. */
  origins: Record<string, string>;
  clientId: string | null;
}

export interface TempImage { node: string; filename: string; subfolder: string }

const SCHEMA = `
CREATE TABLE IF NOT EXISTS comfy_prompts (
  run_id TEXT PRIMARY KEY,
  prompt TEXT NOT NULL,
  extra_data TEXT NOT NULL,
  outputs TEXT NOT NULL,
  origins TEXT NOT NULL,
  client_id TEXT
);
CREATE TABLE IF NOT EXISTS comfy_temp_images (
  run_id TEXT NOT NULL,
  node_id TEXT NOT NULL,
  filename TEXT NOT NULL,
  PRIMARY KEY (run_id, filename)
);
`;

interface Row { run_id: string; seq: number; prompt: string; extra_data: string; outputs: string; origins: string; client_id: string | null }

export class ComfyPromptStore {
  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
  }

  insert(record: Omit<ComfyPromptRecord, 'number'>): void {
    this.db.prepare('INSERT INTO comfy_prompts (run_id, prompt, extra_data, outputs, origins, client_id) VALUES (?, ?, ?, ?, ?, ?)')
      .run(record.runId, JSON.stringify(record.prompt), JSON.stringify(record.extraData), JSON.stringify(record.outputs), JSON.stringify(record.origins), record.clientId);
  }

  /** The prompt of a run that exists (a prompt whose run was deleted is gone with it). */
  get(runId: string): ComfyPromptRecord | undefined {
    const row = this.db.prepare('SELECT c.*, r.seq FROM comfy_prompts c JOIN runs r ON r.id = c.run_id WHERE c.run_id = ?').get(runId) as Row | undefined;
    return row && {
      runId: row.run_id, number: row.seq, prompt: JSON.parse(row.prompt), extraData: JSON.parse(row.extra_data),
      outputs: JSON.parse(row.outputs), origins: JSON.parse(row.origins), clientId: row.client_id,
    };
  }

  /** Prompts that ran and finished, newest last: the `limit` most recent after skipping `offset` from the newest. */
  finished(statuses: readonly string[], limit: number, offset: number): string[] {
    const marks = statuses.map(() => '?').join(', ');
    const rows = this.db.prepare(`SELECT c.run_id FROM comfy_prompts c JOIN runs r ON r.id = c.run_id WHERE r.status IN (${marks}) AND r.started_at IS NOT NULL ORDER BY r.seq DESC LIMIT ? OFFSET ?`)
      .all(...statuses, limit, offset) as { run_id: string }[];
    return rows.map((r) => r.run_id).reverse();
  }

  addTempImage(runId: string, node: string, filename: string): void {
    this.db.prepare('INSERT OR REPLACE INTO comfy_temp_images (run_id, node_id, filename) VALUES (?, ?, ?)').run(runId, node, filename);
  }

  tempImages(runId: string): TempImage[] {
    const rows = this.db.prepare('SELECT node_id, filename FROM comfy_temp_images WHERE run_id = ? ORDER BY rowid').all(runId) as { node_id: string; filename: string }[];
    return rows.map((r) => ({ node: r.node_id, filename: r.filename, subfolder: runId }));
  }

  delete(runId: string): void {
    this.db.prepare('DELETE FROM comfy_prompts WHERE run_id = ?').run(runId);
    this.db.prepare('DELETE FROM comfy_temp_images WHERE run_id = ?').run(runId);
  }
}

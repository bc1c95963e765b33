/**
 * The server's HTTP API (docs/api.md): the node library, runs, uploads, output files, and the
 * workflow library (the server's /api/workflows; optional: the editor works without it).
 */
import type { InputChoice, ModelChoice, NodeLibrary } from './catalog.ts';

export interface ApiError {
  nodeId: string | null;
  input?: string;
  code: string;
  message: string;
}

export type ImportSource = 'diffgraph' | 'comfyui-api' | 'comfyui-ui';
export type ImportResult = { ok: true; workflow: unknown; source: ImportSource; notes: string[] } | { ok: false; errors: ApiError[] };

export interface RunSummary {
  id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';
  clientId?: string | null;
  createdAt: number;
  startedAt?: number | null;
  finishedAt?: number | null;
  error?: string | null;
  title?: string | null;
}

export type SubmitResult = { ok: true; runId: string } | { ok: false; status: number; errors: ApiError[] };

export interface LibraryEntry {
  name: string;
  title?: string | null;
  updatedAt?: number;
}

async function errorsOf(res: Response): Promise<ApiError[]> {
  try {
    const body = (await res.json()) as { errors?: ApiError[] };
    if (Array.isArray(body.errors)) return body.errors;
  } catch {
    // Not JSON.
  }
  return [{ nodeId: null, code: `HTTP_${res.status}`, message: `The server answered ${res.status} ${res.statusText}.` }];
}

export class Api {
  constructor(private readonly base = '') {}

  private url(path: string): string {
    return `${this.base}${path}`;
  }

  async nodes(): Promise<NodeLibrary> {
    const res = await fetch(this.url('/api/nodes'));
    if (!res.ok) throw new Error(`GET /api/nodes: ${res.status}`);
    return (await res.json()) as NodeLibrary;
  }

  /** The server's models (GET /api/models); none when it cannot say, so loaders fall back to free text. */
  async models(): Promise<ModelChoice[]> {
    try {
      const res = await fetch(this.url('/api/models'));
      if (!res.ok) return [];
      const body = (await res.json()) as { models?: ModelChoice[] };
      return Array.isArray(body.models) ? body.models : [];
    } catch {
      return [];
    }
  }

  async submit(workflow: unknown, clientId: string): Promise<SubmitResult> {
    let res: Response;
    try {
      res = await fetch(this.url('/api/runs'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ workflow, clientId }),
      });
    } catch (e) {
      return { ok: false, status: 0, errors: [{ nodeId: null, code: 'NETWORK', message: `Cannot reach the server: ${(e as Error).message}` }] };
    }
    if (res.ok) return { ok: true, runId: ((await res.json()) as { runId: string }).runId };
    return { ok: false, status: res.status, errors: await errorsOf(res) };
  }

  /** Cancels a queued or running run; a run that has finished meanwhile is left as it is (never deleted). */
  async cancel(runId: string): Promise<void> {
    await fetch(this.url(`/api/runs/${encodeURIComponent(runId)}/cancel`), { method: 'POST' });
  }

  /** Runs, newest first (GET /api/runs). */
  async runs(query: { status?: string[]; clientId?: string; limit?: number } = {}): Promise<RunSummary[]> {
    const params = new URLSearchParams();
    if (query.status) params.set('status', query.status.join(','));
    if (query.clientId) params.set('clientId', query.clientId);
    params.set('limit', String(query.limit ?? 50));
    const res = await fetch(this.url(`/api/runs?${params}`));
    if (!res.ok) throw new Error((await errorsOf(res)).map((e) => e.message).join(' '));
    return ((await res.json()) as { runs: RunSummary[] }).runs;
  }

  /** Deletes a finished run from the history (409 RUN_ACTIVE for a queued or running one). */
  async deleteRun(runId: string): Promise<void> {
    const res = await fetch(this.url(`/api/runs/${encodeURIComponent(runId)}`), { method: 'DELETE' });
    if (!res.ok) throw new Error((await errorsOf(res)).map((e) => `${e.code}: ${e.message}`).join(' '));
  }

  async run(runId: string, options: { workflow?: boolean } = {}): Promise<Record<string, unknown> | undefined> {
    const res = await fetch(this.url(`/api/runs/${encodeURIComponent(runId)}${options.workflow ? '?workflow=1' : ''}`));
    return res.ok ? ((await res.json()) as Record<string, unknown>) : undefined;
  }

  /**
   * A file that is not a diffgraph workflow, converted by the server (POST /api/import): a ComfyUI
   * workflow (JSON) or a PNG with one embedded.
   */
  async importFile(bytes: Uint8Array, type: 'application/json' | 'image/png'): Promise<ImportResult> {
    let res: Response;
    try {
      res = await fetch(this.url('/api/import'), { method: 'POST', headers: { 'Content-Type': type }, body: bytes as BodyInit });
    } catch (e) {
      return { ok: false, errors: [{ nodeId: null, code: 'NETWORK', message: `Cannot reach the server: ${(e as Error).message}` }] };
    }
    if (!res.ok) return { ok: false, errors: await errorsOf(res) };
    return { ok: true, ...((await res.json()) as { workflow: unknown; source: ImportSource; notes: string[] }) };
  }

  /** The server's input files (GET /api/uploads); none when it cannot say. */
  async uploads(): Promise<InputChoice[]> {
    try {
      const res = await fetch(this.url('/api/uploads'));
      if (!res.ok) return [];
      const body = (await res.json()) as { uploads?: InputChoice[] };
      return Array.isArray(body.uploads) ? body.uploads : [];
    } catch {
      return [];
    }
  }

  async upload(file: Blob): Promise<{ name: string }> {
    const res = await fetch(this.url('/api/uploads'), { method: 'POST', body: file, headers: { 'Content-Type': 'application/octet-stream' } });
    if (!res.ok) throw new Error((await errorsOf(res)).map((e) => e.message).join(' '));
    return (await res.json()) as { name: string };
  }

  private hasLibrary: Promise<boolean> | undefined;

  /** Whether this server serves /api/workflows (asked once, from its OpenAPI document, so no request 404s). */
  libraryAvailable(): Promise<boolean> {
    this.hasLibrary ??= fetch(this.url('/api/openapi.json'))
      .then(async (res) => (res.ok ? Object.keys(((await res.json()) as { paths?: object }).paths ?? {}).some((p) => p.startsWith('/api/workflows')) : false))
      .catch(() => false);
    return this.hasLibrary;
  }

  /** The named workflows on the server; undefined when this server has no library. */
  async libraryList(): Promise<LibraryEntry[] | undefined> {
    if (!(await this.libraryAvailable())) return undefined;
    try {
      const res = await fetch(this.url('/api/workflows'));
      if (!res.ok) return undefined;
      return ((await res.json()) as { workflows: LibraryEntry[] }).workflows;
    } catch {
      return undefined;
    }
  }

  async libraryGet(name: string): Promise<unknown> {
    const res = await fetch(this.url(`/api/workflows/${encodeURIComponent(name)}`));
    if (!res.ok) throw new Error((await errorsOf(res)).map((e) => e.message).join(' '));
    return res.json();
  }

  async librarySave(name: string, workflow: unknown): Promise<void> {
    const res = await fetch(this.url(`/api/workflows/${encodeURIComponent(name)}`), {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(workflow),
    });
    if (!res.ok) throw new Error((await errorsOf(res)).map((e) => e.message).join(' '));
  }

  async libraryDelete(name: string): Promise<void> {
    const res = await fetch(this.url(`/api/workflows/${encodeURIComponent(name)}`), { method: 'DELETE' });
    if (!res.ok) throw new Error((await errorsOf(res)).map((e) => e.message).join(' '));
  }
}

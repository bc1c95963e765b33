/** The API's error body: `{ errors: [{ nodeId: null, code, message }] }`. */
import type { Response } from 'express';

export type ErrorBody = { nodeId: null; code: string; message: string };

export function fail(res: Response, status: number, code: string, message: string): Response {
  return res.status(status).json({ errors: [{ nodeId: null, code, message } satisfies ErrorBody] });
}

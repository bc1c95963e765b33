/** The package's version (package.json is one folder up from both src/ and dist/). */
import { readFileSync } from 'node:fs';

export const SERVER_VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

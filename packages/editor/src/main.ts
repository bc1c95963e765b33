import '@comfyorg/litegraph/style.css';
import './style.css';
import { App } from './app.ts';

const root = document.getElementById('app')!;
new App(root).start().catch((e: Error) => {
  root.textContent = `The editor could not start: ${e.message}`;
  root.className = 'fatal';
});

/** The graph-library adapter: the only folder that imports litegraph. */
export { GraphEditor, inputUrl, type EditorCallbacks, type LinkRelease, type NodeDecoration, type NodeError, type NodeRunState } from './editor.ts';
export { FORMAT, isLink } from './convert.ts';
export { INPUT_BUTTONS, type InputAction } from './nodes.ts';

export * from './canvas.js';
export * from './create.js';
export * from './queries.js';
export * from './workflow.js';

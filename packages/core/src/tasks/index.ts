/** Tasks: defineTask, the engine's own tasks, the catalogue and TASK_MODULES. */
export * from './built-in.js';
export * from './catalogue.js';
export * from './define.js';
export * from './known-tasks.js';
export * from './modules.js';
export * from './validate.js';

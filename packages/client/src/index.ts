export * from './client.js';
export { OPERATIONS } from './generated.js';

/** RabbitMQ: the reconnecting broker, its topology and the task message format. */
export * from './broker.js';
export * from './messages.js';
export * from './topology.js';

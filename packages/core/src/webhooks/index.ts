/** Webhooks: subscriptions, the relay that matches events to them, and the sender of signed deliveries. */
export * from './address-policy.js';
export * from './event-types.js';
export * from './http.js';
export * from './payload.js';
export * from './queries.js';
export * from './relay.js';
export * from './sender.js';
export * from './signature.js';
export * from './webhook.js';
